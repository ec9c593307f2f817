#!/usr/bin/env bash
# Run (or resume) the seed-fidelity screen in the background: the authors' procedure by Keras fit,
# in their environment (make legacy-env) and ours. Usage: scripts/seed_screen.sh [TRIALS] [PRUNING_EPOCHS]
# Log in results/logs/seed_screen.log. Like scripts/seed_sweep.sh it runs from a snapshot of the
# committed code (a detached worktree of HEAD), so editing lth/ meanwhile cannot change it; each run
# is stored as it ends, so stopping it loses at most the run in progress.
set -eu
cd "$(dirname "$0")/.."
LTH_LEGACY_PYTHON="${LTH_LEGACY_PYTHON:-$(pwd)/.venv-legacy/bin/python}" \
  exec scripts/run_from_snapshot.sh seed_screen python -m lth seed-screen --trials "${1:-3}" --pruning-epochs "${2:-150}"

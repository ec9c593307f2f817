#!/usr/bin/env bash
# Run (or resume) the seed-fidelity screen in the background: the authors' procedure by Keras fit,
# in their environment (make legacy-env) and ours. Usage: scripts/seed_screen.sh [TRIALS] [PRUNING_EPOCHS]
# Log in results/logs/seed_screen.log. Like scripts/seed_sweep.sh it runs from a snapshot of the
# committed code (a detached worktree of HEAD), so editing lth/ meanwhile cannot change it; each run
# is stored as it ends, so stopping it loses at most the run in progress.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p results/logs
snapshot="${TMPDIR:-/tmp}/lth-screen-$(git rev-parse --short HEAD)"
git worktree prune
if [ ! -d "$snapshot" ]; then
  git worktree add --detach --force "$snapshot" HEAD > /dev/null
fi
cd "$snapshot"
# TensorFlow's C++ log stays out of the log file (scripts/tf_log_filter.sh); VERBOSE=1 keeps it.
log_level=3; if [ -n "${VERBOSE:-}" ] && [ "$VERBOSE" != 0 ]; then log_level=0; fi
PYTHONPATH="$snapshot" LTH_RESULTS_DIR="$root/results" LTH_DATA_DIR="$root/data" \
  LTH_LEGACY_PYTHON="${LTH_LEGACY_PYTHON:-$root/.venv-legacy/bin/python}" \
  TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-$log_level}" \
  nohup sh -c '"$@" 2>&1 | "$0"' "$root/scripts/tf_log_filter.sh" "$root/.venv/bin/python" -m lth seed-screen --trials "${1:-3}" --pruning-epochs "${2:-150}" \
  >> "$root/results/logs/seed_screen.log" 2>&1 &
echo "screen started (pid $!) from $snapshot, log: results/logs/seed_screen.log"

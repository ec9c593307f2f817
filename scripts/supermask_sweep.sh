#!/usr/bin/env bash
# Run (or resume) Zhou et al.'s supermask experiments in the background at the scale lth.supermasks.SCALES sets:
# untrained accuracy under every criterion and weight treatment, learned masks, and (LeNet-300-100) retraining
# by criterion. Usage: scripts/supermask_sweep.sh [NETWORK] [FLAG ...]   (NETWORK: lenet300, conv4 or all, the
# default; flags go to python -m lth sweep-supermasks, e.g. --parts untrained,learned). Log in
# results/logs/supermask_sweep.log; python -m lth sweep-supermasks --status shows what is stored and the
# machine-hours left.
#
# It runs from a snapshot of the committed code (a detached worktree of HEAD), as scripts/seed_screen.sh does,
# so editing lth/ meanwhile cannot change it. Every run is stored the moment it finishes and every training
# group checkpoints into results/runs/.checkpoints: stopping it (kill its process group) loses at most ~1,000
# steps per group, and running it again resumes. The dense runs are the Frankle & Carbin sweep's
# (scripts/fc_sweep.sh): one that either sweep has stored is not trained again.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
network="${1:-all}"
[ $# -gt 0 ] && shift
mkdir -p results/logs
snapshot="${TMPDIR:-/tmp}/lth-supermasks-$(git rev-parse --short HEAD)"
git worktree prune
[ -d "$snapshot" ] || git worktree add --detach --force "$snapshot" HEAD > /dev/null
cd "$snapshot"
# TensorFlow's C++ log stays out of the log file (scripts/tf_log_filter.sh); VERBOSE=1 keeps it.
[ -n "${VERBOSE:-}" ] && [ "$VERBOSE" != 0 ] && level=0 || level=3
PYTHONPATH="$snapshot" LTH_RESULTS_DIR="$root/results" LTH_DATA_DIR="$root/data" \
  TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-$level}" \
  nohup sh -c '"$@" 2>&1 | "$0"' "$root/scripts/tf_log_filter.sh" \
  "$root/.venv/bin/python" -m lth sweep-supermasks --network "$network" "$@" \
  >> "$root/results/logs/supermask_sweep.log" 2>&1 &
echo "supermask sweep started (pid $!) from $snapshot for $network; log: results/logs/supermask_sweep.log"

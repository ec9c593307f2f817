#!/usr/bin/env bash
# Run (or resume) the seed paper's experiment at published scale in the background.
# Usage: [PROTOCOLS=faithful-lr0.001] scripts/seed_sweep.sh [TRIALS] ; log in results/logs/seed_sweep.log (default: every protocol)
#
# It runs one single-threaded Dask worker per core (WORKERS=n to change), each training one
# independent task at a time: two trials' dense models, or two trials' pruning networks as one
# stack and then their four retrainings as another. On 2 cores that trains more networks per
# hour than one process on both cores, or one network per process (bench/sweep_layout.py).
#
# The sweep runs from a snapshot of the committed code (a detached git worktree of HEAD
# under $TMPDIR), so editing lth/ while it runs cannot change it: TensorFlow's AutoGraph
# re-reads source files whenever it traces a new function. Results and data stay in
# this checkout; each stored run records the snapshot's commit.
#
# Stopping it (scripts/sweep_signal.sh stop, or the machine going away) loses at most ~1,000 steps
# per training group: each group checkpoints into results/runs/.checkpoints (git-ignored) and
# resumes from there when the sweep runs again. Those files stay on this machine; to go on from
# them in a fresh clone (the next session), stop the sweep and commit them too:
#   scripts/sweep_signal.sh stop && git add -f results/runs/.checkpoints/*.pkl && git commit ...
# A group that finishes deletes its checkpoint, and the next results commit drops it from git.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p results/logs
snapshot="${TMPDIR:-/tmp}/lth-sweep-$(git rev-parse --short HEAD)"
git worktree prune
if [ ! -d "$snapshot" ]; then
  git worktree add --detach --force "$snapshot" HEAD > /dev/null
fi
cd "$snapshot"
# TensorFlow's C++ log stays out of the log file (scripts/tf_log_filter.sh); VERBOSE=1 keeps it.
log_level=3; if [ -n "${VERBOSE:-}" ] && [ "$VERBOSE" != 0 ]; then log_level=0; fi
PYTHONPATH="$snapshot" LTH_RESULTS_DIR="$root/results" LTH_DATA_DIR="$root/data" \
  TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-$log_level}" \
  nohup sh -c '"$@" 2>&1 | "$0"' "$root/scripts/tf_log_filter.sh" "$root/.venv/bin/python" -m lth sweep-seed --trials "${1:-10}" --epochs 500 \
    --dask local --workers "${WORKERS:-$(nproc)}" --trials-per-task 2 --group-size 4 --protocols "${PROTOCOLS:-}" \
  >> "$root/results/logs/seed_sweep.log" 2>&1 &
echo "sweep started (pid $!) from $snapshot, log: results/logs/seed_sweep.log"

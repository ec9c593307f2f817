#!/usr/bin/env bash
# Start a long training command in the background from a snapshot of the committed code.
# Usage: scripts/run_from_snapshot.sh NAME COMMAND [ARG ...]    (NAME names the snapshot and the log)
#
# The snapshot is a detached git worktree of HEAD under $TMPDIR, so editing lth/ while the command
# runs cannot change it (TensorFlow's AutoGraph re-reads source files whenever it traces a new
# function). Results and data stay in this checkout (LTH_RESULTS_DIR, LTH_DATA_DIR); each stored run
# records the snapshot's commit. The command runs with the snapshot's lth first on PYTHONPATH, the
# checkout's .venv/bin first on PATH and LTH_ROOT set to the checkout, and its output goes to
# results/logs/NAME.log without TensorFlow's C++ log (scripts/tf_log_filter.sh; VERBOSE=1 keeps it).
set -eu
name=$1; shift
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p results/logs
snapshot="${TMPDIR:-/tmp}/lth-$name-$(git rev-parse --short HEAD)"
git worktree prune
if [ ! -d "$snapshot" ]; then
  git worktree add --detach --force "$snapshot" HEAD > /dev/null
fi
cd "$snapshot"
log_level=3; if [ -n "${VERBOSE:-}" ] && [ "$VERBOSE" != 0 ]; then log_level=0; fi
PYTHONPATH="$snapshot" LTH_RESULTS_DIR="$root/results" LTH_DATA_DIR="$root/data" LTH_ROOT="$root" \
  PATH="$root/.venv/bin:$PATH" TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-$log_level}" \
  nohup sh -c '"$@" 2>&1 | "$0"' "$root/scripts/tf_log_filter.sh" "$@" >> "$root/results/logs/$name.log" 2>&1 &
echo "$name started (pid $!) from $snapshot, log: results/logs/$name.log"

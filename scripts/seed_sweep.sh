#!/usr/bin/env bash
# Run (or resume) the seed paper's experiment at published scale in the background.
# Usage: [PROTOCOLS=faithful-lr0.001] scripts/seed_sweep.sh [TRIALS] ; log in results/logs/seed_sweep.log (default: every protocol)
#
# It runs one single-threaded Dask worker per core (WORKERS=n to change), each training one
# independent task at a time: two trials' dense models, or two trials' pruning networks as one
# stack and then their six retrainings (ticket, random re-initialisation, random mask) in stacks
# of four at most. On 2 cores that trains more networks per
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
#   scripts/sweep_signal.sh stop && git add -f results/runs/.checkpoints/*.pkl results/runs/.checkpoints/*.json && git commit ...
# A group that finishes deletes its checkpoint, and the next results commit drops it from git.
set -eu
cd "$(dirname "$0")/.."
exec scripts/run_from_snapshot.sh seed_sweep python -m lth sweep-seed --trials "${1:-10}" --epochs 500 \
  --dask local --workers "${WORKERS:-$(nproc)}" --trials-per-task 2 --group-size 4 --protocols "${PROTOCOLS:-}"

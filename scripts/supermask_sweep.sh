#!/usr/bin/env bash
# Run (or resume) Zhou et al.'s supermask experiments in the background at the scale lth.supermasks.SCALES sets:
# untrained accuracy under every criterion and weight treatment, learned masks, and (LeNet-300-100) retraining
# by criterion. Usage: scripts/supermask_sweep.sh [NETWORK] [FLAG ...]   (NETWORK: lenet300, conv4 or all, the
# default; flags go to python -m lth sweep-supermasks, e.g. --parts untrained,learned). Log in
# results/logs/supermask_sweep.log; python -m lth sweep-supermasks --status shows what is stored and the
# machine-hours left.
#
# It runs from a snapshot of the committed code (scripts/run_from_snapshot.sh: a detached worktree of HEAD),
# so editing lth/ meanwhile cannot change it. Every run is stored the moment it finishes and every training
# group checkpoints into results/runs/.checkpoints: stopping it (kill its process group) loses at most ~1,000
# steps per group, and running it again resumes. The dense runs are the Frankle & Carbin sweep's
# (scripts/fc_sweep.sh): one that either sweep has stored is not trained again.
# TensorFlow's C++ log stays out of the log file (scripts/tf_log_filter.sh); VERBOSE=1 keeps it.
set -eu
cd "$(dirname "$0")/.."
network="${1:-all}"
[ $# -gt 0 ] && shift
exec scripts/run_from_snapshot.sh supermask_sweep python -m lth sweep-supermasks --network "$network" "$@"

#!/usr/bin/env bash
# Run (or resume) Liu et al.'s comparison in the background at the scale lth.liu.SCALES sets: VGG-16, then
# ResNet-20 (python -m lth sweep-liu --network all --status shows what is stored and the machine-hours left).
# Usage: scripts/liu_sweep.sh [vgg16 | resnet20 | all]   (default all)
# Log in results/logs/liu_sweep.log. WORKERS=n local Dask workers, each single-threaded (default: one per
# core); EXTRA="--trials 5" adds flags to the sweep.
#
# It runs from a snapshot of the committed code (scripts/run_from_snapshot.sh), so editing lth/ meanwhile
# cannot change it. Every run is stored the moment it finishes and every training group checkpoints into
# results/runs/.checkpoints every 10 evaluations, so stopping it (kill its process group, or the machine
# going away) loses at most that much of each group: run it again to resume, nothing stored is retrained.
set -eu
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086  # EXTRA holds several flags
exec scripts/run_from_snapshot.sh liu_sweep python -m lth sweep-liu --network "${1:-all}" --dask local \
  --workers "${WORKERS:-$(nproc)}" ${EXTRA:-}

#!/usr/bin/env bash
# Run (or resume) Frankle & Carbin's sweeps in the background, one network after another, at the
# scale lth.frankle_carbin.SCALES sets (python -m lth sweep-fc --network all --status shows it).
# Usage: scripts/fc_sweep.sh [NETWORK ...]   (default: lenet300 conv2 conv4 conv6 vgg)
# Log in results/logs/fc_sweep.log. WORKERS=n local Dask workers, each single-threaded (default: one
# per core; each level's runs form two groups, one per worker); EXTRA="--trials 6" adds flags to every sweep.
#
# Like scripts/seed_sweep.sh it runs from a snapshot of the committed code (a detached worktree of
# HEAD), so editing lth/ meanwhile cannot change it. Every run is stored the moment it finishes and
# every training group checkpoints into results/runs/.checkpoints, so stopping it (kill its process
# group, or the machine going away) loses at most ~1,000 steps per group: run it again to resume.
# A sweep that fails stops the networks after it.
set -eu
cd "$(dirname "$0")/.."
networks="${*:-lenet300 conv2 conv4 conv6 vgg}"
WORKERS="${WORKERS:-$(nproc)}" EXTRA="${EXTRA:-}" exec scripts/run_from_snapshot.sh fc_sweep sh -c '
  for network in "$@"; do
    echo "$(date -u +%FT%TZ) sweep-fc $network"
    python -m lth sweep-fc --network "$network" --dask local --workers "$WORKERS" $EXTRA || exit 1
  done' fc_sweep $networks

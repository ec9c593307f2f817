#!/usr/bin/env bash
# Run (or resume) the seed paper's experiment at published scale in the background.
# Usage: scripts/seed_sweep.sh [TRIALS] ; log in results/logs/seed_sweep.log
set -eu
cd "$(dirname "$0")/.."
mkdir -p results/logs
nohup .venv/bin/python -m lth sweep-seed --trials "${1:-10}" --epochs 500 >> results/logs/seed_sweep.log 2>&1 &
echo "sweep started (pid $!), log: results/logs/seed_sweep.log"

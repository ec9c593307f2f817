#!/usr/bin/env bash
# Train one sweep at a time on this machine: run the commands queued in results/logs/queue.txt in order,
# each after every training process before it has ended. Usage:
#   scripts/queue.sh add "scripts/fc_sweep.sh"      # append a command (run from the repository root)
#   scripts/queue.sh start                          # start the runner in the background (log: results/logs/queue.log)
#   scripts/queue.sh list                           # what is queued
# The runner waits while a sweep it did not start (seed_sweep.sh, seed_screen.sh) still trains, so two
# trainings never share the cores. A command that fails is logged and the next one runs.
set -eu
cd "$(dirname "$0")/.."
mkdir -p results/logs
queue=results/logs/queue.txt
touch "$queue"
case "${1:-}" in
  add) shift; echo "$*" >> "$queue"; echo "queued: $*";;
  list) cat "$queue";;
  start)
    nohup bash -c '
      while [ -s '"$queue"' ]; do
        while pgrep -f "python -m lth (seed-screen|sweep-seed|sweep-fc|sweep-conv|sweep)" > /dev/null; do sleep 60; done
        cmd=$(head -n 1 '"$queue"'); sed -i 1d '"$queue"'
        echo "$(date -u +%FT%TZ) start: $cmd"
        bash -c "$cmd" || echo "$(date -u +%FT%TZ) failed ($?): $cmd"
        sleep 5
        while pgrep -f "python -m lth (seed-screen|sweep-seed|sweep-fc|sweep-conv|sweep)" > /dev/null; do sleep 60; done
        echo "$(date -u +%FT%TZ) done: $cmd"
      done' >> results/logs/queue.log 2>&1 &
    echo "queue runner started (pid $!), log: results/logs/queue.log";;
  *) echo "usage: scripts/queue.sh add COMMAND | start | list" >&2; exit 2;;
esac

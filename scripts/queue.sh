#!/usr/bin/env bash
# Train one sweep at a time on this machine: run the commands queued in results/logs/queue.txt in order,
# each after every training process before it has ended. Usage:
#   scripts/queue.sh add "scripts/fc_sweep.sh"      # append a command (run from the repository root)
#   scripts/queue.sh start                          # start the runner in the background (log: results/logs/queue.log)
#   scripts/queue.sh list                           # what is queued (the command running first, marked)
#   scripts/queue.sh stop                           # stop the runner and the training it started, and put
#                                                   # the command that was running back at the head of the queue
# The runner waits while a sweep it did not start (seed_sweep.sh, seed_screen.sh) still trains, so two
# trainings never share the cores. A command that fails is logged and the next one runs. Sweeps resume from
# the results store and their checkpoints, so `stop` then `start` carries on where the queue was.
# QUEUE_DIR (default results/logs) holds queue.txt, queue.current (the running command), queue.pid and
# queue.log; LTH_QUEUE_WAIT_PATTERN (default: every lth training) is what the runner waits for.
set -eu
cd "$(dirname "$0")/.."
dir=${QUEUE_DIR:-results/logs}
mkdir -p "$dir"
queue=$dir/queue.txt current=$dir/queue.current pidfile=$dir/queue.pid
touch "$queue"
export LTH_QUEUE_WAIT_PATTERN=${LTH_QUEUE_WAIT_PATTERN:-"python -m lth (seed-screen|sweep-seed|sweep-fc|sweep-conv|sweep)"}
runner_alive() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "${1:-}" in
  add) shift; [ -n "$*" ] || { echo "queue.sh add: give the command to queue" >&2; exit 2; }
       echo "$*" >> "$queue"; echo "queued: $*";;
  list) if [ -s "$current" ] && runner_alive; then echo "running: $(cat "$current")"; fi; cat "$queue";;
  start)
    if runner_alive; then echo "a queue runner is already running (pid $(cat "$pidfile"))" >&2; exit 1; fi
    # its own session and process group, so that stop ends the runner and everything it started
    setsid nohup bash -c '
      while [ -s "$0" ]; do
        while pgrep -f "$LTH_QUEUE_WAIT_PATTERN" > /dev/null; do sleep 60; done
        cmd=$(head -n 1 "$0"); sed -i 1d "$0"; echo "$cmd" > "$1"
        echo "$(date -u +%FT%TZ) start: $cmd"
        bash -c "$cmd" || echo "$(date -u +%FT%TZ) failed ($?): $cmd"
        sleep 5
        while pgrep -f "$LTH_QUEUE_WAIT_PATTERN" > /dev/null; do sleep 60; done
        : > "$1"
        echo "$(date -u +%FT%TZ) done: $cmd"
      done' "$queue" "$current" >> "$dir/queue.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    echo "queue runner started (pid $!), log: $dir/queue.log";;
  stop)
    if runner_alive; then
      group=$(cat "$pidfile")
      # the runner and everything it started share its process group: a paused sweep is resumed so it can end
      kill -TERM -- "-$group" 2>/dev/null || true
      kill -CONT -- "-$group" 2>/dev/null || true
      echo "queue runner stopped (process group $group)"
    else
      echo "no queue runner running (a training started by hand: scripts/sweep_signal.sh stop)"
    fi
    rm -f "$pidfile"
    if [ -s "$current" ]; then
      { cat "$current"; cat "$queue"; } > "$queue.new" && mv "$queue.new" "$queue"
      echo "back at the head of the queue: $(cat "$current")"; : > "$current"
    fi;;
  *) echo "usage: scripts/queue.sh add COMMAND | start | list | stop (got '${1:-}')" >&2; exit 2;;
esac

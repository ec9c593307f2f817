#!/usr/bin/env bash
# Pause, resume or stop every background training (python -m lth sweep-*, seed-screen) and its Dask workers
# or driver subprocesses.
# Usage: scripts/sweep_signal.sh pause|resume|stop
# Pause it before benchmarking: two trainings at once distort every timing.
set -eu
case "${1:-}" in
  pause) signal=STOP ;;
  resume) signal=CONT ;;
  stop) signal=TERM ;;
  *) echo "usage: $0 pause|resume|stop (got '${1:-}')" >&2; exit 2 ;;
esac
tree() { echo "$1"; for child in $(pgrep -P "$1"); do tree "$child"; done; }
pids=""
for root in $(pgrep -f "python -m lth (sweep-|seed-screen)" || true); do pids="$pids $(tree "$root")"; done
if [ -z "$pids" ]; then echo "no sweep running"; exit 0; fi
if [ "$signal" = TERM ]; then kill -CONT $pids 2>/dev/null || true; fi
kill -"$signal" $pids 2>/dev/null || true
echo "$1: $(echo $pids | wc -w) processes"

#!/usr/bin/env bash
# The big seed sweep with the protocol the seed-fidelity screen chose (the chapter's pre-registered
# decision rule, `python -m lth seed-screen --decision`): waits for nothing, decides on the stored screen
# runs, and refuses to start while the screen is incomplete. Usage: scripts/seed_sweep_from_screen.sh [TRIALS]
# (default 5, the issue's minimum per cell). Meant to be queued after the screen: scripts/queue.sh add ...
set -eu
cd "$(dirname "$0")/.."
export PATH="$(pwd)/.venv/bin:$PATH"
set +e
decision=$(python -m lth seed-screen --decision 2>/dev/null)
status=$?
set -e
echo "$decision"
protocol=$(echo "$decision" | sed -n 's/^protocol: //p')
if [ "$status" -ne 0 ] || [ -z "$protocol" ] || [ "$protocol" = none ]; then
  echo "no seed sweep started (seed-screen --decision exit $status)" >&2
  exit 1
fi
if [ "$protocol" = faithful ]; then
  echo "the screen chose the faithful protocol, which is already swept; nothing to run"
  exit 0
fi
PROTOCOLS="$protocol" exec scripts/seed_sweep.sh "${1:-5}"

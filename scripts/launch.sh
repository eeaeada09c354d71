#!/usr/bin/env bash
# Runs a built entry point with the project's Node. Used by npm start / npm run bench and ./vidshrink.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
what=$1; shift
case "$what" in
  # V8 sizes its young generation from RAM (134 MB reserved on a 24 GB host before any upload); 16 MB semi-spaces
  # keep the service near 240 MB while 4 clients upload 500 MB each (BENCHMARKS.md, e2e).
  start) exec node --max-semi-space-size=16 "$root/dist/src/cli/main.js" start "$@" ;;
  bench) exec node "$root/dist/bench/run.js" "$@" ;;
  bench-e2e) exec node "$root/dist/bench/e2e.js" "$@" ;;
  cli) exec node "$root/dist/src/cli/main.js" "$@" ;;
  *) echo "launch.sh: unknown entry $what" >&2; exit 1 ;;
esac

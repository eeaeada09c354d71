#!/usr/bin/env bash
# Runs a built entry point with the project's Node. Used by npm start / npm run bench and ./vidshrink.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
what=$1; shift
case "$what" in
  start) exec node "$root/dist/src/cli/main.js" start "$@" ;;
  bench) exec node "$root/dist/bench/run.js" "$@" ;;
  cli) exec node "$root/dist/src/cli/main.js" "$@" ;;
  *) echo "launch.sh: unknown entry $what" >&2; exit 1 ;;
esac

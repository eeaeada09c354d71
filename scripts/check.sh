#!/usr/bin/env bash
# `npm test` after set-up: format, lint, typecheck, then every test (unit, integration with real ffmpeg, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
echo "[check] prettier" && npx --no-install prettier --check --log-level warn .
echo "[check] eslint" && npx --no-install eslint --max-warnings 0 .
echo "[check] tsc" && npx --no-install tsc -p tsconfig.json
ffmpeg -hide_banner -version | head -1
echo "[check] vitest" && npx --no-install vitest run "$@"

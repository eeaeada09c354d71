# Sourced by the set-up and the launchers: puts the project's Node (if set-up installed one) first on PATH.
_vs_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$_vs_root/.toolchain/node/bin/node" ]; then
  export PATH="$_vs_root/.toolchain/node/bin:$PATH"
fi
unset _vs_root

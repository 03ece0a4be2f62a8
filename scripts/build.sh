#!/usr/bin/env bash
# Builds the worker into build/ with the pinned tools. wrangler.toml's [build] runs this too,
# so plain `npx wrangler dev` works after set-up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
if [ ! -x "$WORKER_BUILD_BIN" ] || [ ! -x "$WASM_BINDGEN_BIN" ] || [ ! -x "$WASM_OPT_BIN" ]; then
  bash scripts/setup.sh
fi
exec "$WORKER_BUILD_BIN" --release

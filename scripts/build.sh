#!/usr/bin/env bash
# Builds the worker into build/ with the pinned tools. wrangler.toml's [build] runs this too,
# so plain `npx wrangler dev` works after set-up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
if [ ! -x "$WORKER_BUILD_BIN" ] || [ ! -x "$WASM_BINDGEN_BIN" ] || [ ! -x "$WASM_OPT_BIN" ]; then
  bash scripts/setup.sh
fi
"$WORKER_BUILD_BIN" --release
# The static files (Workers Static Assets, `[assets]` in wrangler.toml): the admin page as it is,
# the OpenAPI document without its indentation. They are served through the worker's route table,
# and are not part of the wasm or its budget.
rm -rf build/assets && mkdir -p build/assets/admin
cp src/admin/index.html src/admin/app.js src/admin/app.css build/assets/admin/
node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1], "utf8"))))' \
  src/openapi.json build/assets/openapi.json
# worker-build keeps the wasm `name` section for stack traces; it is over a third of the gzipped
# size, and hookrelay's core never panics on input, so it is stripped. Only custom sections go:
# the same features as worker-build enables, no optimization passes.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
"$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug --strip-producers "${features[@]/#/--enable-}" -o build/index_bg.wasm
gzipped=$(gzip -9 -c build/index_bg.wasm | wc -c)
echo "[build] build/index_bg.wasm: $(wc -c < build/index_bg.wasm) bytes, $gzipped gzipped"
# The size budget is a ceiling: a build over it fails here, before anything is served or deployed.
budget=$((512 * 1024))
if [ "$gzipped" -gt "$budget" ]; then
  echo "[build] over the size budget: $gzipped gzipped bytes > $budget (512 KiB); see bench/SWAPS.md" >&2
  exit 1
fi

# Sourced by the other scripts: where the pinned build tools live, and wrangler's quiet settings.
# The tools are cached outside the repository so that every clone on this machine shares them.
HOOKRELAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOOKRELAY_TOOLS="${HOOKRELAY_TOOLS:-$HOME/.cache/hookrelay}"
WORKER_BUILD_VERSION="0.8.7"
# The wasm-bindgen-cli must equal the wasm-bindgen library in Cargo.lock, byte for byte.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$HOOKRELAY_ROOT/Cargo.lock")"
WORKER_BUILD_BIN="$HOOKRELAY_TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
export WASM_BINDGEN_BIN="$HOOKRELAY_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export WASM_OPT_BIN="$HOOKRELAY_ROOT/node_modules/.bin/wasm-opt"
# Schemathesis, for the API fuzzing test (tests/e2e/schemathesis.test.mjs).
export SCHEMATHESIS_VENV="$HOOKRELAY_TOOLS/schemathesis-$(awk -F'==' '/^schemathesis==/ {print $2}' "$HOOKRELAY_ROOT/scripts/schemathesis-requirements.txt")"
# The vendors' SDKs, for tests/e2e/sdk.test.mjs; the venv is named after the pins' hash.
export SDK_VENV="$HOOKRELAY_TOOLS/sdk-$(sha256sum "$HOOKRELAY_ROOT/scripts/sdk-requirements.txt" | cut -c1-12)"
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export CI="${CI:-true}"
# Local KV state and wrangler's logs stay out of the repository.
export HOOKRELAY_STATE="${HOOKRELAY_STATE:-$HOOKRELAY_TOOLS/state}"
export WRANGLER_LOG_PATH="${WRANGLER_LOG_PATH:-$HOOKRELAY_TOOLS/wrangler-logs}"

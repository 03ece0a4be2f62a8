#!/usr/bin/env bash
# Installs everything the build needs, idempotently: each step is skipped when already done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
say() { printf '[setup] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# npm packages: wrangler (with workerd and miniflare) and binaryen's wasm-opt. Reinstalled when
# package-lock.json changes.
stamp="node_modules/.hookrelay-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/.bin/wrangler ] || [ ! -x "$WASM_OPT_BIN" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# worker-build normally downloads wasm-bindgen and wasm-opt from GitHub, which is unreachable
# here; we install both ourselves and point it at them (WASM_BINDGEN_BIN, WASM_OPT_BIN).
if [ ! -x "$WORKER_BUILD_BIN" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (about 4 minutes, once per machine)"
  cargo install --locked --quiet "worker-build@$WORKER_BUILD_VERSION" --root "$HOOKRELAY_TOOLS/worker-build-$WORKER_BUILD_VERSION"
fi
if [ ! -x "$WASM_BINDGEN_BIN" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock; once per machine)"
  # --locked fails for wasm-bindgen-cli on these machines, so it resolves its own dependencies.
  cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$HOOKRELAY_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION"
fi

# Python tools from PyPI, each pinned with its dependencies in a requirements file and installed
# into its own venv in the tool cache; reinstalled when the pins change.
pinned_venv() { # <what> <venv> <requirements file>
  local want
  want="$(sha256sum "$3" | cut -d' ' -f1)"
  if [ "$(cat "$2/.hookrelay-requirements.sha256" 2>/dev/null)" != "$want" ]; then
    say "installing $1 into $2"
    rm -rf "$2"
    python3 -m venv "$2"
    "$2/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$3"
    echo "$want" > "$2/.hookrelay-requirements.sha256"
  fi
}
# Schemathesis, for the API fuzzing in `npm test`.
pinned_venv Schemathesis "$SCHEMATHESIS_VENV" scripts/schemathesis-requirements.txt
# The vendors' SDKs (python-gitlab, Alibaba's and Huawei's), for tests/e2e/sdk.test.mjs.
pinned_venv "the vendors' SDKs" "$SDK_VENV" scripts/sdk-requirements.txt

if [ ! -f .dev.vars ]; then
  say "creating .dev.vars from .dev.vars.example"
  cp .dev.vars.example .dev.vars
else
  # A .dev.vars from an older checkout gets the variables added since, and keeps its own values.
  while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    if ! grep -q "^${line%%=*}=" .dev.vars; then
      say "adding ${line%%=*} to .dev.vars"
      printf '%s\n' "$line" >> .dev.vars
    fi
  done < .dev.vars.example
fi
mkdir -p "$HOOKRELAY_STATE"
say "ready"

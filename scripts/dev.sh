#!/usr/bin/env bash
# Sets everything up, then serves the worker on 127.0.0.1:8787 with local KV (kept outside the repo).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
bash scripts/setup.sh
# The settings the worker would refuse at /healthz, said before serving, in one line.
cargo run --quiet --example check-config -- .dev.vars
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --persist-to "$HOOKRELAY_STATE" "$@"

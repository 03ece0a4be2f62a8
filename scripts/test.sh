#!/usr/bin/env bash
# Every test: native cargo tests, the worker build, then end-to-end tests against the built worker.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
bash scripts/setup.sh
echo "== native tests (cargo test)"
cargo test --quiet
echo "== build"
bash scripts/build.sh
echo "== end-to-end tests (node --test, Miniflare, real local KV)"
node --test --test-concurrency=1 tests/e2e/

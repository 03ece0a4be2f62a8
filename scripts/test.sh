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
# The runtime's output of the whole run, and the secrets the tests used, for tests/e2e/zz-logs.test.mjs.
HOOKRELAY_E2E_LOG="$(mktemp)"
export HOOKRELAY_E2E_LOG
trap 'rm -f "$HOOKRELAY_E2E_LOG" "$HOOKRELAY_E2E_LOG.secrets"' EXIT
node --test --test-concurrency=1 tests/e2e/

#!/usr/bin/env bash
# Every test: native cargo tests, the worker build, end-to-end tests against the built worker, then
# the admin page in a real browser.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
echo "== static checks of the test files (node --test tests/static)"
node --test tests/static/
bash scripts/setup.sh
echo "== native tests (cargo test)"
cargo test --quiet
echo "== build"
bash scripts/build.sh
# The runtime's output of the whole run (browser and end-to-end), and the secrets the tests used,
# for tests/e2e/zz-logs.test.mjs, which runs last.
HOOKRELAY_E2E_LOG="$(mktemp)"
export HOOKRELAY_E2E_LOG
trap 'rm -f "$HOOKRELAY_E2E_LOG" "$HOOKRELAY_E2E_LOG.secrets"' EXIT
echo "== browser test of the admin page (playwright-core driving Debian's chromium)"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "[test] installing chromium with apt-get"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
node --test --test-concurrency=1 tests/browser/
echo "== end-to-end tests (node --test, Miniflare, real local KV)"
node --test --test-concurrency=1 tests/e2e/

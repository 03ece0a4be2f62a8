#!/usr/bin/env bash
# `npm run fuzz`: every fuzz target in tests/fuzz for FUZZ_SECONDS each (default 60), with
# cargo-fuzz on the nightly toolchain. Installs cargo-fuzz under the tool cache once. A crash
# leaves its input in tests/fuzz/artifacts/<target>/; turn it into a regression test in
# tests/properties.rs (or beside the parser) before fixing it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$HOOKRELAY_ROOT"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
FUZZ_ROOT="$HOOKRELAY_TOOLS/cargo-fuzz"
[ -x "$FUZZ_ROOT/bin/cargo-fuzz" ] || cargo install --quiet cargo-fuzz --root "$FUZZ_ROOT"
export PATH="$FUZZ_ROOT/bin:$PATH"
for target in providers forms cron template; do
  echo "== fuzz $target (${FUZZ_SECONDS:-60} s)"
  cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" -- -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10
done
# The seeded edge simulation (tests/simulation.rs) over many more scenarios than `cargo test` runs.
echo "== edge simulation (${HOOKRELAY_SIM_SEEDS:=200000} seeds)"
HOOKRELAY_SIM_SEEDS="$HOOKRELAY_SIM_SEEDS" cargo test --quiet --test simulation

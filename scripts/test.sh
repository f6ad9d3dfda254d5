#!/bin/sh
# Every test, in the order that fails fastest: lints, native unit and integration tests, browser
# tests twice (cross-origin isolated, and not), then the release build of the demo and of the React
# example (from the packed npm tarball) end to end.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy (native and wasm32)"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features test-ops -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets --features test-ops -- -D warnings

step "native tests (cargo test)"
cargo test --features test-ops

step "browser tests, cross-origin isolated (SharedArrayBuffer available)"
# The test-only ops (echo, sleep, spin, panic, progress) are compiled in for these runs only.
BROWSER_TESTS="--features test-ops --test web --test web_pool --test web_handlers --test web_services"
wasm-pack test --headless --chrome --mode no-install -- $BROWSER_TESTS
step "browser tests, not cross-origin isolated"
WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1 wasm-pack test --headless --chrome --mode no-install -- $BROWSER_TESTS

step "release build of the package (wasm + entry + types, packed into target/), and the demo"
npm run pack
npm run build:demo

step "the React example, built with Vite from the packed tarball (examples/react/build.sh)"
PACK=0 sh examples/react/build.sh

step "type check of the public API (tsc --noEmit over tests/types/usage.ts)"
npx tsc -p tests/types

step "end-to-end tests (Playwright + Chromium)"
node --test tests/e2e/

#!/bin/sh
# Every test, in the order that fails fastest: lints (Rust, then JavaScript, with its node tests),
# native unit and integration tests, browser tests twice (cross-origin isolated, and not), then the
# release build of the demo and of the React example (from the packed npm tarball) end to end.
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

step "JavaScript: eslint, tsc --checkJs (tsconfig.checkjs.json), node tests (tests/node/)"
npx eslint .
npx tsc -p tsconfig.checkjs.json
node --test tests/node/

step "native tests (cargo test)"
cargo test --features test-ops

# The test-only ops (echo, sleep, spin, panic, progress) are compiled in for these runs only.
BROWSER_TESTS="web web_pool web_handlers web_services"
# One file at a time, each watched for the test runner's server stall (see the script's header).
browser_tests() {
  node scripts/browser-tests.mjs $BROWSER_TESTS -- --features test-ops
}

step "browser tests: build (wasm32, test-ops)"
cargo test --no-run --target wasm32-unknown-unknown --features test-ops $(printf -- '--test %s ' $BROWSER_TESTS)
step "browser tests, cross-origin isolated (SharedArrayBuffer available)"
browser_tests
step "browser tests, not cross-origin isolated"
export WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1
browser_tests
unset WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION

step "release build of the package (wasm + entry + types, packed into target/), and the demo"
npm run pack
npm run build:demo

step "the React example, built with Vite from the packed tarball (examples/react/build.sh)"
PACK=0 sh examples/react/build.sh

step "type check of the public API (tsc --noEmit over tests/types/usage.ts)"
npx tsc -p tests/types

step "end-to-end tests (Playwright + Chromium)"
node --test tests/e2e/

#!/bin/sh
# Every test, in the order that fails fastest: lints (Rust, then JavaScript, with its node tests),
# native unit and integration tests, browser tests in Chromium (cross-origin isolated with the
# threaded build and with the single-threaded one, and not isolated) and in Firefox (the same
# three), then the
# release build of the demo and of the React example (from the packed npm tarball) end to end, and
# last a short soak (500 mixed calls with injected faults; `npm run soak` runs 10,000). The Rust
# service example (examples/rust-service) is a workspace member, so the workspace's lints and
# native tests cover it; its browser test runs after the crate's browser tests.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Each step says how long the one before it took, and the run ends with the total, so CI's log
# shows where the time goes.
START=$(date +%s)
LAST=$START
step() {
  now=$(date +%s)
  printf '\n== %s   (previous step %ss, %ss so far)\n' "$*" "$((now - LAST))" "$((now - START))"
  LAST=$now
}

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (native and wasm32)"
# With --all-targets the test-only ops are on (the crate's dev-dependency on itself); without, the
# libraries are linted as shipped.
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace -- -D warnings
cargo clippy --target wasm32-unknown-unknown --workspace --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --workspace -- -D warnings

# The threaded build's Rust, natively (its thread pool as std threads).
cargo clippy --workspace --all-targets --features test-ops,threads -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features test-ops

step "JavaScript: eslint, tsc --checkJs (tsconfig.checkjs.json), node tests (tests/node/)"
npx eslint .
npx tsc -p tsconfig.checkjs.json
node --test tests/node/

step "native tests (cargo test), the layering check among them"
cargo test --workspace
# The core's jobs split across threads (ops::parallel), natively on std threads.
cargo test -p worker-bridge-core --features test-ops,parallel

# Browser tests (tests/web*.rs): the bare command users type, nothing set around it. The test-only
# ops come from the crate's dev-dependency on itself (Cargo.toml), the runner's timeout from
# .cargo/config.toml; wasm-pack takes wasm-bindgen, chromedriver and geckodriver from PATH. First,
# that the installed test runner has the fix for its server's stall (see scripts/setup.sh).
step "the test runner answers a burst of connections (scripts/check-test-runner.mjs)"
node scripts/check-test-runner.mjs
browser_tests() {
  step "browser tests in $1, cross-origin isolated (SharedArrayBuffer available)"
  wasm-pack test --headless --"$1"
  step "browser tests in $1, not cross-origin isolated"
  WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1 wasm-pack test --headless --"$1"
}

# The threaded build (nightly, threads.toml: shared memory, a thread pool in each worker) is what a
# cross-origin isolated page loads: every browser test file runs on it there. The single-threaded
# build runs isolated too (a first bridge with `threads: false`, or a browser that is isolated but
# cannot share wasm memory) and without isolation, in Chromium and in Firefox.
threaded() { RUSTUP_TOOLCHAIN=nightly CARGO_TARGET_DIR=target/threads "$@"; }
step "browser tests in chrome, cross-origin isolated: the threaded build"
threaded wasm-pack test --headless --chrome -- --features threads --config threads.toml
browser_tests chrome
step "browser tests in firefox, cross-origin isolated: the threaded build"
threaded wasm-pack test --headless --firefox -- --features threads --config threads.toml
browser_tests firefox

# Its browser test loads the crate built as a package (pkg/): the test runner's own build of a
# crate never runs #[wasm_bindgen(start)], which registers the service (see its tests/package.js).
step "examples/rust-service: built as a package (wasm-pack build --dev), in a browser, isolated and not"
(cd examples/rust-service && wasm-pack build --dev --target web --mode no-install)
(cd examples/rust-service && wasm-pack test --headless --chrome)
(cd examples/rust-service && WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1 wasm-pack test --headless --chrome)

step "release build of the package (wasm + entry + types, packed into target/), and the demo"
npm run pack
npm run build:demo

step "the React example, built with Vite from the packed tarball (examples/react/build.sh)"
PACK=0 sh examples/react/build.sh

step "type check of the public API (tsc --noEmit over tests/types/usage.ts)"
npx tsc -p tests/types

step "end-to-end tests (Playwright + Chromium; WebDriver: Firefox, WebKitGTK)"
node --test tests/e2e/

# A fresh seed each run, printed first: `npm run soak -- --calls 500 --seed N` replays a failure.
step "soak, short: 500 mixed calls with injected faults (scripts/soak.mjs; builds target/bench-pkg)"
node scripts/soak.mjs --calls 500

step "all tests passed"

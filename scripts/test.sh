#!/bin/sh
# Every test, in the order that fails fastest: lints (Rust, then JavaScript, with its node tests),
# native unit and integration tests, browser tests twice (cross-origin isolated with the threaded
# build, and not isolated with the single-threaded one), then the
# release build of the demo and of the React example (from the packed npm tarball) end to end, and
# last a short soak (500 mixed calls with injected faults; `npm run soak` runs 10,000). The Rust
# service example (examples/rust-service) is a workspace member, so the workspace's lints and
# native tests cover it; its browser test runs after the crate's browser tests.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (native and wasm32)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --features test-ops -- -D warnings
cargo clippy --target wasm32-unknown-unknown --workspace --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --workspace --all-targets --features test-ops -- -D warnings

# The threaded build's Rust, natively (its thread pool as std threads).
cargo clippy --workspace --all-targets --features test-ops,threads -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features test-ops

step "JavaScript: eslint, tsc --checkJs (tsconfig.checkjs.json), node tests (tests/node/)"
npx eslint .
npx tsc -p tsconfig.checkjs.json
node --test tests/node/

step "native tests (cargo test), the layering check among them"
cargo test --workspace --features test-ops
# The core's jobs split across threads (ops::parallel), natively on std threads.
cargo test -p worker-bridge-core --features test-ops,parallel

# The test-only ops (echo, sleep, spin, panic, progress) are compiled in for these runs only.
BROWSER_TESTS="web web_pool web_handlers web_services web_engines web_threads"
# One file at a time, each watched for the test runner's server stall (see the script's header).
browser_tests() {
  node scripts/browser-tests.mjs $BROWSER_TESTS -- --features test-ops
}

# A cross-origin isolated page gets the threaded build (nightly, threads.toml: shared memory, a
# thread pool in each worker); a page without isolation the single-threaded one. Each runs every
# browser test file.
threaded() { RUSTUP_TOOLCHAIN=nightly CARGO_TARGET_DIR=target/threads "$@"; }
step "browser tests: build (wasm32, test-ops; single-threaded, then threaded)"
cargo test --no-run --target wasm32-unknown-unknown --features test-ops $(printf -- '--test %s ' $BROWSER_TESTS)
# Every test target, as wasm-pack builds them before it starts the runner (the threaded build is
# not incremental: built here, none of it counts against a test page's start budget).
threaded cargo build --tests --target wasm32-unknown-unknown --features test-ops,threads --config threads.toml
threaded cargo test --no-run --target wasm32-unknown-unknown --features test-ops,threads --config threads.toml $(printf -- '--test %s ' $BROWSER_TESTS)
step "browser tests, cross-origin isolated: the threaded build"
threaded node scripts/browser-tests.mjs $BROWSER_TESTS -- --features test-ops,threads --config threads.toml
# The single-threaded build on an isolated page too (a first bridge with `threads: false`, or a
# browser that is isolated but cannot share wasm memory): its shared-memory progress, cancel
# and heartbeat paths.
step "browser tests, cross-origin isolated: the single-threaded build (web_pool)"
node scripts/browser-tests.mjs web_pool -- --features test-ops
step "browser tests, not cross-origin isolated: the single-threaded build"
export WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1
browser_tests
unset WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION

# Its browser test loads the crate built as a package (pkg/): the test runner's own build of a
# crate never runs #[wasm_bindgen(start)], which registers the service (see its tests/package.js).
step "examples/rust-service: built as a package (wasm-pack build --dev), in a browser, isolated and not"
(cd examples/rust-service && wasm-pack build --dev --target web --mode no-install)
node scripts/browser-tests.mjs --crate examples/rust-service web
WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1 node scripts/browser-tests.mjs --crate examples/rust-service web

step "release build of the package (wasm + entry + types, packed into target/), and the demo"
npm run pack
npm run build:demo

step "the React example, built with Vite from the packed tarball (examples/react/build.sh)"
PACK=0 sh examples/react/build.sh

step "type check of the public API (tsc --noEmit over tests/types/usage.ts)"
npx tsc -p tests/types

step "end-to-end tests (Playwright + Chromium)"
node --test tests/e2e/

# A fresh seed each run, printed first: `npm run soak -- --calls 500 --seed N` replays a failure.
step "soak, short: 500 mixed calls with injected faults (scripts/soak.mjs; builds target/bench-pkg)"
node scripts/soak.mjs --calls 500

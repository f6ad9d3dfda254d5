#!/bin/sh
# Installs everything the project needs, idempotently: each step is skipped when already done.
# Called by `npm start` and `npm test`; safe to run by hand. Nothing downloads binaries at run
# time later: wasm-pack runs with `--mode no-install` and finds these on PATH.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WASM_PACK_VERSION=0.15.1
# The WebDriver server `wasm-pack test --firefox` drives Firefox with (crates.io; no binary download).
GECKODRIVER_VERSION=0.37.1
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

say() { printf 'setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The threaded build (npm run build:wasm:threads) rebuilds the standard library with atomics:
# the installed nightly with its wasm32 target and rust-src (threads.toml says why).
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (the threaded build)"
  rustup toolchain install nightly --profile minimal
fi
# Not a dated toolchain (shared/TOOLCHAIN.md: use the installed nightly, pin no dated one), so the pin is
# a check: the nightly the threaded build was verified with, and a warning when another is found.
NIGHTLY_VERIFIED="2026-05-19"
if ! rustup run nightly rustc --version | grep -q "$NIGHTLY_VERIFIED"; then
  say "WARNING: the threaded build was verified with nightly $NIGHTLY_VERIFIED; found $(rustup run nightly rustc --version)"
fi
if ! rustup target list --installed --toolchain nightly | grep -qx wasm32-unknown-unknown; then
  say "adding wasm32-unknown-unknown to nightly"
  rustup target add wasm32-unknown-unknown --toolchain nightly
fi
if ! rustup component list --installed --toolchain nightly | grep -q '^rust-src'; then
  say "adding rust-src to nightly"
  rustup component add rust-src --toolchain nightly
fi

if ! wasm-pack --version 2>/dev/null | grep -q " $WASM_PACK_VERSION\$"; then
  say "installing wasm-pack $WASM_PACK_VERSION (a few minutes)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION"
fi

# The test runner in wasm-bindgen-cli serves the test page with tiny_http 0.12, whose thread pool
# can queue a connection for a thread that is already taken when the browser opens several at
# once; it then waits, unread, behind a keep-alive connection, and the page never loads (about one
# test file in ten here). The runner is built against tiny_http with that fixed
# (scripts/tiny-http-task-pool.patch; scripts/check-test-runner.mjs checks it); the stamp, beside
# the installed binaries, says this install has it.
RUNNER_STAMP="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin/.wasm-bindgen-cli-$WASM_BINDGEN_VERSION-tiny-http-task-pool"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$" || [ ! -f "$RUNNER_STAMP" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION with scripts/tiny-http-task-pool.patch (a few minutes)"
  TMP=$(mktemp -d)
  # tiny_http's source, through cargo itself (a throwaway crate that depends on it, vendored).
  mkdir -p "$TMP/get/src"
  printf '[package]\nname = "get"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ntiny_http = "=0.12.0"\n' \
    > "$TMP/get/Cargo.toml"
  touch "$TMP/get/src/lib.rs"
  (cd "$TMP/get" && cargo vendor --versioned-dirs "$TMP/vendor" > /dev/null)
  (cd "$TMP/vendor/tiny_http-0.12.0" && git apply "$OLDPWD/scripts/tiny-http-task-pool.patch")
  # No --locked: its lockfile asks for a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force \
    --config "patch.crates-io.tiny_http.path=\"$TMP/vendor/tiny_http-0.12.0\""
  rm -rf "$TMP"
  touch "$RUNNER_STAMP"
fi

# The browsers the tests run in: Debian's Chromium (with its chromedriver), Firefox ESR, and
# WebKitGTK's WebDriver (with its MiniBrowser), which needs a display: Xvfb.
APT_PACKAGES=""
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || APT_PACKAGES="chromium chromium-driver"
[ -x /usr/bin/firefox-esr ] || APT_PACKAGES="$APT_PACKAGES firefox-esr"
[ -x /usr/bin/WebKitWebDriver ] || APT_PACKAGES="$APT_PACKAGES webkit2gtk-driver"
[ -x /usr/bin/xvfb-run ] || APT_PACKAGES="$APT_PACKAGES xvfb"
if [ -n "$APT_PACKAGES" ]; then
  say "installing Debian's $APT_PACKAGES"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $APT_PACKAGES
fi

if ! geckodriver --version 2>/dev/null | head -n 1 | grep -q "^geckodriver $GECKODRIVER_VERSION\b"; then
  say "installing geckodriver $GECKODRIVER_VERSION (a few minutes)"
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --force
fi

# npm ci only when package-lock.json changed since the last install.
STAMP=node_modules/.worker-bridge-setup
LOCK_SUM=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
  echo "$LOCK_SUM" > "$STAMP"
fi

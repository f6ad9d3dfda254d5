#!/bin/sh
# Builds the React example (examples/react/dist) against worker-bridge as a user gets it: the npm
# tarball. Steps: pack the package (target/worker-bridge-<version>.tgz), install the example's
# locked dependencies (npm ci, skipped while node_modules matches package-lock.json), install the
# tarball without recording it (its integrity changes with every build, so no committed lockfile
# can pin it), then `vite build`. Run from anywhere; `npm test` runs it before the e2e tests.
#
#   sh examples/react/build.sh            # always repacks (a stale tarball never slips in)
#   PACK=0 sh examples/react/build.sh     # reuse target/worker-bridge-<version>.tgz if present
set -eu
cd "$(dirname "$0")/../.."

say() { printf 'examples/react: %s\n' "$*"; }

VERSION=$(node -p "require('./package.json').version")
TARBALL="target/worker-bridge-$VERSION.tgz"
if [ "${PACK:-1}" = 0 ] && [ -f "$TARBALL" ]; then
  say "reusing $TARBALL"
else
  say "npm run pack"
  npm run pack
fi
TARBALL=$(pwd)/$TARBALL

cd examples/react
STAMP=node_modules/.worker-bridge-example-ci
LOCK_SUM=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
  echo "$LOCK_SUM" > "$STAMP"
fi

say "installing $TARBALL (--no-save)"
# Removed first so that a rebuilt tarball of the same version always replaces the old files.
rm -rf node_modules/worker-bridge
npm install --no-save --no-audit --no-fund "$TARBALL"

say "vite build"
npm run build

#!/usr/bin/env bash
# The web app's checks (run by scripts/test.sh with the test services' environment):
#   1. Chromium: installs Debian's chromium with apt-get when /usr/bin/chromium is missing
#   2. npm install in web/ from the lock file (skipped when node_modules matches it)
#   3. TypeScript typecheck, then the Vitest component tests
#   4. vite build, then a coditect binary with the app embedded (in a temp dir)
#   5. web/src/api/schema.d.ts is what `coditect openapi` generates now
#   6. the end-to-end tests (web/e2e/) in headless Chromium against that binary and the
#      private PostgreSQL in CODITECT_TEST_PG_URL; screenshots go to
#      $TEST_LOG_DIR/screenshots (default bin/test-logs/screenshots)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd)
logdir=${TEST_LOG_DIR:-$root/bin/test-logs}
chromium=${CHROMIUM:-/usr/bin/chromium}

say() { echo "web.sh: $*" >&2; }

if [[ ! -x $chromium ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		say "$chromium is missing; install it with: sudo apt-get install -y chromium"
		exit 1
	fi
	say "installing chromium with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Vite 7 needs Node 20.19 or newer.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
	say "need Node.js >= 20.19 and npm (found: $(node --version 2>/dev/null || echo none))"
	exit 1
fi

cd "$root/web"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
	# Not `npm ci`: it insists on lock entries for every platform's optional packages
	# (rollup's native binaries), and registry mirrors that serve only this platform's
	# cannot provide them. npm install installs the locked versions and leaves the
	# lock file as it is.
	say "npm install (locked versions)"
	npm install --no-audit --no-fund --loglevel=error
fi

say "typecheck"
npx --no-install tsc -p tsconfig.json --noEmit

say "component tests (vitest)"
npx --no-install vitest run

say "build"
npx --no-install vite build --logLevel warn

tmp=$(mktemp -d /tmp/coditect-web.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/coditect" ./cmd/coditect)

say "schema.d.ts is up to date with coditect openapi"
CODITECT_BIN="$tmp/coditect" node scripts/gen-api.mjs "$tmp/schema.d.ts"
if ! diff -u src/api/schema.d.ts "$tmp/schema.d.ts" >"$tmp/schema.diff"; then
	head -40 "$tmp/schema.diff" >&2
	say "web/src/api/schema.d.ts is stale: run 'make web-api' and commit it"
	exit 1
fi

say "end-to-end tests (headless Chromium; screenshots in $logdir/screenshots)"
CODITECT_BIN="$tmp/coditect" CHROMIUM="$chromium" SCREENSHOT_DIR="$logdir/screenshots" \
	node --test --test-reporter=spec e2e/

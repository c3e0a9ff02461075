#!/usr/bin/env bash
# Runs every check of the project (what `make test` and CI run):
#   1. go vet ./...
#   2. sqlc drift check (go tool sqlc diff)
#   3. go test -race -count=1 -p 2 ./... (extra flags from $GOTESTFLAGS),
#      against a private PostgreSQL + Redis started by scripts/test-services.sh
#      (see CODITECT_TEST_PG_URL, CODITECT_TEST_REDIS_URL, CODITECT_TEST_PG_BINDIR)
#   4. every executable scripts/checks/*.sh (with the same environment)
# Every step runs even if an earlier one failed; a summary follows, and the
# last line is the go test tally "N passed, N failed, N skipped" (top-level
# tests). Exits non-zero if any step failed. The go test output is kept in
# $TEST_LOG_DIR (default bin/test-logs)/go-test.log, the tally in tally.txt.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$(pwd)

logdir=${TEST_LOG_DIR:-$root/bin/test-logs}
mkdir -p "$logdir" || exit 1
gotest_log=$logdir/go-test.log
rm -f "$logdir/tally.txt"

# /tmp (not $TMPDIR, which may be private to root) so that the postgres user
# can reach the state directory.
statedir=$(mktemp -d /tmp/coditect-test.XXXXXX) || exit 1

services_stopped=0
stop_services() {
	((services_stopped)) && return 0
	services_stopped=1
	bash "$root/scripts/test-services.sh" stop "$statedir" || echo "test.sh: warning: stopping the test services failed" >&2
	rm -rf "$statedir"
}
trap stop_services EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM HUP

step_names=()
step_results=()
any_failed=0

# record NAME RC: remember a step's result.
record() {
	step_names+=("$1")
	if [[ $2 -eq 0 ]]; then
		step_results+=(PASS)
	else
		step_results+=("FAIL (exit $2)")
		any_failed=1
	fi
}

# step NAME CMD...: run CMD as a step.
step() {
	local name=$1
	shift
	echo
	echo "==> $name: $*"
	"$@"
	local rc=$?
	record "$name" "$rc"
	return 0
}

# --- services -------------------------------------------------------------
echo "==> services: scripts/test-services.sh start $statedir"
if bash "$root/scripts/test-services.sh" start "$statedir"; then
	# shellcheck disable=SC1091
	source "$statedir/env"
	record "services (PostgreSQL + Redis)" 0
else
	record "services (PostgreSQL + Redis)" 1
fi

# --- 1. go vet --------------------------------------------------------------
step "go vet" go vet ./...

# --- 2. sqlc drift check ----------------------------------------------------
step "sqlc diff" go tool sqlc diff

# --- 3. go test -------------------------------------------------------------
extra_flags=()
if [[ -n ${GOTESTFLAGS:-} ]]; then
	read -r -a extra_flags <<<"$GOTESTFLAGS"
fi
echo
echo "==> go test: go test -race -count=1 -p 2 -v ${extra_flags[*]} ./...  (log: $gotest_log)"
go test -race -count=1 -p 2 -v "${extra_flags[@]}" ./... 2>&1 | tee "$gotest_log"
gotest_rc=${PIPESTATUS[0]}
record "go test -race" "$gotest_rc"

# --- 4. scripted checks -----------------------------------------------------
if [[ -d $root/scripts/checks ]]; then
	shopt -s nullglob
	for check in "$root"/scripts/checks/*.sh; do
		if [[ -x $check ]]; then
			step "check ${check#"$root"/}" "$check"
		fi
	done
	shopt -u nullglob
fi

# --- summary ----------------------------------------------------------------
stop_services

# Count top-level test results (no leading spaces: subtests are indented).
# A package that failed without a failing test (build error, panic in
# TestMain, timeout) counts as one failure.
read -r passed failed skipped < <(awk '
	/^--- PASS: / { p++ }
	/^--- SKIP: / { s++ }
	/^--- FAIL: / { f++; pkgfails++ }
	/^ok[ \t]/    { pkgfails = 0 }
	/^FAIL[ \t]+[^ \t]/ { if (pkgfails == 0) f++; pkgfails = 0 }
	END { printf "%d %d %d\n", p, f, s }
' "$gotest_log" 2>/dev/null || echo "0 0 0")
if [[ $gotest_rc -ne 0 && $failed -eq 0 ]]; then
	failed=1
fi

echo
echo "==================== summary ===================="
for i in "${!step_names[@]}"; do
	printf '%-44s %s\n' "${step_names[$i]}" "${step_results[$i]}"
done
echo "go test log: $gotest_log"
echo "================================================="
if ((any_failed)); then
	echo "RESULT: FAIL"
else
	echo "RESULT: PASS"
fi
tally="${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
# Kept so that a wrapper (.ci/run) can repeat it after make's own error line.
echo "$tally" >"$logdir/tally.txt"
echo "$tally"
exit "$any_failed"

#!/bin/bash
# check.sh - run every test tier (C unit tests, bats suites, the kernel tier) as TAP and end with one line
# "N passed, N failed, N skipped".  Exit status 0 only when nothing failed.
set -u
cd "$(dirname "$0")/.."
hack/prepare-host.sh
log=$(mktemp /tmp/sbx-check.XXXXXX)
trap 'rm -f "$log"' EXIT
broken=0

# suite NAME TIMEOUT CMD...: run one TAP producer; a crash, hang or missing plan counts as a failure.
suite() {
	local name=$1 limit=$2 out rc
	shift 2
	echo "# === $name"
	out=$(mktemp /tmp/sbx-suite.XXXXXX)
	timeout --kill-after=30 "$limit" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	grep -E '^(not )?ok ' "$out" >>"$log"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$out"; then
		echo "not ok - $name exited with status $rc (crash or timeout) without a failing test" | tee -a "$log"
		broken=1
	elif ! grep -qE '^1\.\.[0-9]+' "$out"; then
		echo "not ok - $name printed no TAP plan" | tee -a "$log"
		broken=1
	fi
	rm -f "$out"
}

for t in build/tests/test_*; do
	[ -x "$t" ] && suite "unit: $(basename "$t")" 300 "$t"
done
for f in integration/*.bats; do
	suite "bats: $f" 1500 bats --tap "$f"
done
# Every libFuzzer target on its seed corpus for a bounded time (make fuzz FUZZ_SECONDS=N for longer runs).
if make -s fuzz-build >/tmp/sbx-fuzz-build.log 2>&1; then
	mapfile -t targets < <(find build/fuzz -maxdepth 1 -name 'fuzz_*' -type f -perm -u+x | sort)
	suite "fuzz" 900 hack/fuzz.sh "${SBX_FUZZ_SECONDS:-20}" "${targets[@]}"
else
	cat /tmp/sbx-fuzz-build.log
	echo "not ok - fuzz targets do not build" | tee -a "$log"
fi
rm -f /tmp/sbx-fuzz-build.log
if [ -x hack/kernel/run.sh ]; then
	suite "kernel tier" 1200 hack/kernel/run.sh
fi

skipped=$(grep -cE '^ok .*# (skip|SKIP)' "$log")
passed=$(($(grep -c '^ok ' "$log") - skipped))
failed=$(grep -c '^not ok ' "$log")
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]

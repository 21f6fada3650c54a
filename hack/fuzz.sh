#!/bin/bash
# fuzz.sh SECONDS TARGET... - run each libFuzzer target SECONDS seconds on its seed corpus (tests/fuzz/NAME/) and
# print TAP: a crash, a leak, a sanitizer report or a timeout fails that target and keeps the input in
# build/fuzz/crashes/NAME/ for replay (`build/fuzz/fuzz_NAME FILE`).  New inputs go to a scratch corpus, so the
# seeds in the tree stay as committed.
set -u
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz.sh SECONDS TARGET...}
shift
echo "1..$#"
n=0 bad=0
for bin in "$@"; do
	n=$((n + 1))
	name=$(basename "$bin")
	name=${name#fuzz_}
	seeds=tests/fuzz/$name
	work=$(mktemp -d /tmp/sbx-fuzz.XXXXXX)
	crashes=build/fuzz/crashes/$name
	mkdir -p "$crashes"
	[ -d "$seeds" ] || seeds=
	# -timeout: one input taking longer than 10 s is a hang (hardening must stay linear in the input).  The merge
	# compiles candidates in a child that libseccomp may spin in for its whole 2 s bound, several times for a
	# hostile filter (issue 12 tracks that first-start cost): 30 s there.
	tmo=10
	[ "$name" = merge ] && tmo=30
	if "$bin" -max_total_time="$secs" -timeout="$tmo" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" $seeds >"$work.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
		echo "ok $n - fuzz $name: ${runs:-?} inputs in ${secs}s, no report"
	else
		echo "not ok $n - fuzz $name: see below; inputs kept in $crashes"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^==' "$work.log" | head -30 | sed 's/^/# /'
		bad=1
	fi
	rm -rf "$work" "$work.log"
done
exit $bad

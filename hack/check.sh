#!/bin/bash
# check.sh - run every test tier (C unit tests, bats suites, the kernel tier) as TAP and end with one line
# "N passed, N failed, N skipped".  Exit status 0 only when nothing failed.
set -u
cd "$(dirname "$0")/.."
hack/prepare-host.sh
log=$(mktemp /tmp/sbx-check.XXXXXX)
trap 'rm -f "$log"' EXIT
broken=0

# ---- leak check: a suite leaves the host as it found it -------------------------------------------------------
# host_snapshot: one line per thing a test could leave behind: containers in the delegates' and engines' default
# roots, cgroup directories of every hierarchy, mount points (with fs type and source), bpffs pins, sbx's
# temporary files, and sbx, engine and container processes.  Mount and process ids differ from run to run and
# are left out; what is compared is what is there.
host_snapshot() {
	local r d
	for d in runc crun; do
		for r in /run/$d /run/docker/runtime-runc/moby /run/containerd/runc/* /run/user/0/$d; do
			[ -d "$r" ] && "$d" --root "$r" list -q 2>/dev/null | sed "s|^|container $d $r |"
		done
	done
	find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sed 's/^/cgroup /'
	awk '{ for (i = 7; $i != "-"; i++); print "mount", $5, $(i + 1), $(i + 2) }' /proc/self/mountinfo
	[ -d /sys/fs/bpf ] && find /sys/fs/bpf -mindepth 1 2>/dev/null | sed 's/^/bpffs /'
	find /tmp /var/tmp -maxdepth 1 \( -name 'sbx-*' -o -name 'sbxe.*' \) 2>/dev/null |
		grep -vE '^/tmp/sbx-(check|leak|suite|fuzz-build)\.' | sed 's/^/file /'
	ps -eo pid=,comm= | awk '$2 ~ /^(sbx|sbx-runtime|runc|crun|conmon|containerd|containerd-shim.*|dockerd|podman|sbx-probe)$/ { print "process", $1, $2 }'
}

# leak_check NAME BEFORE: what appeared since BEFORE and is still there after a short grace (an engine's shim or
# a kernel release that lags the suite's end is not a leak; neither is another user's container passing by).
# Prints each leftover and one failing TAP line for the suite.
leak_check() {
	local name=$1 before=$2 now left
	now=$(mktemp /tmp/sbx-leak.XXXXXX)
	host_snapshot | sort -u >"$now"
	if [ -n "$(comm -13 "$before" "$now")" ]; then
		sleep 3
		host_snapshot | sort -u >"$now"
	fi
	left=$(comm -13 "$before" "$now")
	rm -f "$now"
	[ -n "$left" ] || return 0
	echo "# $name left on the host:"
	sed 's/^/#   /' <<<"$left"
	echo "not ok - $name leaves nothing behind ($(wc -l <<<"$left") leftovers)" | tee -a "$log"
}
# ---- end of leak check ------------------------------------------------------------------------------------------

# suite NAME TIMEOUT CMD...: run one TAP producer; a crash, hang or missing plan counts as a failure.
suite() {
	local name=$1 limit=$2 out rc before
	shift 2
	echo "# === $name"
	before=$(mktemp /tmp/sbx-leak.XXXXXX)
	host_snapshot | sort -u >"$before"
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
	leak_check "$name" "$before"
	rm -f "$before"
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

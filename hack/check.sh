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
# Sanitizer tier: a copy built with ASan and UBSan in build/san, beside the normal build, runs the unit tests and
# the runtime's bats suites.  ASan and LSan reports go to files under build/san/reports, and one report fails the
# tier even when the test that caused it passed (a leak on a refusal path exits non-zero, as the test expects).
# UBSan writes to stderr whatever log_path says when ASan is linked in; -fno-sanitize-recover stops the program
# at the first report with status 98, which fails the test that ran it.  LSan stays on: sbx-runtime execs its
# delegate (no leak check at exec), and what exits instead (refusals, pass-through errors) must free what it took.
# The normal build goes first: the BPF library (build/libsbxbpf.a) is shared by both and must not be rebuilt here.
san=build/san
if make -s -j2 B=$san BIN=$san/bin SANITIZE=address,undefined $san/bin/sbx-runtime $san/bin/sbx $san/sbx-probe unit \
	>/tmp/sbx-san-build.log 2>&1; then
	rm -rf "$san/reports" && mkdir -p "$san/reports"
	export ASAN_OPTIONS="log_path=$PWD/$san/reports/asan:detect_leaks=1:abort_on_error=0:exitcode=99"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98"
	for t in $san/tests/test_*; do
		# test_bpf loads BPF programs as root: a host-kernel feature test, not sbx's code under a sanitizer.
		# test_merge's generator does not fit a sanitized build's time (over 270 s); the merge runs under ASan and
		# UBSan in the fuzz tier (fuzz_merge) instead.
		case $t in *.d | */test_bpf | */test_merge) continue ;; esac
		[ -x "$t" ] && suite "sanitized unit: $(basename "$t")" 600 "$t"
	done
	SBX_RT=$PWD/$san/bin/sbx-runtime SBX=$PWD/$san/bin/sbx PROBE=$PWD/$san/sbx-probe \
		suite "sanitized bats: runtime exec refusal compat" 1200 \
		bats --tap integration/runtime.bats integration/exec.bats integration/refusal.bats integration/compat.bats
	# Every error path of the write-back, by fault injection (about 30 s).
	SBX_RT=$PWD/$san/bin/sbx-runtime suite "sanitized bats: faults (ENOSPC, EIO)" 600 \
		bats --tap --filter 'ENOSPC|EIO|exec' integration/faults.bats
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if [ -n "$(ls -A "$san/reports")" ]; then
		head -n 60 "$san"/reports/*
		echo "not ok - sanitizers reported $(ls "$san/reports" | wc -l) problem(s): $san/reports" | tee -a "$log"
	else
		echo "ok - sanitizers: no ASan or LSan report" | tee -a "$log"
	fi
else
	tail -n 40 /tmp/sbx-san-build.log
	echo "not ok - the sanitized build (B=$san SANITIZE=address,undefined) fails" | tee -a "$log"
fi
rm -f /tmp/sbx-san-build.log
if [ -x hack/kernel/run.sh ]; then
	suite "kernel tier" 1200 hack/kernel/run.sh
fi

# TAP's TODO: a known gap, reported as failing by its test, that its issue still tracks.  It is listed here and
# counted with the skipped (not passed), as prove does; every other "not ok" fails the run.
todo=$(grep -cE '^not ok .*# TODO' "$log")
if [ "$todo" -gt 0 ]; then
	echo
	echo "# known gaps (TAP TODO), not counted as passed:"
	grep -E '^not ok .*# TODO' "$log" | sed 's/^/#   /'
fi
skipped=$(($(grep -cE '^ok .*# (skip|SKIP)' "$log") + todo))
passed=$(($(grep -c '^ok ' "$log") - skipped + todo))
failed=$(($(grep -c '^not ok ' "$log") - todo))
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]

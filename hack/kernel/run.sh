#!/bin/bash
# hack/kernel/run.sh - the real-kernel tier: boots a Debian kernel (modules, BPF LSM) under qemu/TCG, runs
# integration/kernel/*.bats inside it and prints the guest's TAP on stdout (see docs/kernel-tier.md).
#
# Contract with make check: TAP on stdout; exit 0 whenever the tier ran (failures are "not ok" lines), or
# "1..0 # skip <reason>" and exit 0 when qemu or the kernel package cannot be had. Diagnostics go to stderr.
# Knobs: SBX_KERNEL_CACHE (default /var/cache/sbx/kernel), SBX_KERNEL_PACKAGE (pin a linux-image package),
# SBX_KERNEL_TIMEOUT (seconds, default 900), SBX_KERNEL_FILES (comma list of bats files), SBX_KERNEL_FILTER
# (bats --filter regex), SBX_KERNEL_VERBOSE=1 (stream the guest console to stderr), SBX_KERNEL_MEM (MiB),
# SBX_KERNEL_CPU and SBX_KERNEL_SMP (qemu -cpu model, default qemu64, and vCPUs, default 2).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export SBX_KERNEL_CACHE=${SBX_KERNEL_CACHE:-/var/cache/sbx/kernel}
timeout_s=${SBX_KERNEL_TIMEOUT:-900}
logdir="$repo/build/kernel"

skip () { echo "1..0 # skip $*"; exit 0; }

[ "$(uname -m)" = x86_64 ] || skip "kernel tier boots an amd64 kernel; this host is $(uname -m)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
for t in busybox bats apt-get dpkg-deb; do
  command -v $t >/dev/null || skip "$t not installed (see hack/deps/kernel.txt)"
done

mkdir -p "$logdir"
kdir=$("$here/fetch-kernel.sh" 2>"$logdir/fetch.err") ||
  skip "kernel package cannot be had: $(tail -n1 "$logdir/fetch.err" 2>/dev/null)"
work=$(mktemp -d "${TMPDIR:-/tmp}/sbx-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT

# sbx-probe is part of main's build; until it is built here, compile it for the guest (static, no deps).
if [ ! -x "$repo/build/sbx-probe" ] && [ -e "$repo/tests/probe/sbx-probe.c" ]; then
  mkdir -p "$repo/build"
  gcc -static -O2 -Wall -o "$repo/build/sbx-probe" "$repo/tests/probe/sbx-probe.c" >&2 ||
    echo "kernel tier: cannot build build/sbx-probe; its tests will fail" >&2
fi

# bpf/'s test binary drives the LSM tests in the guest; build it when the tree has bpf/ but not the binary.
if [ ! -x "$repo/build/tests/test_bpf" ] && [ ! -x "$repo/build/test_bpf" ] && [ -e "$repo/bpf/bpf.mk" ]; then
  make -C "$repo" build/tests/test_bpf >&2 ||
    echo "kernel tier: cannot build build/tests/test_bpf; lsm.bats will skip" >&2
fi

# The host's side of the comparison the guest prints: what sbx can enforce here, probed the same way.
host_report () {
  if [ -x "$repo/bin/sbx" ] && "$repo/bin/sbx" --help 2>/dev/null | grep -qE '^  +doctor( |$)'; then
    echo "(sbx doctor)"; "$repo/bin/sbx" doctor 2>&1
  elif [ -x "$repo/build/tests/test_bpf" ]; then
    echo "(test_bpf report)"; "$repo/build/tests/test_bpf" report 2>&1
  elif [ -x "$repo/build/test_bpf" ]; then
    echo "(test_bpf report)"; "$repo/build/test_bpf" report 2>&1
  fi
  echo "kernel $(uname -r); active LSMs: $(cat /sys/kernel/security/lsm 2>/dev/null || echo unknown)"
}
host_report >"$work/host-report" 2>&1
export SBX_KERNEL_HOST_REPORT="$work/host-report"

t0=$(date +%s)
"$here/mkinitramfs.sh" "$kdir" "$repo" "$work/initrd" >&2
rc=$?
# A host tool missing is a reason to skip; anything else is the tier's own failure and must show as one.
[ "$rc" -eq 3 ] && skip "cannot build the guest initramfs: a required host tool is missing (see stderr)"
if [ "$rc" -ne 0 ]; then
  echo "1..1"
  echo "not ok 1 - kernel tier: building the guest initramfs failed (exit $rc, see stderr)"
  exit 0
fi
t1=$(date +%s)

append="console=ttyS0 panic=-1 quiet loglevel=1"
[ -n "${SBX_KERNEL_FILES:-}" ] && append+=" sbx.files=$SBX_KERNEL_FILES"
[ -n "${SBX_KERNEL_FILTER:-}" ] && append+=" sbx.filter=$(printf %s "$SBX_KERNEL_FILTER" | base64 -w0)"

: >"$logdir/console.log"; : >"$work/results"
if [ "${SBX_KERNEL_VERBOSE:-0}" = 1 ]; then
  tail -n +1 -f "$logdir/console.log" >&2 & tailpid=$!
fi
# TCG, not KVM: KVM cannot run a stock kernel on this kind of machine, and TCG behaves the same everywhere.
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu "${SBX_KERNEL_CPU:-qemu64}" -smp "${SBX_KERNEL_SMP:-2}" -m "${SBX_KERNEL_MEM:-2048}" \
  -nodefaults -no-user-config -display none -no-reboot \
  -kernel "$kdir/vmlinuz" -initrd "$work/initrd" -append "$append" \
  -serial "file:$logdir/console.log" -serial "file:$work/results" </dev/null >"$work/qemu.out" 2>&1
qrc=$?
t2=$(date +%s)
[ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null

# Only printable ASCII back to the host: a garbled guest line must not make the aggregator see binary data.
LC_ALL=C tr -d '\r' <"$work/results" | LC_ALL=C tr -c '\11\12\40-\176' '?' >"$logdir/results.tap"
echo "kernel tier: $(cat "$kdir/package"), initramfs $((t1 - t0))s, guest $((t2 - t1))s, qemu exit $qrc;" \
  "console: $logdir/console.log" >&2

# Re-emit the guest's TAP, making a dead or hung guest visible as failures rather than as fewer tests.
awk -v qrc="$qrc" -v tmo="$timeout_s" -v clog="$logdir/console.log" -v qout="$(tr '\n' ' ' <"$work/qemu.out")" '
  /^1\.\.[0-9]+/ && !plan { plan = substr($1, 4) + 0; print; next }
  /^(ok|not ok) [0-9]+/ { n = ($1 == "ok") ? $2 : $3; if (n > last) last = n; print; next }
  /^#/ { print; next }
  END {
    why = (qrc == 124 || qrc == 137) ? "guest timed out after " tmo "s" : "guest stopped (qemu exit " qrc ") " qout
    if (!plan) { print "1..1"; print "not ok 1 - kernel tier: the guest produced no TAP: " why "; see " clog; exit }
    for (i = last + 1; i <= plan; i++) print "not ok " i " - kernel tier: test " i " never reported: " why "; see " clog
  }' "$logdir/results.tap"
exit 0

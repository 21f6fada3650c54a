#!/bin/bash
# bench-run.sh - `sbx run -- true` against `bwrap --ro-bind / / true`: mean wall time per run and their ratio,
# appended as a section to BENCHMARKS.md (or $BENCHMARKS).  Called by `make bench`; N=runs per case (default 30).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sbx="$repo/bin/sbx"
out=${BENCHMARKS:-$repo/BENCHMARKS.md}
n=${N:-30}
state=$(mktemp -d /tmp/sbx-bench.XXXXXX)
trap 'rm -rf "$state"' EXIT
export SBX_STATE_DIR="$state/state"

[ -x "$sbx" ] || { echo "bench-run: build first (make)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bench-run: bubblewrap is not installed (hack/install-deps.sh)" >&2; exit 1; }
"$repo/hack/prepare-host.sh" >/dev/null

# mean_ms CMD...: run CMD n times (after 3 warm-ups), print the mean wall time in milliseconds.
mean_ms() {
	local i t0 t1
	for i in 1 2 3; do "$@" >/dev/null 2>&1 || { echo "bench-run: $* failed" >&2; exit 1; }; done
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1; done
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / $n / 1000000" | bc
}

declare -A ms
ms[bwrap]=$(mean_ms bwrap --ro-bind / / true)
ms[bwrap_full]=$(mean_ms bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all --die-with-parent true)
for d in crun runc; do
	command -v "$d" >/dev/null || continue
	ms[sbx_$d]=$(SBX_RUNTIME=$d mean_ms "$sbx" run -- true)
done
ratio() { echo "scale=1; $1 / $2" | bc; }

{
	echo
	echo "## sbx run vs bubblewrap"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, kernel $(uname -r), $n runs per case after 3 warm-ups (hack/bench-run.sh)."
	echo
	echo "| command | mean per run | ratio to \`bwrap --ro-bind / / true\` |"
	echo "| --- | ---: | ---: |"
	echo "| \`bwrap --ro-bind / / true\` | ${ms[bwrap]} ms | 1.0 |"
	echo "| \`bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all true\` | ${ms[bwrap_full]} ms | $(ratio "${ms[bwrap_full]}" "${ms[bwrap]}") |"
	for d in crun runc; do
		[ -n "${ms[sbx_$d]:-}" ] || continue
		echo "| \`sbx run -- true\` (delegate $d) | ${ms[sbx_$d]} ms | $(ratio "${ms[sbx_$d]}" "${ms[bwrap]}") |"
	done
	echo
	echo "sbx run does more than bwrap: an OCI bundle, sbx's policy (seccomp filter with the module block), cgroups"
	echo "(an sbx/<id> group with pids, memory and cpu controllers), every namespace, and a full OCI runtime start."
} | tee -a "$out"

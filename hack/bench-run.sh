#!/bin/bash
# bench-run.sh - `sbx run -- true` against `bwrap --ro-bind / / true`: medians and their ratio, as a markdown
# section.  Under `make bench` (BENCH_TMP set) the section goes to stdout for hack/bench.sh to collect; run alone,
# it is also appended to BENCHMARKS.md ($BENCH_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROUNDS=${BENCH_ROUNDS:-5}
RUNS=${BENCH_RUNS:-20}
sbx="$REPO/bin/sbx"
[ -x "$sbx" ] || { echo "bench-run: build first (make)" >&2; exit 1; }
for tool in bwrap hyperfine jq; do
	command -v "$tool" >/dev/null || { echo "bench-run: $tool missing (hack/install-deps.sh)" >&2; exit 1; }
done
hack/prepare-host.sh >/dev/null
d=$(mktemp -d "${BENCH_TMP:-/tmp}/sbx-bench-run.XXXXXX")
trap 'rm -rf "$d"' EXIT
# A private state directory and no on-demand watcher: what is measured is the sandbox's start, not a daemon's.
export SBX_STATE_DIR="$d/state"
echo '{"watcher": {"enabled": false}}' >"$d/sbx.json"
export SBX_CONFIG="$d/sbx.json"

median_ms() { jq -s '[.[].results[0].times[]] | sort | .[length/2|floor] * 1000' "$@"; }

# measure LABEL CMD: ROUNDS rounds of RUNS runs (the rounds of all commands alternate; see the loop below).
measure() { hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$d/$1-$2.json" "$3" >/dev/null 2>&1; }

labels=(bwrap bwrap_full)
declare -A cmd=(
	[bwrap]="bwrap --ro-bind / / true"
	[bwrap_full]="bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all --die-with-parent true"
)
for rt in crun runc; do
	command -v "$rt" >/dev/null || continue
	labels+=("sbx_$rt")
	cmd[sbx_$rt]="env SBX_RUNTIME=$rt $sbx run -- true"
done
for i in $(seq "$ROUNDS"); do
	for l in "${labels[@]}"; do measure "$l" "$i" "${cmd[$l]}"; done
done
declare -A ms
for l in "${labels[@]}"; do ms[$l]=$(median_ms "$d/$l"-*.json); done
ratio() { printf "%.1f" "$(jq -n "$1 / $2")"; }

section() {
	echo
	echo "## \`sbx run -- true\` against bubblewrap (issue 5)"
	echo
	echo "$ROUNDS alternating rounds of $RUNS runs per command, compared by median (hack/bench-run.sh)."
	echo
	echo "| command | median (ms) | ratio to \`bwrap --ro-bind / / true\` |"
	echo "|---|---|---|"
	printf '| `%s` | %.2f | 1.0 |\n' "${cmd[bwrap]}" "${ms[bwrap]}"
	printf '| `bwrap` with fresh /dev, /proc, /tmp and every namespace | %.2f | %s |\n' "${ms[bwrap_full]}" \
		"$(ratio "${ms[bwrap_full]}" "${ms[bwrap]}")"
	for rt in crun runc; do
		[ -n "${ms[sbx_$rt]:-}" ] || continue
		printf '| `sbx run -- true` (delegate %s) | %.2f | %s |\n' "$rt" "${ms[sbx_$rt]}" \
			"$(ratio "${ms[sbx_$rt]}" "${ms[bwrap]}")"
	done
	echo
	echo "\`sbx run\` starts a full OCI container: its bundle, sbx's policy (a seccomp filter with the module block),"
	echo "cgroups in every hierarchy under \`sbx/<id>\`, every namespace, a read-only root built in a private mount"
	echo "namespace, and clean-up. \`sbx run --debug\` prints its own share (about 10 ms here); the rest is the delegate."
}

if [ -n "${BENCH_TMP:-}" ]; then
	section
else
	section | tee -a "${BENCH_OUT:-BENCHMARKS.md}"
fi

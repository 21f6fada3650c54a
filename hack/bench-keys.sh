#!/bin/bash
# bench-keys.sh - a section of `make bench`: hardening cost against the spec's size (issue 13: Kubernetes allows
# 256 KiB of annotations, and a quadratic key check once made that seconds per start).  Appends to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROUNDS=${BENCH_ROUNDS:-5}
RUNS=${BENCH_RUNS:-10}
command -v hyperfine >/dev/null || { echo "bench-keys: hyperfine missing (hack/install-deps.sh)" >&2; exit 1; }
d=$(mktemp -d /tmp/sbx-bench-keys.XXXXXX)
trap 'rm -rf "$d"' EXIT
echo '{"watcher": {"enabled": false}}' >"$d/sbx.json"
export SBX_CONFIG="$d/sbx.json" SBX_STATE_DIR="$d/state" SBX_SECCOMP_CACHE="$d/cache"
# The delegate does nothing: what is measured is sbx-runtime's parse, policy and write-back alone.
mkdir -p "$d/noop" "$d/b"
ln -s /bin/true "$d/noop/crun"
(cd "$d/b" && runc spec && mv config.json ../base.json)

# spec KIB: the base spec with about KIB KiB of annotations (32-byte entries, as many keys as that takes).
spec() {
	local n=$(($1 * 1024 / 32))
	jq --argjson n "$n" '.annotations = ([range($n)] | map({key: ("io.example.test/annotation-" + (10000 + . | tostring)),
		value: "x"}) | from_entries)' "$d/base.json" >"$d/spec-$1.json"
}
sizes="0 64 256"
for k in $sizes; do spec "$k"; done
for i in $(seq "$ROUNDS"); do
	for k in $sizes; do
		SBX_RUNTIME="$d/noop/crun" hyperfine -N --warmup 2 --runs "$RUNS" --prepare "cp $d/spec-$k.json $d/b/config.json" \
			--export-json "$d/t-$k-$i.json" "$REPO/bin/sbx-runtime create --bundle $d/b x" >/dev/null 2>&1
	done
done
median_ms() { jq -s '[.[].results[0].times[]] | sort | .[length/2|floor] * 1000' "$@"; }
base=$(median_ms "$d"/t-0-*.json)
echo
echo "## Hardening cost against spec size (issue 13)"
echo
echo "sbx-runtime create with a no-op delegate on runc's default spec plus an annotation block of 32-byte entries"
echo "(Kubernetes allows 256 KiB): the cost must grow with the block's size, not its square."
echo
echo "| annotation block | keys | sbx-runtime create (ms) | ratio to no block |"
echo "| --- | --- | --- | --- |"
for k in $sizes; do
	m=$(median_ms "$d"/t-"$k"-*.json)
	printf '| %s KiB | %s | %.2f | %.2f |\n' "$k" "$((k * 1024 / 32))" "$m" "$(jq -n "$m / $base")"
done

#!/bin/bash
# bench-seccomp.sh - seccomp section of `make bench`: per-call syscall cost inside a container under no filter, the
# containers-common default, sbx default and sbx strict (side by side in one run, as ratios to no filter); profile
# compile time, cache hit and miss; start latency with and without sbx's BPF cache.  Appends to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${BENCH_OUT:-BENCHMARKS.md}
ROUNDS=${BENCH_ROUNDS:-5}
RUNS=${BENCH_RUNS:-20}
LOOPS=${SBX_LOOPS:-2000000}
CC_PROFILE=/usr/share/containers/seccomp.json
command -v hyperfine >/dev/null || { echo "bench-seccomp: hyperfine missing (hack/install-deps.sh)" >&2; exit 1; }
[ -r "$CC_PROFILE" ] || { echo "bench-seccomp: $CC_PROFILE missing (golang-github-containers-common)" >&2; exit 1; }
[ -x build/sbx-escape ] || make build/sbx-escape >/dev/null
hack/prepare-host.sh >/dev/null

d=$(mktemp -d /tmp/sbx-bench-seccomp.XXXXXX)
cleanup() {
	for c in $(crun --root "$d/root" list -q 2>/dev/null); do crun --root "$d/root" delete --force "$c" >/dev/null 2>&1; done
	rm -rf "$d"
}
trap cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT
# Private settings: the filter measured is the container's own, with no watcher on demand.
echo '{"watcher": {"enabled": false}, "tenants": {"allow_profile": true}}' >"$d/sbx.json"
export SBX_CONFIG="$d/sbx.json" SBX_STATE_DIR="$d/state" SBX_PROFILES_DIR=/nonexistent/sbx-profiles

mkdir -p "$d/rootfs/bin" "$d/root"
cp /bin/busybox build/sbx-escape "$d/rootfs/bin/"
ln -s busybox "$d/rootfs/bin/true"
(cd "$d" && runc spec && mv config.json spec.json)
jq --arg r "$d/rootfs" --arg n "$LOOPS" '.process.terminal=false | .root = {path: $r, readonly: true}
	| .process.args=["/bin/sbx-escape","time_getppid","time_personality"] | .process.env += ["SBX_LOOPS=" + $n]' \
	"$d/spec.json" >"$d/base.json"
# containers-common's profile as podman puts it in config.json: resolved for the container's capabilities.
caps=$(jq -r '.process.capabilities.bounding | join(",")' "$d/base.json")
"$REPO/bin/sbx" profile show "$CC_PROFILE" --caps "$caps" | jq 'del(.syscalls[].comment)' >"$d/cc.json"

# bundle NAME JQ: a bundle dir $d/NAME whose config.json is base.json edited by JQ.
bundle() {
	mkdir -p "$d/$1"
	jq --slurpfile cc "$d/cc.json" "$2" "$d/base.json" >"$d/$1/config.json"
	cp "$d/$1/config.json" "$d/$1/orig.json"
}
bundle none 'del(.linux.seccomp)'
# The floor: a filter with one rule.  Any seccomp filter moves syscalls to the kernel's slower entry path;
# this row shows what that alone costs here, whatever the profile.
bundle floor '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["reboot"], action: "SCMP_ACT_ERRNO"}]}'
bundle cc '.linux.seccomp = $cc[0]'
bundle sbxdef 'del(.linux.seccomp) | .annotations["run.sbx.profile"] = "default"'
bundle sbxstrict 'del(.linux.seccomp) | .annotations["run.sbx.profile"] = "strict"'
bundle ccsbx '.linux.seccomp = $cc[0] | .annotations["run.sbx.profile"] = "default"'

export SBX_SECCOMP_CACHE="$d/cache"
# run_in CONFIG: one container run; prints the probe's lines.
run_in() {
	local b=$d/$1
	cp "$b/orig.json" "$b/config.json"
	case $1 in
	none | floor | cc) crun --root "$d/root" run --bundle "$b" "bench-$1-$$" ;;
	*) SBX_RUNTIME=crun "$REPO/bin/sbx-runtime" --root "$d/root" run --bundle "$b" "bench-$1-$$" ;;
	esac
}

configs="none floor cc sbxdef sbxstrict ccsbx"
for r in $(seq "$ROUNDS"); do
	for c in $configs; do run_in "$c" >>"$d/calls-$c.txt"; done
done
# med CONFIG OP: the lowest ns per call over the rounds (this host is shared: the minimum is the run least
# disturbed by others, which is what a per-call cost means).
med() { awk -v op="time_$2" '$1 == op {print $2}' "$d/calls-$1.txt" | sort -g | head -1; }
label() {
	case $1 in
	none) echo "no filter" ;;
	floor) echo "one-rule filter (the floor of any filter)" ;;
	cc) echo "containers-common default (OCI form, crun)" ;;
	sbxdef) echo "sbx default" ;;
	sbxstrict) echo "sbx strict" ;;
	ccsbx) echo "containers-common ∩ sbx default" ;;
	esac
}

# Compile and cache costs, measured in-process (no process start in the figures).
read -r _ compile_def < <("$REPO/bin/sbx" profile compile default --bench 20 | grep compile_us)
bench_def=$("$REPO/bin/sbx" profile compile default --bench 20)
bench_strict=$("$REPO/bin/sbx" profile compile strict --bench 20)
val() { awk -v k="$2" '$1 == k {print $2}' <<<"$1"; }

# Start latency of `run true`: crun alone, sbx with a warm cache, sbx compiling every start (cache emptied), sbx
# handing the JSON form to crun (cache off; crun compiles, or reuses its own per-root cache).
jq '.process.args=["/bin/true"]' "$d/sbxdef/orig.json" >"$d/sbxdef/true.json"
jq '.process.args=["/bin/true"]' "$d/none/orig.json" >"$d/none/true.json"
start() {
	local name=$1 prep=$2 cmd=$3
	hyperfine -N --warmup 2 --runs "$RUNS" --prepare "$prep" --export-json "$d/start-$name.json" "$cmd" >/dev/null 2>&1
	jq '[.results[0].times[]] | sort | .[length/2|floor] * 1000' "$d/start-$name.json"
}
cat >"$d/rt.sh" <<EOF
#!/bin/sh
exec env SBX_RUNTIME=crun SBX_SECCOMP_CACHE="\$1" "$REPO/bin/sbx-runtime" --root "$d/root" run --bundle "$d/sbxdef" bench-start
EOF
chmod +x "$d/rt.sh"
s_plain=$(start plain "cp $d/none/true.json $d/none/config.json" "crun --root $d/root run --bundle $d/none bench-start")
s_hit=$(start hit "cp $d/sbxdef/true.json $d/sbxdef/config.json" "$d/rt.sh $d/cache")
s_miss=$(start miss "sh -c 'cp $d/sbxdef/true.json $d/sbxdef/config.json; rm -rf $d/cache-miss'" "$d/rt.sh $d/cache-miss")
s_off=$(start off "cp $d/sbxdef/true.json $d/sbxdef/config.json" "$d/rt.sh off")

{
	echo
	echo "## Seccomp profiles ($(date -u +%Y-%m-%d), $(uname -r), crun $(crun --version | awk 'NR==1{print $3}'), libseccomp $(pkg-config --modversion libseccomp))"
	echo
	echo "Per-call cost inside a container (static probe, $LOOPS calls, best of $ROUNDS interleaved rounds, crun;"
	echo "sbx hands crun its filter precompiled). \`personality(0xffffffff)\` is argument-filtered in every profile."
	echo
	echo "| filter | getppid ns | ratio | personality ns | ratio |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	g0=$(med none getppid)
	p0=$(med none personality)
	for c in $configs; do
		g=$(med "$c" getppid)
		p=$(med "$c" personality)
		printf '| %s | %s | %.2f | %s | %.2f |\n' "$(label "$c")" "$g" "$(echo "$g / $g0" | bc -l)" "$p" "$(echo "$p / $p0" | bc -l)"
	done
	echo
	# Against the floor: what a profile itself costs beyond having a filter at all.
	printf 'Against the one-rule floor, sbx default costs %.2fx on getppid and %.2fx on the argument-filtered call\n' \
		"$(echo "$(med sbxdef getppid) / $(med floor getppid)" | bc -l)" \
		"$(echo "$(med sbxdef personality) / $(med floor personality)" | bc -l)"
	printf '(containers-common: %.2fx and %.2fx): the rest of the gap to "no filter" is the kernel'"'"'s price for any filter.\n' \
		"$(echo "$(med cc getppid) / $(med floor getppid)" | bc -l)" \
		"$(echo "$(med cc personality) / $(med floor personality)" | bc -l)"
	echo
	echo "Profile compile (libseccomp, binary tree) and sbx's BPF cache, in-process, µs per operation:"
	echo
	echo "| profile | compile | cache miss (compile + store) | cache hit |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| default | $(val "$bench_def" compile_us) | $(val "$bench_def" cache_miss_us) | $(val "$bench_def" cache_hit_us) |"
	echo "| strict | $(val "$bench_strict" compile_us) | $(val "$bench_strict" cache_miss_us) | $(val "$bench_strict" cache_hit_us) |"
	echo
	echo "Start latency of \`run /bin/true\` (median of $RUNS, ms):"
	echo
	echo "| case | ms | ratio to crun |"
	echo "| --- | ---: | ---: |"
	printf '| crun alone, no filter | %.1f | 1.00 |\n' "$s_plain"
	printf '| sbx default, BPF cache hit | %.1f | %.2f |\n' "$s_hit" "$(echo "$s_hit / $s_plain" | bc -l)"
	printf '| sbx default, cache emptied each start (sbx compiles) | %.1f | %.2f |\n' "$s_miss" "$(echo "$s_miss / $s_plain" | bc -l)"
	printf '| sbx default, cache off (JSON to crun) | %.1f | %.2f |\n' "$s_off" "$(echo "$s_off / $s_plain" | bc -l)"
} | if [ -n "${BENCH_TMP:-}" ]; then cat; else tee -a "$OUT"; fi # under make bench, hack/bench.sh collects stdout

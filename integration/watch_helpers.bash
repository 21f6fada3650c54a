# watch_helpers.bash - set-up for the watcher suites: private config, socket, journal, state dir and runtime roots;
# busybox bundles; a watcher started and stopped by PID.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SBX_RT="$REPO/bin/sbx-runtime"
SBX="$REPO/bin/sbx"
PROBE="$REPO/build/sbx-probe"
DELEGATES="${SBX_TEST_DELEGATES:-runc crun}"

# W holds everything of one test; the config points every sbx path into it.
watch_setup() {
	W=$(mktemp -d /tmp/sbx-watch.XXXXXX)
	mkdir -p "$W/state" "$W/root"
	export SBX_STATE_DIR="$W/state" SBX_CONFIG="$W/sbx.json"
	write_config '{}'
	CONTAINERS=()
	WATCHER_PIDS=()
}

# write_config JQ-OBJECT: the test's sbx.json = defaults for a private run, merged with the argument.
write_config() {
	jq -n --arg w "$W" --argjson extra "$1" '{
		watcher: {socket: ($w + "/state/w.sock"), log: ($w + "/watcher.log")},
		journal: {path: ($w + "/events.jsonl")},
		bpf: {enabled: false, pin_dir: ("/sys/fs/bpf/sbx-test-" + ($w | split(".") | last))}
	} * $extra' >"$W/sbx.json"
}

watch_teardown() {
	local c d pid
	for c in "${CONTAINERS[@]}"; do
		for d in runc crun; do "$d" --root "$W/root/$d" delete --force "$c" >/dev/null 2>&1 || true; done
	done
	# A watcher started on demand by sbx-runtime is ours too: its pid is in its answer to ping.
	pid=$("$SBX" watch --status 2>/dev/null | sed -n 's/^ok pid=\([0-9]*\).*/\1/p')
	[ -n "$pid" ] && WATCHER_PIDS+=("$pid")
	for pid in "${WATCHER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	done
	if [ -d "/sys/fs/bpf/sbx-test-${W##*.}" ]; then "$SBX" watch --unpin >/dev/null 2>&1 || true; fi
	[ -n "${W:-}" ] && rm -rf "$W"
}

# make_bundle NAME SCRIPT [ANNOTATIONS-JSON]: a busybox bundle at $W/NAME running `sh -c SCRIPT`; the probe is
# /sbx-probe and the script's output goes to $W/NAME/rootfs/out (read it with `out NAME`).
make_bundle() {
	local b="$W/$1" ann=${3:-}
	[ -n "$ann" ] || ann='{}'
	mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/tmp"
	cp /bin/busybox "$b/rootfs/bin/"
	cp "$PROBE" "$b/rootfs/sbx-probe"
	ln -sf busybox "$b/rootfs/bin/sh"
	ln -sf busybox "$b/rootfs/bin/sleep"
	(cd "$b" && runc spec)
	jq --arg s "exec >/out 2>&1; $2" --argjson a "$ann" \
		'.process.terminal=false | .root.readonly=false | .process.args=["/bin/sh","-c",$s] | .annotations=$a' \
		"$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
}

out() { cat "$W/$1/rootfs/out" 2>/dev/null; }

new_id() {
	local id="w-$1-$$-$RANDOM"
	CONTAINERS+=("$id")
	echo "$id"
}

# rt DELEGATE ARGS...: sbx-runtime with a private root per delegate and a JSON runtime log per test.
rt() {
	local d=$1
	shift
	mkdir -p "$W/root/$d"
	SBX_RUNTIME="$d" "$SBX_RT" --root "$W/root/$d" --log "$W/runtime-$d.log" --log-format json "$@"
}

# start_ct DELEGATE ID BUNDLE-NAME: create + start, detached (the container outlives the call).
start_ct() {
	rt "$1" create --bundle "$W/$3" "$2" </dev/null >/dev/null 2>"$W/create-$2.err" || { cat "$W/create-$2.err"; return 1; }
	rt "$1" start "$2"
}

# ct_status DELEGATE ID: the delegate's status word for the container.
ct_status() { "$1" --root "$W/root/$1" state "$2" 2>/dev/null | jq -r .status; }
status_is() { [ "$(ct_status "$1" "$2")" = "$3" ]; }

# wait_for TIMEOUT-SECONDS COMMAND...: retry COMMAND until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 20))); do
		if "$@"; then return 0; fi
		sleep 0.05
	done
	echo "timed out after ${t}s waiting for: $*"
	return 1
}

# start_watcher [ARGS...]: `sbx watch` in the foreground of a background job, until it answers.
start_watcher() {
	"$SBX" watch "$@" >>"$W/watcher.out" 2>&1 &
	WATCHER_PIDS+=("$!")
	wait_for 10 "$SBX" watch --status >/dev/null
}

watcher_pid() { "$SBX" watch --status 2>/dev/null | sed -n 's/^ok pid=\([0-9]*\).*/\1/p'; }

# violations ID: the container's violation events in the journal, as JSON lines.
violations() { "$SBX" events --json "$1" | jq -c 'select(.type=="violation")'; }
nviolations() { violations "$1" | wc -l; }
has_violations() { [ "$(nviolations "$1")" -eq "$2" ]; }

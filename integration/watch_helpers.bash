# watch_helpers.bash - set-up for the watcher suites: private config, socket, journal, state dir and runtime roots;
# busybox bundles; a watcher started and stopped by PID.
# helpers.bash first, for the time bounds and probes; what follows overrides its bundle helpers (new_id above all).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash"
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
	local pid
	[ -n "${W:-}" ] || return 0
	# Every container under this test's roots, whatever recorded (or failed to record) its id: thawed first, as a
	# frozen task cannot die, then deleted; a cgroup its delegate left behind goes too.
	reap_containers "$W/root"
	# A watcher started on demand by sbx-runtime is ours too: its pid is in its answer to ping.
	pid=$("$SBX" watch --status 2>/dev/null | sed -n 's/^ok pid=\([0-9]*\).*/\1/p')
	[ -n "$pid" ] && WATCHER_PIDS+=("$pid")
	for pid in "${WATCHER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	done
	if [ -d "/sys/fs/bpf/sbx-test-${W##*.}" ]; then "$SBX" watch --unpin >/dev/null 2>&1 || true; fi
	rm -rf "$W"
}

# reap_containers DIR: for each delegate root DIR/* (and DIR itself), thaw, kill and delete every container in
# it, then remove the cgroups it had if the delegate left them.
reap_containers() {
	local root d c pid cg dirs
	for root in "$1" "$1"/*/; do
		[ -d "$root" ] || continue
		for d in runc crun; do
			for c in $("$d" --root "$root" list -q 2>/dev/null); do
				pid=$("$d" --root "$root" state "$c" 2>/dev/null | jq -r '.pid // 0')
				dirs=
				if [ "${pid:-0}" -gt 0 ] && [ -r "/proc/$pid/cgroup" ]; then
					dirs=$(ct_cgroup_dirs "$pid")
					ct_thaw "$pid"
				fi
				timeout 20 "$d" --root "$root" delete --force "$c" >/dev/null 2>&1 || true
				for cg in $dirs; do [ ! -d "$cg" ] || rmdir "$cg" 2>/dev/null || true; done
			done
		done
	done
}

# ct_cgroup_dirs PID: the cgroup directories of PID, one per hierarchy (v1 and cgroup2).
ct_cgroup_dirs() {
	local ctrl path mnt
	while IFS=: read -r _ ctrl path; do
		[ "$path" != / ] || continue
		if [ -z "$ctrl" ]; then
			mnt=/sys/fs/cgroup/unified
			[ -d "$mnt" ] || mnt=/sys/fs/cgroup
		else
			# A hierarchy of several controllers is mounted under its joined name or under each one's.
			mnt=/sys/fs/cgroup/${ctrl#name=}
			[ -d "$mnt" ] || mnt=/sys/fs/cgroup/${ctrl%%,*}
		fi
		[ -d "$mnt$path" ] && echo "$mnt$path"
	done <"/proc/$1/cgroup"
}

# ct_thaw PID: thaw PID's cgroup, whoever froze it (the engine's pause or the watcher's on-violation=freeze).
ct_thaw() {
	local cg
	cg=$(sed -n 's/^[0-9]*:freezer://p' "/proc/$1/cgroup" 2>/dev/null)
	[ -n "$cg" ] && [ -w "/sys/fs/cgroup/freezer$cg/freezer.state" ] && echo THAWED >"/sys/fs/cgroup/freezer$cg/freezer.state" 2>/dev/null
	cg=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
	for f in "/sys/fs/cgroup/unified$cg/cgroup.freeze" "/sys/fs/cgroup$cg/cgroup.freeze"; do
		[ -n "$cg" ] && [ -w "$f" ] && echo 0 >"$f" 2>/dev/null
	done
	return 0
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

# A container id unique to this test.  Usually called as id=$(new_id ...), a subshell: nothing can be recorded
# here, and nothing needs to be, since teardown deletes whatever the test's roots hold.
new_id() { echo "w-$1-$$-$RANDOM"; }

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

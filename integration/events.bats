#!/usr/bin/env bats
# events.bats - reporting channels: containerd events (a private containerd, its runc shim, `ctr events`), the
# journal's rotation and `sbx events --follow`, and the sys_exit hook of syscalls mode.

load watch_helpers

setup_file() {
	"$(dirname "$BATS_TEST_FILENAME")/../hack/prepare-host.sh" >/dev/null
	command -v containerd >/dev/null || return 0
	# One containerd for the file, everything private; it hands SBX_CONFIG/SBX_STATE_DIR to the shims it starts,
	# which pass them to sbx-runtime.
	export CD=$(mktemp -d /tmp/sbx-cd.XXXXXX)
	cat >"$CD/config.toml" <<-EOF
		version = 2
		root = "$CD/root"
		state = "$CD/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
		[grpc]
		  address = "$CD/c.sock"
		[ttrpc]
		  address = "$CD/c.sock.ttrpc"
		[debug]
		  address = "$CD/debug.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CD/opt"
	EOF
	export SBX_STATE_DIR="$CD/sbx-state" SBX_CONFIG="$CD/sbx.json"
	mkdir -p "$SBX_STATE_DIR"
	# ctr puts containers under /<namespace>/<id> in every hierarchy: the parents go in teardown_file if this
	# file made them.
	for h in /sys/fs/cgroup/*/; do [ -d "${h}sbxtest" ] || echo "${h}sbxtest"; done >"$CD/cgroup-parents"
	containerd --config "$CD/config.toml" >"$CD/containerd.log" 2>&1 &
	echo $! >"$CD/containerd.pid"
	for _ in $(seq 100); do ctr --address "$CD/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
	ctr --address "$CD/c.sock" version >/dev/null
}

teardown_file() {
	[ -n "${CD:-}" ] || return 0
	local pid
	pid=$(cat "$CD/containerd.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	umount "$CD"/state/io.containerd.runtime.v2.task/*/*/rootfs 2>/dev/null || true
	# Empty by now (rmdir refuses anything else).
	while read -r h; do rmdir "$h" 2>/dev/null || true; done <"$CD/cgroup-parents"
	rm -rf "$CD"
}

setup() { watch_setup; }
teardown() {
	[ -n "${EVPID:-}" ] && kill "$EVPID" 2>/dev/null
	watch_teardown
}

@test "containerd: violations are published on /sbx/module-load and ctr events shows them (runc shim, runc and crun)" {
	[ -n "${CD:-}" ] || skip "containerd is not installed"
	# The shims read the file-level config: point it at this test's watcher and journal.
	cp "$SBX_CONFIG" "$CD/sbx.json"
	export SBX_CONFIG="$CD/sbx.json" SBX_STATE_DIR="$CD/sbx-state"
	ctr --address "$CD/c.sock" events >"$W/ctr-events.txt" 2>&1 &
	EVPID=$!
	start_watcher
	make_bundle cd "true"
	for d in $DELEGATES; do
		jq --arg d "$d" '.runtime = $d' "$CD/sbx.json" >"$CD/sbx.tmp" && mv "$CD/sbx.tmp" "$CD/sbx.json"
		id=$(new_id cd-$d)
		run ctr --address "$CD/c.sock" -n sbxtest run --rm --fifo-dir "$W/fifo" --runc-binary "$SBX_RT" \
			--runc-root "$W/root/cd" --rootfs "$W/cd/rootfs" "$id" /sbx-probe finit_module init_module delete_module=xfs
		[ "$status" -eq 0 ] || { echo "$output"; false; }
		[ "$output" = $'finit_module 1 EPERM\ninit_module 1 EPERM\ndelete_module 1 EPERM' ] || { echo "$d: $output"; false; }
		wait_for 10 bash -c "[ \$(grep -c ' sbxtest /sbx/module-load .*container[^,]*$id' '$W/ctr-events.txt') -eq 3 ]"
		# Each event carries the journal's JSON, which names the engine and the syscall.
		run bash -c "grep ' /sbx/module-load ' '$W/ctr-events.txt' | grep '$id' | sed 's/^.* sbxtest \/sbx\/module-load //' | jq -r '.value | fromjson | [.container, .engine, .syscall] | join(\" \")' | sort"
		# (publishing runs concurrently: the bus may reorder them)
		[ "$output" = "$id containerd delete_module
$id containerd finit_module
$id containerd init_module" ] || { echo "$d: $output"; false; }
	done
	"$SBX" metrics | grep -qx "sbx_containerd_publish_errors_total 0"
}

@test "journal: size-bounded with rotation, sbx events reads across rotated files" {
	write_config '{"journal": {"max_bytes": 1500, "keep": 3, "container_share_percent": 100}}'
	start_watcher
	make_bundle j "/sbx-probe $(printf 'delete_module=m%d ' $(seq 1 10))"
	id=$(new_id journal)
	start_ct runc "$id" j
	wait_for 10 has_violations "$id" 10
	[ -e "$W/events.jsonl.1" ]
	for f in "$W"/events.jsonl*; do [ "$(stat -c %s "$f")" -le 1500 ]; done
	[ "$(violations "$id" | jq -r .module | tr '\n' ' ')" = "m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 " ]
	# Human format: a header and one line per event.
	[ "$("$SBX" events "$id" | wc -l)" -eq 11 ]
}

@test "sbx events --follow prints new events as they come, for one container only" {
	start_watcher
	make_bundle f1 "while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=followed"
	make_bundle f2 "while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=other"
	a=$(new_id follow)
	b=$(new_id other)
	start_ct runc "$a" f1
	start_ct runc "$b" f2
	"$SBX" events --follow --json "$a" >"$W/follow.txt" &
	EVPID=$!
	sleep 0.3
	touch "$W/f1/rootfs/go" "$W/f2/rootfs/go"
	wait_for 10 has_violations "$b" 1
	wait_for 5 grep -q '"module":"followed"' "$W/follow.txt"
	sleep 0.5
	[ "$(wc -l <"$W/follow.txt")" -eq 1 ]
	! grep -q '"module":"other"' "$W/follow.txt"
}

@test "syscalls mode: after a watcher crash, the sys_exit hook still reports the container's module syscalls" {
	write_config '{"bpf": {"enabled": true}}'
	start_watcher --mode syscalls
	"$SBX" metrics | grep -q 'sbx_bpf_hook_live{hook="tp_btf/sys_exit"} 1' || skip "tp_btf/sys_exit cannot load here: $("$SBX" doctor | grep sys_exit)"
	make_bundle s "/sbx-probe delete_module=one; while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=two"
	id=$(new_id sysexit)
	start_ct runc "$id" s
	wait_for 10 has_violations "$id" 1
	# While the listener is held, sys_exit adds nothing: seccomp notify reported the call already.
	sleep 0.3
	[ "$(violations "$id" | jq -r .hook)" = seccomp-notify ]
	kill -9 "$(watcher_pid)"
	wait_for 5 bash -c "! '$SBX' watch --status >/dev/null 2>&1"
	start_watcher --mode syscalls
	touch "$W/s/rootfs/go"
	wait_for 10 status_is runc "$id" stopped
	[ "$(out s)" = $'delete_module 1 EPERM\ndelete_module 38 ENOSYS' ] || { echo "$(out s)"; false; }
	# The pinned registration survived the crash: the ENOSYS call is attributed to the container and counted.
	wait_for 5 has_violations "$id" 2
	violations "$id" | tail -1 | jq -e '.hook == "sys_exit" and .syscall == "delete_module" and .outcome == "observed: returned -38" and .count == 2'
	[ "$(rt runc state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 2 ]
	# The pins go with --unpin: nothing keeps taxing every syscall after the test.
	kill "$(watcher_pid)"
	wait_for 5 bash -c "! '$SBX' watch --status >/dev/null 2>&1"
	"$SBX" watch --unpin
	[ ! -e "/sys/fs/bpf/sbx-test-${W##*.}" ]
}

@test "a flood is counted exactly but reported at journal.rate_per_s, with a record of what was dropped" {
	write_config '{"journal": {"rate_per_s": 5, "burst": 10}}'
	start_watcher
	make_bundle fl "/sbx-probe $(printf 'delete_module=f%d ' $(seq 1 30)); while [ ! -e /go ]; do sleep 0.05; done; sleep 0.5; /sbx-probe delete_module=last"
	id=$(new_id flood)
	start_ct runc "$id" fl
	wait_for 10 has_violations "$id" 10
	wait_for 5 bash -c "[ \$(cat '$W/state/watcher/containers/$id.count') -eq 30 ]"
	[ "$(nviolations "$id")" -eq 10 ]
	touch "$W/fl/rootfs/go"
	wait_for 10 has_violations "$id" 11
	"$SBX" events --json "$id" | jq -s -e 'map(select(.type == "dropped")) | length == 1 and .[0].dropped == 20 and (.[0].outcome | startswith("dropped 20 events from container"))'
	violations "$id" | tail -1 | jq -e '.module == "last" and .count == 31'
	[ "$(rt runc state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 31 ]
	"$SBX" metrics | grep -qx 'sbx_events_suppressed_total 20'
}

#!/usr/bin/env bats
# namespaces.bats - what a sandbox sees of the host (processes, hostname, network, cgroups), the limits that hold
# it, and the same namespace/cgroup policy applied to engine containers through sbx-runtime.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	"$REPO/hack/prepare-host.sh" >/dev/null
}

setup() {
	NT=$(mktemp -d /tmp/sbx-ns.XXXXXX)
	export SBX_STATE_DIR="$NT/state"
	# A private parent cgroup per test: its aggregate limits touch no other sandbox of the host.
	CGPARENT="sbx-test-$$-$RANDOM"
	echo "{\"run\":{\"cgroup\":{\"parent\":\"$CGPARENT\"}},\"watcher\":{\"enabled\":false}}" >"$NT/sbx.json"
	export SBX_CONFIG="$NT/sbx.json"
	unset SBX_RUNTIME
	PIDS=()
	IDS=()
}

teardown() {
	local p id d
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for id in "${IDS[@]}"; do
		for d in runc crun; do "$d" --root "$NT/root" delete --force "$id" >/dev/null 2>&1 || true; done
	done
	for d in /sys/fs/cgroup/*/"$CGPARENT"; do [ -d "$d" ] && rmdir "$d"; done
	rm -rf "$NT"
}

# host_ns NAME: the inode of the host's namespace NAME.
host_ns() { readlink "/proc/self/ns/$1"; }

@test "namespaces: pid, mount, ipc, uts, net and cgroup are the sandbox's own; user with --userns" {
	run "$SBX" run -- sh -c 'for n in pid mnt ipc uts net cgroup user; do echo "$n $(readlink /proc/self/ns/$n)"; done'
	show
	[ "$status" -eq 0 ]
	for n in pid mnt ipc uts net cgroup; do
		! expect_line "$n $(host_ns $n)"
	done
	expect_line "user $(host_ns user)"
	# --net host shares only the network.
	run "$SBX" run --net host -- sh -c 'readlink /proc/self/ns/net; readlink /proc/self/ns/uts'
	[ "${lines[0]}" = "$(host_ns net)" ]
	[ "${lines[1]}" != "$(host_ns uts)" ]
	chmod 0711 "$NT"
	run "$SBX" run --userns -- readlink /proc/self/ns/user
	[ "$status" -eq 0 ]
	[ "$output" != "$(host_ns user)" ]
}

@test "namespaces: the sandbox sees only its own processes" {
	sleep 61.5 &
	PIDS+=($!)
	run "$SBX" run -- sh -c 'for p in /proc/[0-9]*; do echo ${p#/proc/}; done; tr "\0" " " </proc/1/cmdline'
	show
	[ "$status" -eq 0 ]
	# The shell's glob runs no process: pid 1 is all there is.
	[ "${lines[0]}" = 1 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == "sh -c "* ]]
	! grep -q 61.5 <<<"$output"
}

@test "namespaces: the sandbox has its own hostname, the host keeps its own" {
	before=$(hostname)
	run "$SBX" run -- hostname
	[ "$output" = sbx ]
	run "$SBX" run --hostname inner-name -- sh -c 'hostname; cat /proc/sys/kernel/hostname'
	[ "$output" = "$(printf 'inner-name\ninner-name')" ]
	[ "$(hostname)" = "$before" ]
}

@test "namespaces: no host interface but lo" {
	run "$SBX" run -- sh -c 'ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
	show
	[ "$output" = "$(printf 'lo\nlo')" ]
	# The host has more than lo, so the test means something.
	[ "$(ls /sys/class/net | wc -l)" -gt 1 ] || skip "the host itself has only lo"
}

@test "namespaces: the sandbox sees its cgroup as the root (cgroup namespace)" {
	run "$SBX" run -- cat /proc/self/cgroup
	show
	[ "$status" -eq 0 ]
	[ "$(grep -cv ':/$' <<<"$output")" = 0 ]
	expect_line "0::/"
}

@test "cgroups: a memory hog is killed inside the sandbox, not on the host" {
	sleep 62.5 &
	sentinel=$!
	PIDS+=($sentinel)
	run --separate-stderr "$SBX" run --json --memory 32m -- sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
	echo "$output"
	[ "$status" -eq 137 ]
	! grep -q survived <<<"$output"
	summary=$(tail -n 1 <<<"$output")
	[ "$(jq -r .signal <<<"$summary")" = 9 ]
	# Its peak stayed within the limit it was given (the kernel charged it to the sandbox's group).
	peak=$(jq -r .peak_memory_bytes <<<"$summary")
	[ "$peak" -le $((33 * 1024 * 1024)) ]
	[ "$peak" -gt $((16 * 1024 * 1024)) ]
	# The host and sbx itself are untouched: the sentinel lives, sbx reported the status.
	kill -0 "$sentinel"
}

@test "cgroups: a fork bomb is capped by the pids limit and the sandbox ends" {
	run timeout 60 "$SBX" run --pids 64 --cpus 1 -- sh -c \
		'bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 2; cd /sys/fs/cgroup/pids; cat pids.max pids.peak pids.events'
	show
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 64 ]
	# It did reach the limit (forks were refused), and never went past it.
	[ "${lines[1]}" -le 64 ]
	[ "${lines[1]}" -ge 60 ]
	[[ "${lines[2]}" =~ ^max\ [1-9][0-9]*$ ]]
}

@test "cgroups: every sandbox lives under the sbx parent, whose aggregate limits come from sbx.json" {
	cat >"$NT/sbx.json" <<-EOF
		{"run": {"cgroup": {"parent": "$CGPARENT", "pids": 30, "memory": "1g", "cpus": "1.5"}}}
	EOF
	run "$SBX" run --pids 1000 -- sh -c 'cat /sys/fs/cgroup/pids/pids.max; i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); done; echo all-forked'
	show
	[ "${lines[0]}" = 1000 ]
	# The sandbox's own limit is 1000; the parent's 30 stops it first (sh gives up when fork fails).
	! expect_line all-forked
	[[ "$output" == *"Cannot fork"* ]]
	# All the sandboxes together reached the parent's limit, not more.
	[ "$(cat /sys/fs/cgroup/pids/$CGPARENT/pids.peak)" = 30 ]
	[ "$(cat /sys/fs/cgroup/pids/$CGPARENT/pids.max)" = 30 ]
	[ "$(cat /sys/fs/cgroup/memory/$CGPARENT/memory.limit_in_bytes)" = 1073741824 ]
	[ "$(cat /sys/fs/cgroup/cpu/$CGPARENT/cpu.cfs_quota_us)" = 150000 ]
	# The sandbox's group was under the parent: seen from inside the cgroup namespace it was the root, from the
	# host it was $CGPARENT/<id>/ctr.
	"$SBX" run -- sleep 1.5 &
	PIDS+=($!)
	for _ in $(seq 30); do ls /sys/fs/cgroup/pids/$CGPARENT/sbx-*/ctr >/dev/null 2>&1 && break; sleep 0.1; done
	ls -d /sys/fs/cgroup/pids/$CGPARENT/sbx-*/ctr /sys/fs/cgroup/memory/$CGPARENT/sbx-*/ctr
	wait "${PIDS[-1]}"
	# Without the limits in sbx.json, the next run lifts them.
	echo "{\"run\":{\"cgroup\":{\"parent\":\"$CGPARENT\"}}}" >"$NT/sbx.json"
	"$SBX" run -- true
	[ "$(cat /sys/fs/cgroup/pids/$CGPARENT/pids.max)" = max ]
}

# An engine-like bundle: busybox, runc's default spec, the command given.
engine_bundle() {
	rm -rf "$NT/bundle"
	mkdir -p "$NT/root" "$NT/bundle/rootfs/bin"
	cp /bin/busybox "$NT/bundle/rootfs/bin/"
	ln -sf busybox "$NT/bundle/rootfs/bin/sh"
	(cd "$NT/bundle" && runc spec)
	jq --arg cmd "$1" '.process.terminal=false | .process.args=["/bin/busybox","sh","-c",$cmd]' \
		"$NT/bundle/config.json" >"$NT/c.json" && mv "$NT/c.json" "$NT/bundle/config.json"
}

edit_bundle() { jq "$1" "$NT/bundle/config.json" >"$NT/c.json" && mv "$NT/c.json" "$NT/bundle/config.json"; }

# engine DELEGATE ID: sbx-runtime run, as an engine would call it.
engine() {
	IDS+=("$2")
	SBX_RUNTIME="$1" "$SBX_RT" --root "$NT/root" run --bundle "$NT/bundle" "$2"
}

@test "engine: sbx-runtime adds a cgroup namespace and a default pids limit (crun and runc)" {
	engine_bundle 'readlink /proc/self/ns/cgroup; cat /sys/fs/cgroup/pids/pids.max'
	for d in crun runc; do
		run engine "$d" "ns-$d-$$"
		show
		[ "$status" -eq 0 ]
		[ "${lines[0]}" != "$(host_ns cgroup)" ]
		[ "${lines[1]}" = 4096 ]
	done
	# The engine's own limit stays; sbx.json's pids_limit changes the default.
	edit_bundle '.linux.resources.pids.limit = 100'
	run engine crun "ns-own-$$"
	[ "${lines[1]}" = 100 ]
	edit_bundle 'del(.linux.resources.pids)'
	echo '{"pids_limit": 333}' >"$NT/sbx.json"
	run engine crun "ns-cfg-$$"
	[ "${lines[1]}" = 333 ]
}

@test "engine: a container without a pid or mount namespace is refused, nothing runs" {
	engine_bundle 'echo ran'
	edit_bundle '.linux.namespaces |= map(select(.type != "pid"))'
	for d in crun runc; do
		run engine "$d" "nopid-$d-$$"
		show
		[ "$status" -eq 1 ]
		[[ "$output" == *"container nopid-$d-$$ has no pid namespace"* ]]
		[[ "$output" == *"run.sbx.allow-host-ns=pid"* ]]
		! grep -q ran <<<"$output"
		run "$d" --root "$NT/root" state "nopid-$d-$$"
		[ "$status" -ne 0 ]
	done
	engine_bundle 'echo ran'
	edit_bundle '.linux.namespaces |= map(select(.type != "mount"))'
	run engine crun "nomnt-$$"
	[ "$status" -eq 1 ]
	[[ "$output" == *"has no mount namespace"* ]]
}

@test "engine: run.sbx.allow-host-ns=pid opts out, with the reason logged" {
	engine_bundle 'tr "\0" " " </proc/1/cmdline; echo; ls -d /proc/[0-9]* | wc -l'
	edit_bundle '.linux.namespaces |= map(select(.type != "pid")) | .annotations["run.sbx.allow-host-ns"] = "pid"'
	jq '.tenants.allow_host_ns = "pid"' "$SBX_CONFIG" >"$SBX_CONFIG.tmp" && mv "$SBX_CONFIG.tmp" "$SBX_CONFIG"
	run engine crun "hostpid-$$"
	show
	[ "$status" -eq 0 ]
	[[ "$output" == *"container hostpid-$$: shares the host's pid namespace: allowed by annotation run.sbx.allow-host-ns"* ]]
	# It sees the host's processes: pid 1 is the host's init, not the container's shell.
	[[ "${lines[1]}" != "/bin/busybox sh"* ]]
	[ "${lines[-1]}" -gt 5 ]
}

@test "engine: host network, ipc and uts (docker --network=host) are allowed" {
	engine_bundle 'ls /sys/class/net | wc -l'
	edit_bundle 'del(.hostname) | .linux.namespaces |= map(select(.type != "network" and .type != "ipc" and .type != "uts"))'
	run engine runc "hostnet-$$"
	show
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$(ls /sys/class/net | wc -l)" ]
}

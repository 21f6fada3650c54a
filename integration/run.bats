#!/usr/bin/env bats
# run.bats - `sbx run`: a sandbox without an engine (root, options, stdio, signals, exit status, clean-up).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	# crun refuses hybrid cgroup hosts until hugetlb leaves cgroup2.
	"$REPO/hack/prepare-host.sh" >/dev/null
	# sbx run keeps its sandboxes under a "sbx" cgroup of each hierarchy: the ones this file makes go with it.
	export RUN_CG_NEW=$BATS_FILE_TMPDIR/cgroup-parents
	for h in /sys/fs/cgroup/*/; do [ -d "${h}sbx" ] || echo "${h}sbx"; done >"$RUN_CG_NEW"
}

teardown_file() {
	local h
	# Empty by now unless something of ours leaked (rmdir refuses anything else, and the leak check reports it).
	while read -r h; do rmdir "$h" 2>/dev/null || true; done <"$RUN_CG_NEW"
}

setup() {
	RT=$(mktemp -d /tmp/sbx-run.XXXXXX)
	export SBX_STATE_DIR="$RT/state"
	# No watcher started on demand for these runs (it would outlive the test); the --json test starts its own.
	echo '{"watcher": {"enabled": false}}' >"$RT/sbx.json"
	export SBX_CONFIG="$RT/sbx.json"
	unset SBX_RUNTIME
	# A delegate that records the spec it is given, then is crun.
	cat >"$RT/crun-spy" <<-EOF
		#!/bin/sh
		prev=
		for a in "\$@"; do [ "\$prev" = --bundle ] && cp "\$a/config.json" "$RT/seen.json"; prev=\$a; done
		exec crun "\$@"
	EOF
	chmod +x "$RT/crun-spy"
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	probes_cleanup
	# Reap whatever a killed sbx of this test left, with sbx itself.
	"$SBX" run -- true >/dev/null 2>&1 || true
	rm -rf "$RT"
}

# sbx_json ARGS...: run sbx run --json, split the summary (last line) into $summary.
sbx_json() {
	run --separate-stderr "$SBX" run --json "$@"
	summary=$(tail -n 1 <<<"$output")
}

@test "run: exit status, stdout, stderr and stdin pass through" {
	run "$SBX" run -- sh -c 'echo out; echo err >&2; exit 3'
	show
	[ "$status" -eq 3 ]
	expect_line out
	expect_line err
	run sh -c "echo hello-stdin | '$SBX' run -- cat"
	[ "$status" -eq 0 ]
	[ "$output" = hello-stdin ]
	run sh -c "'$SBX' run -- sh -c 'echo e >&2' 2>/dev/null"
	[ -z "$output" ]
}

@test "run: module syscalls fail with EPERM in the default sandbox, under crun and runc" {
	for d in crun runc; do
		SBX_RUNTIME=$d run "$SBX" run --ro-bind "$PROBE" /sbx-probe -- /sbx-probe modules
		show
		[ "$status" -eq 0 ]
		expect_line "finit_module 1 EPERM"
		expect_line "init_module 1 EPERM"
		expect_line "delete_module 1 EPERM"
	done
}

@test "run: the spec goes through the same policy as an engine's container" {
	SBX_RUNTIME="$RT/crun-spy" run "$SBX" run -- true
	[ "$status" -eq 0 ]
	[ "$(jq -r '.annotations["run.sbx.policy"]' "$RT/seen.json")" = 1 ]
	[ "$(jq -r '.process.noNewPrivileges' "$RT/seen.json")" = true ]
	# For crun the filter goes precompiled; the full one is kept in run.sbx.seccomp beside a kill-all stand-in.
	[ "$(jq -r '.annotations["run.oci.seccomp_bpf_data"] | length > 0' "$RT/seen.json")" = true ]
	[ "$(jq -r '.linux.seccomp.defaultAction' "$RT/seen.json")" = SCMP_ACT_KILL_PROCESS ]
	jq -e '.annotations["run.sbx.seccomp"] | fromjson
		| ([.syscalls[] | select(.names | index("finit_module")) | select(.action == "SCMP_ACT_ERRNO" and .errnoRet == 1)] | length == 1)
		or (.defaultAction == "SCMP_ACT_ERRNO" and (.defaultErrnoRet // 1) == 1
			and ([.syscalls[] | select(.names | index("finit_module"))] | length == 0))' "$RT/seen.json" >/dev/null
	[ "$(jq -r '[.process.capabilities[][] | select(. == "CAP_SYS_MODULE")] | length' "$RT/seen.json")" = 0 ]
	[ "$(jq -r '.root.readonly' "$RT/seen.json")" = true ]
}

@test "run: the host's / is read-only, /tmp and /run are private and writable" {
	echo secret >"/tmp/sbx-run-marker.$$"
	# Probes with names of their own, removed in teardown: if the guarantee breaks they land on the host.
	pe=$(probe_path /etc)
	pu=$(probe_path /usr)
	run "$SBX" run -- sh -c "touch $pe 2>&1; touch $pu 2>&1; echo t >/tmp/t && cat /tmp/t; ls -A /tmp | wc -l; ls -A /run | wc -l; touch /run/r && echo run-ok"
	rm -f "/tmp/sbx-run-marker.$$"
	show
	[ "$status" -eq 0 ]
	expect_line "touch: cannot touch '$pe': Read-only file system"
	expect_line "touch: cannot touch '$pu': Read-only file system"
	[ ! -e "$pe" ] && [ ! -e "$pu" ]
	expect_line t
	expect_line run-ok
	# Only t in the private /tmp (not the host's marker); nothing of the host's /run.
	[ "$(sed -n 4p <<<"$output")" = 1 ]
	[ "$(sed -n 5p <<<"$output")" = 0 ]
}

@test "run: mounts below the host's / are read-only too (recursive), in a mount namespace of the test's own" {
	# The scenario runs in a private mount namespace: a tmpfs on a top-level directory with another tmpfs nested
	# in it, as a host with writable submounts has.  Nothing is mounted in the host's namespace, and whatever
	# the sandbox manages to write goes with the namespace.
	top=/mnt
	[ -d "$top" ] || top=/srv
	[ -d "$top" ] || skip "no /mnt or /srv to mount on"
	run timeout -k 5 60 unshare -m --propagation private sh -c '
		set -e
		mount -t tmpfs -o size=1m sbx-test-top "$1"
		mkdir "$1/nested"
		mount -t tmpfs -o size=1m sbx-test-nested "$1/nested"
		echo before >"$1/nested/f"
		"$2" run -- sh -c "grep -c sbx-test- /proc/self/mountinfo; touch $1/top-probe 2>&1; touch $1/nested/probe 2>&1; echo x >>$1/nested/f 2>&1; cat $1/nested/f" || echo "sbx run: $?"
		ls -A "$1" "$1/nested"
	' sh "$top" "$SBX"
	show
	[ "$status" -eq 0 ]
	# Both mounts are there in the sandbox, and neither can be written.
	[ "${lines[0]}" = 2 ]
	expect_line "touch: cannot touch '$top/top-probe': Read-only file system"
	expect_line "touch: cannot touch '$top/nested/probe': Read-only file system"
	grep -q "$top/nested/f: Read-only file system" <<<"$output"
	expect_line before
	# Nothing was written: the listing after the run has only what the test made.
	[ "$(sed -n '/^before$/,$p' <<<"$output" | grep -c probe)" = 0 ]
	# And nothing of the scenario reached the host's mount table.
	! grep -q sbx-test- /proc/self/mountinfo
}

@test "run: setuid binaries of the host give nothing (nosuid, no_new_privs)" {
	run "$SBX" run -u 1000 -- sh -c 'grep -E "^(NoNewPrivs|CapEff)" /proc/self/status; grep " / .*nosuid" /proc/self/mountinfo | wc -l'
	show
	[ "$status" -eq 0 ]
	expect_line "NoNewPrivs:	1"
	expect_line "CapEff:	0000000000000000"
}

@test "run: fresh /proc and a minimal /dev" {
	run "$SBX" run -- sh -c 'echo $$; ls /dev | tr "\n" " "; echo; ls /dev/vda /dev/sda 2>/dev/null | wc -l'
	show
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[[ "${lines[1]}" == *"null"* && "${lines[1]}" == *"urandom"* && "${lines[1]}" == *"pts"* ]]
	[ "${lines[2]}" = 0 ]
}

@test "run: nothing of the sandbox appears in the host's mount table, during or after" {
	# Other processes of the host may mount meanwhile: look for what is the sandbox's (its paths, its root).
	mkdir "$RT/data"
	"$SBX" run --bind "$RT/data" /data --tmpfs /scratch -- sh -c 'touch /data/ok; sleep 1' &
	PIDS+=($!)
	sleep 0.5
	during=$(grep -cE "$RT|sbx-root|/scratch" /proc/self/mountinfo || true)
	wait "${PIDS[0]}"
	after=$(grep -cE "$RT|sbx-root|/scratch" /proc/self/mountinfo || true)
	[ "$during" = 0 ]
	[ "$after" = 0 ]
	[ -f "$RT/data/ok" ]
}

@test "run: every exit path cleans the bundle, the state and the cgroups" {
	sbx_json -- true
	id=$(jq -r .id <<<"$summary")
	[[ "$id" == sbx-* ]]
	[ -z "$(ls -A "$SBX_STATE_DIR/run")" ]
	! ls -d /sys/fs/cgroup/*/sbx/"$id" 2>/dev/null
	# A failing command, and a sandbox that cannot start, clean up too.
	sbx_json -- sh -c 'exit 9'
	[ "$(jq -r .exit_status <<<"$summary")" = 9 ]
	groups=$(ls /sys/fs/cgroup/pids/sbx)
	run "$SBX" run --cwd /nonexistent/dir -- true
	[ "$status" -eq 125 ]
	[ "$output" = "sbx run: --cwd /nonexistent/dir: no such directory in the sandbox" ]
	# A runtime that fails half-way (an id mapping it cannot apply).
	run "$SBX" run --cwd /tmp/made-by-runtime --user 1000 -- sh -c 'exit 0'
	[ -z "$(ls -A "$SBX_STATE_DIR/run")" ]
	[ "$(ls /sys/fs/cgroup/pids/sbx)" = "$groups" ]
}

@test "run: after sbx itself is killed, the next run reaps its sandbox, state and cgroups" {
	# Made by runc, reaped by a run that uses crun: the reaper deletes with the runtime that made it.
	SBX_RUNTIME=runc "$SBX" run -- sleep 312 &
	PIDS+=($!)
	for _ in $(seq 50); do [ -n "$(ls -A "$SBX_STATE_DIR/run" 2>/dev/null)" ] && break; sleep 0.1; done
	sleep 0.3
	id=$(ls "$SBX_STATE_DIR/run")
	kill -9 "${PIDS[0]}"
	wait "${PIDS[0]}" || true
	[ -n "$id" ]
	[ -d "$SBX_STATE_DIR/run/$id" ]
	[ -d "/sys/fs/cgroup/pids/sbx/$id" ]
	# grep exits 2 when a process vanishes between the glob and the read: judge by what it printed.
	[ -n "$(grep -alsx "sleep.31[2]." /proc/[0-9]*/cmdline || true)" ]
	SBX_RUNTIME=crun run "$SBX" run -- true
	show
	[ "$status" -eq 0 ]
	expect_line "sbx: info: reaped sandbox $id left by a dead sbx process"
	[ ! -e "$SBX_STATE_DIR/run/$id" ]
	! ls -d /sys/fs/cgroup/*/sbx/"$id" 2>/dev/null
	# The sandbox's sleep is gone with it.
	[ -z "$(grep -alsx "sleep.31[2]." /proc/[0-9]*/cmdline || true)" ]
}

@test "run: reaping kills what the runtime can no longer delete" {
	"$SBX" run -- sleep 313 &
	PIDS+=($!)
	for _ in $(seq 50); do grep -alsx "sleep.31[3]." /proc/[0-9]*/cmdline >/dev/null && break; sleep 0.1; done
	id=$(ls "$SBX_STATE_DIR/run")
	kill -9 "${PIDS[0]}"
	wait "${PIDS[0]}" || true
	# The runtime's own state is gone: its delete --force cannot find the container.
	rm -rf "$SBX_STATE_DIR/run/$id/state/$id"
	run "$SBX" run -- true
	show
	expect_line "sbx: info: reaped sandbox $id left by a dead sbx process"
	! grep -alsx "sleep.31[3]." /proc/[0-9]*/cmdline
	! ls -d /sys/fs/cgroup/*/sbx/"$id" 2>/dev/null
}

@test "run: signals reach the sandbox (crun and runc)" {
	mkdir "$RT/sig"
	for d in crun runc; do
		rm -f "$RT/sig/ready"
		SBX_RUNTIME=$d "$SBX" run --bind "$RT/sig" /sig -- sh -c 'trap "exit 42" TERM; touch /sig/ready; sleep 100 & wait' &
		p=$!
		PIDS+=($p)
		# Signal once the sandbox's shell has its handler (before that, an init ignores SIGTERM).
		for _ in $(seq 100); do [ -e "$RT/sig/ready" ] && break; sleep 0.1; done
		[ -e "$RT/sig/ready" ]
		kill -TERM "$p"
		st=0
		wait "$p" || st=$?
		echo "$d: $st"
		[ "$st" -eq 42 ]
	done
}

@test "run: killed by a signal gives 128+N" {
	# The sandbox's init itself is OOM-killed (SIGKILL from the kernel).
	sbx_json --memory 16m -- sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
	[ "$status" -eq 137 ]
	[ "$(jq -r .exit_status <<<"$summary")" = 137 ]
	[ "$(jq -r .signal <<<"$summary")" = 9 ]
}

@test "run: a TTY when stdin is one, none otherwise" {
	run script -qec "'$SBX' run -- sh -c 'tty; echo \$TERM'" /dev/null
	show
	[ "$status" -eq 0 ]
	[[ "$output" == *"/dev/pts/0"* ]]
	run "$SBX" run -- tty </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "not a tty" ]
}

@test "run: bad options exit 125 with a message naming the option" {
	run "$SBX" run --net bogus -- true
	[ "$status" -eq 125 ]
	[ "$output" = "sbx run: --net bogus: expected none or host: Invalid argument" ]
	run "$SBX" run --memory 12x -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"--memory 12x: not a size"* ]]
	run "$SBX" run --bind /proc /p -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"never bound writable"* ]]
	run "$SBX" run --bind /nonexistent-src /x -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"source /nonexistent-src: No such file or directory"* ]]
	run "$SBX" run --cap-add FLY -- true
	[ "$status" -eq 125 ]
	run "$SBX" run --frobnicate -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"unknown option '--frobnicate'"* ]]
	run "$SBX" run
	[ "$status" -eq 125 ]
	run "$SBX" run --tmpfs /t:bogus=1 -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *'option "bogus": not a tmpfs option'* ]]
}

@test "run: 127 for a missing command, 126 for one that cannot run" {
	run -127 "$SBX" run -- no-such-command-sbx
	[ "$output" = "sbx run: no-such-command-sbx: command not found in the sandbox" ]
	run -126 "$SBX" run -- /etc/passwd
	[ "$output" = "sbx run: /etc/passwd: not an executable file" ]
}

@test "run: --env, --user, --hostname, --cwd" {
	FROMHOST=copied run "$SBX" run --env A=1 -e FROMHOST --user 1234:4321 --hostname box1 --cwd /etc -- \
		sh -c 'echo "$A $FROMHOST"; id -u; id -g; hostname; pwd'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1 copied\n1234\n4321\nbox1\n/etc')" ]
}

@test "run: --bind, --ro-bind, --bind-cwd and --tmpfs" {
	mkdir -p "$RT/rw" "$RT/ro" "$RT/cwd"
	echo r >"$RT/ro/f"
	cd "$RT/cwd"
	run "$SBX" run --bind "$RT/rw" /rw --ro-bind "$RT/ro" /ro --bind-cwd --tmpfs /scratch:size=1m -- sh -c \
		'echo w >/rw/w; cat /ro/f; { echo x >/ro/x; } 2>/dev/null || echo ro-refused; pwd; echo c >here;
		 head -c 2M /dev/zero >/scratch/big 2>/dev/null || echo tmpfs-full; grep " /scratch " /proc/self/mountinfo | grep -c size=1024k'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'r\nro-refused\n%s\ntmpfs-full\n1' "$RT/cwd")" ]
	[ "$(cat "$RT/rw/w")" = w ]
	[ "$(cat "$RT/cwd/here")" = c ]
	[ ! -e "$RT/ro/x" ]
	# A new mount point under a read-only host directory cannot be made: said clearly, 125.  (A unique name,
	# removed in teardown: if it could be made, it would be made on the host.)
	mp=$(probe_path /usr/share)
	run "$SBX" run --bind "$RT/rw" "$mp" -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"mount point $mp does not exist"* ]]
	[ ! -e "$mp" ]
}

@test "run: --cap-add and --cap-drop (checked with libcap)" {
	run "$SBX" run --cap-drop ALL --cap-add NET_ADMIN -- grep CapEff /proc/self/status
	[ "$output" = "CapEff:	0000000000001000" ]
	run "$SBX" run --cap-drop chown -- sh -c 'grep CapEff /proc/self/status'
	[ "$output" = "CapEff:	00000000a80425fa" ]
	run "$SBX" run -- grep CapEff /proc/self/status
	[ "$output" = "CapEff:	00000000a80425fb" ]
	# SYS_MODULE never reaches the sandbox, even when asked for.
	run "$SBX" run --cap-add SYS_MODULE -- grep CapBnd /proc/self/status
	[ "$output" = "CapBnd:	00000000a80425fb" ]
}

@test "run: --net none has only lo, up; --net host sees the host's interfaces" {
	run "$SBX" run -- sh -c 'ls /sys/class/net; cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags'
	show
	[ "$output" = "$(printf 'lo\nunknown\n0x9')" ]
	run "$SBX" run --net host -- ls /sys/class/net
	[ "$output" = "$(ls /sys/class/net)" ]
}

@test "run: --memory, --pids and --cpus reach the sandbox's cgroup" {
	run "$SBX" run --memory 64m --pids 77 --cpus 0.5 -- sh -c \
		'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us'
	show
	[ "$output" = "$(printf '67108864\n77\n50000')" ]
	# The default pids limit stops fork bombs even when no option is given.
	run "$SBX" run -- cat /sys/fs/cgroup/pids/pids.max
	[ "$output" = 1024 ]
}

@test "run: --userns maps root to an unprivileged host range" {
	# The mapped root must be able to walk to its root's mount point.
	chmod 0711 "$RT"
	run "$SBX" run --userns -- sh -c 'cat /proc/self/uid_map; id -u; touch /tmp/x && stat -c %u /tmp/x'
	show
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "0 100000 65536" ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = 0 ]
	# Seen from the host, the sandbox's root is uid 100000.
	"$SBX" run --userns -- sleep 7.77 &
	PIDS+=($!)
	for _ in $(seq 50); do
		uid=$(ps -eo uid=,args= | awk '$2 == "sleep" && $3 == "7.77" { print $1 }')
		[ -n "$uid" ] && break
		sleep 0.1
	done
	[ "$uid" = 100000 ]
}

@test "run: --profile and --on-violation are recorded for the policy stages" {
	SBX_RUNTIME="$RT/crun-spy" run "$SBX" run --on-violation kill -- true
	[ "$status" -eq 0 ]
	[ "$(jq -r '.annotations["run.sbx.on-violation"]' "$RT/seen.json")" = kill ]
	SBX_RUNTIME="$RT/crun-spy" run "$SBX" run --profile baseline -- true
	[ "$(jq -r '.annotations["run.sbx.profile"]' "$RT/seen.json")" = baseline ]
}

@test "run: --json reports exit status, violations and peak memory" {
	if "$SBX" watch --help >/dev/null 2>&1; then
		# A watcher of this test's own (private socket and journal), stopped by PID in teardown.
		jq -n --arg r "$RT" '{watcher: {socket: ($r + "/w.sock"), log: ($r + "/watcher.log"), on_demand: false},
			journal: {path: ($r + "/events.jsonl")}, bpf: {enabled: false}}' >"$RT/sbx.json"
		"$SBX" watch >/dev/null 2>&1 &
		PIDS+=($!)
		for _ in $(seq 50); do [ -S "$RT/w.sock" ] && break; sleep 0.1; done
		[ -S "$RT/w.sock" ]
	fi
	sbx_json --ro-bind "$PROBE" /sbx-probe -- sh -c '/sbx-probe modules >/dev/null; head -c 20M /dev/zero >/tmp/fill; exit 4'
	echo "$summary"
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$(jq -r .exit_status <<<"$summary")" = 4 ]
	[ "$(jq -r .signal <<<"$summary")" = null ]
	# 20 MiB in a tmpfs is charged to the sandbox.
	[ "$(jq -r .peak_memory_bytes <<<"$summary")" -gt 20000000 ]
	if "$SBX" watch --help >/dev/null 2>&1; then
		# The watcher journaled the probe's three module syscalls for this sandbox.
		[ "$(jq -r .watcher <<<"$summary")" = true ]
		[ "$(jq -r .violations <<<"$summary")" = 3 ]
	else
		# This build has no watcher: said so, and nothing counted.
		[ "$(jq -r .watcher <<<"$summary")" = false ]
		[ "$(jq -r .violations <<<"$summary")" = 0 ]
		[[ "$stderr" == *"the watcher was not running: violations were not counted"* ]]
	fi
}

@test "run: --rootfs DIR is used read-only and left untouched" {
	mkdir -p "$RT/rootfs/bin" "$RT/data"
	cp /bin/busybox "$RT/rootfs/bin/"
	ln -s busybox "$RT/rootfs/bin/sh"
	ls -R "$RT/rootfs" >"$RT/before"
	run "$SBX" run --rootfs "$RT/rootfs" --bind "$RT/data" /data -- /bin/sh -c \
		'/bin/busybox ls /; /bin/busybox touch /bin/x 2>/dev/null || echo ro; echo d >/data/d'
	show
	[ "$status" -eq 0 ]
	expect_line bin
	expect_line ro
	[ "$(ls -R "$RT/rootfs")" = "$(cat "$RT/before")" ]
	[ -f "$RT/data/d" ]
}

# make_images DIR: a busybox rootfs tarball, and a two-layer OCI layout (directory and tar) whose second layer
# deletes a file (.wh.gone) and makes a directory opaque (.wh..wh..opq).
make_images() {
	local d=$1 o=$1/oci c l1 l2 m
	mkdir -p "$d/r/bin" "$d/r/etc" "$d/r/opq" "$d/l2/etc" "$d/l2/opq" "$o/blobs/sha256"
	cp /bin/busybox "$d/r/bin/"
	for t in sh cat ls; do ln -s busybox "$d/r/bin/$t"; done
	echo base >"$d/r/etc/base"
	echo gone >"$d/r/etc/gone"
	echo lower >"$d/r/opq/lower"
	tar -C "$d/r" -cf "$d/rootfs.tar" .
	echo top >"$d/l2/etc/top"
	: >"$d/l2/etc/.wh.gone"
	: >"$d/l2/opq/.wh..wh..opq"
	echo upper >"$d/l2/opq/upper"
	tar -C "$d/l2" -czf "$d/layer2.tar.gz" .
	gzip -c "$d/rootfs.tar" >"$d/layer1.tar.gz"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}' >"$d/config.json"
	c=$(blob "$o" "$d/config.json")
	l1=$(blob "$o" "$d/layer1.tar.gz")
	l2=$(blob "$o" "$d/layer2.tar.gz")
	jq -n --arg c "$c" --arg l1 "$l1" --arg l2 "$l2" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: ("sha256:" + $c), size: 1},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: ("sha256:" + $l1), size: 1},
		         {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: ("sha256:" + $l2), size: 1}]}' \
		>"$d/manifest.json"
	m=$(blob "$o" "$d/manifest.json")
	jq -n --arg m "$m" '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		digest: ("sha256:" + $m), size: 1, platform: {architecture: "amd64", os: "linux"}}]}' >"$o/index.json"
	tar -C "$o" -cf "$d/oci.tar" .
	echo "$l2" >"$d/layer2.digest"
}

# blob LAYOUT FILE: store FILE as a blob of LAYOUT, print its sha256.
blob() {
	local h
	h=$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$1/blobs/sha256/$h"
	echo "$h"
}

@test "run: --image with a rootfs tarball, unpacked once into a content-addressed cache" {
	export SBX_IMAGE_CACHE="$RT/cache"
	make_images "$RT/img"
	run "$SBX" run --image "$RT/img/rootfs.tar" -- sh -c 'ls /etc; cat /etc/base'
	show
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'base\ngone\nbase')" ]
	[ -d "$RT/cache/rootfs-$(sha256sum "$RT/img/rootfs.tar" | cut -d' ' -f1)/rootfs/bin" ]
	# The second run uses the cache: same single entry, nothing unpacked again.
	ls -i "$RT/cache" >"$RT/cache.before"
	run "$SBX" run --debug --image "$RT/img/rootfs.tar" -- sh -c :
	[ "$status" -eq 0 ]
	[[ "$output" == *"cached as $RT/cache/rootfs-"* ]]
	[ "$(ls "$RT/cache" | wc -l)" = 1 ]
}

@test "run: --image with an OCI image layout (dir or tar): layers, whiteouts, opaque directories" {
	export SBX_IMAGE_CACHE="$RT/cache"
	make_images "$RT/img"
	for img in "$RT/img/oci" "$RT/img/oci.tar"; do
		run "$SBX" run --image "$img" -- sh -c 'ls /etc; ls /opq'
		show
		[ "$status" -eq 0 ]
		[ "$output" = "$(printf 'base\ntop\nupper')" ]
	done
	# Both are one image: one cache entry, named by the manifest's digest.
	[ "$(ls "$RT/cache")" = "oci-$(jq -r '.manifests[0].digest' "$RT/img/oci/index.json" | cut -d: -f2)" ]
}

@test "run: --image refuses a blob whose content does not match its digest, and a tar that escapes" {
	export SBX_IMAGE_CACHE="$RT/cache"
	make_images "$RT/img"
	echo tampered >>"$RT/img/oci/blobs/sha256/$(cat "$RT/img/layer2.digest")"
	run "$SBX" run --image "$RT/img/oci" -- true
	show
	[ "$status" -eq 125 ]
	[[ "$output" == *"blob sha256:$(cat "$RT/img/layer2.digest"): content hashes to sha256:"* ]]
	[ -z "$(ls "$RT/cache")" ]
	# A symlink member followed by a member through it: nothing lands outside the unpacked root.
	mkdir -p "$RT/h1" "$RT/h2/evil" "$RT/outside"
	ln -s "$RT/outside" "$RT/h1/evil"
	tar -C "$RT/h1" -cf "$RT/evil.tar" evil
	echo x >"$RT/h2/evil/pwned"
	tar -C "$RT/h2" -rf "$RT/evil.tar" evil/pwned
	run "$SBX" run --image "$RT/evil.tar" -- true
	[ "$status" -eq 125 ]
	[ -z "$(ls -A "$RT/outside")" ]
	run "$SBX" run --image /etc/hostname -- true
	[ "$status" -eq 125 ]
}

#!/usr/bin/env bats
# profile.bats - `sbx profile` (list, show, check, compile, diff, learn), profile selection and validation at start,
# the crun BPF cache (hits, corruption, concurrent writers) and a notify action surviving precompilation.

load helpers

setup() {
	sbx_setup
	export SBX_SECCOMP_CACHE="$T/cache"
	export SBX_PROFILES_DIR="$T/profiles"
	mkdir -p "$SBX_PROFILES_DIR"
}

teardown() {
	[ -n "${LISTENER_PID:-}" ] && kill "$LISTENER_PID" 2>/dev/null
	sbx_teardown
}

@test "profile list: built-in profiles and the ones in the profiles directory" {
	echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}' >"$SBX_PROFILES_DIR/mine.json"
	echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}' >"$SBX_PROFILES_DIR/strict.json"
	run "$SBX" profile list
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "default      built in"
	expect_line "strict       $SBX_PROFILES_DIR/strict.json"
	expect_line "baseline     built in"
	expect_line "mine         $SBX_PROFILES_DIR/mine.json"
}

@test "profile show: resolved JSON with the reasons; --raw gives the source" {
	run "$SBX" profile show default
	[ "$status" -eq 0 ] || { show; false; }
	# Allowed: read; refused with a reason: mount; no rule allows mount, bpf or keyctl.
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("read") != null' <<<"$output"
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | (index("mount"), index("bpf"), index("keyctl")) == null' <<<"$output"
	jq -e '.syscalls[] | select(.names | index("mount")) | .comment | test("mount family")' <<<"$output"
	jq -e '.architectures == ["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]' <<<"$output"
	run "$SBX" profile show default --raw
	jq -e '.archMap | length > 1' <<<"$output"
}

@test "profile check: the action that applies and the rule that decides it" {
	run "$SBX" profile check default mount
	[ "${lines[0]}" = "mount: ERRNO(1)" ] || { show; false; }
	grep -q "why:  The mount family" <<<"$output"
	run "$SBX" profile check default read
	[ "${lines[0]}" = "read: ALLOW" ] || { show; false; }
	run "$SBX" profile check default socket 40 1 0
	[ "${lines[0]}" = "socket: ERRNO(1)" ] || { show; false; }
	grep -q "no rule for socket matches: the default action SCMP_ACT_ERRNO(1) applies" <<<"$output"
	run "$SBX" profile check default socket 16 3 12
	[ "${lines[0]}" = "socket: ERRNO(1)" ] || { show; false; }
	run "$SBX" profile check default socket 16 3 12 --caps CAP_NET_ADMIN
	[ "${lines[0]}" = "socket: ALLOW" ] || { show; false; }
	grep -q "NETLINK_NETFILTER" <<<"$output"
	run "$SBX" profile check default clone3
	[ "${lines[0]}" = "clone3: ERRNO(38)" ] || { show; false; }
	run "$SBX" profile check strict ptrace
	[ "${lines[0]}" = "ptrace: ERRNO(1)" ] || { show; false; }
	run "$SBX" profile check baseline init_module
	[ "${lines[0]}" = "init_module: ALLOW" ] || { show; false; } # the module block is added per container, not in the profile
	run "$SBX" profile check default no_such_call
	[ "$status" -eq 2 ]
}

@test "profile compile: binary-tree BPF, disassembly and raw output" {
	run "$SBX" profile compile default
	[ "$status" -eq 0 ] || { show; false; }
	[[ "$output" == "default: "*" BPF instructions ("*" bytes), binary-tree optimized" ]] || { show; false; }
	run "$SBX" profile compile strict --disasm
	[ "$status" -eq 0 ] || { show; false; }
	[ "${lines[0]}" = " line  OP   JT   JF   K" ] || { show; false; }
	grep -q 'ld  \$arch' <<<"$output"
	grep -q 'ret ERRNO(1)' <<<"$output"
	grep -q 'ret ALLOW' <<<"$output"
	[ "${#lines[@]}" -gt 100 ]
	run "$SBX" profile compile strict -o "$T/strict.bpf"
	[ "$status" -eq 0 ]
	[ $(($(stat -c %s "$T/strict.bpf") % 8)) -eq 0 ]
	[ "$(stat -c %s "$T/strict.bpf")" -gt 800 ]
}

@test "profile diff: syscalls added, removed and changed" {
	run "$SBX" profile diff default strict
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "- ptrace: default SCMP_ACT_ERRNO(1)"
	grep -q '^~ personality: ' <<<"$output"
	[[ "${lines[-1]}" =~ ^0\ added,\ [0-9]+\ removed,\ [0-9]+\ changed\ \(from\ default\ to\ strict\)$ ]] || { show; false; }
	run "$SBX" profile diff strict default
	expect_line "+ ptrace: SCMP_ACT_ALLOW"
	run "$SBX" profile diff default /usr/share/containers/seccomp.json
	if [ -r /usr/share/containers/seccomp.json ]; then
		[ "$status" -eq 0 ] || { show; false; }
		grep -q '^+ mount: SCMP_ACT_ALLOW' <<<"$output"
		grep -q '^+ keyctl: SCMP_ACT_ALLOW' <<<"$output"
	fi
}

@test "validation: an unknown syscall names the file and rule, and the container never starts" {
	cat >"$SBX_PROFILES_DIR/typo.json" <<-'EOF'
	{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
	  {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
	  {"names": ["exit_group", "getpidd"], "action": "SCMP_ACT_ALLOW", "comment": "process basics"}]}
	EOF
	run "$SBX" profile check typo read
	[ "$status" -eq 1 ]
	[[ "$output" == *"$SBX_PROFILES_DIR/typo.json: syscalls[1] (\"process basics\"): unknown syscall \"getpidd\""* ]] || { show; false; }
	local d id
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.annotations["run.sbx.profile"] = "typo"'
		id=$(new_id typo-$d)
		run sbx_rt "$d" run --bundle "$T/bundle" "$id"
		[ "$status" -ne 0 ] || { show; false; }
		[[ "$output" == *"unknown syscall \"getpidd\""* ]] || { show; false; }
		run plain "$d" state "$id"
		[ "$status" -ne 0 ]
	done
	echo '{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_PDP11","subArchitectures":[]}],"syscalls":[]}' >"$SBX_PROFILES_DIR/arch.json"
	run "$SBX" profile show arch
	[ "$status" -eq 1 ]
	[[ "$output" == *"arch.json: archMap[0]: unknown architecture \"SCMP_ARCH_PDP11\""* ]] || { show; false; }
}

@test "selection: annotation, /etc/sbx/sbx.json default, absolute path in sbx.json; recorded in the annotations" {
	local d
	echo '{"profile": "strict", "watcher": {"enabled": false}}' >"$T/strict.json"
	cp "$REPO/profiles/strict.json" "$T/copy.json"
	# An absolute path comes from sbx.json (the operator), never from an annotation (trust.bats).
	echo "{\"profile\": \"$T/copy.json\", \"watcher\": {\"enabled\": false}}" >"$T/path.json"
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.process.args = ["/bin/sh", "-c", "ionice -c 3 true && echo ionice-ok; echo end"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id def-$d)"
		expect_line "ionice-ok"
		[ "$(jq -r '.annotations["run.sbx.profile"]' "$T/bundle/config.json")" = default ]
		bundle_reset
		bundle_edit '.process.args = ["/bin/sh", "-c", "ionice -c 3 true && echo ionice-ok; echo end"]'
		SBX_CONFIG="$T/strict.json" run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id cfg-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "end"
		! grep -q ionice-ok <<<"$output" || { show; false; } # ioprio_set is outside the strict allowlist
		[ "$(jq -r '.annotations["run.sbx.profile"]' "$T/bundle/config.json")" = strict ]
		bundle_reset
		bundle_edit ".process.args = [\"/bin/sh\", \"-c\", \"ionice -c 3 true && echo ionice-ok; echo end\"]"
		SBX_CONFIG="$T/path.json" run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id path-$d)"
		expect_line "end"
		! grep -q ionice-ok <<<"$output"
		[ "$(jq -r '.annotations["run.sbx.profile"]' "$T/bundle/config.json")" = "$T/copy.json" ]
	done
}

@test "crun cache: a hit skips libseccomp, a corrupt entry is rebuilt, concurrent writers leave one entry" {
	local i entry size pids=()
	bundle_edit '.process.args = ["/bin/sbx-probe", "finit_module"]'
	cp "$T/bundle/config.json" "$T/config.orig"
	# The BPF cache alone first: the memo, which would serve every start after the first, off.
	echo '{"watcher": {"enabled": false}, "seccomp_memo": false}' >"$T/sbx.json"
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c1)"
	expect_line "finit_module 1 EPERM"
	grep -q "miss, compiled" <<<"$output" || { show; false; }
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c2)"
	expect_line "finit_module 1 EPERM"
	grep -q "seccomp BPF from cache $T/cache (hit)" <<<"$output" || { show; false; }
	entry=$(ls "$T/cache"/*.bpf)
	[ "$(ls "$T/cache" | wc -l)" -eq 1 ]
	size=$(stat -c %s "$entry")
	# Corrupt it: cut it short, then garble it.
	truncate -s 100 "$entry"
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c3)"
	expect_line "finit_module 1 EPERM"
	grep -q "miss, compiled" <<<"$output" || { show; false; }
	[ "$(stat -c %s "$entry")" -eq "$size" ]
	printf 'garbage' | dd of="$entry" bs=1 seek=200 conv=notrunc 2>/dev/null
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c4)"
	grep -q "miss, compiled" <<<"$output" || { show; false; }
	expect_line "finit_module 1 EPERM"

	# With the memo: the first start stores the stage's whole outcome beside the program, the next is served
	# from it (no look-up of the program), and a corrupt memo entry falls back to the program's entry.
	echo '{"watcher": {"enabled": false}}' >"$T/sbx.json"
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c5)"
	expect_line "finit_module 1 EPERM"
	grep -q "seccomp BPF from cache $T/cache (hit)" <<<"$output" || { show; false; }
	[ "$(ls "$T/cache"/*.memo | wc -l)" -eq 1 ]
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c6)"
	expect_line "finit_module 1 EPERM"
	grep -q "seccomp filter and its BPF from the hardening memo in $T/cache" <<<"$output" || { show; false; }
	! grep -q "seccomp BPF from cache" <<<"$output" || { show; false; }
	truncate -s 300 "$T"/cache/*.memo
	bundle_reset
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id c7)"
	expect_line "finit_module 1 EPERM"
	grep -q "seccomp BPF from cache $T/cache (hit)" <<<"$output" || { show; false; }
	[ "$(stat -c %s "$T"/cache/*.memo)" -gt 300 ]

	# Eight writers at once, on an empty cache, each in its own bundle.
	rm -rf "$T/cache"
	for i in 1 2 3 4 5 6 7 8; do
		mkdir -p "$T/b$i"
		cp "$T/config.orig" "$T/b$i/config.json"
		ln -s "$T/bundle/rootfs" "$T/b$i/rootfs"
		jq --arg r "$T/bundle/rootfs" '.root.path = $r' "$T/b$i/config.json" >"$T/b$i/c" && mv "$T/b$i/c" "$T/b$i/config.json"
		(SBX_RUNTIME=crun "$SBX_RT" --root "$T/root" create --bundle "$T/b$i" "$(basename "$T")-par$i" >"$T/par$i.log" 2>&1; echo $? >"$T/par$i.rc") &
		pids+=($!)
	done
	# The writers by pid: a bare `wait` would also wait for bats' own per-test timeout watchdog.
	wait "${pids[@]}"
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(cat "$T/par$i.rc")" = 0 ] || { cat "$T/par$i.log"; false; }
		crun --root "$T/root" delete --force "$(basename "$T")-par$i"
	done
	[ "$(ls -A "$T/cache" | grep -c '\.bpf$')" -eq 1 ] && [ "$(ls -A "$T/cache" | grep -c '\.memo$')" -eq 1 ] \
		&& [ "$(ls -A "$T/cache" | wc -l)" -eq 2 ] || { ls -la "$T/cache"; false; }
	[ "$(stat -c %s "$T"/cache/*.bpf)" -eq "$size" ]
}

@test "crun cache: bounded at 2048 entries (the older half goes), stale temporaries removed, the new entries kept" {
	local before
	bundle_edit '.process.args = ["/bin/sbx-probe", "finit_module"]'
	mkdir -p "$T/cache"
	chmod 700 "$T/cache"
	# 2100 entries of two days ago, as many distinct filters (a custom profile per container) would leave.
	(cd "$T/cache" && seq 1 2100 | xargs printf '%016x.bpf\n' | xargs touch -d '2 days ago')
	touch -d '2 hours ago' "$T/cache/.x.bpf.sbx-0123456789ab"
	before=$(ls "$T/cache" | wc -l)
	[ "$before" -eq 2100 ]
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id b1)"
	expect_line "finit_module 1 EPERM"
	grep -q "miss, compiled" <<<"$output" || { show; false; }
	n=$(ls "$T/cache" | wc -l)
	[ "$n" -le 1030 ] && [ "$n" -ge 1024 ] || { echo "entries: $n"; false; }
	[ ! -e "$T/cache/.x.bpf.sbx-0123456789ab" ]
	# What this start stored is the newest: it survived, and serves the next start.
	[ "$(find "$T/cache" -newermt '1 hour ago' -name '*.memo' | wc -l)" -eq 1 ]
	bundle_reset
	bundle_edit '.process.args = ["/bin/sbx-probe", "finit_module"]'
	run sbx_rt crun --debug run --bundle "$T/bundle" "$(new_id b2)"
	expect_line "finit_module 1 EPERM"
	grep -q "seccomp filter and its BPF from the hardening memo" <<<"$output" || { show; false; }
}

# A seccomp listener in Python: receives the notify fd from the runtime, answers every notification with EACCES
# and records the syscall numbers it saw.
start_listener() {
	cat >"$T/listener.py" <<-'EOF'
	import array, fcntl, json, os, socket, struct, sys
	path, out = sys.argv[1], sys.argv[2]
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.bind(path); s.listen(1)
	open(out + ".ready", "w").close()
	c, _ = s.accept()
	msg, fds, _, _ = socket.recv_fds(c, 1 << 16, 4)
	state = json.loads(msg)
	with open(out, "a") as f:
	    f.write("state %s\n" % state.get("state", {}).get("id", "?"))
	    f.flush()
	    while True:
	        buf = bytearray(80)
	        try:
	            fcntl.ioctl(fds[0], 0xC0502100, buf)   # SECCOMP_IOCTL_NOTIF_RECV
	        except OSError:
	            break
	        nid, pid, flags, nr = struct.unpack_from("QIIi", buf)
	        f.write("nr %d\n" % nr); f.flush()
	        fcntl.ioctl(fds[0], 0xC0182101, struct.pack("QqiI", nid, 0, -13, 0))   # SEND: error -EACCES
	EOF
	python3 "$T/listener.py" "$T/listener.sock" "$T/listener.out" &
	LISTENER_PID=$!
	for _ in $(seq 50); do [ -e "$T/listener.out.ready" ] && return 0; sleep 0.1; done
	return 1
}

@test "crun: precompiled BPF keeps a notify action and crun hands the listener over" {
	start_listener
	bundle_edit ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", listenerPath: \"$T/listener.sock\",
		architectures: [\"SCMP_ARCH_X86_64\"], syscalls: [{names: [\"mkdir\", \"mkdirat\"], action: \"SCMP_ACT_NOTIFY\"}]}
		| .root.readonly = false
		| .process.args = [\"/bin/sh\", \"-c\", \"mkdir /nd; echo mkdir=\$?; sbx-probe finit_module\"]"
	run sbx_rt crun run --bundle "$T/bundle" "$(new_id notify)"
	[ "$status" -eq 0 ] || { show; false; }
	jq -e '.annotations["run.oci.seccomp_bpf_data"] | length > 100' "$T/bundle/config.json"
	jq -e '.linux.seccomp.listenerPath != null' "$T/bundle/config.json"
	expect_line "mkdir=1"
	grep -q "Permission denied" <<<"$output" || { show; false; } # EACCES came from the listener
	expect_line "finit_module 1 EPERM"
	grep -q "^state " "$T/listener.out"
	grep -qx "nr 83" "$T/listener.out" || { cat "$T/listener.out"; false; } # mkdir on x86_64
}

@test "crun: exec'd processes get the precompiled filter too; crun's spec copy holds a fail-closed stand-in" {
	bundle_edit '.process.args = ["/bin/sleep", "30"]'
	local id
	id=$(new_id exec)
	# Detached: its stdio must not be bats' capture pipe, or `run` would wait for the container to exit.
	sbx_rt crun run -d --bundle "$T/bundle" "$id" </dev/null >/dev/null 2>"$T/run.err" || { cat "$T/run.err"; false; }
	jq -e '.linux.seccomp == {syscalls: [], defaultAction: "SCMP_ACT_KILL_PROCESS"}' "$T/bundle/config.json"
	run sbx_rt crun exec "$id" /bin/sbx-probe finit_module unshare_user socket_vsock
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "finit_module 1 EPERM"
	expect_line "unshare_user 1 EPERM"
	expect_line "socket_vsock 1 EPERM"
}

@test "profile learn: observe under crun, then the learned profile runs the workload and refuses the rest" {
	local d
	bundle_edit '.root.readonly = false | .process.args = ["/bin/sh", "-c", "echo learned-run; ls / | grep -c . ; echo x > /tmp/f && cat /tmp/f"]'
	cp "$T/bundle/config.json" "$T/config.orig"
	run "$SBX" profile learn "$T/bundle" -o "$SBX_PROFILES_DIR/learned.json"
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "learned-run"
	jq -e '.defaultAction == "SCMP_ACT_ERRNO" and (.syscalls[0].names | index("execve") != null and index("write") != null)' "$SBX_PROFILES_DIR/learned.json"
	# The smallest profile: nothing the workload did not do (mount, socket, ptrace, bpf are absent).
	jq -e '[.syscalls[].names[]] | (index("mount"), index("ptrace"), index("bpf"), index("socket"), index("init_module")) == null' "$SBX_PROFILES_DIR/learned.json"
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.annotations["run.sbx.profile"] = "learned"'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id learned-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "learned-run"
		expect_line "x"
		# Something the workload never did is refused.
		bundle_reset
		bundle_edit '.annotations["run.sbx.profile"] = "learned" | .process.args = ["/bin/sbx-probe", "socket_vsock", "unshare_user"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id learned2-$d)"
		expect_line "socket_vsock 1 EPERM"
		expect_line "unshare_user 1 EPERM"
	done
	run "$SBX" profile diff default learned
	[ "$status" -eq 0 ] || { show; false; }
	grep -q '^- ' <<<"$output"
}

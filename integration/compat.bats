#!/usr/bin/env bats
# compat.bats - an engine cannot tell sbx-runtime from its delegate, except by the hardening.

load helpers

setup() { sbx_setup; }
teardown() { sbx_teardown; }

# same D ARGS...: sbx-runtime and the delegate give the same status, stdout and stderr.
same() {
	local d=$1
	shift
	local s1 s2
	plain "$d" "$@" >"$T/p.out" 2>"$T/p.err" && s1=0 || s1=$?
	sbx_rt "$d" "$@" >"$T/s.out" 2>"$T/s.err" && s2=0 || s2=$?
	[ "$s1" = "$s2" ] || { echo "$d $*: status $s1 vs $s2"; cat "$T/p.err" "$T/s.err"; return 1; }
	cmp "$T/p.out" "$T/s.out" || { echo "$d $*: stdout differs"; diff "$T/p.out" "$T/s.out"; return 1; }
	# Error text may carry the program's name or a timestamp; compare without them.
	diff <(sed -E 's/(runc|crun|sbx-runtime)//g; s/time="[^"]*"//g' "$T/p.err") \
		<(sed -E 's/(runc|crun|sbx-runtime)//g; s/time="[^"]*"//g' "$T/s.err") ||
		{ echo "$d $*: stderr differs"; return 1; }
}

@test "pass-through subcommands match the delegate: state, list, kill, delete, ps, pause, resume, update, events" {
	bundle_edit '.process.args=["/bin/sleep","60"]'
	for d in $DELEGATES; do
		same "$d" state no-such-container
		same "$d" kill no-such-container KILL
		same "$d" delete no-such-container
		same "$d" list
		same "$d" list --format json
		local id
		id=$(new_id compat-$d)
		sbx_create "$d" "$id"
		same "$d" state "$id"
		same "$d" list -q
		# Commands that change the container: through sbx, checked by the delegate.
		sbx_rt "$d" start "$id"
		[ "$(plain "$d" state "$id" | jq -r .status)" = running ]
		same "$d" ps --format json "$id" # the table has a live CPU% column
		same "$d" start "$id" # refused by both: already running
		sbx_rt "$d" pause "$id"
		[ "$(plain "$d" state "$id" | jq -r .status)" = paused ]
		sbx_rt "$d" resume "$id"
		[ "$(plain "$d" state "$id" | jq -r .status)" = running ]
		sbx_rt "$d" update --pids-limit 99 "$id"
		[ "$(cat "/sys/fs/cgroup/pids/$id/pids.max" 2>/dev/null || cat "/sys/fs/cgroup/unified/$id/pids.max")" = 99 ]
		if [ "$d" = runc ]; then
			run sbx_rt "$d" events --stats "$id"
			[ "$status" -eq 0 ] || { show; false; }
			[ "$(jq -r .type <<<"$output")" = stats ]
		else
			same "$d" events --stats "$id" # crun 1.8 has no events: the same refusal
		fi
		sbx_rt "$d" kill "$id" KILL
		for _ in $(seq 50); do [ "$(plain "$d" state "$id" | jq -r .status)" = stopped ] && break; sleep 0.1; done
		[ "$(plain "$d" state "$id" | jq -r .status)" = stopped ]
		sbx_rt "$d" delete "$id"
		same "$d" state "$id"
	done
}

@test "spec and checkpoint reach the delegate with the same meaning; restore is refused" {
	mkdir "$T/s1" "$T/s2"
	(cd "$T/s1" && runc spec --rootless)
	(cd "$T/s2" && SBX_RUNTIME=runc "$SBX_RT" spec --rootless)
	cmp "$T/s1/config.json" "$T/s2/config.json"
	# No CRIU on this host: both fail the same way (from $T: checkpoint's image path defaults to ./checkpoint).
	cd "$T"
	same runc checkpoint no-such-container
	# restore would start a container whose credentials and seccomp come from the image: refused (argv.bats).
	run sbx_rt runc restore --bundle "$T/bundle" no-such-container
	[ "$status" -ne 0 ] && [[ "$output" == *"'restore' is refused"* ]] || { show; false; }
}

@test "the exit status of the container's process is the runtime's" {
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.process.args=["/bin/sh","-c","exit 42"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id exit-$d)"
		[ "$status" -eq 42 ] || { show; false; }
	done
}

@test "--version names sbx and the delegate; features merges sbx's annotations into runc's" {
	run env SBX_RUNTIME=crun "$SBX_RT" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "sbx-runtime version "* ]]
	[[ "$output" == *"delegate: crun version "*"(/usr/bin/crun)"* ]] || { show; false; }
	run sbx_rt runc features
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(jq -r '.annotations["run.sbx.policy"]' <<<"$output")" = 1 ]
	[ "$(jq -r '.annotations["run.sbx.profile"]' <<<"$output")" != null ]
	[ "$(jq -r '.annotations["io.github.seccomp.libseccomp.version"]' <<<"$output")" = "$(runc features | jq -r '.annotations["io.github.seccomp.libseccomp.version"]')" ]
	[ "$(jq -c .hooks <<<"$output")" = "$(runc features | jq -c .hooks)" ]
	# crun 1.8 has no `features`: its answer passes through unchanged.
	same crun features
}

@test "global flags are passed on: --log json, --debug, --root" {
	run sbx_rt runc --debug --log "$T/log.json" --log-format json run --bundle "$T/bundle" "$(new_id dbg)"
	[ "$status" -eq 0 ] || { show; false; }
	log_has "$T/log.json" debug "hardened"
	log_has "$T/log.json" debug "nsexec" # runc's own debug lines, same file
	run sbx_rt runc --log "$T/log.txt" --log-format text create --bundle "$T/nope" x
	[ "$status" -eq 1 ]
	grep -E '^time="[^"]+" level=error msg="sbx: .*nope' "$T/log.txt"
}

@test "after the rewrite the delegate replaces sbx: no sbx process lingers" {
	bundle_edit '.process.args=["/bin/sleep","2"]'
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.process.args=["/bin/sleep","2"]'
		# Started directly (not through a shell function) so that $! is sbx-runtime's own pid.
		SBX_RUNTIME="$d" "$SBX_RT" --root "$T/root" run --bundle "$T/bundle" "$(new_id linger-$d)" </dev/null >"$T/linger.out" 2>&1 &
		local pid=$! exe="" argv0=""
		# Wait for argv[0] to name the delegate (sbx sets it when it execs; before that the pid is the forked
		# shell, then sbx-runtime).  crun re-executes itself from a sealed memfd, so its exe is not
		# /usr/bin/crun: what shows that sbx is gone is that the pid is no longer sbx-runtime.
		for _ in $(seq 50); do
			argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -1 || true)
			exe=$(readlink "/proc/$pid/exe" || true)
			[ "$(basename "$argv0")" = "$d" ] && break
			sleep 0.05
		done
		[ -n "$exe" ] && [ "$exe" != "$SBX_RT" ] && [ "$(basename "$argv0")" = "$d" ] ||
			{ echo "pid $pid is $exe ($argv0)"; cat "$T/linger.out"; false; }
		wait "$pid"
	done
}

@test "installed under the name runc, sbx-runtime does not call itself" {
	mkdir -p "$T/path"
	ln -s "$SBX_RT" "$T/path/runc"
	run env -u SBX_RUNTIME PATH="$T/path:/usr/sbin:/usr/bin:/sbin:/bin" "$T/path/runc" --root "$T/root" run --bundle "$T/bundle" "$(new_id self)"
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "finit_module 1 EPERM"
}

@test "--criu, --rootless and --systemd-cgroup reach the delegate" {
	run sbx_rt runc --criu /usr/sbin/criu --rootless false run --bundle "$T/bundle" "$(new_id flags)"
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "finit_module 1 EPERM"
	# No systemd on this host: runc refuses --systemd-cgroup exactly as it does without sbx.
	bundle_reset
	same runc --systemd-cgroup run --bundle "$T/bundle" "$(new_id sd)"
}

@test "the rewrite keeps config.json's mode and owner" {
	chmod 0640 "$T/bundle/config.json"
	chown 65534:65534 "$T/bundle/config.json"
	run sbx_rt crun run --bundle "$T/bundle" "$(new_id mode)"
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(stat -c '%a %u %g' "$T/bundle/config.json")" = "640 65534 65534" ]
	grep -q run.sbx.policy "$T/bundle/config.json"
}

@test "make install honours PREFIX and DESTDIR" {
	make -C "$REPO" -s install PREFIX=/opt/sbx DESTDIR="$T/dest" >/dev/null
	[ -x "$T/dest/opt/sbx/bin/sbx-runtime" ] && [ -x "$T/dest/opt/sbx/bin/sbx" ]
	run "$T/dest/opt/sbx/bin/sbx-runtime" --version
	[[ "${lines[0]}" == "sbx-runtime version "* ]]
}

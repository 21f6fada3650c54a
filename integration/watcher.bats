#!/usr/bin/env bats
# watcher.bats - the module-load watcher on runc and crun: refused attempts answered EPERM and reported once each,
# kill/freeze, isolation between containers, restarts, the EPERM fallback, reaping, metrics, doctor.

load watch_helpers

setup_file() { "$(dirname "$BATS_TEST_FILENAME")/../hack/prepare-host.sh" >/dev/null; }
setup() { watch_setup; }
teardown() { watch_teardown; }

MODULES='/sbx-probe finit_module init_module delete_module=xfs'

@test "each module syscall: EPERM in the container, one event each in sbx events, journal and runtime log" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "b-$d" "$MODULES"
		id=$(new_id ev-$d)
		start_ct "$d" "$id" "b-$d"
		wait_for 10 has_violations "$id" 3
		wait_for 5 status_is "$d" "$id" stopped
		run out "b-$d"
		[ "$output" = $'finit_module 1 EPERM\ninit_module 1 EPERM\ndelete_module 1 EPERM' ] || { echo "$d: $output"; false; }
		# sbx events: the three syscalls, in order, with this container's id and engine.
		run bash -c "'$SBX' events --json '$id' | jq -r '[.container, .syscall, .hook, .action, .outcome, (.module // \"-\")] | join(\" \")'"
		[ "$output" = "$id finit_module seccomp-notify log refused EPERM -
$id init_module seccomp-notify log refused EPERM -
$id delete_module seccomp-notify log refused EPERM xfs" ] || { echo "$d: $output"; false; }
		# finit_module: the file behind the fd is named.
		[ "$(violations "$id" | jq -r 'select(.syscall=="finit_module") | .file')" = /sbx-probe ]
		# The journal file itself holds the same three lines.
		[ "$(grep -c "\"container\":\"$id\"" "$W/events.jsonl")" -eq 3 ]
		# The engine's runtime log (--log, --log-format json): one runc-style warning per violation.
		[ "$(grep -c "module load refused in container $id" "$W/runtime-$d.log")" -eq 3 ]
		grep "module load refused in container $id: delete_module module xfs" "$W/runtime-$d.log" | jq -e '.level == "warning" and (.time | length) > 0'
		# state: the count in the annotations, through sbx-runtime.
		[ "$(rt "$d" state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 3 ]
	done
}

@test "two containers' events never mix" {
	start_watcher
	for d in $DELEGATES; do
		# Both wait until told: both are registered with the watcher before either calls, so the events can only
		# be told apart by the listener they came through (first the older container's, then the newer's).
		make_bundle "a-$d" "while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=aaa delete_module=aaa"
		make_bundle "b-$d" "while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=bbb"
		a=$(new_id a-$d)
		b=$(new_id b-$d)
		start_ct "$d" "$a" "a-$d"
		start_ct "$d" "$b" "b-$d"
		wait_for 10 test -e "$W/state/watcher/containers/$a.json"
		wait_for 10 test -e "$W/state/watcher/containers/$b.json"
		touch "$W/a-$d/rootfs/go"
		wait_for 10 has_violations "$a" 2
		touch "$W/b-$d/rootfs/go"
		wait_for 10 has_violations "$b" 1
		[ "$(violations "$a" | jq -r .module | sort -u)" = aaa ]
		[ "$(violations "$b" | jq -r .module | sort -u)" = bbb ]
		[ "$(rt "$d" state "$a" | jq -r '.annotations["run.sbx.violations"]')" = 2 ]
		[ "$(rt "$d" state "$b" | jq -r '.annotations["run.sbx.violations"]')" = 1 ]
		# Each runtime log line names its own container only.
		[ "$(grep -c "container $a: delete_module module aaa" "$W/runtime-$d.log")" -eq 2 ]
		[ "$(grep -c "container $b: delete_module module bbb" "$W/runtime-$d.log")" -eq 1 ]
	done
}

@test "run.sbx.on-violation=kill: the init is SIGKILLed before the call returns, the engine sees it stopped" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "k-$d" "/sbx-probe delete_module=kk; echo returned; sleep 30" '{"run.sbx.on-violation":"kill"}'
		id=$(new_id kill-$d)
		start_ct "$d" "$id" "k-$d"
		wait_for 10 status_is "$d" "$id" stopped
		wait_for 5 has_violations "$id" 1
		# Killed inside the syscall: the probe never printed its result, the shell never went on.
		[ -z "$(out "k-$d")" ] || { echo "$d: $(out "k-$d")"; false; }
		violations "$id" | jq -e '.action == "kill" and (.outcome | startswith("refused; container killed"))'
	done
}

@test "run.sbx.on-violation=freeze: the container's cgroup is frozen after the refusal" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "f-$d" "/sbx-probe delete_module=ff; echo after >/tmp/after; sleep 30" '{"run.sbx.on-violation":"freeze"}'
		id=$(new_id freeze-$d)
		start_ct "$d" "$id" "f-$d"
		wait_for 10 has_violations "$id" 1
		violations "$id" | jq -e '.action == "freeze" and .outcome == "refused EPERM; container frozen"'
		pid=$("$d" --root "$W/root/$d" state "$id" | jq -r .pid)
		cg=$(sed -n 's/^[0-9]*:freezer://p' "/proc/$pid/cgroup")
		if [ -n "$cg" ]; then
			state="/sys/fs/cgroup/freezer$cg/freezer.state" frozen=FROZEN thawed=THAWED
		else # cgroup v2 only
			cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
			state="/sys/fs/cgroup$cg/cgroup.freeze" frozen=1 thawed=0
		fi
		wait_for 5 grep -qx "$frozen" "$state"
		# Frozen tasks do not run: the shell does not get past the probe while frozen.
		sleep 0.3
		[ "$(out "f-$d")" = "" ] || [ "$(out "f-$d")" = "delete_module 1 EPERM" ] || { echo "$d: $(out "f-$d")"; false; }
		[ ! -e "$W/f-$d/rootfs/tmp/after" ]
		if [ "$d" = runc ]; then [ "$(ct_status "$d" "$id")" = paused ]; fi
		# Thawed by the engine's own resume, it goes on with EPERM.
		"$d" --root "$W/root/$d" resume "$id" || echo "$thawed" >"$state"
		wait_for 5 test -e "$W/f-$d/rootfs/tmp/after"
		[ "$(head -1 "$W/f-$d/rootfs/out")" = "delete_module 1 EPERM" ]
		# The call a freeze interrupted is restarted by the kernel on thaw: still one event.
		sleep 0.2
		[ "$(nviolations "$id")" -eq 1 ]
	done
}

@test "a watcher restart loses no count and keeps answering EPERM (notify fds survive the re-exec)" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "r-$d" "/sbx-probe delete_module=one; while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=two"
		id=$(new_id restart-$d)
		start_ct "$d" "$id" "r-$d"
		wait_for 10 has_violations "$id" 1
		pid=$(watcher_pid)
		run "$SBX" watch --restart
		[ "$status" -eq 0 ]
		wait_for 10 "$SBX" watch --status
		[ "$(watcher_pid)" = "$pid" ] # re-exec in place
		touch "$W/r-$d/rootfs/go"
		wait_for 10 has_violations "$id" 2
		wait_for 5 status_is "$d" "$id" stopped
		[ "$(out "r-$d")" = $'delete_module 1 EPERM\ndelete_module 1 EPERM' ] || { echo "$d: $(out "r-$d")"; false; }
		[ "$(violations "$id" | jq -r .count | tr '\n' ' ')" = "1 2 " ]
		[ "$(rt "$d" state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 2 ]
	done
}

@test "a watcher crash keeps the count, and the next watcher reports the lost listener (ENOSYS, still refused)" {
	start_watcher
	d=${DELEGATES%% *}
	make_bundle crash "/sbx-probe delete_module=one; while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=two"
	id=$(new_id crash)
	start_ct "$d" "$id" crash
	wait_for 10 has_violations "$id" 1
	pid=$(watcher_pid)
	kill -9 "$pid"
	wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
	start_watcher
	wait_for 5 bash -c "'$SBX' events --json '$id' | grep -q '\"type\":\"monitor-lost\"'"
	touch "$W/crash/rootfs/go"
	wait_for 5 status_is "$d" "$id" stopped
	# With its listener gone the kernel answers ENOSYS: the module syscall is still never executed.
	[ "$(out crash)" = $'delete_module 1 EPERM\ndelete_module 38 ENOSYS' ] || { echo "$(out crash)"; false; }
	[ "$(rt "$d" state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 1 ]
}

@test "no watcher and no on-demand start: still EPERM, with a warning in the runtime log" {
	write_config '{"watcher": {"on_demand": false}}'
	for d in $DELEGATES; do
		make_bundle "n-$d" "$MODULES"
		id=$(new_id nowatch-$d)
		start_ct "$d" "$id" "n-$d"
		wait_for 10 status_is "$d" "$id" stopped
		[ "$(out "n-$d")" = $'finit_module 1 EPERM\ninit_module 1 EPERM\ndelete_module 1 EPERM' ] || { echo "$d: $(out "n-$d")"; false; }
		grep "container $id: module-load monitoring unavailable" "$W/runtime-$d.log" | jq -e '.level == "warning"'
		# No listener, no notify rule anywhere (also not in a filter kept aside for crun's precompiled form).
		[ "$(jq -r '.linux.seccomp.listenerPath // "none"' "$W/n-$d/config.json")" = none ]
		! grep -q SCMP_ACT_NOTIFY "$W/n-$d/config.json"
		[ "$(jq -r '.annotations["run.sbx.monitor"]' "$W/n-$d/config.json")" = eperm ]
	done
	[ ! -e "$W/events.jsonl" ]
	run "$SBX" watch --status
	[ "$status" -ne 0 ]
}

@test "watcher.fail_closed: no watcher means no container" {
	write_config '{"watcher": {"on_demand": false, "fail_closed": true}}'
	make_bundle fc "$MODULES"
	id=$(new_id fc)
	run rt runc create --bundle "$W/fc" "$id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"module-load watcher unavailable and watcher.fail_closed is set"* ]] || { echo "$output"; false; }
	run runc --root "$W/root/runc" state "$id"
	[ "$status" -ne 0 ]
}

@test "sbx-runtime starts a watcher on demand; a second sbx watch says one runs and exits 0" {
	make_bundle od "$MODULES"
	id=$(new_id ondemand)
	run "$SBX" watch --status
	[ "$status" -ne 0 ]
	start_ct runc "$id" od
	wait_for 10 has_violations "$id" 3
	run "$SBX" watch --status
	[ "$status" -eq 0 ]
	[[ "$output" == "ok pid="* ]]
	run "$SBX" watch
	[ "$status" -eq 0 ]
	[[ "$output" == *"a watcher is already running"* ]]
}

@test "an on-demand watcher leaves once idle (creates touching its lock are activity), or at once when its socket is gone, but never while it holds a listener" {
	write_config '{"watcher": {"idle_exit_s": 2}}'
	make_bundle idle "/sbx-probe delete_module=x; sleep 4"
	id=$(new_id idle)
	start_ct runc "$id" idle
	wait_for 10 has_violations "$id" 1
	pid=$(watcher_pid)
	[ -n "$pid" ]
	# The container still runs: its listener keeps the watcher, however idle.
	sleep 3
	kill -0 "$pid"
	wait_for 10 status_is runc "$id" stopped
	# A create that finds the watcher running marks the lock file instead of connecting: activity too.
	for _ in 1 2 3 4; do
		touch "$W/state/watcher/watcher.lock"
		sleep 1
		kill -0 "$pid"
	done
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
	grep -q "idle for 2 s: exiting" "$W/watcher.log"
	# Started again; this time its socket is removed (a test's temp dir going away): it leaves within a tick.
	write_config '{}'
	make_bundle gone "/sbx-probe delete_module=y"
	id2=$(new_id gone)
	start_ct runc "$id2" gone
	wait_for 10 has_violations "$id2" 1
	wait_for 10 status_is runc "$id2" stopped
	pid=$(watcher_pid)
	rm "$W/state/w.sock"
	wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
}

@test "delete unregisters; stale records of crashed runs are reaped at start" {
	start_watcher
	make_bundle del "/sbx-probe delete_module=x"
	id=$(new_id del)
	start_ct runc "$id" del
	wait_for 10 has_violations "$id" 1
	[ -e "$W/state/watcher/containers/$id.json" ]
	wait_for 5 status_is runc "$id" stopped
	rt runc delete "$id"
	[ ! -e "$W/state/watcher/containers/$id.json" ]
	# A record left by a crashed run: init long gone, bundle gone.
	echo '{"id":"ghost","pid":999999,"starttime":1,"bundle":"/nonexistent","monitor":"notify","count":7}' >"$W/state/watcher/containers/ghost.json"
	kill "$(watcher_pid)"
	wait_for 5 bash -c "! '$SBX' watch --status >/dev/null 2>&1"
	start_watcher
	[ ! -e "$W/state/watcher/containers/ghost.json" ]
	grep -q "reaped stale container ghost" "$W/watcher.out"
}

@test "metrics: per-container counts over the socket, as a textfile, and from records when no watcher runs" {
	write_config "{\"metrics\": {\"textfile\": \"$W/sbx.prom\"}}"
	start_watcher
	make_bundle m "$MODULES"
	id=$(new_id metrics)
	start_ct runc "$id" m
	wait_for 10 has_violations "$id" 3
	run "$SBX" metrics
	[ "$status" -eq 0 ]
	grep -qx "sbx_module_load_attempts_total{container=\"$id\",engine=\"oci-cli\",monitor=\"notify\"} 3" <<<"$output" || { echo "$output"; false; }
	grep -qx "sbx_watcher_up 1" <<<"$output"
	grep -qx "sbx_journal_events_lost_total 0" <<<"$output"
	wait_for 5 grep -q "container=\"$id\".* 3$" "$W/sbx.prom"
	kill "$(watcher_pid)"
	wait_for 5 bash -c "! '$SBX' watch --status >/dev/null 2>&1"
	run "$SBX" metrics --textfile "$W/offline.prom"
	[ "$status" -eq 0 ]
	grep -qx "sbx_watcher_up 0" "$W/offline.prom"
	grep -q "container=\"$id\".* 3$" "$W/offline.prom"
}

@test "sbx doctor: every BPF hook is 'loaded' or 'unavailable: REASON'; missing delegate exits 1" {
	run "$SBX" doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	hooks=$(grep -E '^ +(lsm|tp|tp_btf)/' <<<"$output")
	[ "$(wc -l <<<"$hooks")" -ge 6 ] || { echo "$output"; false; }
	while read -r h; do
		[[ "$h" =~ ^[a-z_/]+:\ (loaded.*|unavailable:\ .+[a-z].*|off\ \(.+\))$ ]] || { echo "bad hook line: $h"; false; }
	done <<<"$hooks"
	# This kernel has no module support: its module tracepoints must be reported as such, not as loaded.
	if [ ! -d /sys/kernel/tracing/events/module ] && [ ! -d /sys/kernel/debug/tracing/events/module ]; then
		grep -Eq '^ +tp/module/module_load: unavailable: .*does not exist' <<<"$output"
	fi
	grep -Eq '^ok +seccomp ' <<<"$output"
	grep -Eq '^ok +user-notify ' <<<"$output"
	grep -Eq '^warn +watcher +not running' <<<"$output"
	echo '{"watcher": {"enabled": false}}' >"$W/off.json"
	SBX_CONFIG="$W/off.json" run "$SBX" doctor
	grep -Eq '^warn +watcher +disabled .*plain EPERM' <<<"$output" || { echo "$output"; false; }
	start_watcher
	run "$SBX" doctor
	grep -Eq '^ok +watcher +reachable' <<<"$output"
	SBX_RUNTIME=/nonexistent/runc run "$SBX" doctor
	[ "$status" -eq 1 ]
	grep -Eq '^FAIL +delegate ' <<<"$output"
}

@test "exec'd processes are watched too: their own notify fd, the same container's count" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "x-$d" "/sbx-probe delete_module=init; sleep 30"
		id=$(new_id exec-$d)
		start_ct "$d" "$id" "x-$d"
		wait_for 10 has_violations "$id" 1
		run rt "$d" exec "$id" /sbx-probe delete_module=viaexec finit_module
		[ "$status" -eq 0 ]
		[ "$output" = $'delete_module 1 EPERM\nfinit_module 1 EPERM' ] || { echo "$d: $output"; false; }
		wait_for 10 has_violations "$id" 3
		[ "$(violations "$id" | jq -r '.module // "-"' | tr '\n' ' ')" = "init viaexec - " ]
		[ "$(rt "$d" state "$id" | jq -r '.annotations["run.sbx.violations"]')" = 3 ]
	done
}

@test "a watcher that cannot start costs one wait, then creates fall back at once for 30 s" {
	# A start timeout well above a create's own cost on a loaded 2-core VM: the second create must not pay it.
	write_config '{"watcher": {"binary": "/bin/false", "start_timeout_ms": 3000}}'
	make_bundle sf "$MODULES"
	a=$(new_id sf1)
	start_ct runc "$a" sf
	grep -q "container $a: module-load monitoring unavailable (started /bin/false watch --daemon, but" "$W/runtime-runc.log"
	b=$(new_id sf2)
	t0=$(date +%s%N)
	start_ct runc "$b" sf
	t1=$(date +%s%N)
	grep -q "container $b: module-load monitoring unavailable (no watcher at .* starting one failed less than 30 s ago" "$W/runtime-runc.log"
	[ $(((t1 - t0) / 1000000)) -lt 1500 ] || { echo "second create took $(((t1 - t0) / 1000000)) ms"; false; }
	wait_for 10 status_is runc "$b" stopped
	[ "$(out sf)" = $'finit_module 1 EPERM\ninit_module 1 EPERM\ndelete_module 1 EPERM' ]
}

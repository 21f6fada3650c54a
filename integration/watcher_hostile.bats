#!/usr/bin/env bats
# watcher_hostile.bats - containers that attack the watcher's reporting and actions: module attempts whose names and
# paths carry invalid UTF-8, control characters and 64 KiB; a flood meant to push other containers' history out of
# the journal; a recorded init pid that now names an unrelated process.

load watch_helpers

setup_file() { "$(dirname "$BATS_TEST_FILENAME")/../hack/prepare-host.sh" >/dev/null; }
setup() { watch_setup; }
teardown() {
	[ -n "${BYSTANDER:-}" ] && kill -9 "$BYSTANDER" 2>/dev/null
	watch_teardown
}

# ct_id VAR NAME: a container id in VAR, recorded for teardown in this shell (not in a command substitution).
ct_id() {
	printf -v "$1" 'w-%s-%s-%s' "$2" "$$" "$RANDOM"
	CONTAINERS+=("${!1}")
}

utf8_ok() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null; }
no_controls() { ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$1"; }

# A script for the container: attempts whose module name, path and length are hostile.
HOSTILE='
x=$(printf "evil\377\376\033[31mred\033]0;title\007\r\n")
a=A; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do a=$a$a; done
c=$(printf "%.255s" "$a")
d=/tmp; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do d=$d/$c; done
busybox mkdir -p "$d"
f="$d/$(printf "m\377\033[2J\n\342\200\256.ko")"
: >"$f"
/sbx-probe "delete_module=$x" "delete_module=$a" "finit_module=$f" delete_module=plain
'

@test "hostile module names and paths: sanitized in sbx events, the journal, the runtime log and metrics; nothing skipped" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "h-$d" "$HOSTILE"
		ct_id id "hostile-$d"
		start_ct "$d" "$id" "h-$d"
		wait_for 10 has_violations "$id" 4
		# Every attempt is one line of valid JSON, valid UTF-8, without a control byte.
		"$SBX" events --json "$id" >"$W/ev.json"
		[ "$(wc -l <"$W/ev.json")" -eq 4 ]
		jq -e . "$W/ev.json" >/dev/null
		utf8_ok "$W/ev.json" && no_controls "$W/ev.json"
		utf8_ok "$W/events.jsonl" && no_controls "$W/events.jsonl"
		# The bytes are kept as escapes, the 64 KiB name and the 3.6 KiB path capped.
		jq -e -s '.[0].module == "evil\\xff\\xfe\\x1b[31mred\\x1b]0;title\\x07\\x0d"' "$W/ev.json"
		jq -e -s '(.[1].module | startswith("AAAA") and endswith("…") and (utf8bytelength < 128))' "$W/ev.json"
		jq -e -s '(.[2].file | startswith("/tmp/AAA") and endswith("…") and (utf8bytelength < 1024))' "$W/ev.json"
		jq -e -s '.[3].module == "plain"' "$W/ev.json"
		# The table is safe on a terminal.
		"$SBX" events "$id" >"$W/ev.txt"
		[ "$(wc -l <"$W/ev.txt")" -eq 5 ]
		utf8_ok "$W/ev.txt" && no_controls "$W/ev.txt"
		grep -q 'evil\\xff' "$W/ev.txt"
		# The runtime log (JSON lines, as engines read it) likewise.
		grep -a "$id" "$W/runtime-$d.log" >"$W/rt.log"
		[ "$(grep -c 'module load refused' "$W/rt.log")" -eq 4 ]
		jq -e . "$W/rt.log" >/dev/null
		utf8_ok "$W/rt.log" && no_controls "$W/rt.log"
	done
	"$SBX" metrics >"$W/metrics.txt"
	utf8_ok "$W/metrics.txt"
}

@test "sbx events reads every line of an older journal: raw bytes repaired, damaged lines shown as unreadable" {
	printf '{"time":"2025-01-01T00:00:00Z","type":"violation","container":"old","module":"x\377\033[2J","count":1}\n' >"$W/events.jsonl"
	printf 'not json \001\377\n' >>"$W/events.jsonl"
	printf '{"time":"2025-01-01T00:00:01Z","type":"violation","container":"old","module":"y","count":2}\n' >>"$W/events.jsonl"
	"$SBX" events --json >"$W/ev.json"
	[ "$(wc -l <"$W/ev.json")" -eq 3 ]
	jq -e . "$W/ev.json" >/dev/null
	utf8_ok "$W/ev.json"
	[ "$(jq -r 'select(.container == "old") | .count' "$W/ev.json" | tr '\n' ' ')" = "1 2 " ]
	jq -s -e 'map(select(.type == "unreadable")) | length == 1 and .[0].raw == "not json \\x01\\xff"' "$W/ev.json"
	"$SBX" events old >"$W/ev.txt"
	[ "$(wc -l <"$W/ev.txt")" -eq 3 ]
	utf8_ok "$W/ev.txt" && no_controls "$W/ev.txt"
}

@test "a flooding container is held to its share of the journal: its drops are counted, others' history stays" {
	write_config '{"journal": {"max_bytes": 20000, "keep": 1, "container_share_percent": 25, "rate_per_s": 1000, "burst": 1000, "bytes_per_s": 100000000, "burst_bytes": 100000000}}'
	start_watcher
	make_bundle quiet "/sbx-probe delete_module=b_first; while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=b_second; sleep 30"
	make_bundle flood '
a=A; for i in 1 2 3 4 5 6 7 8; do a=$a$a; done
c=$(printf "%.250s" "$a"); f=/tmp/$c/$c/$c/$c
busybox mkdir -p "$f"; f=$f/m.ko; : >"$f"
set --; i=0; while [ $i -lt 100 ]; do set -- "$@" "finit_module=$f"; i=$((i + 1)); done
/sbx-probe "$@"; sleep 30'
	ct_id quiet quiet
	ct_id flood flood
	start_ct runc "$quiet" quiet
	wait_for 10 has_violations "$quiet" 1
	start_ct runc "$flood" flood
	wait_for 20 bash -c "[ \$(cat '$W/state/watcher/containers/$flood.count' 2>/dev/null || echo 0) -eq 100 ]"
	touch "$W/quiet/rootfs/go"
	wait_for 10 has_violations "$quiet" 2
	# The flood wrote its share (10000 of 40000 bytes: a few ~1.2 KB lines) and no more; the rest is counted.
	written=$(nviolations "$flood")
	[ "$written" -ge 1 ] && [ "$written" -le 9 ] || { echo "flood wrote $written"; false; }
	violations "$quiet" | jq -e -s 'map(.module) == ["b_first", "b_second"]'
	"$SBX" metrics >"$W/metrics.txt"
	grep -qx "sbx_container_events_dropped_total{container=\"$flood\"} $((100 - written))" "$W/metrics.txt"
	grep -qx "sbx_events_dropped_total{budget=\"share\"} $((100 - written))" "$W/metrics.txt"
	grep -qx "sbx_container_events_dropped_total{container=\"$quiet\"} 0" "$W/metrics.txt"
	# Once the flood pauses, sbx events says how many went unreported.
	wait_for 10 bash -c "'$SBX' events --json '$flood' | jq -s -e 'map(select(.type == \"dropped\")) | length == 1 and .[0].dropped == $((100 - written))'"
	"$SBX" events "$flood" | grep -q "dropped $((100 - written)) events from container $flood"
	[ "$(rt runc state "$flood" | jq -r '.annotations["run.sbx.violations"]')" = 100 ]
}

@test "freeze and kill go through the cgroup and pidfd recorded at registration, never to a pid that now names another process" {
	start_watcher
	for d in $DELEGATES; do
		make_bundle "f-$d" "/sbx-probe delete_module=f1; while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=f2; sleep 30" '{"run.sbx.on-violation":"freeze"}'
		ct_id fid "frz-$d"
		start_ct "$d" "$fid" "f-$d"
		wait_for 10 has_violations "$fid" 1
		violations "$fid" | jq -e '.outcome == "refused EPERM; container frozen"'
		rec="$W/state/watcher/containers/$fid.json"
		jq -e '(.cgroup | length > 1) and (.cgroup_ino > 0)' "$rec"
		if [ -d /sys/fs/cgroup/freezer ]; then
			frz=$(jq -r .freezer "$rec")
			wait_for 5 grep -qx FROZEN "/sys/fs/cgroup/freezer$frz/freezer.state"
		fi
		"$d" --root "$W/root/$d" resume "$fid" 2>/dev/null || { [ -z "${frz:-}" ] || echo THAWED >"/sys/fs/cgroup/freezer$frz/freezer.state"; }

		# A container under kill whose record, at the next watcher start, names a bystander (pid and start time):
		# the record is not trusted, the bystander lives, the caller is still killed.
		sleep 1000 &
		BYSTANDER=$!
		make_bundle "k-$d" "while [ ! -e /go ]; do sleep 0.05; done; /sbx-probe delete_module=k1 || echo killed; sleep 30" '{"run.sbx.on-violation":"kill"}'
		ct_id kid "kill-$d"
		start_ct "$d" "$kid" "k-$d"
		rec="$W/state/watcher/containers/$kid.json"
		wait_for 10 test -e "$rec"
		st=$(awk '{print $22}' "/proc/$BYSTANDER/stat")
		jq --argjson p "$BYSTANDER" --argjson s "$st" '.pid = $p | .starttime = $s' "$rec" >"$rec.new" && mv "$rec.new" "$rec"
		run "$SBX" watch --restart
		[ "$status" -eq 0 ]
		wait_for 10 "$SBX" watch --status
		touch "$W/k-$d/rootfs/go"
		wait_for 10 has_violations "$kid" 1
		violations "$kid" | jq -e '.outcome | startswith("refused; caller killed")'
		kill -0 "$BYSTANDER"
		# The probe never returned (the shell saw it killed), nothing else was.
		wait_for 5 grep -qx killed "$W/k-$d/rootfs/out"
		! grep -q '^delete_module' "$W/k-$d/rootfs/out"
		kill -9 "$BYSTANDER"
		BYSTANDER=
		# The untouched record was checked again at the restart and bound: the next freeze still works.
		touch "$W/f-$d/rootfs/go"
		wait_for 10 has_violations "$fid" 2
		violations "$fid" | tail -1 | jq -e '.outcome == "refused EPERM; container frozen"'
		"$d" --root "$W/root/$d" resume "$fid" 2>/dev/null || { [ -z "${frz:-}" ] || echo THAWED >"/sys/fs/cgroup/freezer$frz/freezer.state"; }
	done
}

#!/usr/bin/env bats
# faults.bats - sbx-runtime when the bundle's file system fills up (ENOSPC) or fails (EIO) at any step, when it is
# killed (SIGKILL) at any step, and when 50 creates race on one profile and an empty memo: every container ends
# hardened or refused, config.json is always the old file or the new one whole, and nothing is left behind.
#
# How faults are made: build/sbx-fault (tests/fault/sbx-fault.c) runs sbx-runtime under a seccomp user-notification
# filter and, at its N-th file-system call under the bundle or the memo directory (open, write, chmod, chown,
# sync, link, rename, unlink, mkdir, ...), fails that call with the errno or kills sbx-runtime with SIGKILL.  No
# mount (a full tmpfs would be one on the host), no hook compiled into sbx: the binary under test is the one
# engines run.  Each test first counts the steps of a clean run, then faults every one of them in turn.  The
# delegate is a stub that records the document it was handed: what the real runtime does after sbx-runtime has
# exec'd it is not sbx's, and a stub shows exactly whether a spec went on unhardened.

load helpers

FAULT="$REPO/build/sbx-fault"

setup() {
	sbx_setup
	[ -x "$FAULT" ] || { echo "build/sbx-fault missing (make unit builds it)"; false; }
	export SBX_SECCOMP_CACHE="$T/cache"
	# The stub delegate: the spec (create) or process file (exec) it was given, copied aside.
	cat >"$T/stub" <<-'EOF'
		#!/bin/sh
		prev=
		for a; do
			case $prev in --bundle | -b) cp "$a/config.json" "$SEEN" ;; --process | -p) cp "$a" "$SEEN" ;; esac
			prev=$a
		done
		exit 0
	EOF
	chmod +x "$T/stub"
	export SEEN="$T/seen.json"
	ls -A "$T/bundle" >"$T/bundle.list"
}

teardown() {
	sbx_teardown
}

# fault MODE N DIR... -- ARGS: sbx-runtime ARGS under sbx-fault (MODE: kill, ENOSPC, EIO; N 0 = count only),
# steps under the DIRs; $status, $output (stderr and stdout), $steps.
fault() {
	local mode=$1 n=$2 under=()
	shift 2
	while [ "$1" != -- ]; do under+=(--under "$1"); shift; done
	shift
	local how=()
	case $mode in
	kill) [ "$n" -gt 0 ] && how=(--kill-at "$n") ;;
	*) [ "$n" -gt 0 ] && how=(--errno "$mode" --at "$n") ;;
	esac
	rm -f "$SEEN"
	run env SBX_RUNTIME="$T/stub" timeout 60 "$FAULT" "${under[@]}" "${how[@]}" -- "$SBX_RT" --root "$T/root" "$@"
	steps=$(sed -n 's/^sbx-fault: steps //p' <<<"$output")
}

# leftovers DIR...: temporaries sbx could have left (".NAME.sbx-*"), one per line.
leftovers() { find "$@" -maxdepth 1 -name '.*.sbx-*' 2>/dev/null || true; }

# holds FILE CHECK: FILE is one whole JSON document satisfying the jq CHECK (jq -e alone passes an empty file).
holds() { jq -es "length == 1 and (.[0] | $2)" "$1" >/dev/null 2>&1; }

# The document DOC after a fault: byte for byte the old one (ORIG), or the new one whole and hardened (JQ check).
old_or_new() {
	local doc=$1 orig=$2 check=$3
	cmp -s "$doc" "$orig" && return 0
	holds "$doc" "$check" || { echo "$doc is neither the old document nor a hardened one:"; head -c 300 "$doc"; return 1; }
}

# (What the filter holds is test_policy's and test_profile's business; here: sbx's rewrite, whole.)
HARDENED_SPEC='.annotations["run.sbx.policy"] != null and .process.noNewPrivileges == true
	and ([.process.capabilities[][]] | index("CAP_SYS_MODULE") | not) and .linux.seccomp.defaultAction != null'
HARDENED_PROC='.noNewPrivileges == true and ([.capabilities[]?[]] | index("CAP_SYS_MODULE") | not)'

# One faulted run's outcome: the document old or new; the delegate ran only with a hardened one; a refusal says
# why; after a kill, at most the one temporary of a writer killed between naming and renaming it, which the next
# write in that directory removes.
judge() {
	local mode=$1 n=$2 doc=$3 orig=$4 check=$5
	shift 5
	local what="$mode at step $n ($(grep -o 'step [0-9]*: .*' <<<"$output" | head -1))"
	old_or_new "$doc" "$orig" "$check" || { echo "$what"; return 1; }
	if [ -e "$SEEN" ]; then
		holds "$SEEN" "$check" || { echo "$what: the delegate ran with an unhardened document"; return 1; }
	fi
	case $mode in
	kill)
		[ "$status" -eq 137 ] || { echo "$what: status $status"; show; return 1; }
		[ ! -e "$SEEN" ] || { echo "$what: the delegate ran though sbx-runtime was killed before it"; return 1; }
		local left
		left=$(leftovers "$@")
		if [ -n "$left" ]; then
			[[ "$output" == *"renameat "* ]] && [ "$(wc -l <<<"$left")" -eq 1 ] ||
				{ echo "$what: left behind: $left"; return 1; }
		fi
		;;
	*)
		if [ "$status" -ne 0 ]; then
			[ ! -e "$SEEN" ] || { echo "$what: refused, yet the delegate ran"; return 1; }
			grep -q "sbx: error: .*$(errno_text "$mode")" <<<"$output" || { echo "$what: no clear error"; show; return 1; }
		else
			[ -e "$SEEN" ] || { echo "$what: succeeded without running the delegate"; return 1; }
		fi
		[ -z "$(leftovers "$@")" ] || { echo "$what: left behind: $(leftovers "$@")"; return 1; }
		;;
	esac
}

errno_text() { case $1 in ENOSPC) echo "No space left on device" ;; EIO) echo "Input/output error" ;; esac; }

# every_step MODE: create with MODE injected at each step of a clean run, the memo empty each time.
create_every_step() {
	local mode=$1 n total
	cp "$T/bundle/config.json" "$T/config.before"
	rm -rf "$T/cache"
	fault "$mode" 0 "$T/bundle" "$T/cache" -- create --bundle "$T/bundle" count
	[ "$status" -eq 0 ] && [ -n "$steps" ] && [ "$steps" -ge 8 ] || { echo "counting run: $steps steps"; show; false; }
	total=$steps
	for n in $(seq 1 "$total"); do
		cp "$T/config.before" "$T/bundle/config.json"
		rm -rf "$T/cache"
		fault "$mode" "$n" "$T/bundle" "$T/cache" -- create --bundle "$T/bundle" "c$n"
		judge "$mode" "$n" "$T/bundle/config.json" "$T/config.before" "$HARDENED_SPEC" "$T/bundle" "$T/cache"
		# Whatever a killed writer left goes at the next write in that directory; the bundle is as it was.
		cp "$T/config.before" "$T/bundle/config.json"
		run env SBX_RUNTIME="$T/stub" "$SBX_RT" --root "$T/root" create --bundle "$T/bundle" "after$n"
		[ "$status" -eq 0 ] || { show; false; }
		[ -z "$(leftovers "$T/bundle" "$T/cache")" ] || { echo "after step $n: $(leftovers "$T/bundle" "$T/cache")"; false; }
		[ "$(ls -A "$T/bundle")" = "$(cat "$T/bundle.list")" ] || { echo "bundle now holds: $(ls -A "$T/bundle")"; false; }
	done
	echo "# create, $mode at each of $total steps" >&3
}

@test "create: the file system full (ENOSPC) at each step: old or hardened config.json, refusal or hardened start, nothing left" {
	create_every_step ENOSPC
}

@test "create: the file system failing (EIO) at each step, bundle_sync on (fdatasync fails too)" {
	echo '{"watcher": {"enabled": false}, "bundle_sync": true}' >"$T/sbx.json"
	create_every_step EIO
}

@test "create: sbx-runtime killed (SIGKILL) at each step: old or hardened config.json, the delegate never ran, nothing left" {
	create_every_step kill
}

exec_every_step() {
	local mode=$1 n total
	mkdir -p "$T/proc"
	jq '.process | .capabilities.bounding += ["CAP_SYS_MODULE"] | .noNewPrivileges = false' "$T/bundle/config.json" \
		>"$T/process.before"
	cp "$T/process.before" "$T/proc/process.json"
	fault "$mode" 0 "$T/proc" -- exec --process "$T/proc/process.json" some-container
	[ "$status" -eq 0 ] && [ "$steps" -ge 3 ] || { echo "counting run: $steps steps"; show; false; }
	total=$steps
	for n in $(seq 1 "$total"); do
		cp "$T/process.before" "$T/proc/process.json"
		fault "$mode" "$n" "$T/proc" -- exec --process "$T/proc/process.json" some-container
		judge "$mode" "$n" "$T/proc/process.json" "$T/process.before" "$HARDENED_PROC" "$T/proc"
		cp "$T/process.before" "$T/proc/process.json"
		run env SBX_RUNTIME="$T/stub" "$SBX_RT" --root "$T/root" exec --process "$T/proc/process.json" some-container
		[ "$status" -eq 0 ] && [ -z "$(leftovers "$T/proc")" ] && [ "$(ls -A "$T/proc")" = process.json ] ||
			{ echo "after step $n:"; ls -A "$T/proc"; show; false; }
	done
	echo "# exec --process, $mode at each of $total steps" >&3
}

@test "exec --process: ENOSPC, EIO and SIGKILL at each step of the process file's rewrite" {
	exec_every_step ENOSPC
	exec_every_step EIO
	exec_every_step kill
}

# 50 creates at once, one profile, an empty memo: each is hardened (its container created from a hardened spec)
# or refused (no container, the old spec); the memo ends as one whole entry, no temporaries anywhere.
concurrent_creates() {
	local d=$1 i pids=() created=0 refused=0
	rm -rf "$T/cache"
	for i in $(seq 1 50); do
		mkdir -p "$T/b$i"
		jq --arg r "$T/bundle/rootfs" '.root.path = $r' "$T/bundle/config.json" >"$T/b$i/config.json"
		cp "$T/b$i/config.json" "$T/b$i.orig"
	done
	for i in $(seq 1 50); do
		SBX_RUNTIME=$d timeout 120 "$SBX_RT" --root "$T/root" create --bundle "$T/b$i" "$d-conc-$$-$i" \
			</dev/null >"$T/b$i.out" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 1 50); do
		if wait "${pids[$((i - 1))]}"; then
			created=$((created + 1))
			holds "$T/b$i/config.json" "$HARDENED_SPEC" || { echo "$i: created unhardened"; false; }
			[ "$(plain "$d" state "$d-conc-$$-$i" | jq -r .status)" = created ] || { echo "$i: no container"; false; }
		else
			refused=$((refused + 1))
			old_or_new "$T/b$i/config.json" "$T/b$i.orig" "$HARDENED_SPEC"
			! plain "$d" state "$d-conc-$$-$i" >/dev/null 2>&1 || { echo "$i: refused, yet a container exists"; false; }
			cat "$T/b$i.out"
		fi
		[ -z "$(leftovers "$T/b$i")" ] || { echo "$i: $(leftovers "$T/b$i")"; false; }
	done
	echo "# $d: 50 concurrent creates: $created hardened, $refused refused" >&3
	[ "$created" -eq 50 ]
	[ -z "$(leftovers "$T/cache" "$T/cache"/* 2>/dev/null)" ] || { echo "cache: $(leftovers "$T/cache")"; false; }
	[ "$(find "$T/cache" -name '*.memo' | wc -l)" -eq 1 ]
	for i in $(seq 1 50); do plain "$d" delete --force "$d-conc-$$-$i" >/dev/null 2>&1 || true; done
	[ -z "$(plain "$d" list -q)" ]
	# The memo written by 50 racers serves the next start whole.
	cp "$T/b1.orig" "$T/b1/config.json"
	# (Output to a file: the created container's init holds the create's stdio until it is deleted.)
	SBX_RUNTIME=$d "$SBX_RT" --debug --root "$T/root" create --bundle "$T/b1" "$d-conc-$$-again" </dev/null \
		>"$T/again.out" 2>&1 || { cat "$T/again.out"; false; }
	grep -q "from the hardening memo" "$T/again.out" || { cat "$T/again.out"; false; }
	plain "$d" delete --force "$d-conc-$$-again"
}

@test "50 concurrent creates sharing a profile and an empty memo (runc): all hardened, one whole memo, nothing left" {
	concurrent_creates runc
}

@test "50 concurrent creates sharing a profile and an empty memo (crun, BPF cache too)" {
	concurrent_creates crun
}

#!/usr/bin/env bats
# refusal.bats - bad input gets a clear error, exit 1, nothing started and nothing left behind.

load helpers

setup() { sbx_setup; }
teardown() { sbx_teardown; }

# refused DELEGATE PATTERN: sbx-runtime refused the create with a message matching PATTERN and left nothing.
refused() {
	local d=$1 pattern=$2 id
	id=$(new_id bad-$d)
	# Bounded, and not through a pipe: if the refusal broke, the container (or a blocked open of a fifo) must make
	# this test fail at once rather than hold it until the whole run's timeout.
	run bounded 20 env SBX_RUNTIME="$d" "$SBX_RT" --root "$T/root" --log "$T/log.json" --log-format json \
		create --bundle "$T/bundle" "$id"
	[ "$status" -eq 1 ] || { show; return 1; }
	grep -qE -- "$pattern" <<<"$output" || { echo "stderr lacks /$pattern/"; show; return 1; }
	# The engine reads the same message from the runtime log, in runc's JSON format.
	log_has "$T/log.json" error "$pattern" || return 1
	# Nothing was created: no state, no cgroup, no temporary file in the bundle.
	run plain "$d" state "$id"
	[ "$status" -ne 0 ] || { echo "container exists"; return 1; }
	[ ! -e "/sys/fs/cgroup/unified/$id" ] && [ ! -e "/sys/fs/cgroup/pids/$id" ]
	[ -z "$(find "$T/bundle" -maxdepth 1 -name '.config.json.sbx-*')" ]
}

@test "config.json that is a symlink is refused" {
	mv "$T/bundle/config.json" "$T/real.json"
	ln -s "$T/real.json" "$T/bundle/config.json"
	for d in $DELEGATES; do refused "$d" "symlink"; done
	cmp "$T/real.json" "$T/config.orig"
}

@test "config.json that is a fifo or a directory is refused" {
	rm "$T/bundle/config.json"
	mkfifo "$T/bundle/config.json"
	refused runc "not a regular file"
	rm "$T/bundle/config.json"
	mkdir "$T/bundle/config.json"
	refused crun "not a regular file|Is a directory"
}

@test "malformed, oversized, deep and ambiguous specs are refused" {
	echo '{"ociVersion": "1.0.2", "process": ' >"$T/bundle/config.json"
	refused runc "invalid JSON"
	head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/bundle/config.json"
	refused crun "larger than"
	python3 -c 'print("{\"a\":" + "["*100 + "]"*100 + "}")' >"$T/bundle/config.json"
	refused runc "nested deeper"
	bundle_reset
	# runc's Go decoder would read "Process" as "process": sbx must not harden one and run the other.
	bundle_edit '.Process = .process'
	refused runc "collide"
	bundle_reset
	# Only a case variant present: sbx would not see it, runc would.
	bundle_edit '.process.Capabilities = .process.capabilities | del(.process.capabilities)'
	refused runc "ambiguous"
	bundle_reset
	bundle_edit '.process.capabilities.bounding = "CAP_SYS_MODULE"'
	refused crun "must be an array"
}

@test "a missing bundle and unknown create options are refused" {
	run sbx_rt runc create --bundle "$T/nope" "$(new_id nobundle)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/nope"*"No such file or directory"* ]] || { show; false; }
	run sbx_rt runc create --bundle "$T/bundle" --config other.json "$(new_id opt)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown option '--config'"* ]] || { show; false; }
	cmp "$T/bundle/config.json" "$T/config.orig"
}

@test "a bad delegate choice is a clear error and nothing runs" {
	run env SBX_RUNTIME=/nonexistent/runc "$SBX_RT" --root "$T/root" run --bundle "$T/bundle" x1
	[ "$status" -eq 1 ]
	[[ "$output" == *"/nonexistent/runc"*"SBX_RUNTIME"* ]] || { show; false; }
	echo '{"runtime": "no-such-runtime"}' >"$T/sbx.json"
	run env -u SBX_RUNTIME SBX_CONFIG="$T/sbx.json" "$SBX_RT" --root "$T/root" run --bundle "$T/bundle" x2
	[ "$status" -eq 1 ]
	[[ "$output" == *"no-such-runtime"*"not found"* ]] || { show; false; }
	echo '{"runtime": ' >"$T/sbx.json"
	run env -u SBX_RUNTIME SBX_CONFIG="$T/sbx.json" "$SBX_RT" --root "$T/root" run --bundle "$T/bundle" x3
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/sbx.json"*"invalid JSON"* ]] || { show; false; }
	cmp "$T/bundle/config.json" "$T/config.orig"
}

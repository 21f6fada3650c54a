# lib.sh - shared by hack/ scripts: a throw-away busybox bundle and a private runtime root.
# Usage: . hack/lib.sh; sbx_scratch_bundle ARGS_JSON; ... ; the EXIT trap removes everything.

# sbx_scratch_bundle ARGS_JSON: sets $d (temp dir) with $d/bundle (busybox + sbx-probe, args ARGS_JSON,
# config also kept as $d/config.json) and $d/root, and arranges for both to be removed on exit.
sbx_scratch_bundle() {
	d=$(mktemp -d /tmp/sbx-scratch.XXXXXX)
	trap sbx_scratch_cleanup EXIT
	# Private settings and state; a caller that wants the watcher starts its own (sbx_scratch_watcher).
	echo '{"watcher": {"enabled": false}}' >"$d/sbx.json"
	export SBX_CONFIG="$d/sbx.json" SBX_STATE_DIR="$d/state"
	mkdir -p "$d/bundle/rootfs/bin" "$d/root"
	cp /bin/busybox build/sbx-probe "$d/bundle/rootfs/bin/"
	ln -s busybox "$d/bundle/rootfs/bin/true"
	(cd "$d/bundle" && runc spec)
	jq --argjson a "$1" '.process.terminal=false | .root.readonly=true | .process.args=$a' \
		"$d/bundle/config.json" >"$d/config.json"
	cp "$d/config.json" "$d/bundle/config.json"
}

# sbx_scratch_watcher: a private watcher for this scratch area (socket, journal and registry under $d, no BPF
# pins on the host); sets WATCH_PID.
sbx_scratch_watcher() {
	cat >"$d/sbx.json" <<-EOF
		{"watcher": {"socket": "$d/state/watcher.sock", "on_demand": false},
		 "journal": {"path": "$d/events.jsonl"}, "bpf": {"enabled": false}}
	EOF
	bin/sbx watch >"$d/watch.log" 2>&1 &
	WATCH_PID=$!
	for _ in $(seq 50); do [ -S "$d/state/watcher.sock" ] && return 0; sleep 0.1; done
	echo "the watcher did not start:" >&2
	cat "$d/watch.log" >&2
	return 1
}

sbx_scratch_cleanup() {
	local rt c
	[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null
	for rt in runc crun; do
		for c in $("$rt" --root "$d/root" list -q 2>/dev/null); do
			"$rt" --root "$d/root" delete --force "$c" >/dev/null 2>&1
		done
	done
	rm -rf "$d"
}

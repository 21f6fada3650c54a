# lib.sh - shared by hack/ scripts: a throw-away busybox bundle and a private runtime root.
# Usage: . hack/lib.sh; sbx_scratch_bundle ARGS_JSON; ... ; the EXIT trap removes everything.

# sbx_scratch_bundle ARGS_JSON: sets $d (temp dir) with $d/bundle (busybox + sbx-probe, args ARGS_JSON,
# config also kept as $d/config.json) and $d/root, and arranges for both to be removed on exit.
sbx_scratch_bundle() {
	d=$(mktemp -d /tmp/sbx-scratch.XXXXXX)
	trap sbx_scratch_cleanup EXIT
	mkdir -p "$d/bundle/rootfs/bin" "$d/root"
	cp /bin/busybox build/sbx-probe "$d/bundle/rootfs/bin/"
	ln -s busybox "$d/bundle/rootfs/bin/true"
	(cd "$d/bundle" && runc spec)
	jq --argjson a "$1" '.process.terminal=false | .root.readonly=true | .process.args=$a' \
		"$d/bundle/config.json" >"$d/config.json"
	cp "$d/config.json" "$d/bundle/config.json"
}

sbx_scratch_cleanup() {
	local rt c
	for rt in runc crun; do
		for c in $("$rt" --root "$d/root" list -q 2>/dev/null); do
			"$rt" --root "$d/root" delete --force "$c" >/dev/null 2>&1
		done
	done
	rm -rf "$d"
}

# helpers.bash - shared set-up for sbx's bats suites: busybox bundles, private runtime roots, assertions.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SBX_RT="$REPO/bin/sbx-runtime"
SBX="$REPO/bin/sbx"
PROBE="$REPO/build/sbx-probe"
DELEGATES="runc crun"
export SBX_CONFIG="${SBX_CONFIG:-/nonexistent/sbx.json}"

# A fresh temp area per test: $T holds the bundle ($T/bundle), the delegate root ($T/root) and logs.
sbx_setup() {
	T=$(mktemp -d /tmp/sbx-test.XXXXXX)
	mkdir -p "$T/root" "$T/bundle/rootfs/bin" "$T/bundle/rootfs/proc" "$T/bundle/rootfs/dev" "$T/bundle/rootfs/tmp"
	cp /bin/busybox "$PROBE" "$T/bundle/rootfs/bin/"
	for t in sh cat grep sleep echo ls; do ln -sf busybox "$T/bundle/rootfs/bin/$t"; done
	(cd "$T/bundle" && runc spec)
	# A plain, engine-like spec: no terminal, read-only root, the probe as the process.
	bundle_edit '.process.terminal=false | .root.readonly=true | .process.args=["/bin/sbx-probe","modules"]'
	cp "$T/bundle/config.json" "$T/config.orig"
	CONTAINERS=()
}

sbx_teardown() {
	local c d
	for c in "${CONTAINERS[@]}"; do
		for d in $DELEGATES; do "$d" --root "$T/root" delete --force "$c" >/dev/null 2>&1 || true; done
	done
	[ -n "${T:-}" ] && rm -rf "$T"
}

# bundle_edit JQ: edit the bundle's config.json in place.
bundle_edit() {
	jq "$1" "$T/bundle/config.json" >"$T/config.tmp" && mv "$T/config.tmp" "$T/bundle/config.json"
}

bundle_reset() { cp "$T/config.orig" "$T/bundle/config.json"; }

# A container id unique to this test, remembered for teardown.
new_id() {
	local id="sbx-$1-$$-$RANDOM"
	CONTAINERS+=("$id")
	echo "$id"
}

# sbx_rt DELEGATE ARGS...: sbx-runtime with a private root, delegating to DELEGATE.
sbx_rt() {
	local d=$1
	shift
	SBX_RUNTIME="$d" "$SBX_RT" --root "$T/root" "$@"
}

# plain DELEGATE ARGS...: the delegate alone, same private root (the baseline sbx must beat).
plain() {
	local d=$1
	shift
	"$d" --root "$T/root" "$@"
}

# Print what a failing test saw.
show() {
	echo "status=$status"
	echo "output<<"
	echo "$output"
	echo ">>"
}

# expect_line LINE: the output has exactly this line.
expect_line() {
	if ! grep -qxF -- "$1" <<<"$output"; then
		echo "expected line: $1"
		show
		return 1
	fi
}

# The capability mask of a /proc/PID/status line ("CapEff:\t...") has bit N set?
cap_bit_set() {
	local hex=$1 bit=$2
	(((16#$hex >> bit) & 1))
}

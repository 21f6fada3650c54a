# helpers.bash - shared set-up for sbx's bats suites: busybox bundles, private runtime roots, assertions.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The binaries under test; the environment may name others (hack/check.sh's sanitizer tier runs a sanitized build).
SBX_RT=${SBX_RT:-"$REPO/bin/sbx-runtime"}
SBX=${SBX:-"$REPO/bin/sbx"}
PROBE=${PROBE:-"$REPO/build/sbx-probe"}
DELEGATES="runc crun"

# A fresh temp area per test: $T holds the bundle ($T/bundle), the delegate root ($T/root) and logs.
sbx_setup() {
	T=$(mktemp -d /tmp/sbx-test.XXXXXX)
	# Private settings and state: no watcher is started on demand (it would outlive the test and write to the
	# host's journal); suites about the watcher start their own.
	echo '{"watcher": {"enabled": false}}' >"$T/sbx.json"
	export SBX_CONFIG="$T/sbx.json" SBX_STATE_DIR="$T/state"
	mkdir -p "$T/root" "$T/bundle/rootfs/bin" "$T/bundle/rootfs/proc" "$T/bundle/rootfs/dev" "$T/bundle/rootfs/tmp"
	cp /bin/busybox "$PROBE" "$T/bundle/rootfs/bin/"
	for t in sh cat grep sleep echo ls; do ln -sf busybox "$T/bundle/rootfs/bin/$t"; done
	(cd "$T/bundle" && runc spec)
	# A plain, engine-like spec: no terminal, read-only root, the probe as the process.
	bundle_edit '.process.terminal=false | .root.readonly=true | .process.args=["/bin/sbx-probe","modules"]'
	cp "$T/bundle/config.json" "$T/config.orig"
}

# Remove every container this test created: whatever is in its private root, for each delegate.
sbx_teardown() {
	local c d
	[ -n "${T:-}" ] || return 0
	for d in $DELEGATES; do
		for c in $("$d" --root "$T/root" list -q 2>/dev/null); do
			"$d" --root "$T/root" delete --force "$c" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$T"
}

# bundle_edit JQ: edit the bundle's config.json in place.
bundle_edit() {
	jq "$1" "$T/bundle/config.json" >"$T/config.tmp" && mv "$T/config.tmp" "$T/bundle/config.json"
}

bundle_reset() { cp "$T/config.orig" "$T/bundle/config.json"; }

# A container id unique to this test.
new_id() { echo "sbx-$1-$$-$RANDOM"; }

# sbx_create DELEGATE ID [ARGS...]: create a container in the background sense: its stdio must not hold bats'
# output open, so it goes to files under $T.
sbx_create() {
	local d=$1 id=$2
	shift 2
	sbx_rt "$d" create --bundle "$T/bundle" "$@" "$id" </dev/null >"$T/$id.out" 2>"$T/$id.err"
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

# log_has FILE LEVEL REGEX: a runc-format JSON log has a line of LEVEL whose msg matches REGEX.
# (jq -s: jq 1.6's -e judges only the last input line.)
log_has() {
	jq -s -e --arg l "$2" --arg re "$3" 'map(select(.level==$l and (.msg|test($re)))) | length > 0' "$1" >/dev/null ||
		{ echo "no $2 line matching /$3/ in $1:"; cat "$1"; return 1; }
}

# expect_modules_eperm: the probe's three module syscalls were each refused with EPERM.
expect_modules_eperm() {
	expect_line "finit_module 1 EPERM" && expect_line "init_module 1 EPERM" && expect_line "delete_module 1 EPERM"
}

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

# sbx_allow_tenants JQ-OBJECT: merge tenants allowances into the test's sbx.json (annotations only loosen what
# sbx.json allows), e.g. '{"allow_nnp_optout": true}'.
sbx_allow_tenants() {
	jq --argjson t "$1" '.tenants = ((.tenants // {}) * $t)' "$SBX_CONFIG" >"$SBX_CONFIG.tmp" && mv "$SBX_CONFIG.tmp" "$SBX_CONFIG"
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

# ---- time bounds and host-safe probes (shared by every suite; watch_helpers.bash and engines.bash load this) ----

# Every test has its own time bound: bats kills a test that runs longer (and still runs its teardown), so a
# fail-closed path that breaks into a hang fails that test instead of stalling the whole run.  A suite may set
# a larger bound before loading its helpers.
: "${BATS_TEST_TIMEOUT:=${SBX_TEST_TIMEOUT:-180}}"
export BATS_TEST_TIMEOUT

# bounded SECONDS CMD ARGS...: run an external command (not a shell function) with stdin from /dev/null and its
# output through a file, killed (TERM, then KILL 2 s later) after SECONDS.  The file matters as much as the
# timeout: a container left behind by a broken refusal would hold a pipe open, and `run` would wait on it for
# ever.  Exits with the command's status, 124 when it timed out (and says so on stderr).
bounded() {
	local limit=$1 out rc=0
	shift
	out=$(mktemp "${BATS_TEST_TMPDIR:-/tmp}/sbx-bounded.XXXXXX")
	timeout -k 2 "$limit" "$@" </dev/null >"$out" 2>&1 || rc=$?
	cat "$out"
	rm -f "$out"
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "bounded: timed out after ${limit}s: $*" >&2
	return "$rc"
}

# probe_path DIR: a path under DIR that no one else uses, for probing whether DIR is writable from a sandbox.
# If the guarantee under test breaks, the probe lands on the host: probes_cleanup (call it in teardown)
# removes every path handed out, whatever happened.
probe_path() {
	local p
	p="$1/.sbx-probe-$$-$RANDOM$RANDOM"
	echo "$p" >>"${BATS_TEST_TMPDIR:-/tmp}/sbx-probes"
	echo "$p"
}

probes_cleanup() {
	local list="${BATS_TEST_TMPDIR:-/tmp}/sbx-probes" p
	[ -f "$list" ] || return 0
	while read -r p; do
		[ -n "$p" ] || continue
		if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir "$p" 2>/dev/null || rm -rf "$p"; else rm -f "$p"; fi
		[ ! -e "$p" ] || echo "# could not remove probe $p" >&2
	done <"$list"
	rm -f "$list"
}

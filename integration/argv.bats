#!/usr/bin/env bats
# argv.bats - sbx-runtime reads a command line as the delegate does (runc: Go flag; crun: argp prefixes), hardens
# or refuses every subcommand that starts a process from a spec, and hands on only those that start nothing.

load helpers

EXPLAIN="$REPO/build/tests/test_args"

setup() {
	sbx_setup
	bundle_edit '.process.args=["/bin/sleep","60"]'
	cp "$T/bundle/config.json" "$T/config.orig"
	# Two bundles: b1 named on the command line, b2 the working directory (the bundle when none is named).
	mkdir -p "$T/b1" "$T/b2"
	cp -a "$T/bundle/rootfs" "$T/b1/rootfs"
	cp -a "$T/bundle/rootfs" "$T/b2/rootfs"
	reset_bundles
}

teardown() {
	local pid
	if [ -n "${T:-}" ] && [ -S "$T/state/w.sock" ]; then
		pid=$(SBX_CONFIG="$T/sbx.json" "$SBX" watch --status 2>/dev/null | sed -n 's/^ok pid=\([0-9]*\).*/\1/p')
		[ -n "$pid" ] && { kill "$pid" 2>/dev/null; sleep 0.2; kill -9 "$pid" 2>/dev/null || true; }
	fi
	sbx_teardown
}

reset_bundles() {
	cp "$T/config.orig" "$T/b1/config.json"
	cp "$T/config.orig" "$T/b2/config.json"
}

# created DELEGATE: "ID@BUNDLE" for each container in the test's root, which it then deletes.
created() {
	local d=$1 c
	for c in $("$d" --root "$T/root" list -q 2>/dev/null); do
		echo "$c@$("$d" --root "$T/root" state "$c" | jq -r .bundle)"
		"$d" --root "$T/root" delete --force "$c" >/dev/null 2>&1 || true
	done
}

# in_b2 CMD...: CMD run from bundle b2, stdio away from bats, bounded in time.
in_b2() { (cd "$T/b2" && timeout 20 "$@" </dev/null >"$T/last.out" 2>&1); }

# The shapes: words after "--root R" (B1 stands for bundle b1's path).  Each is read one way by runc and
# possibly another by crun; sbx must read it as the delegate in hand does.
SHAPES=(
	"create --bundle B1 x1"
	"create -b B1 x1"
	"create -b=B1 x1"
	"create -bB1 x1"
	"create --bund B1 x1"
	"create --bundle=B1 x1"
	"create x1 --bundle B1"
	"create --no-pivot x1 -b B1"
	"create -b B1 --no-pivot=true x1"
	"create -b B1 -- x1"
	"create --bundle --pid-file x1"
	"create --pid-file=P -b B1 x1"
	"create -b B1 --help x1"
	"create x1"
	"--log-f json create -b B1 x1"
	"--cgroup-m cgroupfs create -b B1 x1"
	"--debug create -b B1 x1"
	"-debug create -bundle B1 x1"
	"--systemd-cgroup=false create -b B1 x1"
	"-- create -b B1 x1"
	"--help create -b B1 x1"
	"--log L create -b B1 x1"
	"--log=L --log-format=json create --bundle=B1 x1"
	"run -d -b B1 x1"
	"run -db B1 x1"
	"run --det -b B1 x1"
	"run -d x1"
	"create --bundle B1 --config config.json x1"
	"create -f config.json -b B1 x1"
	"restore -b B1 x1"
	"frobnicate -b B1 x1"
)

shape_words() { sed -e "s#B1#$T/b1#g" -e "s#\bP\b#$T/pid#g" -e "s#\bL\b#$T/log.json#g" <<<"$1"; }

@test "differential: for every shape, a container the delegate would create from a bundle is created only from a bundle sbx hardened" {
	local d s words plain reading sbxmade c id b rb accepted=0 refused_by_sbx=0
	for d in $DELEGATES; do
		for s in "${SHAPES[@]}"; do
			words=$(shape_words "$s")
			# 1. The delegate alone: what it creates, and from which bundle.
			reset_bundles
			# shellcheck disable=SC2086
			in_b2 "$d" --root "$T/root" $words || true
			plain=$(created "$d")
			# 2. sbx's reading of the same words.
			# shellcheck disable=SC2086
			reading=$("$EXPLAIN" --explain "$d" --root "$T/root" $words)
			if [ -n "$plain" ]; then
				accepted=$((accepted + 1))
				id=${plain%%@*} b=${plain#*@}
				case "$reading" in
				"harden create "* | "harden run "*)
					rb=$(sed -n 's/.* bundle=\(.*\) id=.*/\1/p' <<<"$reading")
					rb=$(cd "$T/b2" && realpath -m -- "$rb")
					[ "$rb" = "$b" ] && [[ "$reading" == *" id=$id" ]] ||
						{ echo "$d [$s]: delegate made $plain, sbx read: $reading"; false; }
					;;
				"refuse"*) refused_by_sbx=$((refused_by_sbx + 1)) ;;
				*) echo "$d [$s]: delegate made $plain, sbx read: $reading"; false ;;
				esac
			fi
			# 3. Through sbx-runtime: whatever gets created comes from a hardened config.json.
			reset_bundles
			# shellcheck disable=SC2086
			SBX_RUNTIME=$d in_b2 "$SBX_RT" --root "$T/root" $words || true
			sbxmade=$(created "$d")
			for c in $sbxmade; do
				b=${c#*@}
				jq -e '.annotations["run.sbx.policy"]' "$b/config.json" >/dev/null ||
					{ echo "$d [$s]: $c created from an unhardened config.json"; cat "$T/last.out"; false; }
			done
			echo "# $d [$s]: delegate: ${plain:-nothing}; sbx: $reading; through sbx: ${sbxmade:-nothing}" >&3
		done
	done
	# The corpus must exercise both sides: shapes the delegates accept, and refusals where sbx errs on the safe side.
	echo "# $accepted shape runs accepted by the delegate alone, $refused_by_sbx of them refused by sbx" >&3
	[ "$accepted" -ge 20 ]
}

@test "the issue's examples: crun's prefixes and -b=/x no longer get past unhardened" {
	# Once: sbx skipped a word it did not know, took the next for the subcommand, and handed on everything.
	sbx_rt crun --log-f json --cgroup-m cgroupfs create -b "$T/b1" x1 </dev/null >"$T/out" 2>&1 || { cat "$T/out"; false; }
	jq -e '.annotations["run.sbx.policy"]' "$T/b1/config.json" >/dev/null
	! jq -e '.process.capabilities.bounding | index("CAP_SYS_MODULE")' "$T/b1/config.json" >/dev/null
	plain crun delete --force x1
	# crun reads -b=/x as the bundle "=/x": sbx reads it so too, and so hardens nothing else.
	mkdir -p "$T/b2/=x"
	cp -a "$T/b1/rootfs" "$T/b2/=x/rootfs"
	cp "$T/config.orig" "$T/b2/=x/config.json"
	(cd "$T/b2" && SBX_RUNTIME=crun "$SBX_RT" --root "$T/root" create -b=x x2 </dev/null >"$T/out" 2>&1)
	jq -e '.annotations["run.sbx.policy"]' "$T/b2/=x/config.json" >/dev/null
	cmp -s "$T/config.orig" "$T/b2/config.json"
}

@test "restore is refused with both delegates; the bundle is left as it was" {
	for d in $DELEGATES; do
		run sbx_rt "$d" restore --bundle "$T/b1" --image-path "$T/img" x1
		[ "$status" -ne 0 ] && [[ "$output" == *"subcommand 'restore' is refused"* ]] || { show; false; }
		cmp -s "$T/config.orig" "$T/b1/config.json"
		[ -z "$(created "$d")" ]
	done
}

@test "unknown subcommands are refused; those that start nothing are handed on" {
	for d in $DELEGATES; do
		run sbx_rt "$d" frobnicate x1
		[ "$status" -ne 0 ] && [[ "$output" == *"unknown subcommand 'frobnicate'"* ]] || { show; false; }
		run sbx_rt "$d" init
		[ "$status" -ne 0 ] && [[ "$output" == *"refused"* ]] || { show; false; }
		run sbx_rt "$d" list -q
		[ "$status" -eq 0 ] || { show; false; }
		run sbx_rt "$d" --bogus list
		[ "$status" -ne 0 ] && [[ "$output" == *"unknown option '--bogus'"* ]] || { show; false; }
	done
}

@test "exec -p <(...): a process file behind /dev/fd is read, hardened and run, as runc and crun read it" {
	local d id
	for d in $DELEGATES; do
		id=$(new_id argv-$d)
		sbx_rt "$d" run -d --bundle "$T/b1" "$id" </dev/null >/dev/null 2>&1
		run sbx_rt "$d" exec -p <(jq -n '{cwd: "/", args: ["/bin/sh", "-c", "grep -E \"^(NoNewPrivs|CapBnd)\" /proc/self/status"],
			noNewPrivileges: false, capabilities: {bounding: ["CAP_SYS_MODULE"], effective: ["CAP_SYS_MODULE"],
			permitted: ["CAP_SYS_MODULE"]}}') "$id"
		[ "$status" -eq 0 ] || { show; false; }
		grep -qx "NoNewPrivs:	1" <<<"$output" || { show; false; }
		! cap_bit_set "$(awk '$1=="CapBnd:" {print $2}' <<<"$output")" 16 || { show; false; }
		# Another fd form, and a symlink elsewhere still refused.
		ln -s "$T/nowhere.json" "$T/link.json"
		run sbx_rt "$d" exec -p "$T/link.json" "$id"
		[ "$status" -ne 0 ] && [[ "$output" == *"symlink"* ]] || { show; false; }
		rm -f "$T/link.json"
		plain "$d" delete --force "$id"
	done
}

@test "SCMP_ACT_NOTIFY rules without listenerPath: sbx lends no listener; the delegate decides as it does alone" {
	local d
	# A watcher for this test alone, started on demand by sbx-runtime.
	jq -n --arg t "$T" '{watcher: {socket: ($t + "/state/w.sock"), log: ($t + "/watcher.log")},
		journal: {path: ($t + "/events.jsonl")}, bpf: {enabled: false}}' >"$T/sbx.json"
	for d in $DELEGATES; do
		cp "$T/config.orig" "$T/b1/config.json"
		jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
			syscalls: [{names: ["mkdir"], action: "SCMP_ACT_NOTIFY"}]}' "$T/config.orig" >"$T/b1/config.json"
		cp "$T/b1/config.json" "$T/notify.json"
		# runc refuses such a filter ("listenerPath is not set"); crun 1.8 accepts it and attaches no listener.
		local want=0 got=0
		plain "$d" create --bundle "$T/b1" n-plain </dev/null >"$T/out" 2>&1 || want=$?
		created "$d" >/dev/null # crun made one: gone before sbx's turn
		cp "$T/notify.json" "$T/b1/config.json"
		sbx_rt "$d" create --bundle "$T/b1" "n-$d" </dev/null >"$T/out" 2>&1 || got=$?
		[ "$d" != runc ] || [ "$want" -ne 0 ] || { echo "runc accepted it"; false; }
		[ $((want != 0)) -eq $((got != 0)) ] || { echo "$d: alone exit $want, through sbx exit $got"; cat "$T/out"; false; }
		# sbx did not lend its listener; the module block stayed a plain EPERM rule.
		! jq -e '.linux.seccomp.listenerPath' "$T/b1/config.json" >/dev/null || { jq .linux.seccomp "$T/b1/config.json"; false; }
		jq -e '.annotations["run.sbx.monitor"] == "eperm"' "$T/b1/config.json" >/dev/null
		created "$d" >/dev/null
	done
}

@test "differential, exec: the process file the delegate runs is the one sbx sanitized" {
	local d s words id plain reading through want
	for n in one two; do
		jq -n --arg n "$n" '{cwd: "/", noNewPrivileges: false, args: ["/bin/sh", "-c",
			("echo " + $n + "; grep ^NoNewPrivs /proc/self/status")]}' >"$T/p-$n.json"
	done
	local shapes=(
		"exec -p P1 ID"
		"exec --process=P1 ID"
		"exec -pP1 ID"
		"exec --proc P1 ID"
		"exec --process P1 -p P2 ID"
		"exec -p=P1 ID"
		"exec ID -p P2"
		"exec --process P1 ID --process P2"
	)
	for d in $DELEGATES; do
		id=$(new_id argvx-$d)
		sbx_rt "$d" run -d --bundle "$T/b1" "$id" </dev/null >/dev/null 2>&1
		for s in "${shapes[@]}"; do
			words=$(sed -e "s#P1#$T/p-one.json#g" -e "s#P2#$T/p-two.json#g" -e "s#ID#$id#g" <<<"$s")
			# shellcheck disable=SC2086
			plain=$(timeout 20 "$d" --root "$T/root" $words 2>/dev/null </dev/null | head -1) || true
			# shellcheck disable=SC2086
			reading=$("$EXPLAIN" --explain "$d" --root "$T/root" $words)
			# shellcheck disable=SC2086
			through=$(SBX_RUNTIME=$d timeout 20 "$SBX_RT" --root "$T/root" $words 2>&1 </dev/null) || true
			echo "# $d [$s]: delegate ran: ${plain:-nothing}; sbx: $reading" >&3
			case "$plain" in
			one | two)
				want="process=$T/p-$plain.json"
				[[ "$reading" == "refuse"* || "$reading" == *"$want" ]] ||
					{ echo "$d [$s]: the delegate ran $plain, sbx read: $reading"; false; }
				;;
			esac
			if grep -qx "one\|two" <<<"$through"; then
				grep -qx "NoNewPrivs:	1" <<<"$through" || { echo "$d [$s]: unsanitized: $through"; false; }
			fi
		done
		plain "$d" delete --force "$id"
	done
}

#!/usr/bin/env bats
# escape.bats - escape attempts: every risky syscall that reaches the kernel when the delegate runs the probe alone
# is refused by sbx's filter (default, strict), and baseline only adds the module block; on runc and on crun.
# The container holds every capability the host can give, so an EPERM under sbx is the filter's doing, not a
# capability check (the same probe run by the delegate alone shows what the kernel answers).

load helpers

ESCAPE="$REPO/build/sbx-escape"
# Lead's probe (build/sbx-probe) and this suite's (build/sbx-escape).
RISKY_PROBE="modules unshare_user unshare_ns mount_tmpfs bpf perf_event_open userfaultfd keyctl kexec_load io_uring_setup socket_alg socket_vsock"
RISKY_ESCAPE="clone_newuser clone_newns clone_newnet unshare_newpid unshare_newcgroup setns open_by_handle_at name_to_handle_at add_key request_key fsopen open_tree umount2 pivot_root swapon reboot acct quotactl ioperm iopl clock_settime settimeofday syslog lookup_dcookie personality socket_tipc socket_rds socket_key socket_xdp socket_can socket_bluetooth"
BENIGN="clone_thread socket_inet socket_unix"

setup() {
	sbx_setup
	[ -x "$ESCAPE" ] || { echo "build/sbx-escape missing: make builds it through profiles/profiles.mk"; false; }
	cp "$ESCAPE" "$T/bundle/rootfs/bin/"
	# Each profile is tested on its own: the annotation replaces the node's (not intersected with it).
	sbx_allow_tenants '{"allow_profile": true}'
	export SBX_SECCOMP_CACHE="$T/cache"
	local all
	all=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' | sed 's/^cap_/CAP_/' | tr a-z A-Z | jq -R . | jq -s -c .)
	# Privileged-like: every capability, no engine filter, a writable /mnt for mount attempts.
	bundle_edit ".process.capabilities = {bounding: $all, effective: $all, permitted: $all, inheritable: $all, ambient: $all}
		| del(.linux.seccomp) | .root.readonly = false
		| .process.args = [\"/bin/sh\", \"-c\", \"mkdir -p /mnt; sbx-probe $RISKY_PROBE; sbx-escape $RISKY_ESCAPE clone3 $BENIGN\"]"
	cp "$T/bundle/config.json" "$T/config.orig"
}

teardown() { sbx_teardown; }

# probe_run DELEGATE [PROFILE]: run the probes by the delegate alone (no PROFILE) or under sbx; output in $output.
probe_run() {
	local d=$1 p=${2:-}
	bundle_reset
	if [ -z "$p" ]; then
		run plain "$d" run --bundle "$T/bundle" "$(new_id plain-$d)"
	else
		bundle_edit ".annotations[\"run.sbx.profile\"] = \"$p\""
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id $p-$d)"
	fi
	[ "$status" -eq 0 ] || { show; return 1; }
}

# errno_of OP OUTPUT: the errno the probe printed for OP.
errno_of() { awk -v op="$1" '$1 == op {print $2}' <<<"$2"; }

# expect_refused DELEGATE PROFILE: the check described at the top of the file.
expect_refused() {
	local d=$1 p=$2 plain_out sbx_out op e0 e1 reached=0 bad=0
	probe_run "$d" || return 1
	plain_out=$output
	probe_run "$d" "$p" || return 1
	sbx_out=$output
	[ "$(jq -r '.annotations["run.sbx.profile"]' "$T/bundle/config.json")" = "$p" ]
	if [ "$d" = crun ]; then
		# crun got the filter precompiled from sbx's cache.
		jq -e '.annotations["run.oci.seccomp_bpf_data"] | length > 100' "$T/bundle/config.json" >/dev/null
	fi
	for op in init_module finit_module delete_module unshare_user unshare_ns mount_tmpfs bpf perf_event_open \
		userfaultfd keyctl kexec_load io_uring_setup socket_alg socket_vsock $RISKY_ESCAPE clone3; do
		e0=$(errno_of "$op" "$plain_out")
		e1=$(errno_of "$op" "$sbx_out")
		[ -n "$e0" ] && [ -n "$e1" ] || { echo "$op: missing from the output"; bad=1; continue; }
		if [ "$e0" != 1 ]; then reached=$((reached + 1)); fi
		if [ "$op" = clone3 ] && [ "$p" != baseline ]; then
			# Refused with ENOSYS on purpose: glibc then falls back to clone, whose flags the filter checks.
			[ "$e1" = 38 ] || { echo "$d/$p: clone3 gave errno $e1, expected 38 (ENOSYS)"; bad=1; }
		elif [ "$e1" != 1 ]; then
			echo "$d/$p: $op reached the kernel (errno $e1; alone: $e0), expected EPERM from the filter"
			bad=1
		fi
	done
	for op in $BENIGN; do
		e1=$(errno_of "$op" "$sbx_out")
		[ "$e1" = 0 ] || { echo "$d/$p: ordinary $op failed with errno $e1"; bad=1; }
	done
	echo "# $d/$p: $reached risky operations reached the kernel without sbx; all refused under sbx" >&3
	# The probe is only meaningful if most operations really reach the kernel when the delegate runs it alone.
	[ "$reached" -ge 30 ] || { echo "only $reached operations reached the kernel alone"; bad=1; }
	[ "$bad" = 0 ] || { echo "--- alone:"; echo "$plain_out"; echo "--- sbx:"; echo "$sbx_out"; return 1; }
}

@test "escape: default refuses every risky syscall the kernel accepts (runc)" {
	expect_refused runc default
}

@test "escape: default refuses every risky syscall the kernel accepts (crun, precompiled BPF)" {
	expect_refused crun default
}

@test "escape: strict refuses every risky syscall the kernel accepts (runc)" {
	expect_refused runc strict
}

@test "escape: strict refuses every risky syscall the kernel accepts (crun, precompiled BPF)" {
	expect_refused crun strict
}

@test "escape: baseline changes nothing but the module block and the mount family (runc and crun)" {
	local d op e0 e1 plain_out
	for d in $DELEGATES; do
		probe_run "$d"
		plain_out=$output
		probe_run "$d" baseline
		# The mount family is refused to every container without a user namespace of its own (policy/hostpaths.c):
		# mount_tmpfs mounts in a nested user namespace, which works without sbx.
		for op in init_module finit_module delete_module mount_tmpfs fsopen open_tree umount2 pivot_root open_by_handle_at; do
			[ "$(errno_of $op "$output")" = 1 ] || { echo "$d: $op not EPERM"; show; false; }
		done
		for op in unshare_user bpf keyctl io_uring_setup socket_vsock $RISKY_ESCAPE $BENIGN; do
			case $op in fsopen | open_tree | umount2 | pivot_root | open_by_handle_at) continue ;; esac
			e0=$(errno_of "$op" "$plain_out")
			e1=$(errno_of "$op" "$output")
			[ "$e0" = "$e1" ] || { echo "$d/baseline: $op gave $e1, alone $e0"; show; false; }
		done
	done
}

@test "escape: without capabilities the refusal is still the filter's (sbx profile check agrees)" {
	# The same verdicts from the compiled filter itself, independent of any capability.
	local s
	for s in "bpf" "keyctl" "mount" "unshare 0x10000000" "setns" "open_by_handle_at" "socket 38" "socket 40" \
		"io_uring_setup" "userfaultfd" "perf_event_open" "kexec_load" "init_module" "clone 0x10000000"; do
		run "$SBX" profile check default $s
		[ "$status" -eq 0 ] || { show; false; }
		[ "${lines[0]}" = "${s%% *}: ERRNO(1)" ] || { echo "check default $s"; show; false; }
	done
}

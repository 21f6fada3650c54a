#!/usr/bin/env bats
# exec.bats - a process exec'd into a container is hardened like the container itself.

load helpers

setup() {
	sbx_setup
	bundle_edit '.process.args=["/bin/sleep","60"]'
}
teardown() { sbx_teardown; }

# start_container DELEGATE: create and start a long-running hardened container; prints its id.
start_container() {
	local d=$1 id
	id=$(new_id exec-$d)
	sbx_create "$d" "$id" || { cat "$T/$id.err" >&2; return 1; }
	sbx_rt "$d" start "$id" || return 1
	echo "$id"
}

cap_eff_of_output() { awk '$1=="CapEff:" {print $2}' <<<"$output"; }

@test "exec --cap CAP_SYS_MODULE is refused; the container's filter still applies" {
	for d in $DELEGATES; do
		local id
		id=$(start_container "$d")
		run sbx_rt "$d" exec --cap CAP_SYS_MODULE --cap=cap_sys_module --cap CAP_SYS_ADMIN "$id" /bin/sh -c 'sbx-probe modules; grep ^CapEff /proc/self/status'
		[ "$status" -eq 0 ] || { show; false; }
		expect_modules_eperm
		local eff
		eff=$(cap_eff_of_output)
		if cap_bit_set "$eff" 16; then echo "$d: CAP_SYS_MODULE in CapEff $eff"; false; fi
		cap_bit_set "$eff" 21 # CAP_SYS_ADMIN, asked for too, was granted: the refusal is targeted
		sbx_rt "$d" delete --force "$id"
	done
}

@test "exec --process JSON asking for CAP_SYS_MODULE and no no_new_privs is sanitized" {
	for d in $DELEGATES; do
		local id
		id=$(start_container "$d")
		jq -n '{terminal: false, cwd: "/", user: {uid: 0, gid: 0}, env: ["PATH=/bin"], noNewPrivileges: false,
			args: ["/bin/sh", "-c", "sbx-probe modules nnp; grep ^Cap /proc/self/status"],
			capabilities: {bounding: ["CAP_SYS_MODULE","CAP_KILL"], effective: ["CAP_SYS_MODULE","CAP_KILL"],
				permitted: ["CAP_SYS_MODULE","CAP_KILL"], inheritable: [], ambient: []}}' >"$T/process.json"
		run sbx_rt "$d" exec --process "$T/process.json" "$id"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "finit_module 1 EPERM"
		expect_line "nnp 1"
		if cap_bit_set "$(cap_eff_of_output)" 16; then show; false; fi
		cap_bit_set "$(cap_eff_of_output)" 5 # CAP_KILL kept
		! grep -q CAP_SYS_MODULE "$T/process.json"
		sbx_rt "$d" delete --force "$id"
	done
}

@test "exec --no-new-privs=false does not lift no_new_privs (unless the container opted out)" {
	local id
	id=$(start_container runc)
	run sbx_rt runc exec --no-new-privs=false "$id" /bin/sbx-probe nnp
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "nnp 1"
	sbx_rt runc delete --force "$id"
	# crun's argp refuses a value on a flag; so does sbx, reading argv as crun does.
	id=$(start_container crun)
	run sbx_rt crun exec --no-new-privs=false "$id" /bin/sbx-probe nnp
	[ "$status" -ne 0 ] && [[ "$output" == *"takes no value"* ]] || { show; false; }
	sbx_rt crun delete --force "$id"
	sbx_allow_tenants '{"allow_nnp_optout": true}'
	bundle_edit '.annotations["run.sbx.no-new-privileges"]="false" | .process.noNewPrivileges=false'
	local id
	id=$(start_container runc)
	run sbx_rt runc exec --no-new-privs=false "$id" /bin/sbx-probe nnp
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "nnp 0"
}

@test "a plain exec, no flags at all, runs with no_new_privs on both delegates" {
	for d in $DELEGATES; do
		local id
		id=$(start_container "$d")
		run bounded 30 env SBX_RUNTIME="$d" "$SBX_RT" --root "$T/root" exec "$id" /bin/sh -c 'grep ^NoNewPrivs /proc/self/status; sbx-probe nnp'
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "NoNewPrivs:	1"
		expect_line "nnp 1"
		if [ "$d" = crun ]; then
			# Why sbx must say it: crun alone does not carry the container's no_new_privs over to an exec.
			run bounded 30 crun --root "$T/root" exec "$id" /bin/sh -c 'grep ^NoNewPrivs /proc/self/status'
			expect_line "NoNewPrivs:	0"
		fi
		sbx_rt "$d" delete --force "$id"
	done
}

@test "exec passes the command's own flags through untouched" {
	local id
	id=$(start_container crun)
	run sbx_rt crun exec "$id" /bin/sh -c 'echo "$0 $1"' --cap CAP_SYS_MODULE
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "--cap CAP_SYS_MODULE"
}

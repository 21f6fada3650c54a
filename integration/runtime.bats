#!/usr/bin/env bats
# runtime.bats - sbx-runtime hardens every container it creates, on runc and on crun.

load helpers

setup() { sbx_setup; }
teardown() { sbx_teardown; }

@test "module syscalls: ENOSYS natively, EPERM under sbx (runc and crun)" {
	for d in $DELEGATES; do
		bundle_reset
		run plain "$d" run --bundle "$T/bundle" "$(new_id plain-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "finit_module 38 ENOSYS"
		bundle_reset
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id sbx-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_modules_eperm
	done
}

@test "privileged spec (all capabilities, no seccomp) still gets EPERM and no CAP_SYS_MODULE" {
	for d in $DELEGATES; do
		bundle_reset
		local all
		all=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' | sed 's/^cap_/CAP_/' | tr a-z A-Z | jq -R . | jq -s -c .)
		bundle_edit ".process.capabilities = {bounding: $all, effective: $all, permitted: $all, inheritable: $all, ambient: $all} | del(.linux.seccomp) | .process.args=[\"/bin/sh\",\"-c\",\"sbx-probe modules; grep ^Cap /proc/self/status\"]"
		grep -q CAP_SYS_MODULE "$T/bundle/config.json"
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id priv-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_modules_eperm
		for set in CapInh CapPrm CapEff CapBnd CapAmb; do
			local mask
			mask=$(awk -v s="$set:" '$1==s {print $2}' <<<"$output")
			[ -n "$mask" ]
			if cap_bit_set "$mask" 16; then echo "$d: $set has CAP_SYS_MODULE ($mask)"; false; fi
		done
		# The container really is privileged otherwise: CAP_SYS_ADMIN (21) is still there.
		cap_bit_set "$(awk '$1=="CapEff:" {print $2}' <<<"$output")" 21
	done
}

@test "an engine profile that explicitly allows module syscalls is tightened" {
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [
			{names: ["init_module","finit_module","delete_module","getpid"], action: "SCMP_ACT_ALLOW"},
			{names: ["finit_module"], action: "SCMP_ACT_ALLOW", args: [{index: 1, value: 0, op: "SCMP_CMP_NE"}]}]}'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id allow-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_modules_eperm
	done
}

@test "an engine denial survives with the engine's errno" {
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [
			{names: ["unshare"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]} | .process.args=["/bin/sbx-probe","unshare_ns","finit_module"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id deny-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "unshare_ns 13 EACCES"
		expect_line "finit_module 1 EPERM"
	done
}

@test "no_new_privs is set; the annotation opt-out is honoured and logged" {
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.process.noNewPrivileges=false | .process.args=["/bin/sbx-probe","nnp"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id nnp-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "nnp 1"
		bundle_reset
		bundle_edit '.process.noNewPrivileges=false | .process.args=["/bin/sbx-probe","nnp"] | .annotations["run.sbx.no-new-privileges"]="false"'
		sbx_allow_tenants '{"allow_nnp_optout": true}'
		run sbx_rt "$d" --log "$T/log.json" --log-format json run --bundle "$T/bundle" "$(new_id nnpout-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "nnp 0"
		log_has "$T/log.json" warning 'no_new_privs left to the engine'
	done
}

@test "annotations: the engine's survive, sbx records its policy, state shows both" {
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.annotations = {"io.kubernetes.cri.container-type": "container", "example.com/x": "{\"nested\": [1]}"} | .process.args=["/bin/sleep","30"]'
		local id
		id=$(new_id ann-$d)
		sbx_create "$d" "$id" || { cat "$T/$id.err"; false; }
		run sbx_rt "$d" state "$id"
		[ "$status" -eq 0 ] || { show; false; }
		[ "$(jq -r '.annotations["io.kubernetes.cri.container-type"]' <<<"$output")" = container ]
		[ "$(jq -r '.annotations["example.com/x"]' <<<"$output")" = '{"nested": [1]}' ]
		[ "$(jq -r '.annotations["run.sbx.policy"]' <<<"$output")" = 1 ]
		[ "$(jq -r '.annotations["run.sbx.profile"]' <<<"$output")" != null ]
		sbx_rt "$d" delete --force "$id"
	done
}

@test "unknown fields and vendor extensions keep their meaning through the rewrite" {
	bundle_edit '.process.args=["/bin/sh","-c","echo $FOO"] | .process.env += ["FOO=bar"] | .["vendor.example/ext"] = {"big": "BIGNUM", "f": 1.5e300} | .linux.sysctl = {"net.ipv4.ip_forward": "0"}'
	# jq would round the number, so it goes in by sed.
	sed -i 's/"BIGNUM"/18446744073709551615/' "$T/bundle/config.json"
	local before
	# sbx's additions (cgroup namespace, the kernel's helper paths read-only) are filtered out on both sides.
	before=$(jq -S 'del(.process.noNewPrivileges, .process.capabilities, .linux.seccomp, .annotations, .linux.resources.pids) | .linux.namespaces |= map(select(.type != "cgroup")) | .linux.readonlyPaths |= map(select(test("^/proc/sys/(kernel|fs)/|^/sys/") | not))' "$T/bundle/config.json")
	run sbx_rt runc run --bundle "$T/bundle" "$(new_id fields)"
	[ "$status" -eq 0 ] || { show; false; }
	expect_line "bar"
	[ "$(jq -S 'del(.process.noNewPrivileges, .process.capabilities, .linux.seccomp, .annotations, .linux.resources.pids) | .linux.namespaces |= map(select(.type != "cgroup")) | .linux.readonlyPaths |= map(select(test("^/proc/sys/(kernel|fs)/|^/sys/") | not))' "$T/bundle/config.json")" = "$before" ]
	grep -q '"big":18446744073709551615' "$T/bundle/config.json"
}

@test "config.json is replaced, not rewritten in place: a hard link to it keeps the engine's spec" {
	ln "$T/bundle/config.json" "$T/engine.json"
	ino=$(stat -c %i "$T/bundle/config.json")
	run bounded 30 env SBX_RUNTIME=runc "$SBX_RT" --root "$T/root" run --bundle "$T/bundle" "$(new_id replaced)"
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(stat -c %i "$T/bundle/config.json")" != "$ino" ]
	cmp "$T/engine.json" "$T/config.orig"
	[ "$(jq -r '.annotations["run.sbx.policy"]' "$T/bundle/config.json")" = 1 ]
	[ -z "$(find "$T/bundle" -maxdepth 1 -name '.config.json.sbx-*')" ]
}

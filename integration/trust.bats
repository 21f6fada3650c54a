#!/usr/bin/env bats
# trust.bats - who may loosen what: a container's annotations only tighten unless sbx.json allows more, a profile
# annotation never makes sbx open a path of the tenant's choosing, a namespace joined by the host's path is the
# host's, and a typo in sbx.json refuses rather than silently leaving a protection off.  Every sbx call is bounded
# by `timeout`: a FIFO that hangs the start fails the test instead of the suite.

load helpers

setup() {
	sbx_setup
	export SBX_PROFILES_DIR="$T/profiles" SBX_SECCOMP_CACHE="$T/cache"
	mkdir -m 0755 "$SBX_PROFILES_DIR"
	echo '{"defaultAction":"SCMP_ACT_ALLOW"}' >"$SBX_PROFILES_DIR/allowall.json"
}
teardown() { sbx_teardown; }

# rt DELEGATE ARGS...: sbx-runtime, bounded.
rt() {
	local d=$1
	shift
	SBX_RUNTIME="$d" timeout -k 5 20 "$SBX_RT" --root "$T/root" "$@"
}

# refused DELEGATE PATTERN...: create is refused with a message matching each PATTERN, and nothing exists after.
refused() {
	local d=$1 id p
	shift
	id=$(new_id trust-$d)
	# stdio to a file: a create that wrongly succeeds leaves an init holding it, which must not hang the test.
	status=0
	rt "$d" --log "$T/log.json" --log-format json create --bundle "$T/bundle" "$id" </dev/null >"$T/create.out" 2>&1 ||
		status=$?
	output=$(cat "$T/create.out")
	[ "$status" -eq 1 ] || { show; return 1; }
	for p in "$@"; do
		grep -qF -- "$p" <<<"$output" || { echo "stderr lacks: $p"; show; return 1; }
	done
	log_has "$T/log.json" error "refused|unknown setting" || return 1
	run plain "$d" state "$id"
	[ "$status" -ne 0 ] || { echo "container $id exists"; return 1; }
}

# ran DELEGATE: run the bundle to completion under sbx; its output in $output.
ran() {
	run rt "$1" run --bundle "$T/bundle" "$(new_id ok-$1)"
	[ "$status" -eq 0 ] || { show; return 1; }
}

settings() { echo "$1" >"$SBX_CONFIG"; }

@test "trust: a tenant's opt-outs are refused, naming the annotation and the sbx.json setting (runc, crun)" {
	local d
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.annotations["run.sbx.no-new-privileges"] = "false" | .process.noNewPrivileges = false'
		refused "$d" "annotation run.sbx.no-new-privileges=false" '"tenants.allow_nnp_optout": true'
		bundle_reset
		bundle_edit '.linux.namespaces |= map(select(.type != "pid")) | .annotations["run.sbx.allow-host-ns"] = "pid"'
		refused "$d" "annotation run.sbx.allow-host-ns naming pid" '"tenants.allow_host_ns": "pid"'
		# Even where the spec does not need it: the request itself is the opt-out.
		bundle_reset
		bundle_edit '.annotations["run.sbx.allow-host-ns"] = "mount"'
		refused "$d" "annotation run.sbx.allow-host-ns naming mount"
	done
}

@test "trust: the same opt-outs run where sbx.json allows them, globally or for one Kubernetes namespace" {
	local d
	settings '{"watcher": {"enabled": false}, "tenants": {"allow_nnp_optout": true}}'
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.annotations["run.sbx.no-new-privileges"] = "false" | .process.noNewPrivileges = false | .process.args = ["/bin/sbx-probe", "nnp"]'
		ran "$d"
		expect_line "nnp 0"
	done
	# Per namespace: the annotation containerd's CRI sets to the pod's namespace.
	settings '{"watcher": {"enabled": false}, "tenants": {"namespaces": {"ops": {"allow_host_ns": "pid", "allow_nnp_optout": true}}}}'
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.linux.namespaces |= map(select(.type != "pid")) | .annotations["run.sbx.allow-host-ns"] = "pid" | .annotations["io.kubernetes.cri.sandbox-namespace"] = "ops" | .process.args = ["/bin/sh", "-c", "ls -d /proc/[0-9]* | wc -l"]'
		ran "$d"
		[ "${lines[-1]}" -gt 5 ] || { show; false; } # the host's processes
		bundle_reset
		bundle_edit '.linux.namespaces |= map(select(.type != "pid")) | .annotations["run.sbx.allow-host-ns"] = "pid" | .annotations["io.kubernetes.cri.sandbox-namespace"] = "dev"'
		refused "$d" "annotation run.sbx.allow-host-ns naming pid" "tenants.namespaces.dev.allow_host_ns"
	done
}

@test "trust: a profile annotation only tightens the node's profile unless sbx.json lets it replace it" {
	local d
	for d in $DELEGATES; do
		# Stricter: strict on top of default refuses ionice (ioprio_set) where default alone allows it.
		bundle_reset
		bundle_edit '.process.args = ["/bin/sh", "-c", "ionice -c 3 true && echo ionice-ok; echo end"] | .annotations["run.sbx.profile"] = "strict" | .annotations["run.sbx.on-violation"] = "kill"'
		ran "$d"
		expect_line end
		! grep -q ionice-ok <<<"$output" || { show; false; }
		# Looser: an allow-all profile does not undo the default's refusals...
		bundle_reset
		bundle_edit '.process.args = ["/bin/sbx-probe", "keyctl", "io_uring_setup"] | .annotations["run.sbx.profile"] = "allowall"'
		ran "$d"
		expect_line "keyctl 1 EPERM"
		expect_line "io_uring_setup 1 EPERM"
		[ "$(jq -r '.annotations["run.sbx.profile"]' "$T/bundle/config.json")" = allowall ]
	done
	# ... unless sbx.json allows tenants to choose their profile.
	settings '{"watcher": {"enabled": false}, "tenants": {"allow_profile": true}}'
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.process.args = ["/bin/sbx-probe", "io_uring_setup", "modules"] | .annotations["run.sbx.profile"] = "allowall"'
		ran "$d"
		! grep -qx "io_uring_setup 1 EPERM" <<<"$output" || { show; false; }
		expect_modules_eperm # the module block stays whatever the profile
	done
}

@test "trust: a profile annotation naming a path is refused before anything is opened (a FIFO cannot hang it)" {
	local d out_shadow out_none
	mkfifo "$T/fifo.json"
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit ".annotations[\"run.sbx.profile\"] = \"$T/fifo.json\""
		refused "$d" "may name only a built-in profile or a file of profiles_dir"
		bundle_reset
		bundle_edit '.annotations["run.sbx.profile"] = "../../../etc/shadow"'
		refused "$d" "may name only a built-in profile"
	done
	# Whether a root-only file exists is not revealed: the same refusal for /etc/shadow and a path that is not.
	bundle_reset
	bundle_edit '.annotations["run.sbx.profile"] = "/etc/shadow"'
	run rt runc create --bundle "$T/bundle" x1
	out_shadow=${output//\/etc\/shadow/P}
	bundle_reset
	bundle_edit '.annotations["run.sbx.profile"] = "/nonexistent/x.json"'
	run rt runc create --bundle "$T/bundle" x1
	out_none=${output//\/nonexistent\/x.json/P}
	[ "$status" -eq 1 ] && [ "$out_shadow" = "$out_none" ] || { echo "$out_shadow"; echo "$out_none"; false; }
	! grep -q 'root:' <<<"$out_shadow"
	# A FIFO inside profiles_dir, named by name, is refused at once (O_NONBLOCK), not waited on.
	mkfifo "$SBX_PROFILES_DIR/pipe.json"
	bundle_reset
	bundle_edit '.annotations["run.sbx.profile"] = "pipe"'
	refused crun "pipe.json: not a regular file"
	# So are a symlink out of it and a file others can write.
	ln -s /etc/shadow "$SBX_PROFILES_DIR/shadow.json"
	bundle_reset
	bundle_edit '.annotations["run.sbx.profile"] = "shadow"'
	refused runc "shadow.json"
	! grep -q 'root:' <<<"$output"
	cp "$SBX_PROFILES_DIR/allowall.json" "$SBX_PROFILES_DIR/loose.json"
	chmod 0666 "$SBX_PROFILES_DIR/loose.json"
	bundle_reset
	bundle_edit '.annotations["run.sbx.profile"] = "loose"'
	refused runc "loose.json: writable by group or others"
}

@test "trust: a namespace joined by the host's own path is the host's (runc, crun)" {
	local d t
	for d in $DELEGATES; do
		for t in pid:pid mount:mnt; do
			bundle_reset
			bundle_edit ".linux.namespaces |= map(if .type == \"${t%%:*}\" then .path = \"/proc/$$/ns/${t##*:}\" else . end)"
			refused "$d" "joins the host's ${t%%:*} namespace (/proc/$$/ns/${t##*:})"
		done
		# A path that cannot be resolved fails closed.
		bundle_reset
		bundle_edit '.linux.namespaces |= map(if .type == "pid" then .path = "/nonexistent/ns/pid" else . end)'
		refused "$d" "cannot tell whether /nonexistent/ns/pid is the host's namespace; refused"
		# The host's cgroup namespace by path: given a new one instead, as if none was asked for.
		bundle_reset
		bundle_edit ".linux.namespaces += [{\"type\": \"cgroup\", \"path\": \"/proc/$$/ns/cgroup\"}] | .process.args = [\"/bin/sh\", \"-c\", \"readlink /proc/self/ns/cgroup\"]"
		ran "$d"
		[ "${lines[-1]}" != "$(readlink /proc/$$/ns/cgroup)" ] || { show; false; }
	done
	# Where sbx.json allows it, the host's pid namespace by path is shared.
	settings '{"watcher": {"enabled": false}, "tenants": {"allow_host_ns": "pid"}}'
	bundle_reset
	bundle_edit ".linux.namespaces |= map(if .type == \"pid\" then .path = \"/proc/$$/ns/pid\" else . end) | .annotations[\"run.sbx.allow-host-ns\"] = \"pid\" | .process.args = [\"/bin/sh\", \"-c\", \"readlink /proc/self/ns/pid\"]"
	ran crun
	[ "${lines[-1]}" = "$(readlink /proc/$$/ns/pid)" ] || { show; false; }
}

@test "trust: a typo in sbx.json refuses every start, naming the key; sbx doctor says so and prints the settings" {
	local d
	settings '{"watcher": {"enabled": false, "fail_closd": true}}'
	for d in $DELEGATES; do
		bundle_reset
		refused "$d" 'unknown setting "watcher.fail_closd"'
	done
	settings '{"watcher": {"enabled": "no"}}'
	refused runc 'setting "watcher.enabled" must be a boolean'
	run timeout -k 5 20 "$SBX" doctor
	[[ "$output" == *"FAIL  config"*"watcher.enabled"* ]] || { show; false; }
	settings '{"watcher": {"enabled": false}, "pids_limit": 77}'
	run timeout -k 5 20 "$SBX" doctor
	grep -qE '^ +pids_limit +77$' <<<"$output" || { show; false; }
	grep -qE '^ +watcher.fail_closed +false \(default\)$' <<<"$output" || { show; false; }
}

@test "trust: sbx run's own --profile may be a path the user owns (the local user runs their own sandbox)" {
	cp "$SBX_PROFILES_DIR/allowall.json" "$T/mine.json"
	run timeout -k 5 20 "$SBX" run --profile "$T/mine.json" -- /bin/true
	[ "$status" -eq 0 ] || { show; false; }
	mkfifo "$T/fifo.json"
	run timeout -k 5 20 "$SBX" run --profile "$T/fifo.json" -- /bin/true
	[ "$status" -ne 0 ] && [[ "$output" == *"not a regular file"* ]] || { show; false; }
}

@test "trust: sbx install passes containerd only the four annotations a tenant may set, never sbx's own records" {
	local R=$T/root-install out
	mkdir -p "$R/etc/containerd"
	run timeout -k 5 20 "$SBX" install --dry-run --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime containerd
	[ "$status" -eq 0 ] || { show; false; }
	out=$output
	for k in pod_annotations container_annotations; do
		grep -qxF "  $k = [\"run.sbx.profile\", \"run.sbx.on-violation\", \"run.sbx.allow-host-ns\", \"run.sbx.no-new-privileges\"]" <<<"$out" || { show; false; }
	done
	! grep -q 'run\.sbx\.\*' <<<"$out"
}

#!/usr/bin/env bats
# podman.bats - Podman 4 drives sbx-runtime, by path and registered by name in a private containers.conf.
#
# Podman's default seccomp profile already answers the module syscalls with EPERM, so the tests that prove sbx
# hardens run without it (--privileged, seccomp=unconfined): there plain runc lets them through to this kernel,
# which answers ENOSYS (the control test shows it), and only sbx turns them into EPERM.

load engines

setup_file () {
  engines_setup_file podman conmon || return 0
  podman_start || return 0
}

teardown_file () {
  podman_stop
  engines_teardown_file
}

setup () {
  engines_setup
}

teardown () {
  podman rm --force --time 0 sbx-c1 >/dev/null 2>&1 || true
}

@test "podman: control - plain runc with --privileged reaches the kernel (ENOSYS)" {
  run podman --runtime /usr/sbin/runc run --rm --privileged "$ENGINE_IMAGE" sbx-probe modules
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "finit_module 38 ENOSYS" ]
}

# By path, the runtime is the wrapper that gives sbx-runtime the suite's private settings (engines_sbx_config).
@test "podman: runtime given by path (--runtime /abs/sbx-runtime) hardens a privileged container" {
  run podman --runtime "$SBX_RUNTIME_WRAPPED" run --rm --privileged "$ENGINE_IMAGE" \
    sh -c "sbx-probe modules; $CAPBND_SYS_MODULE"
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  [ "${lines[3]}" = "0" ]
}

@test "podman: runtime registered by name in containers.conf is the default" {
  run podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}'
  [ "$status" -eq 0 ]
  [ "$output" = "sbx $SBX_RUNTIME_WRAPPED" ]
  run podman run --rm --security-opt seccomp=unconfined "$ENGINE_IMAGE" sbx-probe modules
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
}

@test "podman: run, run -d, exec, pause/unpause, stop, rm" {
  run podman run --rm "$ENGINE_IMAGE" echo hello
  [ "$status" -eq 0 ]
  [ "$output" = "hello" ]

  run podman run -d --name sbx-c1 "$ENGINE_IMAGE" sleep 1000
  [ "$status" -eq 0 ]
  [ "$(podman inspect --format '{{.State.Status}} {{.OCIRuntime}}' sbx-c1)" = "running sbx" ]

  run podman exec sbx-c1 sh -c 'echo exec-ok; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = "exec-ok" ]

  podman pause sbx-c1
  [ "$(podman inspect --format '{{.State.Status}}' sbx-c1)" = "paused" ]
  podman unpause sbx-c1
  [ "$(podman inspect --format '{{.State.Status}}' sbx-c1)" = "running" ]

  podman stop --time 1 sbx-c1
  [ "$(podman inspect --format '{{.State.Status}}' sbx-c1)" = "exited" ]
  podman rm sbx-c1
  run podman container exists sbx-c1
  [ "$status" -eq 1 ]
}

@test "podman: --privileged container cannot load modules and has no CAP_SYS_MODULE" {
  run podman run --rm --privileged "$ENGINE_IMAGE" sh -c "sbx-probe modules; $CAPBND_SYS_MODULE"
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  [ "${lines[3]}" = "0" ]
}

@test "podman: exec --privileged (into a privileged container) cannot load modules" {
  podman run -d --name sbx-c1 --privileged "$ENGINE_IMAGE" sleep 1000
  run podman exec --privileged sbx-c1 sh -c "sbx-probe modules; $CAPBND_SYS_MODULE"
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  [ "${lines[3]}" = "0" ]
}

@test "podman: inspect shows sbx's annotations" {
  podman run -d --name sbx-c1 "$ENGINE_IMAGE" sleep 1000
  run podman inspect --format '{{index .Config.Annotations "run.sbx.policy"}}|{{index .Config.Annotations "run.sbx.profile"}}' sbx-c1
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9]+\|[a-z0-9_.-]+$ ]]
  assert_sbx_annotations "$(podman inspect --format '{{.OCIConfigPath}}' sbx-c1)"
}

@test "podman: a module-load violation reaches the runtime log Podman keeps" {
  sbx_watch_available || skip "the watcher (bin/sbx watch) is not built yet"
  sbx_watch_start
  podman run -d --name sbx-c1 "$ENGINE_IMAGE" sh -c 'sbx-probe finit_module; sleep 1000'
  log=$(dirname "$(podman inspect --format '{{.ConmonPidFile}}' sbx-c1)")/oci-log
  for _ in $(seq 50); do
    grep -q finit_module "$log" 2>/dev/null && break
    sleep 0.1
  done
  engines_stop_pid "$SBX_WATCH_PID" 5
  run grep finit_module "$log"
  [ "$status" -eq 0 ]
  # runc's log format: one JSON object per line with level, msg and time.
  "$ENGINES_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["level"] in ("warning","error"), d; assert "msg" in d' "${lines[0]}"
}

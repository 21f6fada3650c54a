#!/usr/bin/env bats
# docker.bats - dockerd (docker.io) with its own data-root, exec-root and socket runs sbx registered in daemon.json.
#
# Docker's default seccomp profile already refuses the module syscalls with EPERM; the case that proves sbx is
# --cap-add SYS_MODULE --security-opt seccomp=unconfined (--privileged cannot start on this host: "unable to apply
# caps"), where plain runc lets the calls reach this kernel (ENOSYS, see the control test).
#
# `docker run` output is checked on stdout alone (run --separate-stderr): the client prints the daemon's create
# warnings on stderr, and on a host with net.ipv4.ip_forward=0 (dockerd here must not turn it on) every container
# in the default network mode gets one.  Its stderr must hold nothing else (assert_docker_stderr).

bats_require_minimum_version 1.5.0

load engines

setup_file () {
  engines_setup_file dockerd || return 0
  docker_start || return 0
}

teardown_file () {
  docker_stop
  engines_teardown_file
}

setup () {
  engines_setup
}

teardown () {
  docker_cli rm --force sbx-c1 >/dev/null 2>&1 || true
}

@test "docker: the sbx runtime is registered through daemon.json" {
  run docker_cli info --format '{{(index .Runtimes "sbx").Path}}'
  [ "$status" -eq 0 ]
  [ "$output" = "$SBX_RUNTIME_BIN" ]
}

@test "docker: control - plain runc with SYS_MODULE and no seccomp reaches the kernel (ENOSYS)" {
  run --separate-stderr docker_cli run --rm --runtime runc --cap-add SYS_MODULE --security-opt seccomp=unconfined \
    "$ENGINE_IMAGE" sbx-probe modules
  [ "$status" -eq 0 ]
  assert_docker_stderr "$stderr"
  [ "${lines[0]}" = "finit_module 38 ENOSYS" ]
}

@test "docker: --cap-add SYS_MODULE --security-opt seccomp=unconfined still cannot load modules" {
  run --separate-stderr docker_cli run --rm --runtime sbx --cap-add SYS_MODULE --security-opt seccomp=unconfined \
    "$ENGINE_IMAGE" sh -c "sbx-probe modules; $CAPBND_SYS_MODULE"
  [ "$status" -eq 0 ]
  assert_docker_stderr "$stderr"
  assert_modules_eperm "$output"
  [ "${lines[3]}" = "0" ]
}

@test "docker: run, exec, stop, rm" {
  run --separate-stderr docker_cli run --rm --runtime sbx "$ENGINE_IMAGE" echo hello
  [ "$status" -eq 0 ]
  assert_docker_stderr "$stderr"
  [ "$output" = "hello" ]

  docker_cli run -d --name sbx-c1 --runtime sbx "$ENGINE_IMAGE" sleep 1000
  [ "$(docker_cli inspect --format '{{.State.Status}} {{.HostConfig.Runtime}}' sbx-c1)" = "running sbx" ]

  run docker_cli exec sbx-c1 sh -c 'echo exec-ok; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = "exec-ok" ]

  # (docker exec --privileged fails on this host for the same reason as run --privileged.)
  docker_cli stop --time 1 sbx-c1
  [ "$(docker_cli inspect --format '{{.State.Status}}' sbx-c1)" = "exited" ]
  docker_cli rm sbx-c1
  run docker_cli inspect sbx-c1
  [ "$status" -ne 0 ]
}

@test "docker: the bundle containerd-shim gave sbx carries sbx's annotations" {
  id=$(docker_cli run -d --name sbx-c1 --runtime sbx "$ENGINE_IMAGE" sleep 1000)
  config=$DOCKER_DIR/exec/containerd/daemon/io.containerd.runtime.v2.task/moby/$id/config.json
  [ -f "$config" ]
  assert_sbx_annotations "$config"
}

#!/usr/bin/env bats
# cri.bats - the kubelet's path: containerd's CRI plugin with an "sbx" runtime handler (runtime_type
# io.containerd.runc.v2, options.BinaryName = sbx-runtime), driven over the CRI gRPC API by integration/cri/.
#
# A pod whose RuntimeClass has handler "sbx" arrives as RunPodSandbox{runtime_handler: "sbx"}; these tests send
# exactly that.  containerd 1.6 applies no seccomp profile to CRI containers unless asked, so plain runc lets the
# module syscalls reach this kernel (ENOSYS, the control test) and only sbx answers EPERM.

load engines

setup_file () {
  engines_setup_file containerd ctr containerd-shim-runc-v2 protoc || return 0
  if ! "$ENGINES_PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null; then
    engines_skip_all "python3-grpcio/python3-protobuf are not installed (see hack/deps/engines.txt)"
    return 0
  fi
  export WITH_CRI=1 CTR_NAMESPACE=k8s.io
  containerd_start || return 0
  if ! cri wait-image "$ENGINE_IMAGE" 30 >/dev/null; then
    engines_skip_all "the CRI image service never saw the imported image: $(engines_log_tail "$CONTAINERD_DIR/containerd.log")"
  fi
}

teardown_file () {
  containerd_stop
  engines_teardown_file
}

setup () {
  engines_setup
  PODS=()
}

teardown () {
  local pod
  for pod in "${PODS[@]}"; do
    cri stopp "$pod" >/dev/null 2>&1 || true
    cri rmp "$pod" >/dev/null 2>&1 || true
  done
}

cri () {
  cri_cli "$@"
}

# Write pod.json and ctr.json (privileged when $1 = true) the way a kubelet fills them for a host-network pod.
write_configs () {
  local privileged=${1:-false}
  mkdir -p "$ENGINE_TMP/pods"
  cat >"$ENGINE_TMP/pod.json" <<EOF
{"metadata": {"name": "sbx-pod", "uid": "uid-$BATS_TEST_NUMBER", "namespace": "default", "attempt": 0},
 "log_directory": "$ENGINE_TMP/pods",
 "labels": {"app": "sbx-test"},
 "linux": {"security_context": {"privileged": $privileged, "namespace_options": {"network": "NODE"}}}}
EOF
  cat >"$ENGINE_TMP/ctr.json" <<EOF
{"metadata": {"name": "probe"}, "image": {"image": "$ENGINE_IMAGE"}, "command": ["/bin/sleep", "1000"],
 "log_path": "probe-$BATS_TEST_NUMBER.log",
 "linux": {"security_context": {"privileged": $privileged, "namespace_options": {"network": "NODE"}}}}
EOF
}

# RunPodSandbox with HANDLER, then CreateContainer + StartContainer; sets POD and CTR.
start_pod () {
  local handler=$1
  POD=$(cri runp "$ENGINE_TMP/pod.json" "$handler")
  PODS+=("$POD")
  CTR=$(cri create "$POD" "$ENGINE_TMP/ctr.json" "$ENGINE_TMP/pod.json")
  cri start "$CTR"
}

@test "cri: RunPodSandbox with runtime_handler sbx runs the sandbox through sbx-runtime" {
  write_configs
  POD=$(cri runp "$ENGINE_TMP/pod.json" sbx)
  PODS+=("$POD")
  run cri inspectp "$POD"
  [ "$status" -eq 0 ]
  handler=$(printf '%s' "$output" | "$ENGINES_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["status"]["runtime_handler"])')
  [ "$handler" = "sbx" ]
  assert_sbx_annotations "$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/k8s.io/$POD/config.json"
}

@test "cri: control - runtime_handler runc lets the module syscalls reach the kernel (ENOSYS)" {
  write_configs
  start_pod runc
  run cri exec "$CTR" sbx-probe modules
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "finit_module 38 ENOSYS" ]
}

@test "cri: CreateContainer, StartContainer, ExecSync in an sbx pod: module syscalls get EPERM" {
  write_configs
  start_pod sbx
  run cri inspect "$CTR"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"state": "CONTAINER_RUNNING"'* ]]
  run cri exec "$CTR" sh -c 'echo exec-ok; exit 4'
  [ "$status" -eq 4 ]
  [ "$output" = "exec-ok" ]
  run cri exec "$CTR" sbx-probe modules
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  assert_sbx_annotations "$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/k8s.io/$CTR/config.json"
}

@test "cri: a privileged container in a privileged sbx pod still cannot load modules" {
  write_configs true
  start_pod sbx
  run cri exec "$CTR" sh -c "sbx-probe modules; $CAPBND_SYS_MODULE"
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  [ "${lines[3]}" = "0" ]
}

@test "cri: StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox" {
  write_configs
  start_pod sbx
  cri stop "$CTR" 1
  run cri inspect "$CTR"
  [[ "$output" == *'"state": "CONTAINER_EXITED"'* ]]
  cri rm "$CTR"
  run cri inspect "$CTR"
  [ "$status" -eq 1 ]
  [[ "$output" == *NOT_FOUND* ]]
  cri stopp "$POD"
  run cri inspectp "$POD"
  [[ "$output" == *'"state": "SANDBOX_NOTREADY"'* ]]
  cri rmp "$POD"
  run cri inspectp "$POD"
  [ "$status" -eq 1 ]
  [ ! -e "$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/k8s.io/$POD" ]
}

@test "cri: an unknown runtime handler is refused" {
  write_configs
  run cri runp "$ENGINE_TMP/pod.json" no-such-handler
  [ "$status" -eq 1 ]
  [[ "$output" == *no-such-handler* ]]
}

#!/usr/bin/env bats
# integration/kernel/lsm.bats - sbx's BPF LSM hooks (bpf/) on a kernel where BPF LSM programs load: a registered
# container is refused finit_module, init_module and autoload even with CAP_SYS_MODULE and no seccomp at all,
# while the host keeps loading modules. Driven by build/test_bpf's `watch` mode (the loader, no watcher), so
# it proves the kernel side on its own; watcher.bats covers the same through `sbx watch`.

load helpers

SLOT=5

# The sbx-runtime case may start a watcher on demand: private to this file, stopped after.
setup_file () {
  sbx_private lsm
}

teardown_file () {
  sbx_private_cleanup
}

setup () {
  require_guest
  TEST_BPF=
  for f in "$SBX_ROOT/build/tests/test_bpf" "$SBX_ROOT/build/test_bpf"; do
    [ -x "$f" ] && TEST_BPF=$f && break
  done
  [ -n "$TEST_BPF" ] || skip "build/tests/test_bpf is not built in this tree (bpf/ not merged yet, or it failed to build)"
  unload_modules $TEST_MODULES
  B=$BATS_TEST_TMPDIR/bundle
  PIN=/sys/fs/bpf/sbx-kt-$BATS_TEST_NUMBER
  WATCH_PID=
  make_bundle "$B"
}

teardown () {
  [ -n "${CTR_RT:-}" ] && stop_container "$CTR_RT" "$CTR_ID"
  if [ -n "$WATCH_PID" ]; then kill -TERM "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; fi
  # Pinned links keep enforcing after the loader exits: removing the pins detaches them.
  rm -rf "$PIN"
  unload_modules $TEST_MODULES
  if [ -n "${UNIFIED_MOUNTED:-}" ]; then umount /sys/fs/cgroup/unified && rmdir /sys/fs/cgroup/unified; fi
}

# watch_cgroup CGDIR: load the hooks pinned under $PIN with CGDIR registered as slot $SLOT; wait until attached.
watch_cgroup () {
  WATCH_OUT=$BATS_TEST_TMPDIR/watch.out
  "$TEST_BPF" watch "$PIN" "$1" "$SLOT" >"$WATCH_OUT" 2>&1 </dev/null 3>&- &
  WATCH_PID=$!
  for _ in $(seq 600); do
    grep -q '^ready$' "$WATCH_OUT" && return 0
    kill -0 "$WATCH_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WATCH_OUT"
  return 1
}

# stop_watch: SIGTERM, after which the loader drains the ring buffer and prints "count SLOT N".
stop_watch () {
  kill -TERM "$WATCH_PID"
  wait "$WATCH_PID"
  WATCH_PID=
  cat "$WATCH_OUT"
}

# start CONTAINER-RUNTIME: a long-lived container from $B, registered with the hooks.
start_registered () {
  CTR_RT=$1 CTR_ID=lsm-$BATS_TEST_NUMBER
  set_args "$B" /bin/sleep 600
  CPID=$(start_detached "$CTR_RT" "$B" "$CTR_ID")
  [ -n "$CPID" ] && [ "$CPID" -gt 0 ]
  CG=$(cgroup_dir_of "$CPID")
  [ -d "$CG" ] && [ "$CG" != /sys/fs/cgroup/ ]
  watch_cgroup "$CG"
}

@test "guest: every sbx BPF hook loads (lsm/kernel_read_file, kernel_load_data, kernel_module_request)" {
  run "$TEST_BPF" report
  show
  note "guest hook report:" "${lines[@]}"
  [ "$status" -eq 0 ]
  for h in lsm/kernel_read_file lsm/kernel_load_data lsm/kernel_module_request; do
    printf '%s\n' "${lines[@]}" | grep -qx "$h: loaded"
  done
}

# A privileged container with no seccomp: only the LSM stands between it and the kernel.
lsm_refuses_direct () {
  make_privileged "$B"
  start_registered "$1"
  run rt_cmd "$1" exec "$CTR_ID" /bin/sbx-probe finit_module=/mod/dummy.ko init_module=/mod/dummy.ko
  show
  [ "$output" = $'finit_module 1 EPERM\ninit_module 1 EPERM' ]
  run rt_cmd "$1" exec "$CTR_ID" /bin/insmod /mod/nf_tables.ko
  show
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  ! module_loaded nf_tables
  # The host is not registered: it loads as before, and the load is recorded as unattributed (slot -1).
  run "$PROBE" finit_module="$DUMMY_KO"
  [ "$output" = "finit_module 0 OK" ]
  run stop_watch
  show
  has_line "event kind=lsm_read_file action=denied slot=$SLOT .* comm=sbx-probe module=dummy\.ko"
  has_line "event kind=lsm_load_data action=denied slot=$SLOT .* comm=sbx-probe module=-"
  has_line "event kind=lsm_read_file action=denied slot=$SLOT .* comm=insmod module=nf_tables\.ko"
  has_line "event kind=tp_module_load action=observed slot=-1 .* module=dummy"
  ! has_line "event kind=tp_module_load .* slot=$SLOT .*"
}

@test "LSM runc: a privileged container (CAP_SYS_MODULE, no seccomp) is refused finit/init/insmod; host still loads" {
  lsm_refuses_direct runc
}

@test "LSM crun: a privileged container (CAP_SYS_MODULE, no seccomp) is refused finit/init/insmod; host still loads" {
  lsm_refuses_direct crun
}

# Autoload: seccomp cannot see it (the kernel runs modprobe itself); the LSM refuses the request in the
# container's own task, so it is attributed there.
lsm_refuses_autoload () {
  make_netadmin "$B"
  start_registered "$1"
  run rt_cmd "$1" exec "$CTR_ID" /bin/ip link add d0 type dummy
  show
  [ "$status" -ne 0 ]
  run rt_cmd "$1" exec "$CTR_ID" /bin/sbx-probe socket_alg
  show
  [ "$output" = "socket_alg 97 EAFNOSUPPORT" ]
  run rt_cmd "$1" exec "$CTR_ID" /bin/autoload-probe socket_nfnetlink
  show
  [ "$output" = "socket_nfnetlink 93 EPROTONOSUPPORT" ]
  ! module_loaded dummy
  ! module_loaded af_alg
  ! module_loaded nfnetlink
  run stop_watch
  show
  has_line "event kind=lsm_module_request action=denied slot=$SLOT .* module=rtnl-link-dummy"
  has_line "event kind=lsm_module_request action=denied slot=$SLOT .* comm=sbx-probe module=net-pf-38"
  has_line "event kind=lsm_module_request action=denied slot=$SLOT .* comm=autoload-probe module=net-pf-16-proto-12"
}

@test "LSM runc: autoload from a container (ip link add, AF_ALG and NETLINK_NETFILTER sockets) refused and attributed" {
  lsm_refuses_autoload runc
}

@test "LSM crun: autoload from a container (ip link add, AF_ALG and NETLINK_NETFILTER sockets) refused and attributed" {
  lsm_refuses_autoload crun
}

# The two layers together: sbx-runtime's seccomp refuses the syscalls, the LSM the autoload it cannot see.
@test "LSM + sbx-runtime/runc: seccomp refusal seen at sys_exit, autoload refused by the LSM" {
  require_sbx_runtime
  make_netadmin "$B"
  start_registered sbx:runc
  run rt_cmd sbx:runc exec "$CTR_ID" /bin/sbx-probe finit_module=/mod/dummy.ko
  [ "$output" = "finit_module 1 EPERM" ]
  run rt_cmd sbx:runc exec "$CTR_ID" /bin/ip link add d0 type dummy
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  run stop_watch
  show
  has_line "event kind=sys_exit action=observed slot=$SLOT syscall=finit_module ret=-1 .* comm=sbx-probe .*"
  has_line "event kind=lsm_module_request action=denied slot=$SLOT .* module=rtnl-link-dummy"
  # seccomp refused finit_module before the file was read: the LSM never saw it.
  ! has_line "event kind=lsm_read_file .*"
}

@test "bpf/ unit tests (build/test_bpf TAP) all pass on a kernel whose LSM hooks load" {
  # test_bpf creates its cgroups under the host's hybrid-mode path; the guest is pure v2, so the same
  # hierarchy is mounted there too for the length of this test.
  if ! grep -q " /sys/fs/cgroup/unified " /proc/mounts; then
    mkdir -p /sys/fs/cgroup/unified
    mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
    UNIFIED_MOUNTED=1
  fi
  run "$TEST_BPF"
  show
  note "test_bpf in the guest: $(printf '%s\n' "${lines[@]}" | grep -c '^ok ') ok, $(printf '%s\n' "${lines[@]}" | grep -c '^not ok ') not ok"
  [ "$status" -eq 0 ]
  ! has_line "not ok .*"
  has_line "1\.\.[1-9][0-9]*"
}

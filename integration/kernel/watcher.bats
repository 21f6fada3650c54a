#!/usr/bin/env bats
# integration/kernel/watcher.bats - `sbx watch` on a kernel with modules: every attempt from a container is
# refused and reported with the container id, the hook or syscall and the module name (sbx events --json and the
# journal); autoload, which seccomp cannot see, is refused by the LSM and attributed to the container; host loads
# are recorded as host loads (container null, hook tp_module_load). Everything sbx keeps is private to this file
# (sbx_private).

load helpers

setup_file () {
  [ "${SBX_KERNEL_GUEST:-}" = 1 ] || return 0
  sbx_has watch || return 0
  sbx_private watcher
  start_watcher
}

teardown_file () {
  stop_watcher
}

setup () {
  require_guest
  require_sbx_runtime
  sbx_has watch || skip "bin/sbx has no watch command in this tree yet (watcher not merged)"
  sbx_has events || skip "bin/sbx has no events command in this tree yet (watcher not merged)"
  unload_modules $TEST_MODULES
  B=$BATS_TEST_TMPDIR/bundle
  make_bundle "$B"
}

teardown () {
  [ -n "${CTR_RT:-}" ] && stop_container "$CTR_RT" "$CTR_ID"
  unload_modules $TEST_MODULES
}

@test "watcher: its log shows the LSM hooks live in the guest" {
  run cat "$SBX_WATCHER_LOG" "$WATCH_LOG"
  show
  for h in lsm/kernel_read_file lsm/kernel_load_data lsm/kernel_module_request tp/module/module_load; do
    has_line "(.* )?$h: loaded.*"
  done
}

direct_reported () {
  local d=$1 id=w-direct-$1
  set_args "$B" /bin/sbx-probe finit_module=/mod/dummy.ko init_module=/mod/nf_tables.ko
  run_sbx "$d" "$B" "$id"
  show
  [ "$output" = $'finit_module 1 EPERM\ninit_module 1 EPERM' ]
  ! module_loaded dummy
  ! module_loaded nf_tables
  wait_event '.container == $id and .syscall == "finit_module" and .module == "dummy"' --arg id "$id"
  wait_event '.container == $id and .syscall == "init_module" and .module == "nf_tables"' --arg id "$id"
  run grep -c "\"container\":\"$id\"" "$SBX_JOURNAL"
  show
  [ "$output" -eq 2 ]
}

@test "watcher runc: finit_module(dummy.ko), init_module(nf_tables.ko) refused, reported with id, syscall, module" {
  direct_reported runc
}

@test "watcher crun: finit_module(dummy.ko), init_module(nf_tables.ko) refused, reported with id, syscall, module" {
  direct_reported crun
}

# Engine-like: create returns before the process starts (docker, podman and containerd all do this), then the
# autoload comes from an exec'd process.
autoload_detached () {
  local d=$1 id=w-autod-$1
  CTR_RT=sbx:$d CTR_ID=$id
  make_netadmin "$B"
  set_args "$B" /bin/sleep 600
  start_detached "sbx:$d" "$B" "$id"
  run rt_cmd "sbx:$d" exec "$id" /bin/ip link add d0 type dummy
  show
  [ "$status" -ne 0 ]
  run rt_cmd "sbx:$d" exec "$id" /bin/autoload-probe socket_nfnetlink
  show
  [ "$output" = "socket_nfnetlink 93 EPROTONOSUPPORT" ]
  ! module_loaded dummy
  ! module_loaded nfnetlink
  wait_event '.container == $id and .hook == "lsm_module_request" and .module == "rtnl-link-dummy"' --arg id "$id"
  wait_event '.container == $id and .hook == "lsm_module_request" and .module == "net-pf-16-proto-12"' --arg id "$id"
}

@test "watcher runc: autoload (ip link add, NETLINK_NETFILTER socket) from a running container refused by the LSM, attributed" {
  autoload_detached runc
}

@test "watcher crun: autoload (ip link add, NETLINK_NETFILTER socket) from a running container refused by the LSM, attributed" {
  autoload_detached crun
}

# Foreground `run` (sbx run, scripts): the entrypoint itself sleeps DELAY seconds, then triggers autoload twice (rtnetlink, then a NETLINK_NETFILTER socket).
# DELAY 0 is what a hostile entrypoint does: there must be no window between start and registration.
autoload_foreground () {
  local d=$1 delay=$2 id=w-autof-$1-$2
  make_netadmin "$B"
  set_args "$B" /bin/sh -c "sleep $delay; ip link add d0 type dummy; echo ip=\$?; autoload-probe socket_nfnetlink"
  run_sbx "$d" "$B" "$id"
  show
  has_line "socket_nfnetlink 93 EPROTONOSUPPORT"
  has_line "ip=[1-9][0-9]*"
  ! module_loaded dummy
  ! module_loaded nfnetlink
  wait_event '.container == $id and .hook == "lsm_module_request" and .module == "rtnl-link-dummy"' --arg id "$id"
  wait_event '.container == $id and .hook == "lsm_module_request" and .module == "net-pf-16-proto-12"' --arg id "$id"
}

@test "watcher runc: foreground run, entrypoint autoloads after 2 s: refused by the LSM, attributed" {
  autoload_foreground runc 2
}

@test "watcher crun: foreground run, entrypoint autoloads after 2 s: refused by the LSM, attributed" {
  autoload_foreground crun 2
}

@test "watcher runc: foreground run, autoload as the entrypoint's first act is refused too (no window)" {
  autoload_foreground runc 0
}

@test "watcher: the host still loads dummy.ko, journalled as a host module_load (container null)" {
  run "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 0 OK" ]
  module_loaded dummy
  wait_event '.container == null and .hook == "tp_module_load" and .module == "dummy" and .comm == "sbx-probe"'
  grep -q '"hook":"tp_module_load","module":"dummy"' "$SBX_JOURNAL"
}

@test "watcher: sbx run sandboxes are covered like engine containers (direct load and autoload)" {
  sbx_has run || skip "bin/sbx has no run command in this tree yet"
  run "$SBX" run --cap-add ALL -- "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 1 EPERM" ]
  wait_event '.container != null and .syscall == "finit_module" and .module == "dummy"'
  run "$SBX" run --cap-add NET_ADMIN -- sh -c 'sleep 2; ip link add d0 type dummy'
  show
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  wait_event '.container != null and .hook == "lsm_module_request" and .module == "rtnl-link-dummy"'
}

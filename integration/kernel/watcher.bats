#!/usr/bin/env bats
# integration/kernel/watcher.bats - `sbx watch` on a kernel with modules: every attempt from a container is
# refused and reported with the container id, the hook or syscall and the module name (sbx events --json and the
# journal); autoload, which seccomp cannot see, is refused by the LSM and attributed to the container; host loads
# are recorded as host loads.

load helpers

JOURNAL=/var/log/sbx/events.jsonl

setup_file () {
  [ "${SBX_KERNEL_GUEST:-}" = 1 ] || return 0
  [ -x "$SBX_ROOT/bin/sbx" ] && "$SBX_ROOT/bin/sbx" --help 2>/dev/null | grep -qE '^  +watch( |$)' || return 0
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
  export SBX_STATE_DIR=$BATS_FILE_TMPDIR/sbx-state
  unload_modules dummy nf_tables nfnetlink af_alg
  B=$BATS_TEST_TMPDIR/bundle
  make_bundle "$B"
}

teardown () {
  unload_modules dummy nf_tables nfnetlink af_alg
}

@test "watcher: its probe report shows the LSM hooks live in the guest" {
  run cat "$WATCH_LOG"
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
  wait_event "(\$s | index(\"$id\")) and (\$s | index(\"finit_module\")) and any(\$s[]; test(\"^dummy(\\\\.ko)?\$\"))"
  wait_event "(\$s | index(\"$id\")) and (\$s | index(\"init_module\")) and any(\$s[]; test(\"^nf_tables(\\\\.ko)?\$\"))"
  run grep -c "\"$id\"" "$JOURNAL"
  show
  [ "$output" -ge 2 ]
}

@test "watcher runc: finit_module(dummy.ko) and init_module(nf_tables.ko) refused, reported with id, syscall, module" {
  direct_reported runc
}

@test "watcher crun: finit_module(dummy.ko) and init_module(nf_tables.ko) refused, reported with id, syscall, module" {
  direct_reported crun
}

autoload_reported () {
  local d=$1 id=w-auto-$1
  make_netadmin "$B"
  set_args "$B" /bin/ip link add d0 type dummy
  run_sbx "$d" "$B" "$id"
  show
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  wait_event "(\$s | index(\"$id\")) and any(\$s[]; test(\"module_request\")) and (\$s | index(\"rtnl-link-dummy\"))"
  set_args "$B" /bin/sbx-probe socket_alg
  run_sbx "$d" "$B" "$id-alg"
  show
  [ "$output" = "socket_alg 97 EAFNOSUPPORT" ]
  ! module_loaded af_alg
  wait_event "(\$s | index(\"$id-alg\")) and any(\$s[]; test(\"module_request\")) and (\$s | index(\"net-pf-38\"))"
}

@test "watcher runc: autoload (ip link add type dummy, socket AF_ALG) refused by the LSM, attributed to the container" {
  autoload_reported runc
}

@test "watcher crun: autoload (ip link add type dummy, socket AF_ALG) refused by the LSM, attributed to the container" {
  autoload_reported crun
}

@test "watcher: the host still loads dummy.ko, and the load is journalled as a host module_load" {
  run "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 0 OK" ]
  module_loaded dummy
  wait_event "any(\$s[]; test(\"module_load\")) and (\$s | index(\"dummy\")) and (any(\$s[]; startswith(\"w-\")) | not)"
  grep -q '"dummy"' "$JOURNAL"
}

@test "watcher: sbx run sandboxes are covered like engine containers (direct load and autoload)" {
  sbx_has run || skip "bin/sbx has no run command in this tree yet"
  run "$SBX" run --cap-add ALL -- "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 1 EPERM" ]
  run "$SBX" run --cap-add NET_ADMIN -- ip link add d0 type dummy
  show
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  wait_event "any(\$s[]; test(\"module_request\")) and (\$s | index(\"rtnl-link-dummy\")) and (any(\$s[]; startswith(\"w-\")) | not)"
}

#!/usr/bin/env bats
# integration/kernel/sbx_runtime.bats - on a kernel that really loads modules, a container started through
# sbx-runtime cannot: every load path ends in EPERM and /proc/modules is unchanged, on both delegates.
# baseline.bats shows the very same bundles loading dummy.ko without sbx, so a pass here is sbx's doing.

load helpers

# sbx-runtime may start a watcher on demand: keep it and its pins private to this file, and stop it after.
setup_file () {
  sbx_private runtime
}

teardown_file () {
  sbx_private_cleanup
}

setup () {
  require_guest
  require_sbx_runtime
  unload_modules $TEST_MODULES
  B=$BATS_TEST_TMPDIR/bundle
  make_bundle "$B"
}

teardown () {
  unload_modules $TEST_MODULES
}

# assert_refused DELEGATE ID ARGS...: run through sbx-runtime, expect every probe line to be errno 1 (EPERM).
assert_probe_eperm () {
  local d=$1 id=$2; shift 2
  set_args "$B" /bin/sbx-probe "$@"
  run_sbx "$d" "$B" "$id"
  show
  [ "$status" -eq 0 ]
  local expected="" op
  for op in "$@"; do expected+="${op%%=*} 1 EPERM"$'\n'; done
  [ "$output" = "${expected%$'\n'}" ]
}

assert_insmod_refused () {
  local d=$1 id=$2 ko=$3
  set_args "$B" /bin/insmod "$ko"
  run_sbx "$d" "$B" "$id"
  show
  [ "$status" -ne 0 ]
  [[ "$output" == *"Operation not permitted"* ]]
}

no_module_loaded () {
  ! module_loaded dummy
  ! module_loaded nf_tables
  ! module_loaded nfnetlink
}

ordinary () {
  local d=$1
  assert_probe_eperm "$d" o-probe finit_module=/mod/dummy.ko init_module=/mod/dummy.ko \
    finit_module=/mod/nf_tables.ko init_module=/mod/nf_tables.ko delete_module=dummy
  assert_insmod_refused "$d" o-insmod-d /mod/dummy.ko
  assert_insmod_refused "$d" o-insmod-n /mod/nf_tables.ko
  no_module_loaded
}

privileged () {
  local d=$1
  make_privileged "$B"
  assert_probe_eperm "$d" p-probe finit_module=/mod/dummy.ko init_module=/mod/dummy.ko \
    finit_module=/mod/nf_tables.ko init_module=/mod/nf_tables.ko delete_module=dummy
  assert_insmod_refused "$d" p-insmod-d /mod/dummy.ko
  assert_insmod_refused "$d" p-insmod-n /mod/nf_tables.ko
  no_module_loaded
}

@test "sbx-runtime/runc: ordinary spec: dummy.ko and nf_tables.ko refused with EPERM (finit, init, insmod)" {
  ordinary runc
}

@test "sbx-runtime/crun: ordinary spec: dummy.ko and nf_tables.ko refused with EPERM (finit, init, insmod)" {
  ordinary crun
}

@test "sbx-runtime/runc: privileged spec (CAP_SYS_MODULE, seccomp unconfined): every load refused with EPERM" {
  privileged runc
}

@test "sbx-runtime/crun: privileged spec (CAP_SYS_MODULE, seccomp unconfined): every load refused with EPERM" {
  privileged crun
}

@test "sbx-runtime: the guest root still loads dummy.ko after sbx containers ran" {
  set_args "$B" /bin/sbx-probe finit_module=/mod/dummy.ko
  run_sbx runc "$B" host-after
  [ "$output" = "finit_module 1 EPERM" ]
  run "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 0 OK" ]
  module_loaded dummy
}

@test "sbx-runtime (runc, crun): sockets of the families the profile refuses (AF_ALG, AF_VSOCK) get EPERM, nothing autoloads" {
  set_args "$B" /bin/sbx-probe socket_alg socket_vsock
  for d in runc crun; do
    run_sbx "$d" "$B" "sock-$d"
    show
    [ "$output" = $'socket_alg 1 EPERM\nsocket_vsock 1 EPERM' ]
  done
  ! module_loaded af_alg
  ! module_loaded vsock
}

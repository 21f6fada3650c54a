#!/usr/bin/env bats
# integration/kernel/sbx_run.bats - `sbx run` sandboxes on a kernel that loads modules: the same refusals as
# engine containers (EPERM, nothing in /proc/modules), even with every capability added.

load helpers

setup_file () {
  sbx_private run
}

teardown_file () {
  sbx_private_cleanup
}

setup () {
  require_guest
  sbx_has run || skip "bin/sbx has no run command in this tree yet"
  unload_modules $TEST_MODULES
}

teardown () {
  unload_modules $TEST_MODULES
}

@test "sbx run: finit_module and init_module of dummy.ko and nf_tables.ko refused with EPERM" {
  run "$SBX" run -- "$PROBE" finit_module="$DUMMY_KO" init_module="$DUMMY_KO" finit_module="$NFT_KO" init_module="$NFT_KO"
  show
  [ "$status" -eq 0 ]
  [ "$output" = $'finit_module 1 EPERM\ninit_module 1 EPERM\nfinit_module 1 EPERM\ninit_module 1 EPERM' ]
  ! module_loaded dummy
  ! module_loaded nf_tables
}

@test "sbx run --cap-add ALL: busybox insmod dummy.ko still refused" {
  run "$SBX" run --cap-add ALL -- insmod "$DUMMY_KO"
  show
  [ "$status" -ne 0 ]
  [[ "$output" == *"Operation not permitted"* ]]
  ! module_loaded dummy
}

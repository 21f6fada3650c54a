#!/usr/bin/env bats
# integration/kernel/baseline.bats - what an unprotected container can do on a kernel with modules: the holes sbx
# must close. Every test here PASSES when the hole is open (the kernel loads the module), so a guest that cannot
# load modules at all would fail here rather than make the sbx tests pass vacuously.

load helpers

setup () {
  require_guest
  unload_modules $TEST_MODULES
  B=$BATS_TEST_TMPDIR/bundle
}

teardown () {
  unload_modules $TEST_MODULES
}

@test "guest: kernel with loadable modules and the BPF LSM active" {
  [ -r /proc/modules ]
  run cat /sys/kernel/security/lsm
  show
  [[ ",$output," == *,bpf,* ]]
  [ -e /sys/kernel/btf/vmlinux ]
  [ -e "$DUMMY_KO" ]
}

@test "guest root loads and unloads dummy.ko (finit_module)" {
  run "$PROBE" finit_module="$DUMMY_KO"
  show
  [ "$output" = "finit_module 0 OK" ]
  module_loaded dummy
  run "$PROBE" delete_module=dummy
  [ "$output" = "delete_module 0 OK" ]
  ! module_loaded dummy
}

@test "baseline: a task in its own pid namespace (unshare -p) loads dummy.ko" {
  run unshare -p -f "$PROBE" init_module="$DUMMY_KO"
  show
  [ "$output" = "init_module 0 OK" ]
  module_loaded dummy
}

privileged_loads () {
  local rt=$1
  make_bundle "$B"
  make_privileged "$B"
  set_args "$B" /bin/sbx-probe finit_module=/mod/dummy.ko
  run_in "$rt" "$B" base-priv-f
  show
  [ "$status" -eq 0 ]
  [ "$output" = "finit_module 0 OK" ]
  module_loaded dummy
  rmmod dummy
  set_args "$B" /bin/sbx-probe init_module=/mod/dummy.ko
  run_in "$rt" "$B" base-priv-i
  [ "$output" = "init_module 0 OK" ]
  module_loaded dummy
  rmmod dummy
  set_args "$B" /bin/insmod /mod/dummy.ko
  run_in "$rt" "$B" base-priv-b
  show
  [ "$status" -eq 0 ]
  module_loaded dummy
}

@test "baseline runc: a privileged container (CAP_SYS_MODULE, no seccomp) loads dummy.ko 3 ways" {
  privileged_loads runc
}

@test "baseline crun: a privileged container (CAP_SYS_MODULE, no seccomp) loads dummy.ko 3 ways" {
  privileged_loads crun
}

unprivileged_autoloads () {
  local rt=$1
  make_bundle "$B"
  # socket(AF_ALG) needs no capability at all: the kernel runs modprobe for "net-pf-38" on the container's behalf.
  set_args "$B" /bin/sbx-probe socket_alg
  run_in "$rt" "$B" base-alg
  show
  [ "$output" = "socket_alg 0 OK" ]
  module_loaded af_alg
  # A netlink protocol, allowed by container profiles and needing no capability: net-pf-16-proto-12 loads nfnetlink.
  set_args "$B" /bin/autoload-probe socket_nfnetlink
  run_in "$rt" "$B" base-nfnl
  show
  [ "$output" = "socket_nfnetlink 0 OK" ]
  module_loaded nfnetlink
  # CAP_NET_ADMIN in the container's own network namespace is enough for rtnl-link-dummy.
  make_netadmin "$B"
  set_args "$B" /bin/ip link add d0 type dummy
  run_in "$rt" "$B" base-rtnl
  show
  [ "$status" -eq 0 ]
  module_loaded dummy
}

@test "baseline runc: an ordinary container autoloads af_alg, nfnetlink (socket) and dummy (ip link add)" {
  unprivileged_autoloads runc
}

@test "baseline crun: an ordinary container autoloads af_alg, nfnetlink (socket) and dummy (ip link add)" {
  unprivileged_autoloads crun
}

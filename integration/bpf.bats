#!/usr/bin/env bats
# bpf.bats - sbx's BPF hooks on the real kernel: probe report, syscalls-mode attribution, pins across restarts.
# Every bpffs used here is mounted inside a private mount namespace the test creates; the host's mount table,
# /sys/fs/bpf and its cgroups (other than the ones the test makes and removes) are left alone.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

setup_file () {
  # crun needs the hybrid-cgroup step the project's own host preparation does (idempotent).
  if [ -x "$ROOT/hack/prepare-host.sh" ]; then
    "$ROOT/hack/prepare-host.sh" >&2
  fi
  export HELPER=${SBX_TEST_BPF:-$ROOT/build/tests/test_bpf}
  if [ ! -x "$HELPER" ]; then
    make -s -C "$ROOT" build/tests/test_bpf >&2
  fi
  export PROBE=${SBX_PROBE:-$ROOT/build/sbx-probe}
  if [ ! -x "$PROBE" ]; then
    PROBE=$BATS_FILE_TMPDIR/sbx-probe
    cc -static -O2 -o "$PROBE" "$ROOT/tests/probe/sbx-probe.c"
  fi
}

setup () {
  [ "$(id -u)" = 0 ] || skip "loading BPF needs root"
  TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/sbx-bpf.XXXXXX")
  mkdir "$TMP/bpffs"
  CGA=/sys/fs/cgroup/unified/sbx-bats-bpf-$$-a
  CGB=/sys/fs/cgroup/unified/sbx-bats-bpf-$$-b
  mkdir "$CGA" "$CGB"
  WATCH_PID=
  CONTAINERS=()
}

teardown () {
  local c d
  for c in "${CONTAINERS[@]}"; do
    for d in runc crun; do "$d" --root "$TMP/root" delete --force "$c" > /dev/null 2>&1 || true; done
  done
  if [ -n "$WATCH_PID" ]; then
    kill -TERM "$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
  fi
  for d in "$CGA" "$CGB"; do
    for _ in $(seq 50); do
      [ -d "$d" ] || break
      rmdir "$d" 2>/dev/null && break
      sleep 0.05
    done
  done
  rm -rf "$TMP"
}

# On failure bats shows the output of `run`; also show what the watcher printed.
show () {
  echo "--- $1"
  cat "$1" 2>/dev/null || true
}

wait_ready () {
  for _ in $(seq 100); do
    grep -qx ready "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  show "$1"
  show "$1.err"
  return 1
}

# The watcher helper in its own private mount namespace with a fresh bpffs under $TMP (never the host's).
start_watch () {
  local out=$1
  shift
  unshare -m --propagation private sh -c 'mount -t bpf bpf "$1/bpffs" && shift && exec "$@"' sh \
    "$TMP" "$HELPER" watch "$TMP/bpffs/sbx" "$@" > "$out" 2> "$out.err" &
  WATCH_PID=$!
  wait_ready "$out"
}

stop_watch () {
  kill -TERM "$WATCH_PID"
  wait "$WATCH_PID"
  WATCH_PID=
}

@test "probe report says exactly which hooks load here, and why the others do not" {
  # Independent oracles: bpftool's own probe for LSM programs, /proc/modules for CONFIG_MODULES.
  if bpftool feature probe kernel 2>/dev/null | grep -q "program_type lsm is NOT available"; then
    lsm="unavailable: BPF trampolines refused by this kernel (EPERM): lsm/ programs cannot load"
  else
    lsm="loaded"
  fi
  if [ -e /proc/modules ]; then
    load="loaded"; req="loaded"
  else
    load="unavailable: tracepoint module:module_load does not exist (kernel built without CONFIG_MODULES)"
    req="unavailable: tracepoint module:module_request does not exist (kernel built without CONFIG_MODULES)"
  fi

  run "$HELPER" report
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 6 ]
  [ "${lines[0]}" = "lsm/kernel_read_file: $lsm" ]
  [ "${lines[1]}" = "lsm/kernel_load_data: $lsm" ]
  [ "${lines[2]}" = "lsm/kernel_module_request: $lsm" ]
  [ "${lines[3]}" = "tp/module/module_load: $load" ]
  [ "${lines[4]}" = "tp/module/module_request: $req" ]
  [ "${lines[5]}" = "tp_btf/sys_exit: off (opt-in: syscalls mode is off)" ]

  run "$HELPER" report --syscalls
  [ "$status" -eq 0 ]
  [ "${lines[5]}" = "tp_btf/sys_exit: loaded" ]
}

@test "syscalls mode sees finit_module refused by seccomp in a registered cgroup, and nothing from another" {
  mounts_before=$(grep -c ' - bpf ' /proc/self/mountinfo || true)
  start_watch "$TMP/watch.out" "$CGA" 3

  run "$HELPER" seccomp-exec "$CGA" "$PROBE" finit_module
  [ "$status" -eq 0 ]
  [ "$output" = "finit_module 1 EPERM" ]
  run "$HELPER" seccomp-exec "$CGB" "$PROBE" finit_module
  [ "$status" -eq 0 ]
  [ "$output" = "finit_module 1 EPERM" ]

  stop_watch
  show "$TMP/watch.out"
  cga_id=$(stat -c %i "$CGA")
  host_pidns=$(stat -L -c %i /proc/self/ns/pid)
  run grep -c '^event ' "$TMP/watch.out"
  [ "$output" = 1 ]
  run grep '^event ' "$TMP/watch.out"
  [ "$output" = "event kind=sys_exit action=observed slot=3 syscall=finit_module ret=-1 cgroup=$cga_id pidns=$host_pidns comm=sbx-probe module=-" ]
  grep -qx 'count 3 1' "$TMP/watch.out"
  # The host's mount table did not gain a bpffs.
  [ "$(grep -c ' - bpf ' /proc/self/mountinfo || true)" = "$mounts_before" ]
}

run_twice_in_one_namespace () {
  set -e
  mount -t bpf bpf "$TMP/bpffs"
  for round in 1 2; do
    "$HELPER" watch "$TMP/bpffs/sbx" "$CGA" 5 > "$TMP/w$round.out" 2> "$TMP/w$round.out.err" &
    pid=$!
    wait_ready "$TMP/w$round.out"
    "$HELPER" seccomp-exec "$CGA" "$PROBE" finit_module > "$TMP/p$round.out"
    kill -TERM "$pid"
    wait "$pid"
  done
  ls "$TMP/bpffs/sbx" > "$TMP/pins"
}

@test "per-container counters survive a watcher restart through the pins" {
  export TMP CGA HELPER PROBE
  export -f run_twice_in_one_namespace wait_ready show
  run unshare -m --propagation private bash -c run_twice_in_one_namespace
  [ "$status" -eq 0 ]
  show "$TMP/w1.out"
  show "$TMP/w2.out"
  [ "$(cat "$TMP/p1.out")" = "finit_module 1 EPERM" ]
  [ "$(cat "$TMP/p2.out")" = "finit_module 1 EPERM" ]
  grep -qx 'count 5 1' "$TMP/w1.out"
  grep -qx 'count 5 2' "$TMP/w2.out"
  grep -qx link_sys_exit "$TMP/pins"
  grep -qx sbx_counts "$TMP/pins"
}

# A busybox bundle whose process is the probe; sbx-runtime hardens it (module syscalls -> EPERM) on create.
make_bundle () {
  mkdir -p "$TMP/root" "$TMP/bundle/rootfs/bin"
  cp /bin/busybox "$PROBE" "$TMP/bundle/rootfs/bin/"
  (cd "$TMP/bundle" && runc spec)
  jq '.process.terminal=false | .root.readonly=true | .process.args=["/bin/sbx-probe","finit_module"]' \
    "$TMP/bundle/config.json" > "$TMP/config.json"
  mv "$TMP/config.json" "$TMP/bundle/config.json"
}

@test "a container started by sbx-runtime is attributed through its init pid's keys (runc and crun)" {
  SBX_RT=$ROOT/bin/sbx-runtime
  [ -x "$SBX_RT" ] || make -s -C "$ROOT" bin/sbx-runtime
  # No watcher on demand: this test loads its own BPF and must not meet a system watcher's.
  echo '{"watcher": {"enabled": false}}' >"$TMP/sbx.json"
  export SBX_CONFIG=$TMP/sbx.json
  make_bundle
  slot=4
  for d in runc crun; do
    id=sbx-bpf-$d-$$
    CONTAINERS+=("$id")
    SBX_RUNTIME=$d "$SBX_RT" --root "$TMP/root" create --bundle "$TMP/bundle" --pid-file "$TMP/$d.pid" "$id" \
      > "$TMP/$d.ctr" 2>&1
    pid=$(cat "$TMP/$d.pid")
    # What the watcher does at create: both keys from the container's init pid.
    cg_id=$(stat -c %i "/sys/fs/cgroup/unified$(sed -n 's/^0:://p' "/proc/$pid/cgroup")")
    pidns=$(stat -L -c %i "/proc/$pid/ns/pid")
    [ "$pidns" != "$(stat -L -c %i /proc/self/ns/pid)" ]
    start_watch "$TMP/$d.watch" "pid:$pid" "$slot"
    SBX_RUNTIME=$d "$SBX_RT" --root "$TMP/root" start "$id"
    for _ in $(seq 100); do
      [ "$("$d" --root "$TMP/root" state "$id" | jq -r .status)" = stopped ] && break
      sleep 0.05
    done
    stop_watch
    show "$TMP/$d.ctr"
    show "$TMP/$d.watch"
    [ "$(cat "$TMP/$d.ctr")" = "finit_module 1 EPERM" ]
    [ "$(grep -c '^event ' "$TMP/$d.watch")" = 1 ]
    [ "$(grep '^event ' "$TMP/$d.watch")" = "event kind=sys_exit action=observed slot=$slot syscall=finit_module ret=-1 cgroup=$cg_id pidns=$pidns comm=sbx-probe module=-" ]
    grep -qx "count $slot 1" "$TMP/$d.watch"
    "$d" --root "$TMP/root" delete --force "$id"
    slot=$((slot + 1))
  done
}

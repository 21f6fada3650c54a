# integration/kernel/helpers.bash - shared setup for the suite that runs inside the kernel tier's guest.
# Every test builds its own bundle and runtime --root under $BATS_TEST_TMPDIR and unloads what it loaded.

SBX_ROOT=${SBX_ROOT:-/sbx}
SBX=$SBX_ROOT/bin/sbx
SBX_RUNTIME_BIN=$SBX_ROOT/bin/sbx-runtime
PROBE=$SBX_ROOT/build/sbx-probe
AUTOLOAD_PROBE=$SBX_ROOT/integration/kernel/bin/autoload-probe
# Modules a test may leave loaded, dependants before what they depend on (rmmod order).
TEST_MODULES="dummy nf_tables nfnetlink af_alg libcrc32c"
KVER=$(uname -r)
MODDIR=/lib/modules/$KVER/kernel
DUMMY_KO=$MODDIR/drivers/net/dummy.ko
NFT_KO=$MODDIR/net/netfilter/nf_tables.ko

# The suite needs the guest: module loads and LSM programs are exactly what must never run on the real host.
require_guest () {
  [ "${SBX_KERNEL_GUEST:-}" = 1 ] || skip "runs only inside the kernel tier's guest (hack/kernel/run.sh)"
}

# Print the last `run` output: bats shows a test's stdout only when the test fails, so diagnostics cost nothing
# on success. note() prints to the TAP stream unconditionally (for facts worth seeing in every run).
show () { printf '%s\n' "$output"; }
note () { printf '# %s\n' "$@" >&3; }

module_loaded () { grep -q "^$1 " /proc/modules; }

# Remove modules a test may have loaded (the guest is shared by every test in the run). Several passes: a
# dependency goes only after its users, and a module whose last socket just closed may stay busy a moment.
unload_modules () {
  local try m left
  for try in $(seq 10); do
    left=
    for m in "$@"; do
      module_loaded "$m" || continue
      rmmod "$m" 2>/dev/null || left+=" $m"
    done
    [ -z "$left" ] && return 0
    sleep 0.3
  done
  echo "cannot unload:$left"
  return 1
}

# make_bundle DIR: busybox rootfs with sbx-probe and the test modules, config from `runc spec`.
make_bundle () {
  local b=$1 a
  mkdir -p "$b/rootfs"/{bin,sbin,proc,sys,dev,tmp,mod,etc}
  cp /usr/bin/busybox "$b/rootfs/bin/busybox"
  for a in sh insmod rmmod ip cat grep ls sleep unshare; do ln -s busybox "$b/rootfs/bin/$a"; done
  cp "$PROBE" "$b/rootfs/bin/sbx-probe"
  cp "$AUTOLOAD_PROBE" "$b/rootfs/bin/autoload-probe"
  cp "$DUMMY_KO" "$NFT_KO" "$b/rootfs/mod/"
  printf 'root:x:0:0:root:/:/bin/sh\n' >"$b/rootfs/etc/passwd"
  (cd "$b" && runc spec)
  jq '.process.terminal = false | .root.readonly = true | .hostname = "ctr"' "$b/config.json" >"$b/c.tmp"
  mv "$b/c.tmp" "$b/config.json"
}

# edit_config DIR JQ-FILTER [jq args...]: rewrite the bundle's config.json in place.
edit_config () {
  local b=$1 f=$2; shift 2
  jq "$f" "$@" <"$b/config.json" >"$b/c.tmp" && mv "$b/c.tmp" "$b/config.json"
}

# set_args BUNDLE ARG...: the process args. Passed as --arg values, which jq never reads as its own options.
set_args () {
  local b=$1 i=0 a; shift
  local named=()
  for a in "$@"; do named+=(--arg "a$i" "$a"); i=$((i + 1)); done
  edit_config "$b" '.process.args = [range($n | tonumber) as $i | $ARGS.named["a\($i)"]]' --arg n "$#" "${named[@]}"
}

# The privileged-like container: every module capability, seccomp off (what --privileged amounts to for modules).
make_privileged () {
  edit_config "$1" '.process.capabilities |= with_entries(.value += ["CAP_SYS_MODULE", "CAP_NET_ADMIN"] | .value |= unique)
                    | del(.linux.seccomp)'
}

# A network namespace of its own plus CAP_NET_ADMIN in it: enough for `ip link add`, which autoloads rtnl-link-*.
make_netadmin () {
  edit_config "$1" '.process.capabilities |= with_entries(.value += ["CAP_NET_ADMIN"] | .value |= unique)'
}

# run_in RUNTIME BUNDLE ID: run the bundle's process to completion under RUNTIME (a runc-CLI binary).
run_in () {
  local rt=$1 b=$2 id=$3
  run "$rt" --root "$BATS_TEST_TMPDIR/state" run --bundle "$b" "$id"
}

require_sbx_runtime () {
  [ -x "$SBX_RUNTIME_BIN" ] || skip "bin/sbx-runtime is not built in this tree"
}

# run_sbx DELEGATE BUNDLE ID: the container through sbx-runtime, which rewrites the spec and execs DELEGATE.
run_sbx () {
  local d=$1 b=$2 id=$3
  run env SBX_RUNTIME="$d" "$SBX_RUNTIME_BIN" --root "$BATS_TEST_TMPDIR/state" run --bundle "$b" "$id"
}

# A subcommand of bin/sbx exists when its usage lists it (the CLI grows one file per command).
sbx_has () {
  [ -x "$SBX" ] && "$SBX" --help 2>/dev/null | grep -qE "^  +$1( |\$)"
}

# start_detached RUNTIME-CMD BUNDLE ID: run the bundle in the background (its process must stay up), print its
# host pid. RUNTIME-CMD is a runc-CLI binary, or "sbx:DELEGATE" for sbx-runtime with that delegate.
start_detached () {
  local rt=$1 b=$2 id=$3
  rt_cmd "$rt" run -d --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/$id.out" 2>&1 3>&- ||
    { echo "start_detached $rt $id: run -d failed:" >&2; cat "$BATS_TEST_TMPDIR/$id.out" >&2; return 1; }
  rt_cmd "$rt" state "$id" | jq -r .pid
}

rt_cmd () {
  local rt=$1; shift
  case $rt in
    sbx:*) SBX_RUNTIME=${rt#sbx:} "$SBX_RUNTIME_BIN" --root "$BATS_TEST_TMPDIR/state" "$@" ;;
    *) "$rt" --root "$BATS_TEST_TMPDIR/state" "$@" ;;
  esac
}

# The cgroup v2 directory of a host pid (pure v2 in the guest: one "0::" line).
cgroup_dir_of () {
  echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
}

stop_container () {
  local rt=$1 id=$2
  rt_cmd "$rt" delete --force "$id" >/dev/null 2>&1 3>&- || true
}

# has_line ERE: some line of the last `run` output matches ERE exactly (whole line).
has_line () { printf '%s\n' "$output" | grep -aqxE -- "$1"; }

# ---- sbx's own state, private to one test file ----

# sbx_private TAG: state dir, config, journal and BPF pin dir of this file's own, so that a watcher started
# here (by the test, or on demand by sbx-runtime) sees only this file's containers and leaves nothing behind.
sbx_private () {
  export SBX_STATE_DIR=$BATS_FILE_TMPDIR/sbx-state
  export SBX_CONFIG=$BATS_FILE_TMPDIR/sbx.json
  export SBX_JOURNAL=$BATS_FILE_TMPDIR/events.jsonl
  export SBX_PIN_DIR=/sys/fs/bpf/sbx-$1
  export SBX_WATCHER_LOG=$BATS_FILE_TMPDIR/watcher.log
  mkdir -p "$SBX_STATE_DIR"
  jq -n --arg pin "$SBX_PIN_DIR" --arg j "$SBX_JOURNAL" --arg log "$SBX_WATCHER_LOG" \
    '{bpf: {pin_dir: $pin}, journal: {path: $j}, watcher: {log: $log}}' >"$SBX_CONFIG"
}

# sbx_private_cleanup: stop a watcher that sbx-runtime started on demand (through its own control socket), and
# remove the pins, which would otherwise keep the hooks attached.
sbx_private_cleanup () {
  [ -n "${SBX_STATE_DIR:-}" ] || return 0
  if [ -S "$SBX_STATE_DIR/watcher.sock" ] && sbx_has watch; then
    timeout 30 "$SBX" watch --stop >/dev/null 2>&1 || true
  fi
  [ -n "${SBX_PIN_DIR:-}" ] && rm -rf "$SBX_PIN_DIR"
  return 0
}

# ---- the watcher (`sbx watch`) ----

# start_watcher: `sbx watch` in the foreground of a background job (after sbx_private); waits for its socket.
# Its log goes to $SBX_WATCHER_LOG (config watcher.log), anything else it prints to $WATCH_LOG.
start_watcher () {
  export WATCH_LOG=$BATS_FILE_TMPDIR/watch.out
  "$SBX" watch >"$WATCH_LOG" 2>&1 </dev/null 3>&- &
  echo $! >"$BATS_FILE_TMPDIR/watcher.pid"
  for _ in $(seq 600); do
    [ -S "$SBX_STATE_DIR/watcher.sock" ] && return 0
    kill -0 "$(cat "$BATS_FILE_TMPDIR/watcher.pid")" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WATCH_LOG" "$SBX_WATCHER_LOG" 2>/dev/null
  return 1
}

stop_watcher () {
  local pid
  pid=$(cat "$BATS_FILE_TMPDIR/watcher.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -f "$BATS_FILE_TMPDIR/watcher.pid"
  sbx_private_cleanup
}

# wait_event JQ-CONDITION [jq args]: poll `sbx events --json` for up to 30 s until one journal event satisfies
# the condition (fields: time type container engine hook syscall module file pid comm action outcome count);
# the event lands in $output. On failure prints the condition and the last events.
wait_event () {
  local cond=$1 i; shift
  for i in $(seq 60); do
    output=$(timeout 20 "$SBX" events --json 2>/dev/null </dev/null | jq -c "select($cond)" "$@" 2>/dev/null | tail -n1)
    [ -n "$output" ] && return 0
    sleep 0.5
  done
  echo "no event with: $cond $*; last events:"
  timeout 20 "$SBX" events --json 2>&1 | tail -n 20
  return 1
}

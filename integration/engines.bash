# engines.bash - shared helpers for the engine suites: each engine runs with its own config, root, state and sockets.
#
# A suite calls engines_setup_file in setup_file, then one of podman_start / docker_start / containerd_start, and
# engines_teardown_file in teardown_file.  Nothing outside the suite's private directory is configured or touched:
# engines are started by the tests, stopped by PID, and their state is removed.  An engine that cannot start on
# this host makes its tests skip (with the reason and the engine's log tail), never pass.

# Engines are slow to start: a longer bound per test than helpers.bash's default, and its time-bound helpers.
: "${BATS_TEST_TIMEOUT:=${SBX_TEST_TIMEOUT:-300}}"
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash"
ENGINES_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The runtime under test; one variable so the harness can be pointed at a stand-in or an installed copy.
: "${SBX_RUNTIME_BIN:=$ENGINES_REPO/bin/sbx-runtime}"
: "${SBX_BIN:=$ENGINES_REPO/bin/sbx}"
: "${SBX_PROBE:=$ENGINES_REPO/build/sbx-probe}"
export SBX_RUNTIME_BIN SBX_BIN SBX_PROBE
# Debian's python3 with python3-grpcio/python3-protobuf, whatever python3 a developer has first on PATH.
: "${ENGINES_PYTHON:=/usr/bin/python3}"
ENGINE_IMAGE=localhost/sbx-test:latest
ENGINES_CRI_DIR=$ENGINES_REPO/integration/cri

# ---- file-level setup and skipping -------------------------------------------------------------------------

# Record why this file's tests cannot run here; every test then skips with that reason (see engines_setup).
engines_skip_all () {
  export ENGINE_SKIP_REASON="$*"
  echo "# skipping: $*" >&3
}

# Call first in each test's setup().
engines_setup () {
  if [ -n "${ENGINE_SKIP_REASON:-}" ]; then
    skip "$ENGINE_SKIP_REASON"
  fi
}

# Make the private directory, the probe and the test rootfs.  Returns 1 (after engines_skip_all) when the host
# lacks something the suite needs.  Arguments: commands the suite needs on PATH.
engines_setup_file () {
  local c
  export ENGINE_SKIP_REASON=
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      engines_skip_all "$c is not installed (see hack/deps/engines.txt)"
      return 1
    fi
  done
  if [ ! -x "$SBX_RUNTIME_BIN" ]; then
    engines_skip_all "sbx-runtime is not built at $SBX_RUNTIME_BIN (run make)"
    return 1
  fi
  # The delegate (crun) needs the host prepared; the lead's script is idempotent and touches nothing else.
  if [ -x "$ENGINES_REPO/hack/prepare-host.sh" ] && ! "$ENGINES_REPO/hack/prepare-host.sh" >/dev/null 2>&1; then
    echo "# hack/prepare-host.sh failed; continuing" >&3
  fi
  # Short path: engines put unix sockets below it (108-byte limit).
  ENGINE_TMP=$(mktemp -d /tmp/sbxe.XXXXXX)
  export ENGINE_TMP
  if [ ! -x "$SBX_PROBE" ]; then
    SBX_PROBE=$ENGINE_TMP/sbx-probe
    gcc -static -O2 -o "$SBX_PROBE" "$ENGINES_REPO/tests/probe/sbx-probe.c" || {
      engines_skip_all "cannot build the static probe (gcc -static, glibc static libraries)"
      return 1
    }
    export SBX_PROBE
  fi
  engines_sbx_config
  engines_make_rootfs "$ENGINE_TMP/rootfs"
}

# sbx's own settings for everything the engines start: state, watcher socket, journal and BPF pins inside our
# directory, and no watcher started on demand (a test that wants one starts it with sbx_watch_start), so no sbx
# daemon or file outlives the suite.  Daemons (dockerd, containerd) hand their environment down to the runtime;
# conmon does not, so Podman gets the runtime through a wrapper that sets it (SBX_RUNTIME_WRAPPED).
engines_sbx_config () {
  export SBX_STATE_DIR=$ENGINE_TMP/sbx-state SBX_CONFIG=$ENGINE_TMP/sbx.json
  export SBX_WATCH_SOCK=$SBX_STATE_DIR/watcher.sock SBX_RUNTIME_WRAPPED=$ENGINE_TMP/bin/sbx-runtime
  mkdir -p "$SBX_STATE_DIR" "$ENGINE_TMP/bin"
  cat >"$SBX_CONFIG" <<EOF
{
  "state_dir": "$SBX_STATE_DIR",
  "watcher": {"socket": "$SBX_WATCH_SOCK", "log": "$ENGINE_TMP/watcher.log", "on_demand": false},
  "journal": {"path": "$ENGINE_TMP/events.jsonl"},
  "bpf": {"enabled": false, "pin_dir": "/sys/fs/bpf/sbx-test-${ENGINE_TMP##*.}"}
}
EOF
  printf '#!/bin/sh\nSBX_CONFIG=%s SBX_STATE_DIR=%s exec %s "$@"\n' "$SBX_CONFIG" "$SBX_STATE_DIR" \
    "$SBX_RUNTIME_BIN" >"$SBX_RUNTIME_WRAPPED"
  chmod +x "$SBX_RUNTIME_WRAPPED"
}

# busybox-static plus sbx-probe: enough for sh, sleep, cat and the probe, with no registry.
engines_make_rootfs () {
  local root=$1 applet
  mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  cp "$SBX_PROBE" "$root/bin/sbx-probe"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  chmod 1777 "$root/tmp"
}

engines_rootfs_tar () {
  "$ENGINES_PYTHON" "$ENGINES_CRI_DIR/mkimage.py" rootfs "$ENGINE_TMP/rootfs" "$1"
}

engines_oci_archive () {
  "$ENGINES_PYTHON" "$ENGINES_CRI_DIR/mkimage.py" oci "$ENGINE_TMP/rootfs" "$1" "$ENGINE_IMAGE"
}

# Stop what the suite started, unmount what its engines left mounted below ENGINE_TMP, remove ENGINE_TMP.
engines_teardown_file () {
  [ -n "${ENGINE_TMP:-}" ] && [ -d "$ENGINE_TMP" ] || return 0
  local m
  engines_remove_host_dirs
  # Deepest first; only mounts below our own directory.
  for m in $(awk -v p="$ENGINE_TMP/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$ENGINE_TMP"
}

# Engines create a few fixed host directories whatever their config says (containerd 1.6 puts shim sockets in
# /run/containerd/s, dockerd makes /run/docker/plugins).  Note which did not exist before, to remove them after
# if they are empty again.
engines_note_host_dirs () {
  local dir
  for dir in "$@"; do
    [ -e "$dir" ] || echo "$dir" >>"$ENGINE_TMP/host-dirs"
  done
}

engines_remove_host_dirs () {
  local dir
  [ -f "$ENGINE_TMP/host-dirs" ] || return 0
  # Deepest first; rmdir refuses anything that is not empty, so nothing of anyone else's can go.
  for dir in $(sort -r "$ENGINE_TMP/host-dirs"); do
    rmdir "$dir" 2>/dev/null || true
  done
}

# ---- process helpers -------------------------------------------------------------------------------------------

# Wait until PATH is a socket, or the daemon PID died, or TIMEOUT seconds passed.
engines_wait_socket () {
  local path=$1 pid=$2 timeout=${3:-30} i
  for ((i = 0; i < timeout * 10; i++)); do
    [ -S "$path" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# TERM, then KILL after TIMEOUT seconds; PID must be a child this suite started.
engines_stop_pid () {
  local pid=$1 timeout=${2:-20} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# PIDs of processes whose command line contains ARG as one whole argument (used to find the shims a daemon
# started with our private socket address, which outlive containerd by design).
engines_pids_with_arg () {
  local want=$1 p
  for p in /proc/[0-9]*; do
    { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qxF -- "$want" && echo "${p#/proc/}"
  done
  return 0
}

engines_log_tail () {
  tail -n 15 "$1" 2>/dev/null | tr '\n' ' ' | cut -c1-1500
}

# ---- assertions ----------------------------------------------------------------------------------------------

# The three module syscalls, refused by sbx's filter (EPERM), not by this kernel (ENOSYS, no CONFIG_MODULES).
assert_modules_eperm () {
  local out=$1
  local want=$'finit_module 1 EPERM\ninit_module 1 EPERM\ndelete_module 1 EPERM'
  if [ "$(printf '%s\n' "$out" | grep -E '^(finit|init|delete)_module ')" != "$want" ]; then
    echo "expected the module syscalls to fail with EPERM; got:" >&2
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# Shell run inside the container: prints 1 when CAP_SYS_MODULE (bit 16) is in the bounding set, else 0.
CAPBND_SYS_MODULE='b=$(sed -n "s/^CapBnd:[[:space:]]*//p" /proc/self/status); echo $(( (0x$b >> 16) & 1 ))'

# The runtime's annotations in a bundle config.json (written by sbx-runtime on create).
assert_sbx_annotations () {
  local config=$1 policy
  policy=$("$ENGINES_PYTHON" -c 'import json,sys; a=json.load(open(sys.argv[1])).get("annotations",{}); print(a.get("run.sbx.policy",""), a.get("run.sbx.profile",""))' "$config")
  if [ -z "${policy%% *}" ] || [ -z "${policy#* }" ]; then
    echo "no run.sbx.policy/run.sbx.profile annotations in $config: '$policy'" >&2
    return 1
  fi
}

# True when the watcher (bin/sbx watch) exists; tests that need it skip otherwise.
sbx_watch_available () {
  [ -x "$SBX_BIN" ] && "$SBX_BIN" watch --help >/dev/null 2>&1
}

# Start the watcher on the suite's private config (engines_sbx_config); sets SBX_WATCH_PID.  Stop it with
# engines_stop_pid "$SBX_WATCH_PID".
sbx_watch_start () {
  "$SBX_BIN" watch >"$ENGINE_TMP/watch.out" 2>&1 &
  SBX_WATCH_PID=$!
  export SBX_WATCH_PID
  engines_wait_socket "$SBX_WATCH_SOCK" "$SBX_WATCH_PID" 10
}

# ---- Podman ----------------------------------------------------------------------------------------------------

# Podman is daemonless: "starting" it means writing a private containers.conf/storage.conf and exporting them.
# The runtime is registered by name ("sbx", the default) and JSON logging is on, as `sbx install podman` does;
# it is the wrapper that carries the suite's sbx settings (see engines_sbx_config).
podman_start () {
  local d=$ENGINE_TMP/podman
  mkdir -p "$d"/{root,runroot,tmp,volumes,cni,hooks}
  cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[network]
network_config_dir = "$d/cni"

[engine]
runtime = "sbx"
runtime_supports_json = ["crun", "runc", "sbx"]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
hooks_dir = ["$d/hooks"]
lock_type = "file"

[engine.runtimes]
sbx = ["$SBX_RUNTIME_WRAPPED"]
EOF
  cat >"$d/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$d/root"
runroot = "$d/runroot"
EOF
  : >"$d/registries.conf"
  export CONTAINERS_CONF=$d/containers.conf CONTAINERS_STORAGE_CONF=$d/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$d/registries.conf PODMAN_DIR=$d
  engines_rootfs_tar "$ENGINE_TMP/rootfs.tar"
  if ! podman import --change 'CMD=["/bin/sh"]' "$ENGINE_TMP/rootfs.tar" "$ENGINE_IMAGE" >"$d/import.log" 2>&1; then
    engines_skip_all "podman cannot run here: podman import failed: $(engines_log_tail "$d/import.log")"
    return 1
  fi
}

podman_stop () {
  [ -n "${PODMAN_DIR:-}" ] || return 0
  # Only our private storage is configured; engines_teardown_file unmounts and removes it.
  podman rm --all --force --time 0 >/dev/null 2>&1 || true
}

# ---- Docker ----------------------------------------------------------------------------------------------------

# A daemon.json with dockerd's data-root, exec-root, pidfile and socket inside our directory and no networking;
# sbx is registered through "runtimes" unless $1 = no-runtime (install.bats registers it with `sbx install`).
docker_write_config () {
  local d=$ENGINE_TMP/docker runtimes=',
  "runtimes": {"sbx": {"path": "'"$SBX_RUNTIME_BIN"'"}}'
  [ "${1:-}" = no-runtime ] && runtimes=
  mkdir -p "$d"/{data,exec,client}
  cat >"$d/daemon.json" <<EOF
{
  "data-root": "$d/data",
  "exec-root": "$d/exec",
  "pidfile": "$d/dockerd.pid",
  "deprecated-key-path": "$d/key.json",
  "hosts": ["unix://$d/docker.sock"],
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "none"$runtimes
}
EOF
}

# Start dockerd (docker.io) on $ENGINE_TMP/docker/daemon.json (docker_write_config writes one when absent) and
# import the test image.  Sets DOCKERD_PID and DOCKER_HOST.
docker_start () {
  local d=$ENGINE_TMP/docker
  [ -f "$d/daemon.json" ] || docker_write_config
  engines_note_host_dirs /run/docker /run/docker/plugins /run/containerd /run/containerd/s
  dockerd --config-file "$d/daemon.json" >"$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKERD_PID DOCKER_DIR=$d DOCKER_HOST=unix://$d/docker.sock DOCKER_CONFIG=$d/client
  if ! engines_wait_socket "$d/docker.sock" "$DOCKERD_PID" 60 || ! docker_cli version >/dev/null 2>&1; then
    engines_skip_all "dockerd cannot start here: $(engines_log_tail "$d/dockerd.log")"
    return 1
  fi
  engines_rootfs_tar "$ENGINE_TMP/rootfs.tar"
  if ! docker_cli import --change 'CMD ["/bin/sh"]' "$ENGINE_TMP/rootfs.tar" "$ENGINE_IMAGE" >"$d/import.log" 2>&1; then
    engines_skip_all "docker import failed: $(engines_log_tail "$d/import.log")"
    return 1
  fi
}

# Debian's docker client (a newer one may sit first on PATH).
docker_cli () {
  local bin=/usr/bin/docker
  [ -x "$bin" ] || bin=docker
  "$bin" "$@"
}

# The stderr of a docker CLI call (bats `run --separate-stderr`) holds nothing but the one create warning dockerd
# gives for every container in the default network mode when the host has net.ipv4.ip_forward=0 (the suite's
# daemon.json has "ip-forward": false, so dockerd leaves the host's setting alone).
assert_docker_stderr () {
  local line
  while IFS= read -r line; do
    case $line in
      '' | 'WARNING: IPv4 forwarding is disabled. Networking will not work.') ;;
      *)
        echo "unexpected stderr from docker: $line" >&2
        printf '%s\n' "$1" >&2
        return 1
        ;;
    esac
  done <<<"$1"
}

docker_stop () {
  [ -n "${DOCKERD_PID:-}" ] || return 0
  docker_cli rm --force $(docker_cli ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  engines_stop_pid "$DOCKERD_PID" 30
  DOCKERD_PID=
}

# ---- containerd ----------------------------------------------------------------------------------------------

# A containerd config.toml with root, state, sockets and opt dir inside our directory; WITH_CRI=1 enables the
# CRI plugin.  The "sbx" runtime handler is written exactly as `sbx install containerd` writes it (plus a private
# runc root), unless $1 = no-runtime (install.bats adds it with `sbx install`).
containerd_write_config () {
  local d=$ENGINE_TMP/containerd disabled='disabled_plugins = ["io.containerd.grpc.v1.cri"]' sbx
  mkdir -p "$d"/{root,state,opt,cni/bin,cni/net.d}
  [ "${WITH_CRI:-0}" = 1 ] && disabled='disabled_plugins = []'
  sbx='  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sbx]
    runtime_type = "io.containerd.runc.v2"
    pod_annotations = ["run.sbx.*"]
    container_annotations = ["run.sbx.*"]
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sbx.options]
      BinaryName = "'"$SBX_RUNTIME_BIN"'"
      Root = "'"$d/runc"'"'
  [ "${1:-}" = no-runtime ] && sbx=
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
$disabled

[grpc]
  address = "$d/c.sock"

[ttrpc]
  address = "$d/c.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$ENGINE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "$d/runc"
$sbx
EOF
}

# Start containerd on $ENGINE_TMP/containerd/config.toml (containerd_write_config writes one when absent) and
# import the test image into CTR_NAMESPACE.  Sets CONTAINERD_PID and CONTAINERD_SOCK.
containerd_start () {
  local d=$ENGINE_TMP/containerd
  [ -f "$d/config.toml" ] || containerd_write_config
  # The handler sbx install writes keeps the shim's default runc root, /run/containerd/runc/<namespace>.
  engines_note_host_dirs /run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc \
    /run/containerd/runc/k8s.io
  containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  export CONTAINERD_PID CONTAINERD_DIR=$d CONTAINERD_SOCK=$d/c.sock
  if ! engines_wait_socket "$CONTAINERD_SOCK" "$CONTAINERD_PID" 30 || ! ctr_cli version >/dev/null 2>&1; then
    engines_skip_all "containerd cannot start here: $(engines_log_tail "$d/containerd.log")"
    return 1
  fi
  engines_oci_archive "$ENGINE_TMP/image.oci.tar"
  if ! ctr_cli -n "${CTR_NAMESPACE:-sbx-test}" images import "$ENGINE_TMP/image.oci.tar" >"$d/import.log" 2>&1; then
    engines_skip_all "ctr images import failed: $(engines_log_tail "$d/import.log")"
    return 1
  fi
}

# The CRI client (integration/cri/) against our containerd.
cri_cli () {
  CRI_GEN_DIR=${CRI_GEN_DIR:-$ENGINE_TMP/cri-gen} \
    "$ENGINES_PYTHON" "$ENGINES_CRI_DIR/cri_client.py" --socket "$CONTAINERD_SOCK" "$@"
}

ctr_cli () {
  ctr --address "$CONTAINERD_SOCK" "$@"
}

# `ctr run` with the runtime's state and the IO fifos inside our directory (their defaults are under /run).
ctr_run () {
  ctr_cli -n sbx-test run --runc-root "$CONTAINERD_DIR/runc" --fifo-dir "$CONTAINERD_DIR/fifo" "$@"
}

containerd_stop () {
  [ -n "${CONTAINERD_PID:-}" ] || return 0
  local ns id pid
  for ns in $(ctr_cli namespaces ls -q 2>/dev/null); do
    for id in $(ctr_cli -n "$ns" tasks ls -q 2>/dev/null); do
      ctr_cli -n "$ns" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.2
    for id in $(ctr_cli -n "$ns" containers ls -q 2>/dev/null); do
      ctr_cli -n "$ns" tasks delete --force "$id" >/dev/null 2>&1 || true
      ctr_cli -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
    done
  done
  engines_stop_pid "$CONTAINERD_PID" 20
  CONTAINERD_PID=
  # Shims outlive containerd by design; ours are the ones given our private address.
  for pid in $(engines_pids_with_arg "$CONTAINERD_SOCK"); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

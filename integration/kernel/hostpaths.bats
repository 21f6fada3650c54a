#!/usr/bin/env bats
# integration/kernel/hostpaths.bats - the kernel's helper paths: a privileged container points the kernel at a
# program of its choosing (modprobe, core_pattern, poweroff_cmd, uevent_helper, a binfmt_misc interpreter, a cgroup
# v1 release_agent; the kernel then runs it as host root) without sbx, also around runc's read-only /proc/sys by
# mounting a fresh procfs or unmounting the bind; through sbx-runtime (runc and crun, the baseline profile that
# keeps the engine's filter, and the default one) every one of those attempts fails and the guest's values stay.
# Only in the guest: these files are the real kernel's.

load helpers

setup_file () {
  sbx_private hostpaths
  # The node's operator lets these containers pick the baseline profile and keep the host's cgroup namespace (a
  # tenant could not): what must still stop every attack is the host-paths stage, whatever the operator loosened.
  jq '. + {tenants: {allow_profile: true, allow_host_ns: "cgroup"}}' "$SBX_CONFIG" >"$SBX_CONFIG.tmp" &&
    mv "$SBX_CONFIG.tmp" "$SBX_CONFIG"
  # binfmt_misc is a module on Debian's kernel: loaded by the guest's root up front, as a host that uses it has it
  # (a container's mount would autoload it through modprobe, which the attacks repoint).
  [ "${SBX_KERNEL_GUEST:-}" = 1 ] && modprobe binfmt_misc 2>/dev/null
  return 0
}

teardown_file () {
  sbx_private_cleanup
}

# The helper files the attacks aim at; the guest's values are saved before each test and put back after.
HELPERS="/proc/sys/kernel/modprobe /proc/sys/kernel/core_pattern /proc/sys/kernel/poweroff_cmd /sys/kernel/uevent_helper"

setup () {
  require_guest
  B=$BATS_TEST_TMPDIR/bundle
  make_bundle "$B"
  for a in mount umount mkdir echo; do ln -sf busybox "$B/rootfs/bin/$a"; done
  SAVED=$BATS_TEST_TMPDIR/saved
  mkdir -p "$SAVED"
  for f in $HELPERS; do [ -e "$f" ] && cat "$f" >"$SAVED/$(basename "$f")"; done
  return 0
}

teardown () {
  local f
  for f in $HELPERS; do [ -e "$SAVED/$(basename "$f")" ] && cat "$SAVED/$(basename "$f")" >"$f"; done
  # A binfmt_misc registration outlives the container: take it back out.
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null && local mounted=1
  fi
  for f in sbxtest sbxtest2; do [ -e /proc/sys/fs/binfmt_misc/$f ] && echo -1 >/proc/sys/fs/binfmt_misc/$f; done
  [ -n "${mounted:-}" ] && umount /proc/sys/fs/binfmt_misc
  return 0
}

# What Docker's --privileged hands the runtime: every capability, no seccomp, no masked or read-only paths, /sys
# and cgroups writable; plus a tmpfs /tmp to mount things on.
ALL_CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETGID",
"CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST","CAP_NET_ADMIN",
"CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE",
"CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME",
"CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP",
"CAP_MAC_OVERRIDE","CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ",
"CAP_PERFMON","CAP_BPF","CAP_CHECKPOINT_RESTORE"]'

docker_privileged () {
  edit_config "$B" --argjson caps "$ALL_CAPS" '
    .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps, inheritable: $caps}
    | del(.linux.seccomp, .linux.readonlyPaths, .linux.maskedPaths)
    | .mounts |= map(if .type == "sysfs" or .type == "cgroup" then .options -= ["ro"] else . end)
    | .linux.namespaces |= map(select(.type != "cgroup"))
    | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]}]'
}

# Each attack prints "NAME changed" when the kernel took the new value, "NAME refused" when it did not.
ATTACKS='
try () { n=$1; shift; if sh -c "$*" 2>/dev/null; then echo "$n changed"; else echo "$n refused"; fi; }
try modprobe "echo /tmp/pwn >/proc/sys/kernel/modprobe"
try core_pattern "echo \"|/tmp/pwn\" >/proc/sys/kernel/core_pattern"
try poweroff_cmd "echo /tmp/pwn >/proc/sys/kernel/poweroff_cmd"
try uevent_helper "echo /tmp/pwn >/sys/kernel/uevent_helper"
try binfmt_misc "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && echo :sbxtest:M::SBXT::/tmp/pwn: >/proc/sys/fs/binfmt_misc/register"
try binfmt_misc_elsewhere "mkdir -p /tmp/b && mount -t binfmt_misc binfmt_misc /tmp/b && echo :sbxtest2:M::SBXU::/tmp/pwn: >/tmp/b/register"
try fresh_procfs "mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo \"|/tmp/pwn2\" >/tmp/p/sys/kernel/core_pattern"
try fresh_sysfs "mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s && echo /tmp/pwn2 >/tmp/s/kernel/uevent_helper"
try umount_bind "umount /proc/sys/kernel/modprobe; umount /proc/sys; echo /tmp/pwn3 >/proc/sys/kernel/modprobe"
try remount_rw "mount -o remount,bind,rw /proc/sys/kernel/poweroff_cmd && echo /tmp/pwn3 >/proc/sys/kernel/poweroff_cmd"
try release_agent "mkdir -p /tmp/c && mount -t cgroup -o none,name=sbxtest cgroup /tmp/c && echo /tmp/pwn >/tmp/c/release_agent"
'

# attack RUNTIME-CMD ID: the attacks in the bundle's container ("sbx:DELEGATE" for sbx-runtime).
attack () {
  set_args "$B" /bin/sh -c "$ATTACKS"
  run rt_cmd "$1" run --bundle "$B" "$2"
  show
  [ "$status" -eq 0 ]
}

guest_value () { cat "$1" 2>/dev/null; }

# The guest's helpers are as saved (each file that exists).
unchanged () {
  local f
  for f in $HELPERS; do
    [ -e "$f" ] || continue
    [ "$(cat "$f")" = "$(cat "$SAVED/$(basename "$f")")" ] || { echo "$f changed: $(cat "$f")"; return 1; }
  done
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 1
  fi
  [ ! -e /proc/sys/fs/binfmt_misc/sbxtest ] && [ ! -e /proc/sys/fs/binfmt_misc/sbxtest2 ] ||
    { echo "binfmt_misc interpreter registered"; return 1; }
}

baseline_privileged () {
  local rt=$1
  docker_privileged
  attack "$rt" hp-base
  has_line "modprobe changed"
  has_line "core_pattern changed"
  has_line "poweroff_cmd changed"
  has_line "binfmt_misc changed"
  has_line "binfmt_misc_elsewhere changed"
  has_line "fresh_procfs changed"
  has_line "release_agent changed"
  if [ -e /sys/kernel/uevent_helper ]; then
    has_line "uevent_helper changed"
    has_line "fresh_sysfs changed"
  else
    note "this kernel has no uevent helper (CONFIG_UEVENT_HELPER unset): /sys/kernel/uevent_helper not tried"
  fi
  # The kernel holds the values the container wrote.
  [ "$(guest_value /proc/sys/kernel/core_pattern)" = "|/tmp/pwn2" ]
  [ "$(guest_value /proc/sys/kernel/poweroff_cmd)" = /tmp/pwn ]
}

@test "baseline runc: a privileged container points modprobe, core_pattern, poweroff_cmd, binfmt_misc, release_agent at its program" {
  baseline_privileged runc
}

@test "baseline crun: the same privileged container changes them" {
  baseline_privileged crun
}

# runc's own default spec makes /proc/sys read-only: with CAP_SYS_ADMIN that is undone by a fresh procfs or by
# unmounting the bind.
@test "baseline runc: read-only /proc/sys (runc's default spec) is undone by a privileged container" {
  edit_config "$B" --argjson caps "$ALL_CAPS" '
    .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}
    | del(.linux.seccomp)
    | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]}]'
  jq -e '.linux.readonlyPaths | index("/proc/sys")' "$B/config.json" >/dev/null
  attack runc hp-ro
  has_line "modprobe refused"
  has_line "core_pattern refused"
  has_line "fresh_procfs changed"
  [ "$(guest_value /proc/sys/kernel/core_pattern)" = "|/tmp/pwn2" ]
}

sbx_refuses () {
  local d=$1 profile=$2
  require_sbx_runtime
  docker_privileged
  # The host's cgroup namespace, as the baseline had it: a v1 hierarchy can be mounted only from there, so what stops
  # the release_agent attack here is sbx's mount block, not the cgroup namespace sbx would add.
  edit_config "$B" --arg p "$profile" '.annotations["run.sbx.profile"] = $p | .annotations["run.sbx.allow-host-ns"] = "cgroup"'
  attack "sbx:$d" "hp-sbx-$profile"
  [ "$(printf '%s\n' "$output" | grep -cE '^[a-z_]+ refused$')" -eq 11 ]
  if printf '%s\n' "$output" | grep -E '^[a-z_]+ changed$'; then return 1; fi
  unchanged
}

@test "sbx-runtime runc, baseline profile: every attack of the privileged container fails, the kernel's values stay" {
  sbx_refuses runc baseline
}

@test "sbx-runtime crun, baseline profile: every attack fails" {
  sbx_refuses crun baseline
}

@test "sbx-runtime runc, default profile: every attack fails" {
  sbx_refuses runc default
}

@test "sbx-runtime: the privileged container still reads the helpers and mounts nothing (EPERM, not a crash)" {
  require_sbx_runtime
  docker_privileged
  edit_config "$B" '.annotations["run.sbx.profile"] = "baseline"'
  set_args "$B" /bin/sh -c 'cat /proc/sys/kernel/modprobe; mount -t tmpfs none /tmp 2>&1; echo "rc=$?"'
  run rt_cmd sbx:runc run --bundle "$B" hp-read
  show
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "$(cat /proc/sys/kernel/modprobe)" ]
  [[ "$output" == *"rc=1"* ]]
  [[ "$output" == *"ermission denied"* || "$output" == *"not permitted"* ]]
}

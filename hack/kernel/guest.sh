#!/usr/bin/bash
# guest.sh - stage two of the guest (PID 1): prepares a container host and runs integration/kernel/*.bats,
# writing TAP on the second serial port (ttyS1) for run.sh, the console (ttyS0) keeping the noise; powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
say () { echo "sbx-kernel: $*" >/dev/console; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
# Pure cgroup v2 with the usual controllers delegated: runc and crun both drive it.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done
mount -t bpf bpf /sys/fs/bpf
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname sbx-guest
ip link set lo up
dmesg -n 1
ulimit -n 65536 2>/dev/null

# Seed the kernel's CRNG before any test, as every real host has it seeded by the time containers start (RDRAND,
# virtio-rng, a bootloader seed or systemd-random-seed). This guest has none of those (qemu64 under TCG has no
# RDRAND) and almost no device interrupts, so the pool would otherwise stay unseeded until something happened to
# block on it, and getrandom(GRND_NONBLOCK) would fail with EAGAIN for a stretch that depends on the machine's
# speed and on test order (sbx-runtime's config.json rewrite failed that way). A blocking read makes the kernel
# seed it from timer jitter (6.1: seconds, even under TCG).
t=$(date +%s)
if timeout 120 head -c 1 /dev/random >/dev/null; then
  say "crng seeded in $(($(date +%s) - t))s: $(dmesg | grep -m1 'crng init done')"
else
  say "crng could not be seeded in 120s: tests that need non-blocking randomness will fail"
fi

cmdline=$(cat /proc/cmdline)
arg () { local a; for a in $cmdline; do case $a in "$1="*) echo "${a#*=}"; return ;; esac; done; }
files=$(arg sbx.files); filter=$(arg sbx.filter)

say "kernel $(uname -r), lsm=$(cat /sys/kernel/security/lsm 2>/dev/null), $(nproc) cpus"
out=/dev/ttyS1
stty -F "$out" raw -echo 2>/dev/null
cd /sbx || { echo "1..1"$'\n'"not ok 1 - guest has no /sbx" >"$out"; poweroff -f; }
export SBX_ROOT=/sbx SBX_KERNEL_GUEST=1
set -- --tap
[ -n "$filter" ] && set -- "$@" --filter "$(echo "$filter" | base64 -d)"
if [ -n "$files" ]; then
  for f in ${files//,/ }; do set -- "$@" "integration/kernel/$f"; done
else
  set -- "$@" integration/kernel
fi
say "bats $*"
# stdin from /dev/null as in CI: the console is a tty, and tools that see one (sbx run) would allocate a pty.
bats "$@" </dev/null >"$out" 2>/dev/console
say "bats exited $?"
sync
# poweroff -f does not wait for the UART to drain: give the last TAP lines time to reach the host.
sleep 1
poweroff -f

#!/bin/sh
# guest-check.sh - runs build/test_bpf inside a throwaway qemu guest on Debian's stock kernel, where lsm/ programs
# and the module tracepoints load: the part of the BPF suite the project's host kernel cannot run.
# Opt-in (`make bpf-guest-check`): needs qemu-system-x86 and busybox-static, and fetches one kernel package
# with apt-get download.  Nothing runs on the host but qemu; the guest loads a real module (dummy.ko).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TEST=${SBX_TEST_BPF:-$ROOT/build/tests/test_bpf}
KPKG=${SBX_GUEST_KERNEL_PKG:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sbx-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

[ -x "$TEST" ] || { echo "guest-check: $TEST not built (make build/tests/test_bpf)" >&2; exit 2; }
for tool in qemu-system-x86_64 busybox; do
  command -v "$tool" > /dev/null || { echo "guest-check: $tool missing (apt-get install qemu-system-x86 busybox-static)" >&2; exit 2; }
done
if [ -z "$KPKG" ]; then
  # Debian's cloud kernel: BTF, CONFIG_BPF_LSM with "bpf" in the default LSM list, modules, serial console.
  KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
fi
[ -n "$KPKG" ] || { echo "guest-check: no Debian cloud kernel package found (apt-get update?)" >&2; exit 2; }

cd "$WORK"
apt-get download "$KPKG" > /dev/null 2>&1 || { echo "guest-check: apt-get download $KPKG failed" >&2; exit 2; }
dpkg-deb -x ./*.deb kernel
VMLINUZ=$(ls kernel/boot/vmlinuz-*)
MODULE=$(find kernel/lib/modules -name dummy.ko | head -n1)

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/tmp initrd/work
cp "$(command -v busybox)" initrd/bin/busybox
cp "$TEST" initrd/work/test_bpf
[ -n "$MODULE" ] && cp "$MODULE" initrd/work/dummy.ko
# The test binary's shared libraries, at the paths the dynamic loader looks them up.
for lib in $(ldd "$TEST" | grep -o '/[^ ]*'); do
  mkdir -p "initrd$(dirname "$lib")"
  cp -L "$lib" "initrd$lib"
done
cat > initrd/init << 'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t securityfs securityfs /sys/kernel/security
mount -t tmpfs cgroup /sys/fs/cgroup
mkdir /sys/fs/cgroup/unified
mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
[ -e /work/dummy.ko ] && export SBX_TEST_BPF_MODULE=/work/dummy.ko
echo; echo "# guest kernel $(uname -r), LSMs: $(cat /sys/kernel/security/lsm)"
/work/test_bpf
echo "guest-exit $?"
poweroff -f
EOF
chmod +x initrd/init
(cd initrd && find . | busybox cpio -o -H newc 2> /dev/null | gzip -1 > ../initrd.gz)

# TCG: nested KVM is not dependable on CI's VMs, and the guest needs only ~15 s this way.
timeout 300 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$VMLINUZ" -initrd initrd.gz -append "console=ttyS0 quiet panic=-1 rdinit=/init" 2>&1 \
  | tr -d '\r' | grep -a -E '^(ok|not ok|#|1\.\.|event|guest-exit)' > guest.log || true
grep -av '^guest-exit' guest.log
status=$(sed -n 's/^guest-exit //p' guest.log)
[ "$status" = 0 ]

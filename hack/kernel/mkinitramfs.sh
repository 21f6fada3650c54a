#!/bin/bash
# hack/kernel/mkinitramfs.sh - builds the guest's initramfs: a cached base (tools, libraries, modules) plus a
# per-run overlay (sbx's binaries, the guest scripts and the bats suite), concatenated into one initrd.
#
# usage: mkinitramfs.sh KERNEL_DIR REPO_ROOT OUT_FILE
# The cloud kernel has no 9p, so the guest cannot share the host's files: it gets copies of the very binaries the
# host runs (same paths, same shared libraries), which is what "the real runc and crun" means here.
set -euo pipefail

kdir=$1 repo=$2 out=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$(dirname "$kdir")
kver=$(cat "$kdir/release")

# Tools the guest suite needs, at their host paths. Optional ones are copied when the host has them.
required=(/usr/bin/bash /usr/bin/busybox /usr/sbin/runc /usr/bin/crun /usr/bin/jq /usr/bin/bats)
optional=(/usr/sbin/bpftool /usr/sbin/ip /usr/bin/strace /usr/bin/flock)
# Modules the tests load or trigger, plus what they depend on (closure taken from modules.dep).
modules=(kernel/drivers/net/dummy.ko kernel/net/netfilter/nf_tables.ko kernel/crypto/af_alg.ko
         kernel/net/sctp/sctp.ko kernel/drivers/net/veth.ko
         kernel/fs/binfmt_misc.ko)  # hostpaths.bats: a container registering an interpreter

# Copy one file to the same path under $1, resolved through the host's merged-/usr symlinks.
put () {
  local root=$1 src=$2 dst
  dst=$(realpath -m "$(dirname "$src")")/$(basename "$src")
  [ -e "$root$dst" ] && return 0
  mkdir -p "$root$(dirname "$dst")"
  cp -L --preserve=mode "$src" "$root$dst"
}

# Copy an executable and every shared library it needs (ldd), so dynamically linked binaries run as on the host.
put_elf () {
  local root=$1 bin=$2 lib
  put "$root" "$bin"
  file_is_elf "$bin" || return 0
  for lib in $(ldd "$bin" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    put "$root" "$lib"
  done
}

file_is_elf () { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

mkcpio () { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) >"$2"; }

for f in "${required[@]}"; do
  [ -x "$f" ] || { echo "missing $f (apt-get install $(dpkg -S "$f" 2>/dev/null | cut -d: -f1 || echo it))" >&2; exit 3; }
done

# --- base: rebuilt only when the kernel, this script or a copied host binary changes ---
key=$( { echo "$kver"; cat "${BASH_SOURCE[0]}"; for f in "${required[@]}" "${optional[@]}"; do
          [ -e "$f" ] && stat -L -c '%n %s %Y' "$f"; done; } | sha256sum | cut -c1-16)
base="$kdir/base-$key.cpio"
if [ ! -e "$base" ]; then
  exec 8>"$cache/.initramfs.lock"
  flock -w 600 8
fi
if [ ! -e "$base" ]; then
  st=$(mktemp -d "${TMPDIR:-/tmp}/sbx-kernel-base.XXXXXX")
  trap 'rm -rf "$st"' EXIT
  mkdir -p "$st"/usr/{bin,sbin,lib,lib64} "$st"/{dev,proc,sys,run,tmp,etc,root,mnt,newroot,var/log}
  ln -s usr/bin "$st/bin"; ln -s usr/sbin "$st/sbin"; ln -s usr/lib "$st/lib"; ln -s usr/lib64 "$st/lib64"
  for f in "${required[@]}"; do put_elf "$st" "$f"; done
  for f in "${optional[@]}"; do [ -x "$f" ] && put_elf "$st" "$f"; done
  # bats is a shell program: its libexec and lib trees come along.
  cp -a /usr/lib/bats-core "$st/usr/lib/"
  mkdir -p "$st/usr/libexec" && cp -a /usr/libexec/bats-core "$st/usr/libexec/"
  # busybox provides everything else (insmod, modprobe for kernel autoload, ip, unshare, switch_root...).
  for a in $(busybox --list-full); do
    case $a in bin/*|sbin/*) a=usr/$a ;; esac
    [ -e "$st/$a" ] || [ -L "$st/$a" ] || ln -s /usr/bin/busybox "$st/$a"
  done
  # The module closure, and modules.dep/alias so that kernel autoload (/sbin/modprobe) can find them.
  md="$st/usr/lib/modules/$kver"
  mkdir -p "$md"
  cp "$kdir"/modules/modules.builtin* "$kdir"/modules/modules.order "$md/"
  for m in $(for m in "${modules[@]}"; do echo "$m"; sed -n "s#^$m: ##p" "$kdir/modules/modules.dep" | tr ' ' '\n'; done | sort -u); do
    mkdir -p "$md/$(dirname "$m")"
    cp "$kdir/modules/$m" "$md/$m"
  done
  busybox depmod -b "$st" "$kver"
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$st/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$st/etc/group"
  echo "$kver" >"$st/etc/sbx-kernel-release"
  mkcpio "$st" "$base.tmp"
  mv "$base.tmp" "$base"
  rm -f "$kdir"/base-*.cpio.old
  rm -rf "$st"; trap - EXIT
  # Older bases of this kernel are dead weight once the new one exists.
  for old in "$kdir"/base-*.cpio; do [ "$old" = "$base" ] || rm -f "$old"; done
fi

# --- overlay: sbx's build output and the suite, fresh every run ---
ov=$(mktemp -d "${TMPDIR:-/tmp}/sbx-kernel-ov.XXXXXX")
trap 'rm -rf "$ov"' EXIT
mkdir -p "$ov/sbx/integration" "$ov/usr/libexec/sbx-kernel"
install -m 0755 "$here/init" "$ov/init"
install -m 0755 "$here/guest.sh" "$ov/usr/libexec/sbx-kernel/guest.sh"
cp -a "$repo/integration/kernel" "$ov/sbx/integration/"
# The suite's own guest-only helpers (static: they also run inside busybox containers).
mkdir -p "$ov/sbx/integration/kernel/bin"
for c in "$repo"/integration/kernel/*.c; do
  [ -e "$c" ] || continue
  gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -o "$ov/sbx/integration/kernel/bin/$(basename "$c" .c)" "$c"
done
[ -n "${SBX_KERNEL_HOST_REPORT:-}" ] && cp "$SBX_KERNEL_HOST_REPORT" "$ov/sbx/host-report.txt"
for d in bin profiles; do
  [ -d "$repo/$d" ] && cp -a "$repo/$d" "$ov/sbx/"
done
if [ -d "$repo/build" ]; then
  mkdir -p "$ov/sbx/build"
  # Executables and BPF objects only: object files and caches are of no use in the guest.
  (cd "$repo/build" && find . -path ./kernel -prune -o -type f \( -perm -u+x -o -name '*.bpf.o' -o -name '*.json' \) ! -name '*.d' -print0 |
     while IFS= read -r -d '' f; do mkdir -p "$ov/sbx/build/$(dirname "$f")"; cp -a "$f" "$ov/sbx/build/$f"; done)
fi
# Shared libraries sbx's own binaries need beyond the base (libbpf, yajl, libmount...).
for f in "$ov"/sbx/bin/* "$ov"/sbx/build/*; do
  [ -f "$f" ] && [ -x "$f" ] && file_is_elf "$f" || continue
  for lib in $(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    put "$ov" "$lib"
  done
done
# Merged /usr: the overlay must not replace the base's /lib -> usr/lib symlinks with directories.
for l in bin sbin lib lib64; do
  if [ -d "$ov/$l" ] && [ ! -L "$ov/$l" ]; then mkdir -p "$ov/usr/$l"; cp -a "$ov/$l/." "$ov/usr/$l/"; rm -rf "${ov:?}/$l"; fi
done
mkcpio "$ov" "$out.overlay"
cat "$base" "$out.overlay" >"$out"
rm -f "$out.overlay"

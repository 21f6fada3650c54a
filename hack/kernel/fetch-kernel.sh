#!/bin/bash
# hack/kernel/fetch-kernel.sh - downloads and unpacks a Debian cloud kernel into the tier's cache; prints its dir.
#
# The Debian package is used untouched (apt-get download + dpkg-deb -x, never installed, /boot untouched):
# the point of the tier is to run sbx on the kernel people actually deploy, with CONFIG_MODULES and BPF LSM.
# Output on stdout: the cache directory holding vmlinuz, config and modules/ (a lib/modules/<version> tree).
# On failure: exit 3 with the reason on stderr (run.sh turns it into a TAP skip).
set -euo pipefail

cache=${SBX_KERNEL_CACHE:-/var/cache/sbx/kernel}
meta=${SBX_KERNEL_META:-linux-image-cloud-amd64}

fail () { echo "$*" >&2; exit 3; }

mkdir -p "$cache" || fail "cannot create kernel cache $cache"

# Newest complete kernel already in the cache, for offline runs where apt cannot resolve anything.
cached_kernel () {
  local d
  for d in $(ls -1dt "$cache"/linux-image-*/ 2>/dev/null); do
    [ -e "$d/.complete" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}

# The package: SBX_KERNEL_PACKAGE, else what the meta-package currently depends on.
pkg=${SBX_KERNEL_PACKAGE:-}
if [ -z "$pkg" ]; then
  pkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | grep -v -- '-dbg$' | head -n1 || true)
fi
if [ -z "$pkg" ]; then
  cached_kernel && exit 0
  fail "apt does not know $meta (run apt-get update) and no kernel is cached in $cache"
fi

ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n1 || true)
if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
  cached_kernel && exit 0
  fail "apt has no candidate for $pkg (run apt-get update) and no kernel is cached in $cache"
fi

dir="$cache/${pkg}_${ver}"
if [ -e "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

# Serialise concurrent CI clones on the same machine: one downloads, the others wait and reuse.
exec 9>"$cache/.fetch.lock"
flock -w 600 9 || fail "timed out waiting for $cache/.fetch.lock"
if [ -e "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download drops privileges to _apt, which cannot write into a root-only cache dir.
chmod 0755 "$tmp"
if ! (cd "$tmp" && apt-get download -q "$pkg=$ver" >"$tmp/apt.log" 2>&1); then
  cached_kernel && exit 0
  fail "apt-get download $pkg=$ver failed: $(grep -E '^(E|W):' "$tmp/apt.log" | head -n2 | tr '\n' ' ')"
fi
deb=$(ls "$tmp"/*.deb)
dpkg-deb -x "$deb" "$tmp/x" || fail "dpkg-deb -x $deb failed"

kver=$(ls "$tmp/x/lib/modules" | head -n1)
[ -n "$kver" ] && [ -e "$tmp/x/boot/vmlinuz-$kver" ] || fail "$deb holds no vmlinuz/modules pair"
mkdir "$tmp/out"
mv "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
mv "$tmp/x/boot/config-$kver" "$tmp/out/config"
mv "$tmp/x/lib/modules/$kver" "$tmp/out/modules"
echo "$kver" >"$tmp/out/release"
echo "$pkg=$ver" >"$tmp/out/package"
# modules.dep and modules.alias for the whole tree: mkinitramfs picks module closures from it.
mkdir -p "$tmp/depmod/lib/modules"
ln -s "$tmp/out/modules" "$tmp/depmod/lib/modules/$kver"
busybox depmod -b "$tmp/depmod" "$kver" || fail "busybox depmod on $pkg failed"
touch "$tmp/out/.complete"
rm -rf "$dir"
mv "$tmp/out" "$dir"
# Keep this kernel and the one before it (a run still using it may be in progress); drop older ones.
ls -1dt "$cache"/linux-image-*/ 2>/dev/null | tail -n +3 | while read -r old; do rm -rf "${old%/}"; done
echo "$dir"

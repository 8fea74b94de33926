#!/usr/bin/env bash
# The lab kernel's raw uapi headers (include/uapi and arch/{arm64,x86}/include/uapi of
# linux-source-6.12), the C oracle of the tests that pin struct layouts and ioctl numbers: Debian
# 12's own linux-libc-dev is 6.1 and lacks iommufd.h and the VFIO cdev ioctls. Extracted once from
# the same .deb the kernel is built from, cached as $cache/uapi-<version>/linux-source-6.12.
# Prints that directory on stdout (the tests take it as VFIOKIT_UAPI_SRC).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/source.sh"
out="$cache/uapi-$ver"
# Complete only with its marker: a tree without it (an extraction cut short, or two processes that
# once shared a temporary directory) is made again.
if [ -f "$out/.complete" ]; then echo "$out/linux-source-6.12"; exit 0; fi
source_deb
echo "lab: extracting the uapi headers of linux-source-6.12 $ver" >&2
tmp=$(mktemp -d "$cache/uapi-$ver.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-6.12.tar.xz' \
  | tar -xJ -C "$tmp" --wildcards 'linux-source-6.12/include/uapi/*' 'linux-source-6.12/arch/arm64/include/uapi/*' 'linux-source-6.12/arch/x86/include/uapi/*'
for d in include/uapi/linux arch/arm64/include/uapi/asm arch/x86/include/uapi/asm; do
  [ -d "$tmp/linux-source-6.12/$d" ] || { echo "lab: the uapi extraction lacks $d" >&2; exit 4; }
done
touch "$tmp/.complete"
# Another process may have finished first: its tree is as good as ours.
if [ ! -f "$out/.complete" ]; then rm -rf "$out"; mv "$tmp" "$out" 2>/dev/null || [ -f "$out/.complete" ]; fi
echo "$out/linux-source-6.12"

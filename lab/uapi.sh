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
if [ -d "$out/linux-source-6.12/include/uapi/linux" ] && [ -d "$out/linux-source-6.12/arch/x86/include/uapi/asm" ] && [ -d "$out/linux-source-6.12/arch/arm64/include/uapi/asm" ]; then echo "$out/linux-source-6.12"; exit 0; fi
source_deb
echo "lab: extracting the uapi headers of linux-source-6.12 $ver" >&2
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-6.12.tar.xz' \
  | tar -xJ -C "$out.tmp" --wildcards 'linux-source-6.12/include/uapi/*' 'linux-source-6.12/arch/arm64/include/uapi/*' 'linux-source-6.12/arch/x86/include/uapi/*'
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out/linux-source-6.12"

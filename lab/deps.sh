#!/usr/bin/env bash
# Installs the Debian packages that the tests, benchmarks and the lab need: host tools (dtc, wabt,
# libfdt, the cross compiler, qemu) and the arm64 architecture for the guest's userland.
# As root on Debian it installs them; otherwise it prints the exact command and exits 3.
set -euo pipefail
HOST_PKGS=(wabt libfdt-dev python3-libfdt qemu-system-arm gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu flex bison bc cpio xz-utils
  make gcc libc6-dev libssl-dev libelf-dev device-tree-compiler clang libclang-rt-14-dev libc6-dev-arm64-cross)
missing=()
for p in "${HOST_PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ! dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64; then need_arch=1; else need_arch=0; fi
if [ ${#missing[@]} -eq 0 ] && [ $need_arch -eq 0 ]; then exit 0; fi
cmd="dpkg --add-architecture arm64 && apt-get update && apt-get install -y --no-install-recommends ${missing[*]:-}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "lab: missing packages. Run as root: $cmd" >&2; exit 3
fi
echo "lab: installing ${missing[*]:-(arm64 architecture only)}" >&2
dpkg --add-architecture arm64
apt-get update -qq
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

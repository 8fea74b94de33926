#!/usr/bin/env bash
# Builds the lab's arm64 kernel Image from Debian's linux-source-6.12 package and lab/kernel.config.
# Cached under $VFIOKIT_LAB_CACHE (default: $XDG_CACHE_HOME/vfiokit/lab), keyed by the source
# package version and a hash of the config fragment: a second run prints the cached path at once.
# Prints the path of the Image on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/source.sh"
cfg_hash=$(sha256sum "$here/kernel.config" | cut -c1-16)
key="6.12_${ver}_${cfg_hash}"
out="$cache/kernel-$key"
if [ -f "$out/Image" ]; then echo "lab: kernel cached ($key)" >&2; echo "$out/Image"; exit 0; fi
t0=$(date +%s)
echo "lab: [kernel 1/5] the linux-source-6.12 $ver package" >&2
source_deb
work="$cache/build-$key"
rm -rf "$work"; mkdir -p "$work"
echo "lab: [kernel 2/5] unpacking source" >&2
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards '*/linux-source-6.12.tar.xz'
tar -xJf "$(find "$work" -name linux-source-6.12.tar.xz | head -1)" -C "$work"
src="$work/linux-source-6.12"
mk() { make -C "$src" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- "$@"; }
echo "lab: [kernel 3/5] configuring (allnoconfig + lab/kernel.config)" >&2
mk -s allnoconfig >&2
(cd "$src" && ARCH=arm64 scripts/kconfig/merge_config.sh -m .config "$here/kernel.config" >/dev/null)
mk -s olddefconfig >&2
# Every line of the fragment must have survived olddefconfig, or the lab is not the kernel we think.
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=n) grep -qx "# ${line%=n} is not set" "$src/.config" || ! grep -q "^${line%=n}=" "$src/.config" || { echo "lab: config $line not honoured" >&2; bad=1; } ;;
  CONFIG_*) grep -qx "$line" "$src/.config" || { echo "lab: config $line did not survive olddefconfig" >&2; bad=1; } ;; esac
done < "$here/kernel.config"
[ $bad -eq 0 ] || exit 4
echo "lab: [kernel 4/5] compiling Image with $(($(nproc)+1)) jobs (about 10 minutes on 2 cores)" >&2
jobs=$(($(nproc)+1))
mk -j"$jobs" Image 2>&1 | awk '/^  (CC|AR|LD)/ { n++; if (n % 500 == 0) { printf "lab:   ... %d objects\n", n > "/dev/stderr"; fflush("/dev/stderr") } next } { print > "/dev/stderr" }'
[ -f "$src/arch/arm64/boot/Image" ] || { echo "lab: kernel build produced no Image" >&2; exit 4; }
echo "lab: [kernel 5/5] caching" >&2
mkdir -p "$out.tmp"; cp "$src/arch/arm64/boot/Image" "$src/.config" "$out.tmp/"
rm -rf "$out"; mv "$out.tmp" "$out"; rm -rf "$work"
echo "lab: kernel built in $(( $(date +%s) - t0 )) s ($key)" >&2
echo "$out/Image"

# Sourced by lab/kernel.sh and lab/uapi.sh: the cache directory, the linux-source-6.12 package
# version apt offers (or the cached .deb's when apt knows none), and its .deb, downloaded once.
# Sets: cache, ver, deb. Progress goes to stderr.
cache=${VFIOKIT_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfiokit/lab}
mkdir -p "$cache/src"
ver=$(apt-cache policy linux-source-6.12 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
  ls "$cache"/src/linux-source-6.12_*.deb >/dev/null 2>&1 || { echo "lab: linux-source-6.12 is not known to apt: run apt-get update (bookworm-security must be in sources)" >&2; exit 3; }
  ver=$(basename "$(ls "$cache"/src/linux-source-6.12_*.deb | tail -1)" | cut -d_ -f2)
fi
source_deb() {
  deb=$(ls "$cache"/src/linux-source-6.12_"${ver}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo "lab: downloading linux-source-6.12 $ver" >&2
    (cd "$cache/src" && apt-get download "linux-source-6.12=$ver" >&2)
    deb=$(ls "$cache"/src/linux-source-6.12_"${ver}"_*.deb | head -1)
  fi
}

#!/bin/sh
# The lab benchmarks' guest script (bench/lab.mjs boots the lab with `sh /opt/vfiokit/bench/run.sh`).
# Runs each pair, C reference and vfiokit, in the same boot: PASSES passes, the first with C first,
# the next with vfiokit first, and so on, so that neither side always runs on a fresher machine.
# Each program prints its own measurement lines (@@VFIOKIT-BENCH@@ {json}); a failure prints an
# error line and the run goes on. Exits 1 when anything failed.
# Sizes come from the environment the host puts in front of this script (see bench/lab.mjs).
B=/opt/vfiokit/bench
M='@@VFIOKIT-BENCH@@'
PASSES=${PASSES:-2}
status=0
fail() { echo "$M {\"error\":\"$1 exited with status $2\"}"; status=1; }
# c NAME ARGS... and js NAME ARGS... run one side with ARGS (the bench name is not passed on).
c()  { n=$1; shift; "$B/$n-c" "$@" || fail "$n-c" $?; }
js() { n=$1; shift; node "$B/$n.mjs" "$@" || fail "$n.mjs" $?; }
pair() { if [ $(( pass % 2 )) -eq 1 ]; then c "$@"; js "$@"; else js "$@"; c "$@"; fi; }
# ONLY: the parts to run (default: every pair and diag; dmadiag, the DMA layout diagnostics, only when named).
want() { case " ${ONLY:-trap mmio open dma ram memory diag} " in *" $1 "*) return 0 ;; esac; return 1; }

# type1 refuses more DMA mappings than this per container (ENOSPC): the 4 KiB case stays below it.
echo "bench: vfio_iommu_type1 dma_entry_limit=$(cat /sys/module/vfio_iommu_type1/parameters/dma_entry_limit 2>/dev/null || echo unknown)"
# lab-dma maps this tmpfs file on both sides (MAP_SHARED), written once here: the same physical
# pages for C and vfiokit in every pass, since the kernel's work per MAP_DMA follows their layout
# (docs/BENCH.md, "DMA, fourth round").
DMA_MEM=/tmp/vfiokit-dma.mem
if want dma || want dmadiag || [ -n "$PROFILE" ]; then
  t4=${DMA_TOTAL_4K:-67108864}; t2=${DMA_TOTAL_2M:-268435456}
  dd if=/dev/zero of=$DMA_MEM bs=1048576 count=$(( (t4 > t2 ? t4 : t2) >> 20 )) 2>/dev/null || fail dd-dma-memory $?
fi
# lab-ram-map: the L2's RAM (RAM_TOTAL) mapped for edu, type1 and iommufd, three backings; memfd
# and hugetlb are one shared file each (the programs create it), so both sides pin the same pages.
# Huge pages are reserved here (vm.nr_hugepages) and hugetlbfs mounted, once per boot.
RAM_TOTAL=${RAM_TOTAL:-268435456}
RAM_MEM=/tmp/vfiokit-ram.mem
RAM_HUGE=/dev/hugepages/vfiokit-ram.mem
if want ram; then
  hp=$(sed -n 's/^Hugepagesize: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
  echo $(( RAM_TOTAL / (hp * 1024) + 8 )) > /proc/sys/vm/nr_hugepages || fail nr_hugepages $?
  mkdir -p /dev/hugepages && { grep -q " /dev/hugepages hugetlbfs " /proc/mounts || mount -t hugetlbfs hugetlbfs /dev/hugepages || fail mount-hugetlbfs $?; }
  echo "bench: huge pages ${hp} kB, nr_hugepages $(cat /proc/sys/vm/nr_hugepages), free $(sed -n 's/^HugePages_Free: *//p' /proc/meminfo)"
fi
pass=1
while [ "$pass" -le "$PASSES" ]; do
  echo "bench: pass $pass of $PASSES"
  if want trap; then pair trap "${TRAP_ROUNDS:-21}" "${TRAP_PER:-1000}" "${TRAP_SAMPLES:-5000}"; fi
  if want mmio; then pair mmio "${MMIO_ROUNDS:-11}" "${MMIO_PER:-100000}"; fi
  if want open; then pair open amba 9010000.pl031 "${OPEN_ROUNDS:-100}"; pair open pci 0000:00:02.0 "${OPEN_ROUNDS:-100}"; fi
  if want dma; then
    pair dma "${DMA_TOTAL_4K:-67108864}" 4096 "${DMA_ROUNDS:-3}" $DMA_MEM
    pair dma "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}" $DMA_MEM
  fi
  if want ram; then
    # One mapping (what QEMU's virt machine and the mini-VMM map for their L2), then pieces
    # (RAM_PIECE, 2 MiB: virtio-mem's block, each block mapped on its own when plugged).
    for io in type1 iommufd; do
      for b in anonymous memfd hugetlb; do
        f=; [ $b = memfd ] && f=$RAM_MEM; [ $b = hugetlb ] && f=$RAM_HUGE
        pair ramdma $io $b $RAM_TOTAL $RAM_TOTAL "${RAM_ROUNDS:-5}" $f
        pair ramdma $io $b $RAM_TOTAL "${RAM_PIECE:-2097152}" "${RAM_ROUNDS:-5}" $f
      done
    done
  fi
  if want memory; then
    pair memory
    node -e "const k=+require('fs').readFileSync('/proc/self/status','utf8').match(/VmRSS:\s+(\d+)/)[1];console.log('$M '+JSON.stringify({bench:'lab-memory',case:'pl031 open and mapped',impl:'node',unit:'bytes',rounds:[k*1024]}))" || fail node-baseline $?
  fi
  if want diag; then c diag; js diag; fi
  if want dmadiag; then
    # 4 KiB pieces on the shared file: the API against bare koffi against C (the JS per call).
    pair dmadiag "${DMA_TOTAL_4K:-67108864}" 4096 2 $DMA_MEM
    # 2 MiB pieces: the memory touched three ways on each side, then C with extra threads.
    for t in fwd rev pop; do pair dmadiag "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}" $t; done
    # node without its helper threads' work (no concurrent JIT or GC): does the gap follow them?
    node --single-threaded "$B/dmadiag.mjs" "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}" fwd || fail dmadiag-single $?
    c dmadiag "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}" fwd 4 1
    c dmadiag "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}" fwd 4 0
  fi
  pass=$((pass + 1))
done
# PROFILE: "NAME ARGS..." runs the vfiokit side of bench NAME once more under node --cpu-prof and
# prints the profile, gzip'd and in base64, on @@VFIOKIT-PROFILE@@ lines (bench/lab.mjs writes it
# to build/bench-lab.cpuprofile). The word DMA_MEM in ARGS stands for the DMA memory file.
if [ -n "$PROFILE" ]; then
  args=; for a in $PROFILE; do [ "$a" = DMA_MEM ] && a=$DMA_MEM; args="$args $a"; done
  set -- $args; n=$1; shift
  rm -rf /tmp/prof
  node --cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval "${PROFILE_INTERVAL_US:-500}" "$B/$n.mjs" "$@" || fail "profile of $n" $?
  P='@@VFIOKIT-PROFILE@@'
  echo "$P begin"; gzip -c /tmp/prof/*.cpuprofile | base64 | sed "s/^/$P /"; echo "$P end"
fi
exit $status

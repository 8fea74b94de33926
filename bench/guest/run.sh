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

# type1 refuses more DMA mappings than this per container (ENOSPC): the 4 KiB case stays below it.
echo "bench: vfio_iommu_type1 dma_entry_limit=$(cat /sys/module/vfio_iommu_type1/parameters/dma_entry_limit 2>/dev/null || echo unknown)"
pass=1
while [ "$pass" -le "$PASSES" ]; do
  echo "bench: pass $pass of $PASSES"
  pair trap "${TRAP_ROUNDS:-21}" "${TRAP_PER:-1000}" "${TRAP_SAMPLES:-5000}"
  pair mmio "${MMIO_ROUNDS:-11}" "${MMIO_PER:-100000}"
  pair open amba 9010000.pl031 "${OPEN_ROUNDS:-100}"
  pair open pci 0000:00:02.0 "${OPEN_ROUNDS:-100}"
  pair dma "${DMA_TOTAL_4K:-67108864}" 4096 "${DMA_ROUNDS:-3}"
  pair dma "${DMA_TOTAL_2M:-268435456}" 2097152 "${DMA_ROUNDS:-3}"
  pair memory
  node -e "const k=+require('fs').readFileSync('/proc/self/status','utf8').match(/VmRSS:\s+(\d+)/)[1];console.log('$M '+JSON.stringify({bench:'lab-memory',case:'pl031 open and mapped',impl:'node',unit:'bytes',rounds:[k*1024]}))" || fail node-baseline $?
  c diag; js diag
  pass=$((pass + 1))
done
exit $status

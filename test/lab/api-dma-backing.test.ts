// Runs INSIDE the lab guest: allocDma's three backings (anonymous, memfd, hugetlb) as edu's DMA
// memory behind the SMMUv3: each mapped with mapDma and read and written by the device, with the
// physical layout of each (runs of contiguous pages, from /proc/self/pagemap) printed beside it.
// vm.nr_hugepages is raised for the huge-page case and put back as it was found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openSync, readSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { countFds } from '../support/fds';
import { allocDma, hugePageSize, openDevice, type DmaBacking, type DmaBuffer } from '../../src/index';
import { DMA_TO_RAM, EDU, EDU_BUF, eduDma as dma, enableBusMaster } from '../support/edu';

// edu's DMA engine clamps addresses to its 28-bit mask: the IOVA stays below 256 MiB.
const SIZE = 4 << 20, IOVA = 0x0100_0000n, PAGE = 4096;
const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

/** Runs of physically contiguous pages in the buffer (root reads the PFNs in /proc/self/pagemap). */
function physicalRuns(b: DmaBuffer): number {
  const fd = openSync('/proc/self/pagemap', 'r');
  try {
    const n = b.size / PAGE, e = Buffer.alloc(8 * n);
    readSync(fd, e, 0, e.length, Number(b.hostAddress / BigInt(PAGE)) * 8);
    let runs = 0, prev = -2n;
    for (let i = 0; i < n; i++) { const pfn = e.readBigUInt64LE(8 * i) & ((1n << 55n) - 1n); if (pfn !== prev + 1n) runs++; prev = pfn; }
    return runs;
  } finally { closeSync(fd); }
}

test('edu DMA through each backing: device reads and writes the memory at its IOVA; layouts printed; nothing left open, nr_hugepages as found', async () => {
  const before = countFds();
  const hugeBefore = readFileSync(NR_HUGEPAGES, 'utf8').trim();
  writeFileSync(NR_HUGEPAGES, String(Number(hugeBefore) + SIZE / hugePageSize() + 1));
  const dev = openDevice(EDU);
  const lines: string[] = [];
  try {
    const bar = dev.regions[0]!.map();
    enableBusMaster(dev);
    for (const backing of ['anonymous', 'memfd', 'hugetlb'] as DmaBacking[]) {
      const b = allocDma(SIZE, { backing });
      let mapped = false;
      try {
        assert.is(b.backing, backing);
        assert.is(b.fd === undefined, backing === 'anonymous');
        b.bytes.fill(0x5a); // touch every page: the kernel pins what is there
        for (let i = 0; i < 64; i++) b.bytes[i] = (i * 13 + 7) & 0xff;
        // Timed on the second of two maps (the first also pays for cold code and IOMMU tables).
        let mapUs = 0;
        for (let round = 0; round < 2; round++) {
          if (mapped) { dev.unmapDma(IOVA, BigInt(b.size)); mapped = false; }
          const t0 = process.hrtime.bigint();
          dev.mapDma({ iova: IOVA, buffer: b.bytes, size: BigInt(b.size) });
          mapped = true;
          mapUs = Number(process.hrtime.bigint() - t0) / 1e3;
        }
        await dma(bar, IOVA, EDU_BUF, 64, 0);                                  // memory -> device
        await dma(bar, EDU_BUF, IOVA + BigInt(b.size - PAGE), 64, DMA_TO_RAM);  // device -> the last page
        assert.equal([...b.bytes.subarray(b.size - PAGE, b.size - PAGE + 64)], [...b.bytes.subarray(0, 64)], `${backing}: the device copied the first 64 bytes to the last page`);
        lines.push(`${backing}: ${b.size >> 20} MiB, ${physicalRuns(b)} physical run(s), one mapDma ${mapUs.toFixed(0)} us`);
        assert.is(dev.unmapDma(IOVA, BigInt(b.size)), BigInt(b.size));
        mapped = false;
      } finally {
        if (mapped) dev.unmapDma(IOVA, BigInt(b.size)); // after a failed check: the buffer can be freed
        b.close();
      }
    }
  } finally {
    dev.close();
    writeFileSync(NR_HUGEPAGES, hugeBefore);
  }
  console.log(`DMA backings: ${lines.join('; ')}`);
  assert.is(readFileSync(NR_HUGEPAGES, 'utf8').trim(), hugeBefore);
  assert.is(countFds(), before);
});

test.run();

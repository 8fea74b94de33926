// Runs INSIDE the lab guest: QEMU's edu PCI device (0000:00:02.0, vfio-pci, type1 behind the
// SMMUv3) through the public device API: BAR0 registers, factorial, DMA round trip through IOVAs
// mapped with mapDma, a DMA to an unmapped IOVA that leaves memory untouched, INTx and MSI delivered;
// then identification and DMA again through iommufd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds, countVfioMaps } from '../support/fds';
import { allocDma, openDevice, VfioError } from '../../src/index';
import { CONFIG, DMA_TO_RAM, EDU, EDU_BUF, FACT, ID, IRQ_ACK, IRQ_RAISE, IRQ_STATUS, LIVENESS, STATUS, eduDma as dma, enableBusMaster } from '../support/edu';
const fds = countFds;
/** VFIO device mappings held now (test/support/fds.ts). */
const vfioMaps = countVfioMaps;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
test('edu opens through type1: PCI flags, 9 regions by kernel index, BAR0 1 MiB mappable, 5 IRQ indexes', () => {
  const before = fds();
  const dev = openDevice(EDU);
  try {
    assert.is(dev.iommu, 'type1');
    assert.is(dev.info.kind, 'pci');
    assert.is(dev.regions.length, 9);
    assert.equal(dev.regions.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.is(dev.regions[0]!.name, 'BAR0');
    assert.is(dev.regions[0]!.size, 0x100000n);
    assert.ok(dev.regions[0]!.mmappable);
    assert.is(dev.regions[CONFIG]!.name, 'CONFIG');
    assert.is(dev.regions[CONFIG]!.read32(0), 0x11e81234, 'vendor 1234 device 11e8 through the config region');
    assert.is(dev.irqs.length, 5);
    assert.is(dev.irqs[0]!.name, 'INTX');
    assert.is(dev.irqs[0]!.count, 1);
  } finally { dev.close(); }
  assert.is(fds(), before);
});

test('BAR0: identification, liveness inverse, factorial of 5 through the mapping; the same through the trap path', async () => {
  const before = fds(), mapsBefore = vfioMaps();
  const dev = openDevice(EDU);
  try {
    const bar = dev.regions[0]!.map();
    assert.is(bar.read32(ID), 0x010000ed);
    bar.write32(LIVENESS, 0x12345678);
    assert.is(bar.read32(LIVENESS), (~0x12345678) >>> 0);
    bar.write32(FACT, 5);
    for (let i = 0; i < 200 && (bar.read32(STATUS) & 1); i++) await sleep(5);
    assert.is(bar.read32(FACT), 120);
    const r = dev.regions[0]!;
    assert.is(r.read32(ID), 0x010000ed);
    r.write32(LIVENESS, 0xa5a5a5a5);
    assert.is(r.read32(LIVENESS), 0x5a5a5a5a);
  } finally { dev.close(); }
  assert.is(fds(), before);
  assert.is(vfioMaps(), mapsBefore);
});

test('DMA round trip through mapDma IOVAs; an unmapped IOVA leaves memory untouched', async () => {
  const before = fds();
  const dev = openDevice(EDU);
  const a = allocDma(4096), b = allocDma(4096), c = allocDma(4096);
  try {
    const bar = dev.regions[0]!.map();
    enableBusMaster(dev);
    for (let i = 0; i < 64; i++) a.bytes[i] = (i * 7 + 1) & 0xff;
    dev.mapDma({ iova: 0x100000n, buffer: a.bytes, size: 4096n, write: false });
    dev.mapDma({ iova: 0x200000n, buffer: b.bytes, size: 4096n });
    dev.mapDma({ iova: 0x300000n, buffer: c.bytes, size: 4096n });
    assert.is(dev.dmaMappings().length, 3);
    await dma(bar, 0x100000n, EDU_BUF, 64, 0);
    await dma(bar, EDU_BUF, 0x200000n, 64, DMA_TO_RAM);
    assert.equal([...b.bytes.subarray(0, 64)], [...a.bytes.subarray(0, 64)]);
    // unmap c's IOVA, then let the device write there: c must stay as it was
    assert.is(dev.unmapDma(0x300000n, 4096n), 4096n);
    c.bytes.fill(0xee, 0, 64);
    await dma(bar, EDU_BUF, 0x300000n, 64, DMA_TO_RAM);
    assert.ok(c.bytes.subarray(0, 64).every((x) => x === 0xee), 'the DMA to an unmapped IOVA did not reach memory');
    assert.throws(() => a.close(), (e: unknown) => e instanceof VfioError && e.kind === 'bad-state', 'a buffer still mapped for DMA cannot be freed');
    assert.throws(() => dev.mapDma({ iova: 0x100000n, buffer: b.bytes, size: 4096n }), (e: unknown) => e instanceof VfioError && e.errnoName === 'EEXIST');
    assert.throws(() => dev.mapDma({ iova: 0xffff_ffff_ffff_f000n, buffer: b.bytes, size: 0x2000n }), (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument');
    // the type1 IOMMU's view: page sizes and IOVA ranges around the SMMU's reserved MSI window
    const info = dev.dmaInfo();
    assert.ok(info.pageSizes !== undefined && (info.pageSizes & 0x1000n) !== 0n, `page sizes 0x${info.pageSizes?.toString(16)}`);
    assert.ok(info.iovaRanges!.some((r) => r.start <= 0x100000n && r.end >= 0x300fffn), JSON.stringify(info.iovaRanges, (_k, v) => typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
    console.log(`type1: page sizes 0x${info.pageSizes.toString(16)}, IOVA ranges ${info.iovaRanges!.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`).join(', ')}`);
    const hole = info.iovaRanges!.length > 1 ? info.iovaRanges![0]!.end + 1n : undefined;
    if (hole !== undefined) {
      let e: unknown;
      try { dev.mapDma({ iova: hole, buffer: b.bytes, size: 4096n }); } catch (x) { e = x; }
      assert.ok(e instanceof VfioError && e.errnoName === 'EINVAL' && e.hint!.includes('ranges: 0x'), `a map in the reserved hole at 0x${hole.toString(16)}: ${String(e)}`);
    }
  } finally { dev.close(); a.close(); b.close(); c.close(); }
  assert.is(fds(), before);
});

test('INTx delivered to an onTrigger handler (0x60 raises, 0x64 acknowledges), then through the IRQ machine', async () => {
  const before = fds();
  const dev = openDevice(EDU);
  try {
    const bar = dev.regions[0]!.map();
    let got = 0n;
    dev.irqs[0]!.onTrigger((n) => { got += n; });
    bar.write32(IRQ_RAISE, 5);
    for (let i = 0; i < 300 && got === 0n; i++) await sleep(10);
    assert.is(got, 1n);
    assert.is(bar.read32(IRQ_STATUS), 5);
    bar.write32(IRQ_ACK, 5);
    dev.irqs[0]!.unmask();
    dev.irqs[0]!.disable();

    const lines: [number, boolean][] = [];
    const routing = dev.routeIrqs({ setLine: (i, l) => { lines.push([i, l]); } });
    bar.write32(IRQ_RAISE, 1);
    for (let i = 0; i < 300 && lines.length === 0; i++) await sleep(10);
    assert.equal(lines, [[0, true]]);
    bar.write32(IRQ_ACK, 1);
    routing.trappedAccess();
    assert.equal(lines, [[0, true], [0, false]]);
    bar.write32(IRQ_RAISE, 2);
    for (let i = 0; i < 300 && lines.length === 2; i++) await sleep(10);
    assert.equal(lines[2], [0, true], 'a second INTx after the EOI and VFIO unmask');
    bar.write32(IRQ_ACK, 2);
    routing.trappedAccess();
  } finally { dev.close(); }
  assert.is(fds(), before);
});

test('MSI delivered to an onTrigger handler: the device writes its MSI through the SMMUv3 to the ITS, the eventfd fires', async () => {
  const before = fds();
  const dev = openDevice(EDU);
  try {
    const msi = dev.irqs[1]!;
    assert.is(msi.name, 'MSI');
    assert.ok(msi.count >= 1, `MSI vectors: ${msi.count}`);
    const bar = dev.regions[0]!.map();
    enableBusMaster(dev); // an MSI is a memory write by the device
    let got = 0n;
    msi.onTrigger((n) => { got += n; });
    bar.write32(IRQ_RAISE, 3);
    for (let i = 0; i < 300 && got === 0n; i++) await sleep(10);
    assert.is(got, 1n, 'one MSI, one eventfd signal');
    bar.write32(IRQ_ACK, 3);
    bar.write32(IRQ_RAISE, 4);
    for (let i = 0; i < 300 && got === 1n; i++) await sleep(10);
    assert.is(got, 2n, 'a second MSI (edge: no unmask needed)');
    bar.write32(IRQ_ACK, 4);
    msi.disable();
  } finally { dev.close(); }
  assert.is(fds(), before);
});

test('iommufd: the same identification and DMA round trip through /dev/iommu and the device cdev', async () => {
  const before = fds();
  const dev = openDevice(EDU, { iommu: 'iommufd' });
  const a = allocDma(4096), b = allocDma(4096);
  try {
    assert.is(dev.iommu, 'iommufd');
    const bar = dev.regions[0]!.map();
    assert.is(bar.read32(ID), 0x010000ed);
    enableBusMaster(dev);
    for (let i = 0; i < 64; i++) a.bytes[i] = (255 - i) & 0xff;
    dev.mapDma({ iova: 0x100000n, buffer: a.bytes, size: 4096n });
    dev.mapDma({ iova: 0x200000n, buffer: b.bytes, size: 4096n });
    await dma(bar, 0x100000n, EDU_BUF, 64, 0);
    await dma(bar, EDU_BUF, 0x200000n, 64, DMA_TO_RAM);
    assert.equal([...b.bytes.subarray(0, 64)], [...a.bytes.subarray(0, 64)]);
  } finally { dev.close(); a.close(); b.close(); }
  assert.is(fds(), before);
});

test.run();

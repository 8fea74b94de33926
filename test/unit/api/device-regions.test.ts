// Regions of a VfioDevice over the fake kernel: a capability chain that needs a larger argsz (the
// query is repeated), sparse mmap areas that map as several ranges, and a malformed reply that
// marks its region and keeps every index in place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO } from '../../../shim/ioctl';
import { fakeVfio } from './fake-vfio';

const EDU = '0000:00:02.0';
const CAPS = 1 << 3, SPARSE_MMAP = 1;

/** Region 0: 0x4000 bytes, READ|WRITE|MMAP|CAPS, a sparse-mmap cap at 32 with two areas
 *  [0, 0x1000) and [0x3000, 0x4000), in a reply of argsz 320 (more than the first query's buffer). Region 1: a chain whose cap
 *  points back into the fixed struct (malformed). */
function answerRegions(f: ReturnType<typeof fakeVfio>): { queries: number[] } {
  const seen = { queries: [] as number[] };
  const real = f.libc.on.ioctl!;
  f.libc.on.ioctl = (fd, req, arg) => {
    if (req !== VFIO_DEVICE_GET_REGION_INFO) return real(fd, req, arg);
    const dv = new DataView(arg!.buffer, arg!.byteOffset, arg!.byteLength);
    const index = dv.getUint32(8, true), argsz = dv.getUint32(0, true);
    seen.queries.push(index);
    if (index === 0) {
      dv.setUint32(4, 0x7 | CAPS, true); dv.setBigUint64(16, 0x4000n, true); dv.setBigUint64(24, 0n, true);
      if (argsz < 320) { dv.setUint32(0, 320, true); return 0; } // more than the first buffer: ask again
      dv.setUint32(12, 32, true);                                // cap_offset
      dv.setUint16(32, SPARSE_MMAP, true); dv.setUint16(34, 1, true); dv.setUint32(36, 0, true);
      dv.setUint32(40, 2, true);                                 // nr_areas
      dv.setBigUint64(48, 0n, true); dv.setBigUint64(56, 0x1000n, true);
      dv.setBigUint64(64, 0x3000n, true); dv.setBigUint64(72, 0x1000n, true);
      return 0;
    }
    if (index === 1) { dv.setUint32(4, 0x7 | CAPS, true); dv.setBigUint64(16, 0x1000n, true); dv.setUint32(12, 8, true); return 0; }
    return real(fd, req, arg);
  };
  return seen;
}

test('a sparse region: queried again with the argsz the kernel asked for; split map/trap/map; map() refuses, mapAll() maps both ranges', () => {
  const f = fakeVfio();
  try {
    const seen = answerRegions(f);
    const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
    const r = dev.regions[0]!;
    assert.ok(r.ok);
    assert.equal(r.sparse, [{ offset: 0n, size: 0x1000n }, { offset: 0x3000n, size: 0x1000n }]);
    assert.equal(r.split(), [{ offset: 0n, size: 0x1000n, kind: 'map' }, { offset: 0x1000n, size: 0x2000n, kind: 'trap' }, { offset: 0x3000n, size: 0x1000n, kind: 'map' }]);
    let e: unknown;
    try { r.map(); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'not-supported' && e.hint!.includes('mapAll'), String(e));
    const all = r.mapAll();
    assert.equal(all.map((m) => [m.offset, m.size, m.mapping.fileOffset]), [[0n, 0x1000n, 0n], [0x3000n, 0x1000n, 0x3000n]]);
    assert.is(seen.queries.filter((i) => i === 0).length, 2, 'region 0 was queried again with the larger argsz');
    dev.close();
    assert.ok(all.every((m) => m.mapping.closed), 'the device unmapped them');
    assert.is(f.libc.openFds.size, 0);
  } finally { f.dispose(); }
});

test('a malformed region reply marks that region (kernel-reply) and keeps every index in place', () => {
  const f = fakeVfio();
  try {
    answerRegions(f);
    const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
    assert.equal(dev.regions.map((r) => [r.index, r.ok]), [[0, true], [1, false]]);
    const bad = dev.regions[1]!;
    assert.is(bad.error!.kind, 'kernel-reply');
    assert.ok(bad.error!.statusName, 'the core status is kept');
    let e: unknown;
    try { bad.read32(0); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'not-found', String(e));
    assert.ok(dev.regions[0]!.read(0, 4) >= 0n, 'the region before it works');
    dev.close();
  } finally { f.dispose(); }
});

test('a region and an IRQ the kernel refuses to describe (EINVAL, as vfio-pci for VGA and ERR): marked, the index kept, the error built when read, the same as the checked call gives', () => {
  const f = fakeVfio();
  const EINVAL = 22;
  try {
    const real = f.libc.on.ioctl!;
    f.libc.on.ioctl = (fd, req, arg) => {
      const info = req === VFIO_DEVICE_GET_REGION_INFO || req === VFIO_DEVICE_GET_IRQ_INFO;
      const index = info ? new DataView(arg!.buffer, arg!.byteOffset).getUint32(8, true) : -1;
      if ((req === VFIO_DEVICE_GET_REGION_INFO && index === 1) || (req === VFIO_DEVICE_GET_IRQ_INFO && index === 0)) return -EINVAL;
      return real(fd, req, arg);
    };
    const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
    assert.equal(dev.regions.map((r) => r.ok), [true, false, ...dev.regions.slice(2).map(() => true)], 'region 1 marked, every other index read and in place');
    assert.equal(dev.regions.map((r) => r.index), dev.regions.map((_, i) => i));
    assert.equal(dev.irqs.map((q) => q.ok), [false], 'the one IRQ index marked, count 0');
    assert.is(dev.irqs[0]!.count, 0);
    for (const [what, n, x] of [['region', 1, dev.regions[1]!.error], ['IRQ', 0, dev.irqs[0]!.error]] as const) {
      assert.ok(x instanceof VfioError, `${what}: a VfioError`);
      assert.is(x!.kind, 'syscall', `${what}: a failed syscall`);
      assert.is(x!.errnoName, 'EINVAL');
      assert.is(x!.device, EDU);
      assert.ok(x!.message.includes(`cannot read the info of ${what} ${n}`), x!.message);
      assert.ok(x!.syscall?.includes(what === 'region' ? 'VFIO_DEVICE_GET_REGION_INFO' : 'VFIO_DEVICE_GET_IRQ_INFO'), String(x!.syscall));
    }
    assert.is(dev.regions[1]!.error, dev.regions[1]!.error, 'built once, then the same object');
    let e: unknown;
    try { dev.regions[1]!.read32(0); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'not-found' && e.message.includes('EINVAL'), String(e));
    dev.close();
    assert.is(f.libc.openFds.size, 0);
  } finally { f.dispose(); }
});

test.run();

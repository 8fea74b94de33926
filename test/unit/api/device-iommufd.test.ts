// The iommufd/cdev path of openDevice over the fake kernel: /dev/iommu and IOAS_ALLOC (shared),
// the device cdev found through sysfs vfio-dev/, BIND_IOMMUFD and ATTACH_IOMMUFD_PT with the
// right fds and ids, IOAS map/unmap requests, and the close order (device fd before the IOAS is
// destroyed and the iommufd closed), and dmaInfo() through IOMMU_IOAS_IOVA_RANGES: its two steps,
// malformed replies, a failing ioctl.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { allocDma, openDevice } from '../../../src/device/device';
import { openIommuObjects } from '../../../src/device/iommu';
import { VfioError } from '../../../src/errors';
import { IOMMU_IOAS_ALLOC, IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD } from '../../../shim/ioctl';
import { fakeVfio } from './fake-vfio';

const EDU = '0000:00:02.0';
const arg = (f: ReturnType<typeof fakeVfio>, req: number) => {
  const e = f.libc.log.find((x) => x.method === 'ioctl' && x.args[1] === req)!;
  return { fd: e.args[0] as number, dv: new DataView((e.args[2] as Uint8Array).buffer) };
};

test('iommufd open: IOAS alloc, cdev from sysfs, bind with the iommufd, attach to the IOAS; close: device fd, IOAS destroyed, iommufd closed', () => {
  const f = fakeVfio();
  try {
    mkdirSync(join(f.sysfs, 'devices', EDU, 'vfio-dev', 'vfio3'), { recursive: true });
    const real = f.libc.on.ioctl!;
    f.libc.on.ioctl = (fd, req, a) => {
      if (req === IOMMU_IOAS_ALLOC) { new DataView(a!.buffer, a!.byteOffset).setUint32(8, 7, true); return 0; }
      return real(fd, req, a);
    };
    const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'iommufd' });
    assert.is(dev.iommu, 'iommufd');
    assert.equal(f.trace().slice(0, 5), ['open /dev/iommu', 'ioctl IOMMU_IOAS_ALLOC', 'open /dev/vfio/devices/vfio3', 'ioctl VFIO_DEVICE_BIND_IOMMUFD', 'ioctl VFIO_DEVICE_ATTACH_IOMMUFD_PT']);
    const bind = arg(f, VFIO_DEVICE_BIND_IOMMUFD);
    assert.equal([bind.dv.getUint32(0, true), bind.dv.getInt32(8, true)], [16, 100], 'argsz 16, the iommufd');
    const att = arg(f, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
    assert.equal([att.dv.getUint32(0, true), att.dv.getUint32(8, true)], [12, 7], 'argsz 12, the IOAS id');

    const buf = allocDma(4096, { sys: f.sys });
    dev.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 4096n, write: false });
    const map = arg(f, IOMMU_IOAS_MAP);
    // struct iommu_ioas_map: size, flags (FIXED_IOVA | READABLE), ioas_id, reserved, user_va, length, iova
    assert.equal([map.dv.getUint32(0, true), map.dv.getUint32(4, true), map.dv.getUint32(8, true), map.dv.getBigUint64(16, true), map.dv.getBigUint64(24, true), map.dv.getBigUint64(32, true)],
      [40, 1 | 4, 7, buf.hostAddress, 4096n, 0x100000n]);
    dev.close();
    const unmap = arg(f, IOMMU_IOAS_UNMAP);
    assert.equal([unmap.dv.getUint32(0, true), unmap.dv.getUint32(4, true), unmap.dv.getBigUint64(8, true), unmap.dv.getBigUint64(16, true)], [24, 7, 0x100000n, 4096n]);
    assert.equal(f.trace().slice(-4), ['ioctl IOMMU_IOAS_UNMAP', 'close 101', 'ioctl IOMMU_DESTROY', 'close 100']);
    buf.close();
    assert.is(f.libc.openFds.size, 0);
    assert.equal(openIommuObjects(f.sys), { containers: 0, groups: 0, iommufd: 0 });
  } finally { f.dispose(); }
});

test('iommufd without a cdev: not-supported naming CONFIG_VFIO_DEVICE_CDEV, the iommufd not even opened', () => {
  const f = fakeVfio();
  try {
    let e: unknown;
    try { openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'iommufd' }); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'not-supported' && e.hint!.includes('CONFIG_VFIO_DEVICE_CDEV'), String(e));
    assert.is(f.libc.log.length, 0);
  } finally { f.dispose(); }
});

test('a failed BIND_IOMMUFD closes the cdev and releases the IOAS', () => {
  const f = fakeVfio();
  try {
    mkdirSync(join(f.sysfs, 'devices', EDU, 'vfio-dev', 'vfio0'), { recursive: true });
    f.libc.failOn('ioctl', 1 /* EPERM */, 2); // 1: IOAS_ALLOC, 2: BIND
    let e: unknown;
    try { openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'iommufd' }); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'permission' && e.syscall!.includes('VFIO_DEVICE_BIND_IOMMUFD'), String(e));
    assert.is(f.libc.openFds.size, 0);
    assert.ok(f.trace().includes('ioctl IOMMU_DESTROY'));
  } finally { f.dispose(); }
});

test('BIND_IOMMUFD answering EINVAL (the device bound through another open of its cdev, as the race in the lab shows): kind busy, errno kept, a hint', () => {
  const f = fakeVfio();
  try {
    mkdirSync(join(f.sysfs, 'devices', EDU, 'vfio-dev', 'vfio0'), { recursive: true });
    f.libc.failOn('ioctl', 22 /* EINVAL */, 2); // 1: IOAS_ALLOC, 2: BIND
    let e: unknown;
    try { openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'iommufd' }); } catch (x) { e = x; }
    assert.ok(e instanceof VfioError && e.kind === 'busy' && e.errnoName === 'EINVAL' && e.hint!.includes('another open'), String(e));
    assert.is(f.libc.openFds.size, 0);
  } finally { f.dispose(); }
});

// ---- dmaInfo() on iommufd: IOMMU_IOAS_IOVA_RANGES

const EMSGSIZE = 90, EINVAL = 22, ENOMEM = 12;
/** The SMMUv3 of the lab: the MSI window 0x8000000-0x80fffff is a hole in a 48-bit IOVA space. */
const SMMU: [bigint, bigint][] = [[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]];

/** openDevice over iommufd, the kernel answering IOMMU_IOAS_IOVA_RANGES as 6.12 does: num_iovas
 *  set to how many `ranges()` has, as many written at allowed_iovas as fit, EMSGSIZE when they do
 *  not. `seen` keeps each request as sent (num_iovas, allowed_iovas). */
function iommufdDevice(ranges: () => [bigint, bigint][], opts: { alignment?: bigint; errno?: number } = {}) {
  const f = fakeVfio();
  mkdirSync(join(f.sysfs, 'devices', EDU, 'vfio-dev', 'vfio0'), { recursive: true });
  const seen: { num: number; ptr: bigint }[] = [];
  const real = f.libc.on.ioctl!;
  f.libc.on.ioctl = (fd, req, a) => {
    if (req === IOMMU_IOAS_ALLOC) { new DataView(a!.buffer, a!.byteOffset).setUint32(8, 7, true); return 0; }
    if (req === IOMMU_IOAS_IOVA_RANGES) {
      const dv = new DataView(a!.buffer, a!.byteOffset, a!.byteLength);
      const max = dv.getUint32(8, true), ptr = dv.getBigUint64(16, true);
      seen.push({ num: max, ptr });
      if (opts.errno) return -opts.errno;
      const r = ranges();
      if (max > 0) {
        const out = new DataView(f.libc.view(ptr, max * 16));
        r.slice(0, max).forEach(([start, last], i) => { out.setBigUint64(16 * i, start, true); out.setBigUint64(16 * i + 8, last, true); });
      }
      dv.setUint32(8, r.length, true);
      dv.setBigUint64(24, opts.alignment ?? 0x1000n, true);
      return r.length > max ? -EMSGSIZE : 0;
    }
    return real(fd, req, a);
  };
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'iommufd' });
  return { f, dev, seen };
}

function thrown(fn: () => unknown): VfioError {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('did not throw');
}

test('iommufd dmaInfo: the count with no array (EMSGSIZE), then an array of that many; ranges, alignment, no page sizes; the array unmapped', () => {
  const { f, dev, seen } = iommufdDevice(() => SMMU);
  try {
    const mapsBefore = f.libc.mappings();
    const info = dev.dmaInfo();
    assert.equal(info.iovaRanges, [{ start: 0n, end: 0x7ffffffn }, { start: 0x8100000n, end: 0xffffffffffffn }]);
    assert.is(info.iovaAlignment, 0x1000n);
    assert.is(info.pageSizes, undefined, 'iommufd has no page-size bitmap');
    assert.is(info.dmaAvail, undefined);
    assert.is(seen.length, 2, 'two calls');
    assert.equal(seen[0], { num: 0, ptr: 0n }, 'first: only the count');
    assert.is(seen[1]!.num, 2, 'second: room for the 2 the kernel named');
    const mmap = f.libc.log.filter((e) => e.method === 'mmap').at(-1)!;
    assert.is(mmap.args[1], 32n, 'the array: 2 x 16 bytes');
    assert.is(mmap.args[4], -1, 'anonymous');
    assert.ok(f.libc.log.some((e) => e.method === 'munmap' && e.args[0] === seen[1]!.ptr), 'the array is unmapped');
    assert.is(f.libc.mappings(), mapsBefore);
  } finally { dev.close(); f.dispose(); }
});

test('iommufd dmaInfo: an empty list is [] after one call (num_iovas 0 needs no array)', () => {
  const { f, dev, seen } = iommufdDevice(() => []);
  try {
    assert.equal(dev.dmaInfo().iovaRanges, []);
    assert.is(seen.length, 1, 'num_iovas 0 fits the empty array: no second call');
  } finally { dev.close(); f.dispose(); }
});

test('iommufd dmaInfo: a range list that grows between the two calls is asked for again', () => {
  let calls = 0;
  const { f, dev, seen } = iommufdDevice(() => (calls++ === 0 ? SMMU.slice(0, 1) : SMMU));
  try {
    assert.is(dev.dmaInfo().iovaRanges!.length, 2);
    assert.equal(seen.map((x) => x.num), [0, 1, 2]);
    assert.is(f.libc.mappings(), 0);
  } finally { dev.close(); f.dispose(); }
});

for (const [name, ranges, status, offset] of [
  ['unordered ranges', [[0x8100000n, 0xffffffffffffn], [0n, 0x7ffffffn]], 'VFIO_AREAS_UNSORTED', 48],
  ['overlapping ranges', [[0n, 0x8100000n], [0x8100000n, 0xffffffffffffn]], 'VFIO_AREAS_OVERLAP', 48],
  ['a range with start > last', [[0x2000n, 0x1000n]], 'VFIO_RANGE_INVERTED', 32],
  ['num_iovas above MAX_IOVA_RANGES (1025)', Array.from({ length: 1025 }, (_, i) => [BigInt(i) << 16n, (BigInt(i) << 16n) + 0xfffn]), 'VFIO_TOO_MANY', 8],
] as [string, [bigint, bigint][], string, number][]) {
  test(`iommufd dmaInfo: ${name} is a kernel-reply VfioError (${status}) naming the device; no array left mapped`, () => {
    const { f, dev } = iommufdDevice(() => ranges);
    try {
      const e = thrown(() => dev.dmaInfo());
      assert.is(e.kind, 'kernel-reply');
      assert.is(e.statusName, status);
      assert.is(e.offset, offset);
      assert.is(e.device, EDU);
      assert.match(e.message, /usable IOVA ranges of IOAS 7/);
      assert.is(f.libc.mappings(), 0);
    } finally { dev.close(); f.dispose(); }
  });
}

test('iommufd dmaInfo: an alignment that is not a power of two is a kernel-reply error', () => {
  const { f, dev } = iommufdDevice(() => SMMU, { alignment: 0x3000n });
  try { assert.is(thrown(() => dev.dmaInfo()).statusName, 'VFIO_BAD_ALIGNMENT'); } finally { dev.close(); f.dispose(); }
});

test('iommufd dmaInfo: a failing ioctl keeps its errno, its uapi name and the device', () => {
  const { f, dev } = iommufdDevice(() => SMMU, { errno: EINVAL });
  try {
    const e = thrown(() => dev.dmaInfo());
    assert.equal([e.kind, e.errno, e.errnoName, e.syscall, e.device], ['syscall', EINVAL, 'EINVAL', 'ioctl(IOMMU_IOAS_IOVA_RANGES)', EDU]);
  } finally { dev.close(); f.dispose(); }
});

test('iommufd dmaInfo: mmap of the array failing keeps ENOMEM; nothing is left mapped', () => {
  const { f, dev } = iommufdDevice(() => SMMU);
  try {
    f.libc.failOn('mmap', ENOMEM);
    const e = thrown(() => dev.dmaInfo());
    assert.equal([e.errno, e.errnoName, e.syscall], [ENOMEM, 'ENOMEM', 'mmap']);
    assert.is(f.libc.mappings(), 0);
  } finally { dev.close(); f.dispose(); }
});

test.run();

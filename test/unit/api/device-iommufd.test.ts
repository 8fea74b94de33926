// The iommufd/cdev path of openDevice over the fake kernel: /dev/iommu and IOAS_ALLOC (shared),
// the device cdev found through sysfs vfio-dev/, BIND_IOMMUFD and ATTACH_IOMMUFD_PT with the
// right fds and ids, IOAS map/unmap requests, and the close order (device fd before the IOAS is
// destroyed and the iommufd closed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { allocDma, openDevice } from '../../../src/device/device';
import { openIommuObjects } from '../../../src/device/iommu';
import { VfioError } from '../../../src/errors';
import { IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD } from '../../../shim/ioctl';
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

test.run();

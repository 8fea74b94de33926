// Runs INSIDE the lab guest: edu through the VFIO device cdev and iommufd (no group, no
// container), through the shim only: IOAS alloc, IOVA ranges, bind, attach, BAR0 ident through
// mmap, IOAS map/unmap of 4 KiB at IOVA 0x100000, detach, destroy. Structs by hand, offsets
// annotated (include/uapi/linux/iommufd.h, vfio.h as of 6.12). Fds counted before and after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import {
  createSys, realLibc, vfio, iommufd, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE,
  MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE,
} from '../../shim/index';
import { openFds } from '../support/fds';
import { step, struct, u32le, u64le, Undo } from '../support/shim-lab';

const sys = createSys(realLibc());
const EDU = '0000:00:02.0';

test('edu via /dev/vfio/devices/vfioN and /dev/iommu: bind, attach to an IOAS, BAR0 ident, IOAS_MAP/UNMAP, detach, destroy', () => {
  const before = openFds();
  const undo = new Undo();
  const close = (fd: number): void => sys.close(fd);
  try {
    const iommu = undo.fd('/dev/iommu', step('open /dev/iommu', () => sys.open('/dev/iommu', O_RDWR | O_CLOEXEC)), close);
    // struct iommu_ioas_alloc { u32 size @0, flags @4, out_ioas_id @8 } = 12
    const alloc = struct(12, [[0, 4, 12]]);
    step('IOMMU_IOAS_ALLOC', () => iommufd.ioasAlloc(sys, iommu, alloc));
    const ioas = u32le(alloc, 8);
    // struct iommu_destroy { u32 size @0, id @4 } = 8
    undo.add('IOMMU_DESTROY', () => iommufd.destroy(sys, iommu, struct(8, [[0, 4, 8], [4, 4, ioas]])));

    // Ranges land in a page of ours: struct iommu_iova_range { u64 start @0, last @8 } = 16 each.
    const page = step('mmap anonymous page', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    undo.add('munmap page', () => sys.munmap(page, 4096n));
    // struct iommu_ioas_iova_ranges { u32 size @0, ioas_id @4, num_iovas @8, __reserved @12; u64 allowed_iovas @16, out_iova_alignment @24 } = 32
    const ranges = struct(32, [[0, 4, 32], [4, 4, ioas], [8, 4, 16], [16, 8, page]]);
    step('IOMMU_IOAS_IOVA_RANGES', () => iommufd.ioasIovaRanges(sys, iommu, ranges));
    const n = u32le(ranges, 8);
    assert.ok(n >= 1, `${n} IOVA ranges`);
    const r64 = new BigUint64Array(sys.view(page, 4096));
    console.log(`  IOAS ${ioas}: ${n} range(s), first 0x${r64[0]!.toString(16)}..0x${r64[1]!.toString(16)}, alignment 0x${u64le(ranges, 24).toString(16)}`);

    const vfioDev = readdirSync(`/sys/bus/pci/devices/${EDU}/vfio-dev`).find((d) => /^vfio\d+$/.test(d));
    assert.ok(vfioDev, 'edu has a vfio-dev cdev');
    const device = undo.fd('device cdev', step(`open /dev/vfio/devices/${vfioDev}`, () => sys.open(`/dev/vfio/devices/${vfioDev}`, O_RDWR | O_CLOEXEC)), close);
    // struct vfio_device_bind_iommufd { u32 argsz @0, flags @4; s32 iommufd @8; u32 out_devid @12 } = 16
    const bind = struct(16, [[0, 4, 16], [8, 4, iommu]]);
    step('VFIO_DEVICE_BIND_IOMMUFD', () => vfio.deviceBindIommufd(sys, device, bind));
    console.log(`  bound, devid ${u32le(bind, 12)}`);
    // struct vfio_device_attach_iommufd_pt { u32 argsz @0, flags @4, pt_id @8 } = 12
    const attach = struct(12, [[0, 4, 12], [8, 4, ioas]]);
    step('VFIO_DEVICE_ATTACH_IOMMUFD_PT', () => vfio.deviceAttachIommufdPt(sys, device, attach));
    // struct vfio_device_detach_iommufd_pt { u32 argsz @0, flags @4 } = 8
    undo.add('VFIO_DEVICE_DETACH_IOMMUFD_PT', () => vfio.deviceDetachIommufdPt(sys, device, struct(8, [[0, 4, 8]])));

    // struct vfio_region_info { u32 argsz @0, flags @4, index @8, cap_offset @12; u64 size @16, offset @24 } = 32
    const ri = struct(32, [[0, 4, 32], [8, 4, 0]]);
    step('VFIO_DEVICE_GET_REGION_INFO BAR0', () => vfio.deviceGetRegionInfo(sys, device, ri));
    const size = u64le(ri, 16);
    const bar = step('mmap BAR0', () => sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, device, u64le(ri, 24)));
    undo.add('munmap BAR0', () => sys.munmap(bar, size));
    assert.is(Atomics.load(new Uint32Array(sys.view(bar, 4096)), 0), 0x010000ed, 'edu identification register');

    const buf = step('mmap anonymous 4 KiB', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    undo.add('munmap buffer', () => sys.munmap(buf, 4096n));
    // struct iommu_ioas_map { u32 size @0, flags @4, ioas_id @8, __reserved @12; u64 user_va @16, length @24, iova @32 } = 40
    const map = struct(40, [[0, 4, 40], [4, 4, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE], [8, 4, ioas], [16, 8, buf], [24, 8, 4096n], [32, 8, 0x100000n]]);
    step('IOMMU_IOAS_MAP', () => iommufd.ioasMap(sys, iommu, map));
    assert.is(u64le(map, 32), 0x100000n, 'mapped at the fixed IOVA');
    // struct iommu_ioas_unmap { u32 size @0, ioas_id @4; u64 iova @8, length @16 } = 24
    const unmap = struct(24, [[0, 4, 24], [4, 4, ioas], [8, 8, 0x100000n], [16, 8, 4096n]]);
    step('IOMMU_IOAS_UNMAP', () => iommufd.ioasUnmap(sys, iommu, unmap));
    assert.is(u64le(unmap, 16), 4096n, 'the kernel reports 4 KiB unmapped');
  } finally {
    undo.run();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

// Runs INSIDE the lab guest (arm64 Linux 6.12, koffi's arm64 binary): real VFIO devices driven
// through the shim only (shim/vfio.ts, shim/kvm.ts over createSys(realLibc())), in the sequences
// the kernel's VFIO documentation gives (container, group, device; docs/API.md). Structs are built by hand here,
// each field at its uapi offset, so this file does not depend on the core's encoders.
// Every step that fails throws with the step's name and the VfioError message (syscall, errno name).
// Open fds are counted before and after each device: equal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createSys, realLibc, vfio, kvm, EFD_CLOEXEC, EFD_NONBLOCK, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_CLOEXEC, O_RDWR,
  POLLIN, PROT_READ, PROT_WRITE, SIZEOF_POLLFD, KVM_API_VERSION, KVM_CAP_IRQFD, KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE,
  KVM_DEV_VFIO_FILE_ADD, VFIO_API_VERSION, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_NOIOMMU_IOMMU, VFIO_TYPE1v2_IOMMU,
} from '../../shim/index';
import { openFds } from '../support/fds';
import { IrqDispatcher } from '../../src/eventfd/dispatcher';
import { VfioError } from '../../src/errors';
import { groupPath, step, struct, u32le, u64le, Undo } from '../support/shim-lab';

const sys = createSys(realLibc());
const PL031 = '9010000.pl031';
const EDU = '0000:00:02.0';

// ---- structs, by hand (include/uapi/linux/vfio.h, kvm.h); little-endian on both hosts.
// struct vfio_group_status { u32 argsz @0; u32 flags @4 } = 8
const groupStatus = (): Uint8Array => struct(8, [[0, 4, 8]]);
// struct vfio_device_info { u32 argsz @0, flags @4, num_regions @8, num_irqs @12, cap_offset @16, pad @20 } = 24
const deviceInfo = (): Uint8Array => struct(24, [[0, 4, 24]]);
// struct vfio_region_info { u32 argsz @0, flags @4, index @8, cap_offset @12; u64 size @16, offset @24 } = 32
const regionInfo = (index: number): Uint8Array => struct(32, [[0, 4, 32], [8, 4, index]]);
// struct vfio_irq_info { u32 argsz @0, flags @4, index @8, count @12 } = 16
const irqInfo = (index: number): Uint8Array => struct(16, [[0, 4, 16], [8, 4, index]]);
// struct vfio_irq_set { u32 argsz @0, flags @4, index @8, start @12, count @16; u8 data[] @20 } = 20 + data
const irqSetEventfd = (index: number, efd: number): Uint8Array =>
  struct(24, [[0, 4, 24], [4, 4, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER], [8, 4, index], [12, 4, 0], [16, 4, 1], [20, 4, efd]]);
const irqSetUnmask = (index: number): Uint8Array =>
  struct(20, [[0, 4, 20], [4, 4, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK], [8, 4, index], [12, 4, 0], [16, 4, 1]]);
// struct vfio_iommu_type1_dma_map { u32 argsz @0, flags @4; u64 vaddr @8, iova @16, size @24 } = 32
const dmaMap = (vaddr: bigint, iova: bigint, size: bigint): Uint8Array =>
  struct(32, [[0, 4, 32], [4, 4, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE], [8, 8, vaddr], [16, 8, iova], [24, 8, size]]);
// struct vfio_iommu_type1_dma_unmap { u32 argsz @0, flags @4; u64 iova @8, size @16 } = 24
const dmaUnmap = (iova: bigint, size: bigint): Uint8Array => struct(24, [[0, 4, 24], [8, 8, iova], [16, 8, size]]);
// struct kvm_create_device { u32 type @0, fd @4, flags @8 } = 12
const createDevice = (type: number): Uint8Array => struct(12, [[0, 4, type]]);
// struct kvm_device_attr { u32 flags @0, group @4; u64 attr @8, addr @16 } = 24
const deviceAttr = (group: number, attr: number, addr: bigint): Uint8Array => struct(24, [[4, 4, group], [8, 8, attr], [16, 8, addr]]);

/** Waits up to timeoutMs for fd to be readable (poll(2), blocking this thread); true if it is. */
function pollIn(fd: number, timeoutMs: number): boolean {
  const p = new Uint8Array(SIZEOF_POLLFD);
  const dv = new DataView(p.buffer);
  dv.setInt32(0, fd, true);       // fd @0
  dv.setInt16(4, POLLIN, true);   // events @4
  return sys.poll(p, 1, timeoutMs) === 1 && (dv.getInt16(6, true) & POLLIN) !== 0;  // revents @6
}

class Fds extends Undo {
  fdOf(what: string, fd: number): number { return this.fd(what, fd, (f) => sys.close(f)); }
  closeAll(): void { this.run(); }
}

test('pl031 via /dev/vfio/noiommu-N: container, group, device, region mmap, PrimeCell ID, RTC alarm IRQ through an eventfd', () => {
  const before = openFds();
  const fds = new Fds();
  try {
    const container = fds.fdOf('container', step('open /dev/vfio/vfio', () => sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC)));
    assert.is(step('VFIO_GET_API_VERSION', () => vfio.getApiVersion(sys, container)), VFIO_API_VERSION);
    assert.ok(step('VFIO_CHECK_EXTENSION noiommu', () => vfio.checkExtension(sys, container, VFIO_NOIOMMU_IOMMU)) > 0, 'noiommu supported');

    const path = groupPath('amba', PL031);
    assert.match(path, /^\/dev\/vfio\/noiommu-\d+$/);
    const group = fds.fdOf('group', step(`open ${path}`, () => sys.open(path, O_RDWR | O_CLOEXEC)));
    const gs = groupStatus();
    step('VFIO_GROUP_GET_STATUS', () => vfio.groupGetStatus(sys, group, gs));
    assert.is(u32le(gs, 4) & VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_VIABLE, 'group viable');
    step('VFIO_GROUP_SET_CONTAINER', () => vfio.groupSetContainer(sys, group, container));
    fds.add('unset container', () => vfio.groupUnsetContainer(sys, group));
    step('VFIO_SET_IOMMU noiommu', () => vfio.setIommu(sys, container, VFIO_NOIOMMU_IOMMU));
    step('VFIO_GROUP_GET_STATUS again', () => vfio.groupGetStatus(sys, group, gs));
    assert.is(u32le(gs, 4) & VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_CONTAINER_SET, 'container set');

    const device = fds.fdOf('device', step('VFIO_GROUP_GET_DEVICE_FD', () => vfio.groupGetDeviceFd(sys, group, PL031)));
    const di = deviceInfo();
    step('VFIO_DEVICE_GET_INFO', () => vfio.deviceGetInfo(sys, device, di));
    assert.is(u32le(di, 4), 0x8, 'flags: VFIO_DEVICE_FLAGS_AMBA');
    assert.is(u32le(di, 8), 1, 'num_regions');
    assert.is(u32le(di, 12), 1, 'num_irqs');

    const ri = regionInfo(0);
    step('VFIO_DEVICE_GET_REGION_INFO 0', () => vfio.deviceGetRegionInfo(sys, device, ri));
    assert.is(u32le(ri, 4), 0x7, 'region flags READ|WRITE|MMAP');
    assert.is(u64le(ri, 16), 0x1000n, 'region size');
    const offset = u64le(ri, 24);

    const addr = step('mmap region 0', () => sys.mmap(0x1000n, PROT_READ | PROT_WRITE, MAP_SHARED, device, offset));
    fds.add('munmap region 0', () => sys.munmap(addr, 0x1000n));
    const r = new Uint32Array(sys.view(addr, 0x1000));
    const cellId = [0xff0, 0xff4, 0xff8, 0xffc].map((o) => Atomics.load(r, o / 4) & 0xff);
    assert.equal(cellId, [0x0d, 0xf0, 0x05, 0xb1], 'PrimeCell ID through the mapping');
    const viaPread = [0xff0, 0xff4, 0xff8, 0xffc].map((o) => {
      const b = new Uint8Array(4);
      assert.is(step(`pread 0x${o.toString(16)}`, () => sys.pread(device, b, offset + BigInt(o))), 4);
      return u32le(b, 0) & 0xff;
    });
    assert.equal(viaPread, cellId, 'the same ID through pread on the device fd');

    const ii = irqInfo(0);
    step('VFIO_DEVICE_GET_IRQ_INFO 0', () => vfio.deviceGetIrqInfo(sys, device, ii));
    assert.is(u32le(ii, 4), 0x7, 'irq flags EVENTFD|MASKABLE|AUTOMASKED');
    assert.is(u32le(ii, 12), 1, 'irq count');

    const efd = fds.fdOf('eventfd', step('eventfd', () => sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)));
    step('VFIO_DEVICE_SET_IRQS eventfd trigger', () => vfio.deviceSetIrqs(sys, device, irqSetEventfd(0, efd)));
    assert.is(sys.eventfdRead(efd), 0n, 'nothing pending before the alarm');

    // PL031: DR 0x00, MR 0x04, IMSC 0x10, RIS 0x14, MIS 0x18, ICR 0x1c
    const now = Atomics.load(r, 0x00 / 4);
    Atomics.store(r, 0x1c / 4, 1);          // ICR: clear a stale match
    Atomics.store(r, 0x04 / 4, now + 2);    // MR: match in 2 s
    Atomics.store(r, 0x10 / 4, 1);          // IMSC: unmask the alarm interrupt
    const t0 = Date.now();
    const fired = pollIn(efd, 5000);
    const waited = Date.now() - t0;
    assert.ok(fired, `the eventfd fired within 5 s (waited ${waited} ms, RIS=${Atomics.load(r, 0x14 / 4)})`);
    assert.ok(sys.eventfdRead(efd) >= 1n, 'counter at least 1');
    console.log(`  pl031 alarm fired after ${waited} ms`);
    Atomics.store(r, 0x1c / 4, 1);          // ICR: clear the match
    Atomics.store(r, 0x10 / 4, 0);          // IMSC: mask it again
    step('VFIO_DEVICE_SET_IRQS unmask', () => vfio.deviceSetIrqs(sys, device, irqSetUnmask(0)));
  } finally {
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('edu 0000:00:02.0 via its numeric group with type1v2: BAR0 ident through mmap, MAP_DMA and UNMAP_DMA of 4 KiB at IOVA 0x100000', () => {
  const before = openFds();
  const fds = new Fds();
  try {
    const container = fds.fdOf('container', step('open /dev/vfio/vfio', () => sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC)));
    assert.ok(step('VFIO_CHECK_EXTENSION type1v2', () => vfio.checkExtension(sys, container, VFIO_TYPE1v2_IOMMU)) > 0, 'type1v2 supported');
    const path = groupPath('pci', EDU);
    assert.match(path, /^\/dev\/vfio\/\d+$/);
    const group = fds.fdOf('group', step(`open ${path}`, () => sys.open(path, O_RDWR | O_CLOEXEC)));
    const gs = groupStatus();
    step('VFIO_GROUP_GET_STATUS', () => vfio.groupGetStatus(sys, group, gs));
    assert.is(u32le(gs, 4) & VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_VIABLE, 'group viable');
    step('VFIO_GROUP_SET_CONTAINER', () => vfio.groupSetContainer(sys, group, container));
    fds.add('unset container', () => vfio.groupUnsetContainer(sys, group));
    step('VFIO_SET_IOMMU type1v2', () => vfio.setIommu(sys, container, VFIO_TYPE1v2_IOMMU));
    const device = fds.fdOf('device', step('VFIO_GROUP_GET_DEVICE_FD', () => vfio.groupGetDeviceFd(sys, group, EDU)));
    const di = deviceInfo();
    step('VFIO_DEVICE_GET_INFO', () => vfio.deviceGetInfo(sys, device, di));
    assert.is(u32le(di, 4) & 0x2, 0x2, 'flags: VFIO_DEVICE_FLAGS_PCI');
    assert.is(u32le(di, 8), 9, 'num_regions');

    const ri = regionInfo(0);   // VFIO_PCI_BAR0_REGION_INDEX
    step('VFIO_DEVICE_GET_REGION_INFO BAR0', () => vfio.deviceGetRegionInfo(sys, device, ri));
    const size = u64le(ri, 16);
    assert.is(size, 0x100000n, 'BAR0 size');
    const bar = step('mmap BAR0', () => sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, device, u64le(ri, 24)));
    fds.add('munmap BAR0', () => sys.munmap(bar, size));
    const regs = new Uint32Array(sys.view(bar, Number(size)));
    assert.is(Atomics.load(regs, 0), 0x010000ed, 'edu identification register');

    const buf = step('mmap anonymous 4 KiB', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    fds.add('munmap buffer', () => sys.munmap(buf, 4096n));
    step('VFIO_IOMMU_MAP_DMA', () => vfio.iommuMapDma(sys, container, dmaMap(buf, 0x100000n, 4096n)));
    const unmap = dmaUnmap(0x100000n, 4096n);
    step('VFIO_IOMMU_UNMAP_DMA', () => vfio.iommuUnmapDma(sys, container, unmap));
    assert.is(u64le(unmap, 16), 4096n, 'the kernel reports 4 KiB unmapped');
  } finally {
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('/dev/kvm: KVM_CREATE_VM, KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO), KVM_DEV_VFIO_FILE_ADD of the pl031 group', () => {
  const before = openFds();
  const fds = new Fds();
  try {
    const kvmFd = fds.fdOf('/dev/kvm', step('open /dev/kvm', () => sys.open('/dev/kvm', O_RDWR | O_CLOEXEC)));
    assert.is(step('KVM_GET_API_VERSION', () => kvm.getApiVersion(sys, kvmFd)), KVM_API_VERSION);
    const vm = fds.fdOf('vm', step('KVM_CREATE_VM', () => kvm.createVm(sys, kvmFd, 0)));
    assert.ok(step('KVM_CHECK_EXTENSION KVM_CAP_IRQFD', () => kvm.checkExtension(sys, vm, KVM_CAP_IRQFD)) > 0, 'irqfd supported');

    const container = fds.fdOf('container', step('open /dev/vfio/vfio', () => sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC)));
    const path = groupPath('amba', PL031);
    const group = fds.fdOf('group', step(`open ${path}`, () => sys.open(path, O_RDWR | O_CLOEXEC)));
    step('VFIO_GROUP_SET_CONTAINER', () => vfio.groupSetContainer(sys, group, container));
    fds.add('unset container', () => vfio.groupUnsetContainer(sys, group));
    step('VFIO_SET_IOMMU noiommu', () => vfio.setIommu(sys, container, VFIO_NOIOMMU_IOMMU));

    const cd = createDevice(KVM_DEV_TYPE_VFIO);
    step('KVM_CREATE_DEVICE KVM_DEV_TYPE_VFIO', () => kvm.createDevice(sys, vm, cd));
    const kvmVfio = fds.fdOf('kvm-vfio device', u32le(cd, 4));   // fd @4, filled by the kernel
    assert.ok(kvmVfio > 2, `device fd ${kvmVfio}`);

    // attr.addr points at an s32 holding the group fd: a page of our own, so the address is stable.
    const page = step('mmap anonymous page', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    fds.add('munmap page', () => sys.munmap(page, 4096n));
    new Int32Array(sys.view(page, 4096))[0] = group;
    step('KVM_SET_DEVICE_ATTR KVM_DEV_VFIO_FILE_ADD', () => kvm.setDeviceAttr(sys, kvmVfio, deviceAttr(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, page)));
  } finally {
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('a failure inside the guest keeps its kind, errno and syscall: VFIO_GROUP_GET_DEVICE_FD of a name not in the group', () => {
  const before = openFds();
  const fds = new Fds();
  try {
    const container = fds.fdOf('container', sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC));
    const group = fds.fdOf('group', sys.open(groupPath('amba', PL031), O_RDWR | O_CLOEXEC));
    vfio.groupSetContainer(sys, group, container);
    fds.add('unset container', () => vfio.groupUnsetContainer(sys, group));
    vfio.setIommu(sys, container, VFIO_NOIOMMU_IOMMU);
    let err: { kind?: string; errnoName?: string; syscall?: string; message?: string } = {};
    try { fds.fdOf('device', vfio.groupGetDeviceFd(sys, group, 'no-such-device')); } catch (e) { err = e as typeof err; }
    console.log(`  ${err.message}`);
    assert.is(err.syscall, 'ioctl(VFIO_GROUP_GET_DEVICE_FD)');
    assert.ok(err.errnoName && /^E[A-Z]+$/.test(err.errnoName), `errno name ${err.errnoName}`);
    assert.ok(err.kind, 'has a kind');
  } finally {
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

/** Container + noiommu group + pl031 device fd + region 0 mapped: what the tests below start from. */
function openPl031(fds: Fds): { container: number; group: number; device: number; regs: Uint32Array; offset: bigint } {
  const container = fds.fdOf('container', sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC));
  const group = fds.fdOf('group', sys.open(groupPath('amba', PL031), O_RDWR | O_CLOEXEC));
  vfio.groupSetContainer(sys, group, container);
  fds.add('unset container', () => vfio.groupUnsetContainer(sys, group));
  vfio.setIommu(sys, container, VFIO_NOIOMMU_IOMMU);
  const device = fds.fdOf('device', vfio.groupGetDeviceFd(sys, group, PL031));
  const ri = regionInfo(0);
  vfio.deviceGetRegionInfo(sys, device, ri);
  const offset = u64le(ri, 24);
  const addr = sys.mmap(0x1000n, PROT_READ | PROT_WRITE, MAP_SHARED, device, offset);
  fds.add('munmap', () => sys.munmap(addr, 0x1000n));
  return { container, group, device, regs: new Uint32Array(sys.view(addr, 0x1000)), offset };
}

test('the pl031 alarm reaches a handler on the event loop: IrqDispatcher over sys.watch (koffi.node.poll) and sys.readCounter', async () => {
  const before = openFds();
  const fds = new Fds();
  const irqs = new IrqDispatcher(sys.watch, sys.readCounter);
  try {
    const { device, regs } = openPl031(fds);
    const efd = fds.fdOf('eventfd', sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    vfio.deviceSetIrqs(sys, device, irqSetEventfd(0, efd));
    const t0 = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fired = new Promise<bigint>((resolve, reject) => {
      irqs.add(efd, resolve, 'pl031 alarm');
      timer = setTimeout(() => reject(new Error('no IRQ on the event loop within 5 s')), 5000);
    });
    Atomics.store(regs, 0x1c / 4, 1);                              // ICR
    Atomics.store(regs, 0x04 / 4, Atomics.load(regs, 0) + 2);      // MR = DR + 2
    Atomics.store(regs, 0x10 / 4, 1);                              // IMSC
    const count = await fired.finally(() => clearTimeout(timer));
    console.log(`  event-loop delivery after ${Date.now() - t0} ms, count ${count}`);
    assert.ok(count >= 1n);
    Atomics.store(regs, 0x1c / 4, 1);
    Atomics.store(regs, 0x10 / 4, 0);
    vfio.deviceSetIrqs(sys, device, irqSetUnmask(0));
  } finally {
    irqs.close();
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('errors the real kernel gives keep kind, errno and syscall: group opened twice (EBUSY), bad region index and mmap past the region (EINVAL)', () => {
  const before = openFds();
  const fds = new Fds();
  const failure = (fn: () => unknown): VfioError => {
    try { fn(); } catch (e) { assert.instance(e, VfioError); console.log(`  ${(e as Error).message}`); return e as VfioError; }
    throw new Error('expected a VfioError');
  };
  try {
    const { group, device } = openPl031(fds);
    void group;
    const busy = failure(() => fds.fdOf('second group fd', sys.open(groupPath('amba', PL031), O_RDWR | O_CLOEXEC)));
    assert.equal([busy.kind, busy.errnoName, busy.syscall], ['busy', 'EBUSY', 'open']);
    const idx = failure(() => vfio.deviceGetRegionInfo(sys, device, regionInfo(5)));
    assert.equal([idx.kind, idx.errnoName, idx.syscall], ['syscall', 'EINVAL', 'ioctl(VFIO_DEVICE_GET_REGION_INFO)']);
    const past = failure(() => sys.mmap(0x2000n, PROT_READ, MAP_SHARED, device, 0n));
    assert.equal([past.kind, past.errnoName, past.syscall], ['syscall', 'EINVAL', 'mmap']);
  } finally {
    fds.closeAll();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

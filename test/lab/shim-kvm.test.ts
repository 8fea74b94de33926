// Runs INSIDE the lab guest (arm64, KVM under emulated EL2): the KVM ioctls of the shim, in the
// order a minimal nested VMM makes them. A nested guest's memslot is backed by the VFIO mmap of
// the pl031, and a 10-instruction payload loads its registers with no exit (zero-copy MMIO
// passthrough), then stores them to an unbacked address: three MMIO exits carry the values.
// Then KVM_IRQ_LINE (userspace irqchip), and KVM_IRQFD with resample on a VM with a vGICv3.
// Structs by hand, offsets annotated (kvm.h, arm64 asm/kvm.h, 6.12). Fds counted before and after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createSys, realLibc, vfio, kvm, EFD_CLOEXEC, EFD_NONBLOCK, KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE,
  MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, VFIO_NOIOMMU_IOMMU,
  SIZEOF_KVM_VCPU_INIT,
} from '../../shim/index';
import { openFds } from '../support/fds';
import { groupPath, step, struct, u32le, Undo } from '../support/shim-lab';

const sys = createSys(realLibc());
const close = (fd: number): void => sys.close(fd);

// aarch64 payload (reference/payload.S, assembled with aarch64-linux-gnu-as):
const PAYLOAD = new Uint32Array([
  0xd2800000, // mov  x0, #0
  0xf2a12020, // movk x0, #0x901, lsl #16      x0 = 0x09010000, the pl031
  0xb94fe001, // ldr  w1, [x0, #0xfe0]         periph id 0 (0x31)
  0xb94ff002, // ldr  w2, [x0, #0xff0]         cell id 0 (0x0d)
  0xd2800003, // mov  x3, #0
  0xf2a20003, // movk x3, #0x1000, lsl #16     x3 = 0x10000000, unbacked: stores exit
  0xb9000061, // str  w1, [x3]
  0xb9000462, // str  w2, [x3, #4]
  0xb9400004, // ldr  w4, [x0]                 DR, the RTC value
  0xb9000864, // str  w4, [x3, #8]
  0x14000000, // b    .
]);
const RAM_GPA = 0x4000_0000n, RAM_SIZE = 0x10000n, PL031_GPA = 0x0901_0000n;
// KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offsetof(struct kvm_regs, regs.pc) / 4 (= 256 / 4)
const REG_PC = 0x6030_0000_0010_0040n;
// struct kvm_run: u32 exit_reason @8; mmio { u64 phys_addr @32; u8 data[8] @40; u32 len @48; u8 is_write @52 }
const RUN_EXIT_REASON = 8, RUN_MMIO_PHYS = 32, RUN_MMIO_DATA = 40, RUN_MMIO_LEN = 48, RUN_MMIO_IS_WRITE = 52;
const KVM_EXIT_MMIO = 6;
// struct kvm_userspace_memory_region { u32 slot @0, flags @4; u64 guest_phys_addr @8, memory_size @16, userspace_addr @24 } = 32
const memRegion = (slot: number, gpa: bigint, size: bigint, hva: bigint): Uint8Array => struct(32, [[0, 4, slot], [8, 8, gpa], [16, 8, size], [24, 8, hva]]);
// struct kvm_one_reg { u64 id @0, addr @8 } = 16
const oneReg = (id: bigint, addr: bigint): Uint8Array => struct(16, [[0, 8, id], [8, 8, addr]]);

test('a nested guest reads the pl031 through a memslot backed by the VFIO mmap: periph id 0x31, cell id 0x0d, the RTC', () => {
  const before = openFds();
  const undo = new Undo();
  try {
    const container = undo.fd('container', step('open /dev/vfio/vfio', () => sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC)), close);
    const group = undo.fd('group', step('open group', () => sys.open(groupPath('amba', '9010000.pl031'), O_RDWR | O_CLOEXEC)), close);
    step('VFIO_GROUP_SET_CONTAINER', () => vfio.groupSetContainer(sys, group, container));
    undo.add('unset container', () => vfio.groupUnsetContainer(sys, group));
    step('VFIO_SET_IOMMU', () => vfio.setIommu(sys, container, VFIO_NOIOMMU_IOMMU));
    const device = undo.fd('device', step('VFIO_GROUP_GET_DEVICE_FD', () => vfio.groupGetDeviceFd(sys, group, '9010000.pl031')), close);
    // Region 0 of a vfio-platform/amba device starts at offset 0 of the device fd (checked by shim.test.ts).
    const mmio = step('mmap pl031', () => sys.mmap(0x1000n, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0n));
    undo.add('munmap pl031', () => sys.munmap(mmio, 0x1000n));

    const kvmFd = undo.fd('/dev/kvm', step('open /dev/kvm', () => sys.open('/dev/kvm', O_RDWR | O_CLOEXEC)), close);
    const vm = undo.fd('vm', step('KVM_CREATE_VM', () => kvm.createVm(sys, kvmFd)), close);
    const ram = step('mmap guest RAM', () => sys.mmap(RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    undo.add('munmap guest RAM', () => sys.munmap(ram, RAM_SIZE));
    new Uint32Array(sys.view(ram, Number(RAM_SIZE))).set(PAYLOAD);
    step('KVM_SET_USER_MEMORY_REGION ram', () => kvm.setUserMemoryRegion(sys, vm, memRegion(0, RAM_GPA, RAM_SIZE, ram)));
    step('KVM_SET_USER_MEMORY_REGION pl031', () => kvm.setUserMemoryRegion(sys, vm, memRegion(1, PL031_GPA, 0x1000n, mmio)));

    const vcpu = undo.fd('vcpu', step('KVM_CREATE_VCPU', () => kvm.createVcpu(sys, vm, 0)), close);
    const init = new Uint8Array(SIZEOF_KVM_VCPU_INIT);   // struct kvm_vcpu_init { u32 target @0; u32 features[7] @4 }
    step('KVM_ARM_PREFERRED_TARGET', () => kvm.armPreferredTarget(sys, vm, init));
    step('KVM_ARM_VCPU_INIT', () => kvm.armVcpuInit(sys, vcpu, init));

    // The register value lives in a page of ours: kvm_one_reg.addr points at it.
    const page = step('mmap page', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    undo.add('munmap page', () => sys.munmap(page, 4096n));
    const regs = new BigUint64Array(sys.view(page, 4096));
    regs[0] = RAM_GPA;
    step('KVM_SET_ONE_REG pc', () => kvm.setOneReg(sys, vcpu, oneReg(REG_PC, page)));
    step('KVM_GET_ONE_REG pc', () => kvm.getOneReg(sys, vcpu, oneReg(REG_PC, page + 8n)));
    assert.is(regs[1], RAM_GPA, 'pc reads back');

    const runSize = step('KVM_GET_VCPU_MMAP_SIZE', () => kvm.getVcpuMmapSize(sys, kvmFd));
    const run = step('mmap kvm_run', () => sys.mmap(BigInt(runSize), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0n));
    undo.add('munmap kvm_run', () => sys.munmap(run, BigInt(runSize)));
    const r = new Uint8Array(sys.view(run, runSize));
    const seen: [bigint, number][] = [];
    for (let i = 0; i < 3; i++) {
      step(`KVM_RUN ${i}`, () => kvm.run(sys, vcpu));
      assert.is(u32le(r, RUN_EXIT_REASON), KVM_EXIT_MMIO, 'exit reason MMIO');
      assert.is(r[RUN_MMIO_IS_WRITE], 1, 'a write');
      assert.is(u32le(r, RUN_MMIO_LEN), 4);
      seen.push([new DataView(r.buffer).getBigUint64(RUN_MMIO_PHYS, true), u32le(r, RUN_MMIO_DATA)]);
    }
    console.log(`  nested guest stores: ${seen.map(([a, v]) => `0x${a.toString(16)}=0x${v.toString(16)}`).join(' ')}`);
    assert.equal(seen.map(([a]) => a), [0x1000_0000n, 0x1000_0004n, 0x1000_0008n]);
    assert.is(seen[0]![1], 0x31, 'periph id 0 read straight from the device');
    assert.is(seen[1]![1], 0x0d, 'cell id 0');
    assert.ok(seen[2]![1] > 0, 'RTC value');

    // struct kvm_irq_level { u32 irq @0, level @4 }: irq = type CPU (0) << 24 | vcpu 0 << 16 | KVM_ARM_IRQ_CPU_IRQ (0)
    step('KVM_IRQ_LINE cpu irq high', () => kvm.irqLine(sys, vm, struct(8, [[0, 4, 0], [4, 4, 1]])));
    step('KVM_IRQ_LINE cpu irq low', () => kvm.irqLine(sys, vm, struct(8, [[0, 4, 0], [4, 4, 0]])));
  } finally {
    undo.run();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('KVM_IRQFD with a resample eventfd on a VM with a vGICv3: assign, then deassign', () => {
  const before = openFds();
  const undo = new Undo();
  try {
    const kvmFd = undo.fd('/dev/kvm', sys.open('/dev/kvm', O_RDWR | O_CLOEXEC), close);
    const vm = undo.fd('vm', step('KVM_CREATE_VM', () => kvm.createVm(sys, kvmFd)), close);
    // struct kvm_create_device { u32 type @0, fd @4, flags @8 }: KVM_DEV_TYPE_ARM_VGIC_V3 = 7
    const cd = struct(12, [[0, 4, 7]]);
    step('KVM_CREATE_DEVICE vgic-v3', () => kvm.createDevice(sys, vm, cd));
    const gic = undo.fd('vgic', u32le(cd, 4), close);
    undo.fd('vcpu', step('KVM_CREATE_VCPU', () => kvm.createVcpu(sys, vm, 0)), close);
    const page = step('mmap page', () => sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n));
    undo.add('munmap page', () => sys.munmap(page, 4096n));
    const q = new BigUint64Array(sys.view(page, 4096));
    q[0] = 0x0800_0000n; q[1] = 0x080a_0000n;   // QEMU virt's GICD and GICR bases
    // struct kvm_device_attr { u32 flags @0, group @4; u64 attr @8, addr @16 }
    // KVM_DEV_ARM_VGIC_GRP_ADDR (0): KVM_VGIC_V3_ADDR_TYPE_DIST (2), _REDIST (3); GRP_CTRL (4): CTRL_INIT (0)
    step('vgic dist address', () => kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 2], [16, 8, page]])));
    step('vgic redist address', () => kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 3], [16, 8, page + 8n]])));
    step('vgic init', () => kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 4], [8, 8, 0]])));

    const efd = undo.fd('trigger eventfd', sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), close);
    const rfd = undo.fd('resample eventfd', sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), close);
    // struct kvm_irqfd { u32 fd @0, gsi @4, flags @8, resamplefd @12; u8 pad[16] } = 32
    step('KVM_IRQFD assign with resample', () => kvm.irqfd(sys, vm, struct(32, [[0, 4, efd], [4, 4, 5], [8, 4, KVM_IRQFD_FLAG_RESAMPLE], [12, 4, rfd]])));
    sys.eventfdWrite(efd, 1n);   // raises SPI 37 in the vGIC; nothing runs, so nothing reads it
    step('KVM_IRQFD deassign', () => kvm.irqfd(sys, vm, struct(32, [[0, 4, efd], [4, 4, 5], [8, 4, KVM_IRQFD_FLAG_DEASSIGN]])));
  } finally {
    undo.run();
  }
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

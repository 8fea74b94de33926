// A KVM VM for the lab tests that pass a PCI function through with KVM delivery: one vCPU, a
// vGICv3 at QEMU virt's addresses and a vGIC ITS (its GITS_TRANSLATER is the doorbell MSI routes
// name), created through the shim's KVM calls. No guest runs in it: the ITS stays disabled, so
// KVM accepts routes and irqfds but blocks injections (KVM_SIGNAL_MSI answers 0 or EBUSY).
// Not responsible for: guest memory, running a vCPU (examples/mini-vmm does).
import { createSys, realLibc, kvm, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } from '../../shim/index';
import { struct, u32le, Undo } from './shim-lab';

/** enum kvm_device_type and the vGIC attribute groups (arch/arm64/include/uapi/asm/kvm.h). */
const KVM_DEV_TYPE_ARM_VGIC_V3 = 7, KVM_DEV_TYPE_ARM_VGIC_ITS = 8;
const KVM_DEV_ARM_VGIC_GRP_ADDR = 0, KVM_DEV_ARM_VGIC_GRP_CTRL = 4, KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
const KVM_VGIC_V3_ADDR_TYPE_DIST = 2, KVM_VGIC_V3_ADDR_TYPE_REDIST = 3, KVM_VGIC_ITS_ADDR_TYPE = 4;
/** QEMU virt's GICv3 distributor, redistributors and ITS. */
export const GICD = 0x0800_0000n, GICR = 0x080a_0000n, GITS = 0x0808_0000n;
/** The ITS doorbell an MSI route names: GITS_TRANSLATER, 0x10040 into the ITS frame. */
export const ITS_DOORBELL = GITS + 0x1_0040n;

/** A VM with one vCPU, a vGICv3 and an ITS; everything is closed by `undo`. Returns the VM fd. */
export function vmWithIts(undo: Undo): number {
  const sys = createSys(realLibc());
  const close = (fd: number) => sys.close(fd);
  const kvmFd = undo.fd('/dev/kvm', sys.open('/dev/kvm', O_RDWR | O_CLOEXEC), close);
  const vm = undo.fd('vm', kvm.createVm(sys, kvmFd), close);
  const create = (type: number, what: string): number => {
    const cd = struct(12, [[0, 4, type]]); // struct kvm_create_device {type, fd, flags}
    kvm.createDevice(sys, vm, cd);
    return undo.fd(what, u32le(cd, 4), close);
  };
  const gic = create(KVM_DEV_TYPE_ARM_VGIC_V3, 'vgic');
  undo.fd('vcpu', kvm.createVcpu(sys, vm, 0), close);
  const page = sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  undo.add('munmap', () => sys.munmap(page, 4096n));
  const q = new BigUint64Array(sys.view(page, 4096));
  q[0] = GICD; q[1] = GICR; q[2] = GITS;
  // struct kvm_device_attr {flags, group, attr, addr}
  const attr = (dev: number, group: number, a: number, addr: bigint) => kvm.setDeviceAttr(sys, dev, struct(24, [[4, 4, group], [8, 8, a], [16, 8, addr]]));
  attr(gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, page);
  attr(gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, page + 8n);
  const its = create(KVM_DEV_TYPE_ARM_VGIC_ITS, 'its');
  attr(its, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, page + 16n);
  attr(its, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, 0n);
  attr(gic, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, 0n);
  return vm;
}

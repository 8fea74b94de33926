// A KVM VM for the lab tests that wire IRQs to it (test/lab/api-kvm.test.ts, fault-kill.test.ts):
// one vCPU and an initialised vGICv3 at QEMU virt's addresses, built through the shim as
// shim-kvm.test.ts does, every fd and mapping on the caller's undo list.
// Not responsible for: running the vCPU (nothing here runs a guest).
import { createSys, realLibc, kvm, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } from '../../shim/index';
import { struct, u32le, type Undo } from './shim-lab';

const sys = createSys(realLibc());
const close = (fd: number) => sys.close(fd);

/** A VM with one vCPU and an initialised vGICv3; returns the VM fd (closed by `undo`). */
export function vmWithGic(undo: Undo): number {
  const kvmFd = undo.fd('/dev/kvm', sys.open('/dev/kvm', O_RDWR | O_CLOEXEC), close);
  const vm = undo.fd('vm', kvm.createVm(sys, kvmFd), close);
  const cd = struct(12, [[0, 4, 7]]); // KVM_DEV_TYPE_ARM_VGIC_V3
  kvm.createDevice(sys, vm, cd);
  const gic = undo.fd('vgic', u32le(cd, 4), close);
  undo.fd('vcpu', kvm.createVcpu(sys, vm, 0), close);
  const page = sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  undo.add('munmap', () => sys.munmap(page, 4096n));
  const q = new BigUint64Array(sys.view(page, 4096));
  q[0] = 0x0800_0000n; q[1] = 0x080a_0000n;
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 2], [16, 8, page]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 3], [16, 8, page + 8n]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 4], [8, 8, 0]]));
  return vm;
}

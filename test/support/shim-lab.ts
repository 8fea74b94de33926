// Helpers for the lab tests that drive real devices through the shim (test/lab/shim*.test.ts):
// named steps whose failure keeps the VfioError message, hand-built little-endian structs, the
// group node of a device, a close list that undoes everything in reverse order, and a KVM VM
// with an initialised vGICv3 for the tests that wire IRQs to KVM.
// Not responsible for: struct layouts (each test annotates its offsets).
import { existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { kvm, MAP_ANONYMOUS, MAP_PRIVATE, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, type Sys } from '../../shim/index';

/** Runs one step; a failure says which step, keeps the VfioError message (syscall, errno name) and kind. */
export function step<T>(name: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    const kind = (e as { kind?: string }).kind;
    throw new Error(`step "${name}" failed: ${(e as Error).message}${kind ? ` [kind ${kind}]` : ''}`, { cause: e });
  }
}

export const u32le = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
export const u64le = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

/** A zeroed struct of `size` bytes with the given fields set: [offset, width in bytes, value]. */
export function struct(size: number, fields: [offset: number, bytes: 4 | 8, value: number | bigint][]): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  for (const [off, bytes, v] of fields) {
    if (bytes === 4) dv.setUint32(off, Number(v) >>> 0, true); else dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
  }
  return b;
}

/** The group node of a device: /dev/vfio/N, or /dev/vfio/noiommu-N for a noiommu group. */
export function groupPath(bus: string, dev: string): string {
  const n = basename(readlinkSync(`/sys/bus/${bus}/devices/${dev}/iommu_group`));
  return existsSync(`/dev/vfio/noiommu-${n}`) ? `/dev/vfio/noiommu-${n}` : `/dev/vfio/${n}`;
}

/** Undo list: closes/unmaps in reverse order of adding; tries all, then throws the first failure. */
export class Undo {
  #list: [string, () => void][] = [];
  add(what: string, undo: () => void): void { this.#list.push([what, undo]); }
  /** Registers fd to be closed with `close`, returns it. */
  fd(what: string, fd: number, close: (fd: number) => void): number { this.add(what, () => close(fd)); return fd; }
  run(): void {
    let first: unknown;
    for (const [what, undo] of this.#list.reverse()) {
      try { undo(); } catch (e) { first ??= new Error(`undoing ${what}: ${(e as Error).message}`); }
    }
    this.#list = [];
    if (first) throw first;
  }
}

/** A VM with one vCPU and an initialised vGICv3 at QEMU virt's addresses (GICD 0x0800_0000,
 *  GICR 0x080a_0000), every fd and the address page on `undo`; returns the VM fd. */
export function vmWithGic(sys: Sys, undo: Undo): number {
  const close = (fd: number): void => sys.close(fd);
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
  // KVM_DEV_ARM_VGIC_GRP_ADDR: the distributor (2), the redistributors (3); GRP_CTRL (4) INIT (0).
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 2], [16, 8, page]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 3], [16, 8, page + 8n]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 4], [8, 8, 0]]));
  return vm;
}

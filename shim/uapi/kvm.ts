// KVM's uapi (include/uapi/linux/kvm.h, arch/arm64/include/uapi/asm/kvm.h) as far as vfiokit
// hands a device to a VM: ioctl numbers, the sizes of the structs they name (which go into the
// _IOW/_IOR numbers), constants, and the kvm_irqfd layout with its one encoder. Pinned against C
// for the host, x86_64 6.12 and arm64 6.12 by test/unit/shim/ioctl-numbers.test.ts.
// Not responsible for: issuing the ioctls (shim/kvm.ts), running a VM.
import { _IO, _IOR, _IOW, _IOWR } from './ioc.js';
import { u32Struct } from './struct.js';

// Struct sizes, identical on x86_64 and arm64 (fixed-width fields only):
export const SIZEOF_KVM_IRQFD = 32;                       // u32 fd, gsi, flags, resamplefd; u8 pad[16]
export const SIZEOF_KVM_CREATE_DEVICE = 12;               // u32 type, fd, flags
export const SIZEOF_KVM_DEVICE_ATTR = 24;                 // u32 flags, group; u64 attr, addr
export const SIZEOF_KVM_USERSPACE_MEMORY_REGION = 32;     // u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr
export const SIZEOF_KVM_VCPU_INIT = 32;                   // u32 target; u32 features[7] (arm64 only)
export const SIZEOF_KVM_ONE_REG = 16;                     // u64 id, addr
export const SIZEOF_KVM_IRQ_LEVEL = 8;                    // union { u32 irq; s32 status }; u32 level
export const KVMIO = 0xae;
export const KVM_API_VERSION = 12;
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, SIZEOF_KVM_IRQ_LEVEL);
export const KVM_IRQFD = _IOW(KVMIO, 0x76, SIZEOF_KVM_IRQFD);
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, SIZEOF_KVM_ONE_REG);
export const KVM_SET_ONE_REG = _IOW(KVMIO, 0xac, SIZEOF_KVM_ONE_REG);
export const KVM_ARM_VCPU_INIT = _IOW(KVMIO, 0xae, SIZEOF_KVM_VCPU_INIT);
export const KVM_ARM_PREFERRED_TARGET = _IOR(KVMIO, 0xaf, SIZEOF_KVM_VCPU_INIT);
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, SIZEOF_KVM_CREATE_DEVICE);
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, SIZEOF_KVM_DEVICE_ATTR);

export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_DEVICE_CTRL = 89;
export const KVM_DEV_TYPE_VFIO = 4;       // enum kvm_device_type
export const KVM_DEV_VFIO_FILE = 1;       // attribute group; before 6.6 named KVM_DEV_VFIO_GROUP
export const KVM_DEV_VFIO_FILE_ADD = 1;   // before 6.6 named KVM_DEV_VFIO_GROUP_ADD (same value)
export const KVM_DEV_VFIO_FILE_DEL = 2;
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
export const KVM_CREATE_DEVICE_TEST = 1;

/** Field offsets (bytes) of the structs src/ builds; pinned like the sizes. */
export const KVM_LAYOUT = {
  kvm_irqfd: { size: SIZEOF_KVM_IRQFD, fd: 0, gsi: 4, flags: 8, resamplefd: 12, pad: 16 },
} as const;

export interface KvmIrqfd {
  /** The eventfd KVM listens on. */
  fd: number;
  /** The GSI KVM injects (on arm64 with a vGIC and no routing table: the SPI's INTID - 32). */
  gsi: number;
  /** KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE, or 0. */
  flags?: number;
  /** With KVM_IRQFD_FLAG_RESAMPLE: the eventfd KVM signals on the guest's EOI. */
  resamplefd?: number;
}

/** struct kvm_irqfd for KVM_IRQFD (pad zeroed). Into `out` when given (reused). */
export function encodeKvmIrqfd(req: KvmIrqfd, out?: Uint8Array): Uint8Array {
  return u32Struct(KVM_LAYOUT.kvm_irqfd, null, { fd: req.fd, gsi: req.gsi, flags: req.flags ?? 0, resamplefd: req.resamplefd ?? 0 }, out);
}

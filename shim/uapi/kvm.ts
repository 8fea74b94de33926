// KVM's uapi (include/uapi/linux/kvm.h, arch/arm64/include/uapi/asm/kvm.h) as far as vfiokit
// hands a device to a VM: ioctl numbers, the sizes of the structs they name (which go into the
// _IOW/_IOR numbers), constants, and the kvm_irqfd layout with its one encoder. Pinned against C
// for the host, x86_64 6.12 and arm64 6.12 by test/unit/shim/ioctl-numbers.test.ts.
// Not responsible for: issuing the ioctls (shim/kvm.ts), running a VM.
import { _IO, _IOR, _IOW, _IOWR } from './ioc.js';
import { u32Struct } from './struct.js';
import { badArgument, checkBytes, checkFd, checkInt, checkObject, checkOptInt, TWO_64 } from '../args.js';

// Struct sizes, identical on x86_64 and arm64 (fixed-width fields only):
/** Bytes of struct kvm_irqfd (u32 fd, gsi, flags, resamplefd; u8 pad[16]). */
export const SIZEOF_KVM_IRQFD = 32;                       // u32 fd, gsi, flags, resamplefd; u8 pad[16]
/** Bytes of struct kvm_create_device (u32 type, fd, flags). */
export const SIZEOF_KVM_CREATE_DEVICE = 12;               // u32 type, fd, flags
/** Bytes of struct kvm_device_attr (u32 flags, group; u64 attr, addr). */
export const SIZEOF_KVM_DEVICE_ATTR = 24;                 // u32 flags, group; u64 attr, addr
/** Bytes of struct kvm_userspace_memory_region (u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr). */
export const SIZEOF_KVM_USERSPACE_MEMORY_REGION = 32;     // u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr
/** Bytes of struct kvm_vcpu_init (arm64: u32 target; u32 features[7]). */
export const SIZEOF_KVM_VCPU_INIT = 32;                   // u32 target; u32 features[7] (arm64 only)
/** Bytes of struct kvm_one_reg (u64 id, addr). */
export const SIZEOF_KVM_ONE_REG = 16;                     // u64 id, addr
/** Bytes of struct kvm_irq_level (u32 irq or s32 status; u32 level). */
export const SIZEOF_KVM_IRQ_LEVEL = 8;                    // union { u32 irq; s32 status }; u32 level
/** Bytes of struct kvm_irq_routing's header (u32 nr, flags), before its entries[]. */
export const SIZEOF_KVM_IRQ_ROUTING = 8;                  // u32 nr, flags; struct kvm_irq_routing_entry entries[]
/** Bytes of struct kvm_irq_routing_entry (u32 gsi, type, flags, pad; union u of 32 bytes). */
export const SIZEOF_KVM_IRQ_ROUTING_ENTRY = 48;           // u32 gsi, type, flags, pad; union { irqchip, msi, ...; u32 pad[8] } u
/** Bytes of struct kvm_msi (u32 address_lo, address_hi, data, flags, devid; u8 pad[12]). */
export const SIZEOF_KVM_MSI = 32;                         // u32 address_lo, address_hi, data, flags, devid; u8 pad[12]
/** Bytes of struct kvm_enable_cap (u32 cap, flags; u64 args[4]; u8 pad[64]). */
export const SIZEOF_KVM_ENABLE_CAP = 104;                 // u32 cap, flags; u64 args[4]; u8 pad[64]
/** Bytes of struct kvm_vcpu_events (arm64: exception { u8 serror_pending, serror_has_esr, ext_dabt_pending, pad[5]; u64 serror_esr }; u32 reserved[12]). */
export const SIZEOF_KVM_VCPU_EVENTS = 64;                 // arm64 layout; x86's struct differs
/** The ioctl type byte of KVM (0xAE). */
export const KVMIO = 0xae;
/** The KVM API version KVM_GET_API_VERSION answers (12 on every kernel since 2.6.22). */
export const KVM_API_VERSION = 12;
/** KVM_GET_API_VERSION on /dev/kvm: answers KVM_API_VERSION. */
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
/** KVM_CREATE_VM on /dev/kvm: a new VM fd (argument: the machine type, 0 for the default IPA size). */
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
/** KVM_CHECK_EXTENSION on /dev/kvm or a VM fd: > 0 when the capability (KVM_CAP_*) is there. */
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
/** KVM_GET_VCPU_MMAP_SIZE on /dev/kvm: bytes to mmap of a vCPU fd (its struct kvm_run). */
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
/** KVM_CREATE_VCPU on a VM fd: a new vCPU fd (argument: the vCPU id). */
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
/** KVM_SET_USER_MEMORY_REGION on a VM fd: adds, moves or (size 0) deletes a memslot. */
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
/** KVM_IRQ_LINE on a VM fd: raises or lowers an interrupt line (arm64: type, vCPU and number in `irq`). */
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, SIZEOF_KVM_IRQ_LEVEL);
/** KVM_IRQFD on a VM fd: wires an eventfd to a GSI (and, with KVM_IRQFD_FLAG_RESAMPLE, a resample eventfd for a level line). */
export const KVM_IRQFD = _IOW(KVMIO, 0x76, SIZEOF_KVM_IRQFD);
/** KVM_SET_GSI_ROUTING on a VM fd: replaces the whole GSI routing table (struct kvm_irq_routing and its entries). */
export const KVM_SET_GSI_ROUTING = _IOW(KVMIO, 0x6a, SIZEOF_KVM_IRQ_ROUTING);
/** KVM_SIGNAL_MSI on a VM fd: injects one MSI (struct kvm_msi); > 0 delivered, 0 blocked by the guest. */
export const KVM_SIGNAL_MSI = _IOW(KVMIO, 0xa5, SIZEOF_KVM_MSI);
/** KVM_ENABLE_CAP on a VM fd: turns on a capability that changes the VM's behaviour (struct kvm_enable_cap). */
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, SIZEOF_KVM_ENABLE_CAP);
/** KVM_SET_VCPU_EVENTS on a vCPU fd (arm64 layout): makes an SError or an external data abort pending. */
export const KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, SIZEOF_KVM_VCPU_EVENTS);
/** KVM_RUN on a vCPU fd: runs the vCPU until an exit (blocks: call it off the main loop). */
export const KVM_RUN = _IO(KVMIO, 0x80);
/** KVM_GET_ONE_REG on a vCPU fd: reads one register by id. */
export const KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, SIZEOF_KVM_ONE_REG);
/** KVM_SET_ONE_REG on a vCPU fd: writes one register by id. */
export const KVM_SET_ONE_REG = _IOW(KVMIO, 0xac, SIZEOF_KVM_ONE_REG);
/** KVM_ARM_VCPU_INIT on a vCPU fd (arm64): initialises it with a target and features. */
export const KVM_ARM_VCPU_INIT = _IOW(KVMIO, 0xae, SIZEOF_KVM_VCPU_INIT);
/** KVM_ARM_PREFERRED_TARGET on a VM fd (arm64): the target to pass to KVM_ARM_VCPU_INIT. */
export const KVM_ARM_PREFERRED_TARGET = _IOR(KVMIO, 0xaf, SIZEOF_KVM_VCPU_INIT);
/** KVM_CREATE_DEVICE on a VM fd: creates an in-kernel device (vGIC, KVM-VFIO) and returns its fd. */
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, SIZEOF_KVM_CREATE_DEVICE);
/** KVM_SET_DEVICE_ATTR on a device fd: sets one attribute (group, attr, addr). */
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, SIZEOF_KVM_DEVICE_ATTR);

/** Capability: KVM_IRQFD is supported. */
export const KVM_CAP_IRQFD = 32;
/** Capability: KVM_IRQFD takes a resample eventfd (level-triggered lines). */
export const KVM_CAP_IRQFD_RESAMPLE = 82;
/** Capability: KVM_SET_GSI_ROUTING is supported; the value is the most routes a table may hold. */
export const KVM_CAP_IRQ_ROUTING = 25;
/** Capability: KVM_SIGNAL_MSI is supported. */
export const KVM_CAP_SIGNAL_MSI = 77;
/** Capability: MSI routes and KVM_SIGNAL_MSI take a device ID (KVM_MSI_VALID_DEVID; a GICv3 ITS needs it). */
export const KVM_CAP_MSI_DEVID = 131;
/** Capability (arm64, KVM_ENABLE_CAP on the VM): a data abort KVM cannot decode (ISV=0) exits as
 *  KVM_EXIT_ARM_NISV instead of failing KVM_RUN with ENOSYS. */
export const KVM_CAP_ARM_NISV_TO_USER = 177;
/** Capability (arm64): KVM_SET_VCPU_EVENTS takes ext_dabt_pending (an external data abort for the guest). */
export const KVM_CAP_ARM_INJECT_EXT_DABT = 178;
/** Capability: KVM_CREATE_DEVICE and the device attribute ioctls are supported. */
export const KVM_CAP_DEVICE_CTRL = 89;
/** enum kvm_device_type: the KVM-VFIO pseudo device (tells KVM which VFIO files the VM uses). */
export const KVM_DEV_TYPE_VFIO = 4;       // enum kvm_device_type
/** Attribute group of the KVM-VFIO device for VFIO files (before 6.6 named KVM_DEV_VFIO_GROUP). */
export const KVM_DEV_VFIO_FILE = 1;       // attribute group; before 6.6 named KVM_DEV_VFIO_GROUP
/** Attribute: add a VFIO group or device cdev fd to the VM (before 6.6 KVM_DEV_VFIO_GROUP_ADD). */
export const KVM_DEV_VFIO_FILE_ADD = 1;   // before 6.6 named KVM_DEV_VFIO_GROUP_ADD (same value)
/** Attribute: remove a VFIO file from the VM. */
export const KVM_DEV_VFIO_FILE_DEL = 2;
/** kvm_irqfd.flags: remove the irqfd instead of adding it. */
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
/** kvm_irqfd.flags: a level line; `resamplefd` is signalled when the guest EOIs it. */
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
/** kvm_irq_routing_entry.type: an irqchip pin (u.irqchip: irqchip, pin). */
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
/** kvm_irq_routing_entry.type: an MSI message (u.msi: address_lo, address_hi, data, devid). */
export const KVM_IRQ_ROUTING_MSI = 2;
/** kvm_irq_routing_entry.flags and kvm_msi.flags: the devid field is valid. */
export const KVM_MSI_VALID_DEVID = 1 << 0;
/** kvm_create_device.flags: only test whether the device type could be created. */
export const KVM_CREATE_DEVICE_TEST = 1;

/** Field offsets (bytes) of the structs src/ builds; pinned like the sizes. */
export const KVM_LAYOUT = {
  kvm_irqfd: { size: SIZEOF_KVM_IRQFD, fd: 0, gsi: 4, flags: 8, resamplefd: 12, pad: 16 },
  kvm_irq_routing: { size: SIZEOF_KVM_IRQ_ROUTING, nr: 0, flags: 4, entries: 8 },
  kvm_irq_routing_entry: { size: SIZEOF_KVM_IRQ_ROUTING_ENTRY, gsi: 0, type: 4, flags: 8, pad: 12, u: 16 },
  kvm_irq_routing_irqchip: { size: 8, irqchip: 0, pin: 4 },
  kvm_irq_routing_msi: { size: 16, address_lo: 0, address_hi: 4, data: 8, devid: 12 },
  kvm_msi: { size: SIZEOF_KVM_MSI, address_lo: 0, address_hi: 4, data: 8, flags: 12, devid: 16, pad: 20 },
} as const;

/** The fields of a struct kvm_irqfd for {@link encodeKvmIrqfd}. */
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
  checkObject('req', req); checkFd('req.fd', req.fd); checkInt('req.gsi', req.gsi, 0, 0xffff_ffff);
  checkOptInt('req.flags', req.flags, 0, 0xffff_ffff); if (req.resamplefd !== undefined) checkFd('req.resamplefd', req.resamplefd);
  if (out !== undefined) checkBytes('out', out, KVM_LAYOUT.kvm_irqfd.size);
  return u32Struct(KVM_LAYOUT.kvm_irqfd, null, { fd: req.fd, gsi: req.gsi, flags: req.flags ?? 0, resamplefd: req.resamplefd ?? 0 }, out);
}

/** One entry of a GSI routing table for {@link encodeKvmIrqRouting}: an irqchip pin or an MSI message. */
export type KvmIrqRoute =
  /** GSI `gsi` -> pin `pin` of irqchip `irqchip` (on arm64: irqchip 0, pin = the SPI number - 32). */
  | { gsi: number; type: 'irqchip'; irqchip: number; pin: number }
  /** GSI `gsi` -> the message `data` at `address`; `devid` (a requester ID) sets KVM_MSI_VALID_DEVID. */
  | { gsi: number; type: 'msi'; address: bigint; data: number; devid?: number };

/** An MSI for {@link encodeKvmMsi} (KVM_SIGNAL_MSI). */
export interface KvmMsi {
  /** The Message Address (64 bits). */
  address: bigint;
  /** The Message Data. */
  data: number;
  /** The requester ID (sets KVM_MSI_VALID_DEVID). */
  devid?: number;
}

const U32 = 0xffff_ffff;
function checkAddress(name: string, a: unknown): bigint {
  if (typeof a !== 'bigint' || a < 0n || a >= TWO_64) badArgument(name, a, 'a bigint in 0..2^64-1');
  return a;
}

/** struct kvm_irq_routing with its entries, for KVM_SET_GSI_ROUTING (flags 0, pads zeroed). */
export function encodeKvmIrqRouting(routes: readonly KvmIrqRoute[]): Uint8Array {
  if (!Array.isArray(routes)) badArgument('routes', routes, 'an array of routes');
  const E = KVM_LAYOUT.kvm_irq_routing_entry, C = KVM_LAYOUT.kvm_irq_routing_irqchip, M = KVM_LAYOUT.kvm_irq_routing_msi;
  const b = new Uint8Array(SIZEOF_KVM_IRQ_ROUTING + routes.length * E.size);
  u32Struct(KVM_LAYOUT.kvm_irq_routing, null, { nr: routes.length }, b.subarray(0, SIZEOF_KVM_IRQ_ROUTING));
  routes.forEach((r, i) => {
    checkObject(`routes[${i}]`, r);
    const e = b.subarray(SIZEOF_KVM_IRQ_ROUTING + i * E.size, SIZEOF_KVM_IRQ_ROUTING + (i + 1) * E.size);
    const gsi = checkInt(`routes[${i}].gsi`, r.gsi, 0, U32);
    const u = e.subarray(E.u);
    if (r.type === 'irqchip') {
      u32Struct(E, null, { gsi, type: KVM_IRQ_ROUTING_IRQCHIP }, e);
      u32Struct(C, null, { irqchip: checkInt(`routes[${i}].irqchip`, r.irqchip, 0, U32), pin: checkInt(`routes[${i}].pin`, r.pin, 0, U32) }, u);
    } else if (r.type === 'msi') {
      const a = checkAddress(`routes[${i}].address`, r.address);
      const data = checkInt(`routes[${i}].data`, r.data, 0, U32);
      const devid = r.devid === undefined ? undefined : checkInt(`routes[${i}].devid`, r.devid, 0, U32);
      u32Struct(E, null, { gsi, type: KVM_IRQ_ROUTING_MSI, flags: devid === undefined ? 0 : KVM_MSI_VALID_DEVID }, e);
      u32Struct(M, null, { address_lo: Number(a & 0xffff_ffffn), address_hi: Number(a >> 32n), data, devid: devid ?? 0 }, u);
    } else {
      badArgument(`routes[${i}].type`, (r as { type: unknown }).type, "'irqchip' or 'msi'");
    }
  });
  return b;
}

/** struct kvm_msi for KVM_SIGNAL_MSI (pad zeroed). Into `out` when given (reused). */
export function encodeKvmMsi(msi: KvmMsi, out?: Uint8Array): Uint8Array {
  checkObject('msi', msi);
  const a = checkAddress('msi.address', msi.address);
  checkInt('msi.data', msi.data, 0, U32);
  if (msi.devid !== undefined) checkInt('msi.devid', msi.devid, 0, U32);
  if (out !== undefined) checkBytes('out', out, SIZEOF_KVM_MSI);
  return u32Struct(KVM_LAYOUT.kvm_msi, null, {
    address_lo: Number(a & 0xffff_ffffn), address_hi: Number(a >> 32n), data: msi.data,
    flags: msi.devid !== undefined ? KVM_MSI_VALID_DEVID : 0, devid: msi.devid ?? 0,
  }, out);
}

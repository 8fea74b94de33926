// The KVM ABI the mini-vmm speaks, as pure data and pure functions (include/uapi/linux/kvm.h and
// arch/arm64/include/uapi/asm/kvm.h, Linux 6.12): struct layouts with their offsets (the ioctl numbers
// and struct sizes are vfiokit/sys's, which vfiokit pins against C), arm64 core
// register ids, the exit reasons table, and the kvm_run decoder. No syscalls here, so all of it is
// unit-tested on any machine (test/unit/vmm/abi.test.ts).
// Not responsible for: issuing ioctls (kvm.ts), deciding what an exit means to a device (run.ts).

import { checkBigU64, checkBytes, checkInt, checkOneOf } from '../../shim/args.js';
import { getU32, getU64, setU32, setU64 } from './le.js';

// ---- structs: little-endian, offsets as in the uapi headers ----

function le(size: number, fields: [offset: number, bytes: 1 | 4 | 8, value: number | bigint][]): Uint8Array {
  const b = new Uint8Array(size);
  for (const [off, bytes, v] of fields) {
    if (bytes === 1) b[off] = Number(v) & 0xff;
    else if (bytes === 4) setU32(b, off, Number(v));
    else setU64(b, off, BigInt(v));
  }
  return b;
}

/** struct kvm_userspace_memory_region { u32 slot @0, flags @4; u64 guest_phys_addr @8, memory_size @16, userspace_addr @24 } */
export const memoryRegion = (slot: number, gpa: bigint, size: bigint, hva: bigint, flags = 0): Uint8Array =>
  le(32, [[0, 4, slot], [4, 4, flags], [8, 8, gpa], [16, 8, size], [24, 8, hva]]);
/** struct kvm_one_reg { u64 id @0, addr @8 }: addr points at the value. */
export const oneReg = (id: bigint, addr: bigint): Uint8Array => le(16, [[0, 8, id], [8, 8, addr]]);
/** struct kvm_create_device { u32 type @0, fd @4 (out), flags @8 } */
export const createDevice = (type: number): Uint8Array => le(12, [[0, 4, type]]);
/** struct kvm_device_attr { u32 flags @0, group @4; u64 attr @8, addr @16 } */
export const deviceAttr = (group: number, attr: bigint | number, addr: bigint): Uint8Array =>
  le(24, [[4, 4, group], [8, 8, BigInt(attr)], [16, 8, addr]]);

// ---- struct kvm_vcpu_init { u32 target @0; u32 features[7] @4 } ----
/** struct kvm_irq_level { u32 irq @0, level @4 }; arm64's irq: type << 24 | vcpu << 16 | number,
 *  type 1 (KVM_ARM_IRQ_TYPE_SPI) takes the INTID (SPI + 32) and ignores the vCPU. */
export const KVM_ARM_IRQ_TYPE_SPI = 1;
export const irqLevel = (spi: number, level: boolean): Uint8Array =>
  le(8, [[0, 4, (KVM_ARM_IRQ_TYPE_SPI << 24) | (spi + SPI_BASE)], [4, 4, level ? 1 : 0]]);

export const KVM_ARM_VCPU_POWER_OFF = 0;   // features[0] bits
export const KVM_ARM_VCPU_EL1_32BIT = 1;
export const KVM_ARM_VCPU_PSCI_0_2 = 2;
/** Sets a feature bit in a kvm_vcpu_init filled by KVM_ARM_PREFERRED_TARGET. */
export function withFeature(init: Uint8Array, bit: number): Uint8Array {
  const out = init.slice();
  const word = 4 + 4 * (bit >> 5);
  setU32(out, word, getU32(out, word) | (1 << (bit & 31)));
  return out;
}

// ---- arm64 core register ids: KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offset/4 ----
const KVM_REG_ARM64 = 0x6000_0000_0000_0000n;
const KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000n;
const KVM_REG_ARM_CORE = 0x0010_0000n;   // KVM_REG_ARM_CORE << KVM_REG_ARM_COPROC_SHIFT (0x10 << 16)
const CORE = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE;
/** Max general register: x0..x30 (struct user_pt_regs regs[31] @0). */
export const MAX_XREG = 30;
/** Id of xN: offsetof(struct kvm_regs, regs.regs[n]) = 8n, in 32-bit words. */
export function xreg(n: number): bigint {
  checkInt('n', n, 0, MAX_XREG);
  return CORE | BigInt(2 * n);
}
/** Id of pc: offsetof(struct kvm_regs, regs.pc) = 256. */
export const REG_PC = CORE | BigInt(256 / 4);
/** Id of pstate: offsetof(struct kvm_regs, regs.pstate) = 264. */
export const REG_PSTATE = CORE | BigInt(264 / 4);

// ---- vGICv3 device attributes ----
export const KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
/** The vGICv3's ITS (MSIs as LPIs): a device of its own on the VM, one address (its 128 KiB frame). */
export const KVM_DEV_TYPE_ARM_VGIC_ITS = 8;
export const KVM_DEV_ARM_VGIC_GRP_ADDR = 0;
export const KVM_DEV_ARM_VGIC_GRP_NR_IRQS = 3;
export const KVM_DEV_ARM_VGIC_GRP_CTRL = 4;
export const KVM_VGIC_V3_ADDR_TYPE_DIST = 2;
export const KVM_VGIC_V3_ADDR_TYPE_REDIST = 3;
/** The ITS's one address attribute (KVM_DEV_ARM_VGIC_GRP_ADDR); 64 KiB aligned. */
export const KVM_VGIC_ITS_ADDR_TYPE = 4;
export const KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
/** GICv3 frame sizes: the distributor is 64 KiB, each vCPU's redistributor two 64 KiB frames. */
export const GICD_SIZE = 0x1_0000n, GICR_SIZE_PER_CPU = 0x2_0000n;
/** The ITS: a control frame and the translation frame (GITS_TRANSLATER), 64 KiB each (KVM_VGIC_V3_ITS_SIZE). */
export const GITS_SIZE = 0x2_0000n;
/** SPIs start at INTID 32. */
export const SPI_BASE = 32;

// ---- struct kvm_run: the exit ----
/** u8 immediate_exit @1: set, KVM_RUN returns EINTR without entering the guest. */
export const RUN_IMMEDIATE_EXIT = 1;
/** u32 exit_reason @8; the union @32. */
export const RUN_EXIT_REASON = 8;
/** mmio { u64 phys_addr @32; u8 data[8] @40; u32 len @48; u8 is_write @52 } */
export const RUN_MMIO_PHYS = 32, RUN_MMIO_DATA = 40, RUN_MMIO_LEN = 48, RUN_MMIO_IS_WRITE = 52;
/** The widths of an MMIO access KVM hands to userspace (kvm_run.mmio.len). */
export const MMIO_WIDTHS: readonly number[] = [1, 2, 4, 8];
/** system_event { u32 type @32; u32 ndata @36; u64 data[16] @40 } */
export const RUN_SYSTEM_EVENT_TYPE = 32, RUN_SYSTEM_EVENT_NDATA = 36, RUN_SYSTEM_EVENT_DATA = 40;
/** fail_entry { u64 hardware_entry_failure_reason @32; u32 cpu @40 }; internal { u32 suberror @32 } */
export const RUN_FAIL_REASON = 32, RUN_INTERNAL_SUBERROR = 32;
/** The bytes of kvm_run the decoder reads (the header and the union's first 160 bytes). */
export const RUN_DECODED_BYTES = 32 + 8 + 8 * 16;

/** What the VMM does with an exit: a decision as data, one row per reason the kernel can give. */
export type ExitAction = 'mmio' | 'system-event' | 'retry' | 'fail';
export interface ExitReason { code: number; name: string; action: ExitAction }
/** KVM_EXIT_* (kvm.h). Unlisted codes are 'fail' with their number. */
export const EXIT_REASONS: readonly ExitReason[] = Object.freeze([
  { code: 0, name: 'KVM_EXIT_UNKNOWN', action: 'fail' },
  { code: 1, name: 'KVM_EXIT_EXCEPTION', action: 'fail' },
  { code: 4, name: 'KVM_EXIT_DEBUG', action: 'fail' },
  { code: 6, name: 'KVM_EXIT_MMIO', action: 'mmio' },
  { code: 8, name: 'KVM_EXIT_SHUTDOWN', action: 'fail' },
  { code: 9, name: 'KVM_EXIT_FAIL_ENTRY', action: 'fail' },
  { code: 10, name: 'KVM_EXIT_INTR', action: 'retry' },            // a signal: run again
  { code: 17, name: 'KVM_EXIT_INTERNAL_ERROR', action: 'fail' },
  { code: 24, name: 'KVM_EXIT_SYSTEM_EVENT', action: 'system-event' },
  { code: 28, name: 'KVM_EXIT_ARM_NISV', action: 'fail' },          // MMIO KVM could not decode
]);
export const KVM_EXIT_MMIO = 6, KVM_EXIT_SYSTEM_EVENT = 24;
/** kvm_run.system_event.type */
export const SYSTEM_EVENTS: Readonly<Record<number, 'shutdown' | 'reset' | 'crash' | 'wakeup' | 'suspend'>> =
  Object.freeze({ 1: 'shutdown', 2: 'reset', 3: 'crash', 4: 'wakeup', 5: 'suspend' });

/** A decoded exit (decodeExit). */
export type Exit =
  /** KVM_EXIT_MMIO: an access no memslot backs; a read is answered with completeMmioRead. */
  | { kind: 'mmio'; addr: bigint; len: number; isWrite: boolean; data: bigint }
  /** KVM_EXIT_SYSTEM_EVENT: PSCI SYSTEM_OFF ('shutdown'), SYSTEM_RESET ('reset'), ... */
  | { kind: 'system-event'; event: string; type: number; data: bigint[] }
  /** KVM_EXIT_INTR (a signal): run again. */
  | { kind: 'retry'; reason: string }
  /** Anything the VMM cannot go on from: the reason, its code and detail. */
  | { kind: 'fail'; reason: string; code: number; detail: bigint };

/** Decodes the exit in `run` (the first RUN_DECODED_BYTES of the kvm_run mapping, or a copy). */
export function decodeExit(run: Uint8Array): Exit {
  if (run.byteLength < RUN_DECODED_BYTES) throw new RangeError(`kvm_run: ${run.byteLength} bytes, the decoder reads ${RUN_DECODED_BYTES}`);
  const code = getU32(run, RUN_EXIT_REASON);
  const row = EXIT_REASONS.find((r) => r.code === code);
  const reason = row?.name ?? `exit reason ${code}`;
  switch (row?.action) {
    case 'mmio': {
      const len = getU32(run, RUN_MMIO_LEN);
      if (len < 1 || len > 8) return { kind: 'fail', reason: `${reason} with len ${len}`, code, detail: BigInt(len) };
      let data = 0n;
      for (let i = len - 1; i >= 0; i--) data = (data << 8n) | BigInt(run[RUN_MMIO_DATA + i]!);
      return { kind: 'mmio', addr: getU64(run, RUN_MMIO_PHYS), len, isWrite: run[RUN_MMIO_IS_WRITE] !== 0, data };
    }
    case 'system-event': {
      const type = getU32(run, RUN_SYSTEM_EVENT_TYPE);
      const n = Math.min(getU32(run, RUN_SYSTEM_EVENT_NDATA), 16);   // data[16]: the kernel's array bound
      const data = Array.from({ length: n }, (_, i) => getU64(run, RUN_SYSTEM_EVENT_DATA + 8 * i));
      return { kind: 'system-event', event: SYSTEM_EVENTS[type] ?? `type ${type}`, type, data };
    }
    case 'retry': return { kind: 'retry', reason };
    default: return { kind: 'fail', reason, code, detail: getU64(run, RUN_FAIL_REASON) };
  }
}

/** Writes the value of an MMIO read into kvm_run.mmio.data (len bytes, little-endian). */
export function completeMmioRead(run: Uint8Array, len: number, value: bigint): void {
  checkBytes('run', run, RUN_MMIO_DATA + 8);
  checkOneOf('len', len, MMIO_WIDTHS);
  checkBigU64('value', value);
  for (let i = 0; i < len; i++) run[RUN_MMIO_DATA + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

// What runVm takes and gives back: the configuration (the kernel, RAM, vCPUs, the devices by host
// name in command-line order, the callbacks), its defaults and checks, the events a run reports as
// it goes, and the report at the end. Pure: no syscalls (test/unit/vmm/config.test.ts).
// Not responsible for: running anything (run.ts), the device kinds' own options (attach.ts).
import { VfioError, validateDeviceName, type DmaMappingRecord, type PciPassthrough, type PciPassthroughStats, type PlatformPassthroughStats, type VfioDeviceKind } from '../index.js';
import { TWO_64 } from '../../shim/args.js';
import type { EcamCounts } from './ecam.js';
import { BOARD, MAX_VCPUS } from './layout.js';
import type { PciFunctionCounts } from './pci-function.js';

/** One device to pass through, by its host name. */
export interface VmDeviceSpec {
  /** The host's name: '9010000.pl031' (amba), 'a000000.virtio_mmio' (platform), '0000:00:03.0' (pci). */
  name: string;
  /** KVM irqfd delivery (default true); false: vfiokit's userspace IRQ machine for this device
   *  (platform/AMBA: the IRQ state machine with the MMIO switch; PCI: KVM_SIGNAL_MSI and KVM_IRQ_LINE). */
  irqfd?: boolean;
  /** Userspace path of a platform/AMBA device: ms direct MMIO stays off after the last EOI
   *  (QEMU's x-mmap-timeout-ms); default the machine's (1100 ms). */
  mmapTimeoutMs?: number;
  /** Platform/AMBA: the guest address of region 0 (the other regions first fit). */
  addr?: bigint;
  /** Platform/AMBA: every region at its host physical address (1:1). Excludes addr. */
  identity?: boolean;
}

/** What runVm boots and with what (checkConfig says what each field takes). */
export interface VmConfig {
  /** arch/arm64/boot/Image (uncompressed). */
  kernel: Uint8Array;
  /** An initramfs (any format the kernel takes), put below the DTB. */
  initrd?: Uint8Array;
  /** Added to the default kernel command line (VM_DEFAULT_BOOTARGS), after a space. */
  append?: string;
  /** Replaces the default kernel command line (append still follows it). */
  bootargs?: string;
  /** Guest RAM in bytes (a multiple of 4 KiB). */
  memBytes: bigint;
  /** vCPUs: vCPU 0 boots, the others start powered off and KVM's in-kernel PSCI starts them (CPU_ON). */
  cpus: number;
  /** Any number of devices, any mix of kinds, in command-line order (PCI functions are enumerated
   *  at 00:01.0, 00:02.0, ... in this order). */
  devices: VmDeviceSpec[];
  /** The host's /sys/firmware/fdt: the nodes of platform/AMBA devices are generated from it. */
  hostDtb: Uint8Array;
  /** The PL011's output, each byte as the guest writes it (default: process.stdout). The second
   *  argument: ms since the first KVM_RUN and the exit counts so far (live: copy what you keep). */
  console?: (bytes: Uint8Array, now: { ms: number; counts: Readonly<VmExitCounts> }) => void;
  /** Each step as it happens. */
  onEvent?: (ev: VmEvent) => void;
  /** The tree the VMM built, once, before any vCPU runs. */
  dtbOut?: (dtb: Uint8Array) => void;
  /** Stops the guest: every vCPU leaves KVM_RUN, the run ends 'stopped' and closes as usual. */
  signal?: AbortSignal;
  /** Exits after which the run is stopped ('stopped', stopReason 'max-exits'); default no bound. */
  maxExits?: number;
}

/** How a run ended. 'reboot': the guest asked for a reset (PSCI SYSTEM_RESET, or a panic with
 *  panic=-1); runVm does not restart it: the caller decides (the CLI may run it again). */
export type VmEnd = 'poweroff' | 'reboot' | 'stopped' | 'error';

/** KVM_RUN returns by cause, over all vCPUs. */
export interface VmExitCounts {
  /** The PL011: data writes, FR polls, anything else. */
  uartWrites: number;
  /** FR reads that exited (0 with the UART's read-only page). */
  uartFrReads: number;
  /** Any other UART access. */
  uartOther: number;
  /** Trapped accesses to a platform/AMBA device's window (0 with its memslot in place). */
  device: number;
  /** The host bridge's ECAM window. */
  ecam: number;
  /** Trapped accesses inside a PCI function's BARs: the MSI-X table and PBA, and the rest. */
  msix: number;
  /** Trapped accesses inside a PCI function's BARs, not MSI-X. */
  barTraps: number;
  /** Any other address (answered all-ones / dropped), retries (a signal), the end. */
  stray: number;
  /** Accesses KVM could not decode (KVM_EXIT_ARM_NISV: a load/store pair, a writeback form, at an
   *  address no memslot backs), each answered with an external data abort for the guest (nisv.ts). */
  nisv: number;
  /** KVM_RUN interrupted by a signal (a tick, a kick, SIGINT). */
  retry: number;
  /** The exit that ended the run. */
  end: number;
}
export const zeroCounts = (): VmExitCounts => ({ uartWrites: 0, uartFrReads: 0, uartOther: 0, device: 0, ecam: 0, msix: 0, barTraps: 0, stray: 0, nisv: 0, retry: 0, end: 0 });

/** One passed-through device, as the run left it (read before close). */
export interface VmDeviceReport {
  /** The host's name. */
  name: string;
  /** Its VFIO kind. */
  kind: VfioDeviceKind;
  /** The device's IOMMU ('noiommu': guest RAM is not mapped for its DMA). */
  iommu: string;
  /** How its IRQs reached the guest. */
  irqPath: 'irqfd' | 'userspace';
  /** The DMA mappings the device had during the run (guest RAM at IOVA = GPA; none with noiommu). */
  dma: DmaMappingRecord[];
  /** Errors its passthrough reported while the guest ran (each; the 'device-error' events are thinned). */
  errors: number;
  /** Platform/AMBA: where its regions and IRQ lines were placed, and the passthrough's counters. */
  platform?: { regions: { index: number; gpa: bigint; size: bigint }[]; irqs: { index: number; spi: number; intid: number }[]; stats: PlatformPassthroughStats };
  /** PCI: where the guest enumerates it, its requester ID, its INTx GSI, the MSI-X relocation, counters. */
  pci?: { guestAddress: string; devid: number; intxGsi: number | undefined; relocation: PciPassthrough['relocation']; stats: PciPassthroughStats; counts: PciFunctionCounts };
}

/** What runVm hands back once everything is closed. */
export interface VmReport {
  /** How the run ended. */
  end: VmEnd;
  /** end 'error': what failed (a VfioError for setup; the failing exit otherwise). */
  error?: Error;
  /** end 'stopped': the signal, or maxExits. */
  stopReason?: 'signal' | 'max-exits';
  /** KVM_RUN returns over all vCPUs. */
  exits: number;
  /** The exits by cause. */
  counts: VmExitCounts;
  /** Each device, in config order. */
  devices: VmDeviceReport[];
  /** ms from runVm's call to the first KVM_RUN (devices opened, wired, the guest loaded). */
  setupMs: number;
  /** ms from the first KVM_RUN to the last vCPU's return. */
  runMs: number;
  /** ms spent inside KVM_RUN (all vCPUs), and the longest single KVM_RUN: its length and when it
   *  ended (ms since the first KVM_RUN). */
  inKvmMs: number;
  /** The longest single KVM_RUN: ms, when it ended (ms since the first KVM_RUN), the vCPU. */
  longestRun: { ms: number; endMs: number; vcpu: number };
  /** How the vCPUs ran (runModeFor): vCPU 0 always on the main thread; 'main+pool': the others on
   *  libuv pool threads. `ticks`: the event loop was given a turn at least every TICK_MS (a signal
   *  that takes vCPU 0 out of KVM_RUN), for the other vCPUs' exits and the userspace IRQ path. */
  runMode: RunMode;
  /** Whether the ticker ran (see runMode). */
  ticks: boolean;
  /** Each vCPU's KVM_RUN returns (its EINTRs not counted). */
  vcpus: { id: number; exits: number }[];
  /** Where the guest went: the Image, the initrd, the DTB, the command line. */
  boot: { kernel: bigint; kernelEnd: bigint; initrd?: { start: bigint; end: bigint }; dtb: bigint; dtbBytes: number; bootargs: string; ipaBits: number; bus: { base: bigint; size: bigint } };
  /** The ECAM window's counts. */
  ecam: EcamCounts;
  /** KVM_SET_GSI_ROUTING calls (0 without PCI). */
  routeCommits: number;
  /** The first few stray accesses ("W4@0x..."), for diagnosis. */
  strayAddrs: string[];
}

/** Where the vCPUs' KVM_RUNs ran: vCPU 0 on the main thread; 'main+pool': the others on libuv pool threads. */
export type RunMode = 'main-thread' | 'main+pool';

/** Each step of a run, as it happens; `message` is a line a CLI may print as is. */
export type VmEvent =
  /** A device opened (before anything else): its kind and IOMMU. */
  | { kind: 'device-opened'; device: string; deviceKind: VfioDeviceKind; iommu: string; message: string }
  /** A device placed: platform regions and SPIs, or a PCI function's guest address. */
  | { kind: 'device-placed'; device: string; message: string }
  /** A device's memslots and IRQ path in place. */
  | { kind: 'device-wired'; device: string; irqPath: 'irqfd' | 'userspace'; message: string }
  /** Guest RAM mapped for a device's DMA. */
  | { kind: 'dma-mapped'; device: string; message: string }
  /** A BAR piece the guest placed outside the host bridge's window or over another BAR: left
   *  unbacked (its accesses exit and are answered as accesses to nothing) rather than ending the VM.
   *  Thinned as device-error is, `count` its number; each function's counts.slotsRefused counts every one. */
  | { kind: 'bar-refused'; count: number; message: string }
  /** Guest RAM already mapped in the IOMMU space (container or IOAS) this device shares with an
   *  earlier device of the VM: nothing more to map. */
  | { kind: 'dma-shared'; device: string; message: string }
  /** Guest RAM not mapped for a device's DMA (a noiommu group), and why. */
  | { kind: 'dma-skipped'; device: string; message: string }
  /** The VM made: vCPUs, RAM, vGICv3 + ITS, its address space, the platform bus. */
  | { kind: 'vm-created'; ipaBits: number; message: string }
  /** The guest's device tree built and loaded. */
  | { kind: 'dtb-built'; bytes: number; message: string }
  /** A vCPU's KVM_RUN loop started. */
  | { kind: 'vcpu-started'; vcpu: number; mode: RunMode; message: string }
  /** The guest powered off (PSCI SYSTEM_OFF). */
  | { kind: 'guest-poweroff'; vcpu: number; message: string }
  /** The guest asked for a reboot (PSCI SYSTEM_RESET): the run ends 'reboot'. */
  | { kind: 'guest-reboot'; vcpu: number; message: string }
  /** Every vCPU is out of KVM_RUN; closing follows. */
  | { kind: 'stopping'; reason: string; message: string }
  /** One close step done. */
  | { kind: 'closed'; step: string; message: string }
  /** An error a device's passthrough reported while the guest ran (most are the guest's doing: a
   *  garbage MSI KVM refuses). Thinned (reportShown: the first 10, then each power of two), `count`
   *  its number among the device's; VmDeviceReport.errors counts every one. */
  | { kind: 'device-error'; device: string; count: number; error: unknown; message: string }
  /** A guest access nothing answers: 'stray' (an MMIO exit at an address no device or board part
   *  decodes: reads get all-ones, writes are dropped) or 'undecodable' (KVM_EXIT_ARM_NISV: the
   *  guest gets an external abort). Thinned per kind as device-error is; counts.stray and
   *  counts.nisv count every one. */
  | { kind: 'guest-access'; access: 'stray' | 'undecodable'; vcpu: number; address: bigint; count: number; message: string };

/** The default kernel command line: the pl011 earlycon at the board's UART, kept after boot (there
 *  is no other console); /dev/kmsg not rate-limited; panic=-1 turns a panic into a PSCI reset the
 *  VMM sees instead of a hang (end 'reboot'). */
export const VM_DEFAULT_BOOTARGS = `earlycon=pl011,mmio32,0x${BOARD.uart.toString(16)} keep_bootcon rdinit=/init printk.devkmsg=on panic=-1`;

/** The userspace IRQ machine's MMIO re-enable timeout bounds (ms): above 0, at most a minute. */
export const MAX_MMAP_TIMEOUT_MS = 60_000;

const bad = (arg: string, value: unknown, hint: string): never => {
  throw new VfioError({ kind: 'bad-argument', message: `${arg}: ${typeof value === 'bigint' ? `0x${value.toString(16)}` : JSON.stringify(value) ?? String(value)}`, hint });
};

/** A device spec with its defaults filled in. */
export interface ResolvedDeviceSpec { name: string; irqfd: boolean; mmapTimeoutMs?: number; addr?: bigint; identity: boolean }

/** Checks the parts of a config that need no kernel: each bad field is a VfioError 'bad-argument'
 *  naming it (config.cpus, config.devices[2].addr, ...). Returns the device specs with defaults. */
export function checkConfig(c: VmConfig): ResolvedDeviceSpec[] {
  if (typeof c !== 'object' || c === null) bad('config', c, 'give a VmConfig object');
  if (!(c.kernel instanceof Uint8Array)) bad('config.kernel', typeof c.kernel, 'give the Image\'s bytes');
  if (c.initrd !== undefined && !(c.initrd instanceof Uint8Array)) bad('config.initrd', typeof c.initrd, 'give the initramfs\'s bytes');
  if (!(c.hostDtb instanceof Uint8Array)) bad('config.hostDtb', typeof c.hostDtb, 'give the bytes of /sys/firmware/fdt');
  if (!Number.isInteger(c.cpus) || c.cpus < 1 || c.cpus > MAX_VCPUS) bad('config.cpus', c.cpus, `give 1 to ${MAX_VCPUS}`);
  if (typeof c.memBytes !== 'bigint' || c.memBytes < 0n || c.memBytes >= TWO_64) bad('config.memBytes', c.memBytes, 'give a bigint of bytes');
  for (const k of ['append', 'bootargs'] as const) if (c[k] !== undefined && typeof c[k] !== 'string') bad(`config.${k}`, c[k], 'give a string');
  for (const k of ['console', 'onEvent', 'dtbOut'] as const) if (c[k] !== undefined && typeof c[k] !== 'function') bad(`config.${k}`, typeof c[k], 'give a function');
  if (c.signal !== undefined && !(c.signal instanceof AbortSignal)) bad('config.signal', typeof c.signal, 'give an AbortSignal');
  if (c.maxExits !== undefined && (!Number.isSafeInteger(c.maxExits) || c.maxExits < 1)) bad('config.maxExits', c.maxExits, 'give a positive integer');
  return checkDeviceSpecs('config.devices', c.devices);
}

/** Checks a list of device specs (`list` is what the errors call it: config.devices, specs):
 *  each bad field is a VfioError 'bad-argument' naming it (config.devices[2].addr). Returns the
 *  specs with their defaults. checkConfig() and preflight() share it. */
export function checkDeviceSpecs(list: string, devices: readonly VmDeviceSpec[]): ResolvedDeviceSpec[] {
  if (!Array.isArray(devices)) bad(list, typeof devices, 'give an array (empty for none)');
  const seen = new Set<string>();
  return devices.map((d, i): ResolvedDeviceSpec => {
    const at = `${list}[${i}]`;
    if (typeof d !== 'object' || d === null) bad(at, d, 'give { name, ... }');
    if (typeof d.name !== 'string' || !isDeviceName(d.name)) bad(`${at}.name`, d.name, 'give the host name (9010000.pl031, 0000:00:03.0)');
    if (seen.has(d.name)) bad(`${at}.name`, d.name, 'given twice: pass each device once');
    seen.add(d.name);
    if (d.irqfd !== undefined && typeof d.irqfd !== 'boolean') bad(`${at}.irqfd`, d.irqfd, 'true or false');
    if (d.identity !== undefined && typeof d.identity !== 'boolean') bad(`${at}.identity`, d.identity, 'true or false');
    if (d.addr !== undefined && (typeof d.addr !== 'bigint' || d.addr < 0n || d.addr >= TWO_64 || d.addr % 0x1000n !== 0n)) bad(`${at}.addr`, d.addr, 'give a page-aligned bigint guest address');
    if (d.addr !== undefined && d.identity) bad(`${at}.addr`, d.addr, 'give addr or identity, not both');
    if (d.mmapTimeoutMs !== undefined) {
      if (!Number.isInteger(d.mmapTimeoutMs) || d.mmapTimeoutMs <= 0 || d.mmapTimeoutMs > MAX_MMAP_TIMEOUT_MS) bad(`${at}.mmapTimeoutMs`, d.mmapTimeoutMs, `give 1 to ${MAX_MMAP_TIMEOUT_MS} ms`);
      if (d.irqfd !== false) bad(`${at}.mmapTimeoutMs`, d.mmapTimeoutMs, 'the MMIO timeout is the userspace IRQ path\'s: give irqfd false too');
    }
    return { name: d.name, irqfd: d.irqfd ?? true, identity: d.identity ?? false, ...(d.addr === undefined ? {} : { addr: d.addr }), ...(d.mmapTimeoutMs === undefined ? {} : { mmapTimeoutMs: d.mmapTimeoutMs }) };
  });
}

/** True when `name` is a device name vfiokit would look up (validateDeviceName's rule). */
function isDeviceName(name: string): boolean {
  try { validateDeviceName(name); return true; } catch { return false; }
}

/** How the vCPUs run, as a decision on the config. vCPU 0 (the boot CPU, which does most of the
 *  exits) runs on the main thread: a thread-pool hop per exit cost about 45 times the boot time
 *  under nested TCG (docs/mini-vmm.md). Every other vCPU takes a libuv pool thread ('main+pool').
 *  The event loop must then get turns while vCPU 0 waits in the guest: for the other vCPUs' exits
 *  (their KVM_RUN completes on the loop) and for a userspace IRQ path (its eventfds are read on the
 *  loop): `ticks`, a signal every TICK_MS that takes vCPU 0 out of KVM_RUN. */
export function runModeFor(cpus: number, devices: readonly ResolvedDeviceSpec[]): { mode: RunMode; ticks: boolean } {
  return { mode: cpus === 1 ? 'main-thread' : 'main+pool', ticks: cpus > 1 || devices.some((d) => !d.irqfd) };
}

// Demonstrations 3 and 4: the mini-vmm boots a Linux kernel (the lab's own arm64 Image) with the
// pl031 passed through, and with `pci` PCI functions behind the host bridge. This is a thin caller
// of vfiokit's own VMM (`vfiokit/vmm`'s runVm: the machine, the board, the devices, the run loop);
// what it adds is the pl031 demonstration's housekeeping and its report: the host's own reads of
// the RTC around the run (the device opened before and after runVm, its alarm left masked), the
// console kept as text and lines with the exit counts at each line, and runVm's report in the
// shape the lab tests and the `mini-vmm --linux` command read.
// Not responsible for: the machine (vfiokit/vmm), what the guest prints (linux/init.c).
import { openDevice, type DmaMappingRecord, type PciPassthrough, type PciPassthroughStats } from '../../src/index';
import {
  bootLayout, parseImageHeader, runVm, VM_DEFAULT_BOOTARGS, type BootLayout, type ImageHeader, type PciFunctionCounts, type VmEvent, type VmExitCounts, type VmReport,
} from '../../src/vmm-api';

/** Guest RAM of the Linux guest: room for the Image (about 10 MiB with its bss), the initrd, and a
 *  kernel that has little to do; small, so the nested guest's memmap init stays short. */
export const LINUX_RAM_SIZE = 0x1000_0000n;   // 256 MiB
/** Exits after which a Linux run is stopped as runaway. The earlycon costs three exits per console
 *  byte (FR, DR, FR), and a verbose boot prints about 10 to 20 KB: 1M leaves a wide margin without
 *  letting a guest that spins on an unbacked register run forever. */
export const LINUX_MAX_EXITS = 1_000_000;
/** pl031 registers the demonstration reads or writes itself (not on the guest's path). */
const PL031_DR = 0x00, PL031_IMSC = 0x10, PL031_ICR = 0x1c;
/** The default kernel command line: vfiokit/vmm's. */
export const LINUX_BOOTARGS = VM_DEFAULT_BOOTARGS;

export type { ImageHeader };
export { parseImageHeader };
export type LinuxLayout = BootLayout;
/** Where the Image, the initrd and the DTB go in RAM (vfiokit/vmm's bootLayout). */
export const linuxLayout = bootLayout;

export interface LinuxRunOptions {
  /** arch/arm64/boot/Image. */
  kernel: Uint8Array;
  /** A gzip'd newc cpio (linux/build.mjs). */
  initrd: Uint8Array;
  /** The host's DTB (/sys/firmware/fdt), where the device's node is found. */
  hostDtb: Uint8Array;
  /** Default the lab's pl031, "9010000.pl031". */
  device?: string;
  /** PCI functions to pass through (host names, bound to vfio-pci), enumerated by the guest at
   *  00:01.0, 00:02.0, ... behind the VMM's host bridge, with the ITS for their MSIs. */
  pci?: string[];
  ramSize?: bigint;
  /** vCPUs (default 1). */
  cpus?: number;
  bootargs?: string;
  /** Appended to the command line (after `bootargs`, with a space). */
  append?: string;
  maxExits?: number;
  /** Each console line as it arrives, with ms since the vCPU first entered the guest. */
  onLine?: (line: string, ms: number) => void;
  /** runVm's events. */
  onEvent?: (ev: VmEvent) => void;
}

/** KVM_RUN returns by cause (vfiokit/vmm's VmExitCounts). */
export type LinuxExitCounts = VmExitCounts;

/** One passed-through PCI function, as the run left it. */
export interface LinuxPciReport {
  name: string; guestAddress: string;
  devid: number; intxGsi: number | undefined;
  relocation: PciPassthrough['relocation'];
  stats: PciPassthroughStats;
  counts: PciFunctionCounts;
  dma: DmaMappingRecord[];
}

export interface LinuxReport {
  /** The guest's console (earlycon output), "\r\n" as "\n". */
  console: string;
  /** Console lines with the ms (since the first KVM_RUN) at which each completed, and the exit
   *  counts at that moment (so that a phase between two lines can be told apart). */
  lines: { ms: number; text: string; counts: LinuxExitCounts }[];
  placement: { regionGpa: bigint; spi: number; intid: number };
  layout: LinuxLayout;
  dtbBytes: number;
  bootargs: string;
  /** 'shutdown' (PSCI SYSTEM_OFF), 'reset' (a panic with panic=-1), 'max-exits', or the error. */
  end: string;
  exits: number;
  counts: LinuxExitCounts;
  ecam: VmReport['ecam'];
  pci: LinuxPciReport[];
  routeCommits: number;
  strayAddrs: string[];
  setupMs: number;
  runMs: number;
  inKvmMs: number;
  /** The longest single KVM_RUN, in ms, and the console line that followed it. */
  longestRun: { ms: number; before: string };
  /** The host's view of the same RTC (DR), read by opening the device before and after the run. */
  hostRtc: { before: number; after: number };
  /** runVm's own report. */
  vm: VmReport;
}

/** Opens the pl031 for the host's own access: `f` gets region 0 (trap path). */
function withPl031<T>(name: string, f: (r: ReturnType<ReturnType<typeof openDevice>['region']>) => T): T {
  const dev = openDevice(name);
  try { return f(dev.region(0)); } finally { dev.close(); }
}

const END_NAMES: Readonly<Record<VmReport['end'], string>> = Object.freeze({ poweroff: 'shutdown', reboot: 'reset', stopped: 'stopped', error: 'error' });

/** Boots the kernel with the device passed through (and the PCI functions, if any) through
 *  runVm, and runs it to PSCI SYSTEM_OFF (or reset, an error, or maxExits). */
export async function runLinux(opts: LinuxRunOptions): Promise<LinuxReport> {
  const deviceName = opts.device ?? '9010000.pl031';
  // A quiet device: no alarm armed or pending from an earlier user; and the host's time.
  const hostBefore = withPl031(deviceName, (r) => { r.write32(PL031_IMSC, 0); r.write32(PL031_ICR, 1); return r.read32(PL031_DR); });
  const bytes: number[] = [];
  let line: number[] = [];
  const lines: LinuxReport['lines'] = [];
  const vm = await runVm({
    kernel: opts.kernel, initrd: opts.initrd, hostDtb: opts.hostDtb, memBytes: opts.ramSize ?? LINUX_RAM_SIZE, cpus: opts.cpus ?? 1,
    devices: [{ name: deviceName }, ...(opts.pci ?? []).map((name) => ({ name }))],
    bootargs: opts.bootargs ?? LINUX_BOOTARGS, ...(opts.append ? { append: opts.append } : {}),
    maxExits: opts.maxExits ?? LINUX_MAX_EXITS, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    console: (b, now) => {
      for (const c of b) {
        bytes.push(c);
        if (c !== 0x0a) { line.push(c); continue; }
        // The earlycon writes "\r\n" for each newline: a line is what comes before it.
        if (line.at(-1) === 0x0d) line.pop();
        const text = Buffer.from(line).toString('latin1');
        line = [];
        lines.push({ ms: now.ms, text, counts: { ...now.counts } });
        opts.onLine?.(text, now.ms);
      }
    },
  });
  // Housekeeping through the host's own access: the alarm masked whatever the guest did.
  const hostAfter = withPl031(deviceName, (r) => { const t = r.read32(PL031_DR); r.write32(PL031_IMSC, 0); return t; });
  const pl031 = vm.devices[0]!.platform!;
  const end = vm.end === 'stopped' && vm.stopReason === 'max-exits' ? 'max-exits' : vm.end === 'error' ? `error: ${vm.error?.message}` : END_NAMES[vm.end];
  return {
    console: Buffer.from(bytes).toString('latin1').replace(/\r\n/g, '\n'), lines,
    placement: { regionGpa: pl031.regions[0]!.gpa, spi: pl031.irqs[0]!.spi, intid: pl031.irqs[0]!.intid },
    layout: { kernel: vm.boot.kernel, kernelEnd: vm.boot.kernelEnd, initrd: vm.boot.initrd ?? { start: 0n, end: 0n }, dtb: vm.boot.dtb },
    dtbBytes: vm.boot.dtbBytes, bootargs: vm.boot.bootargs, end, exits: vm.exits, counts: vm.counts, ecam: vm.ecam,
    pci: vm.devices.flatMap((d): LinuxPciReport[] => d.pci ? [{ name: d.name, guestAddress: d.pci.guestAddress, devid: d.pci.devid, intxGsi: d.pci.intxGsi, relocation: d.pci.relocation, stats: d.pci.stats, counts: d.pci.counts, dma: d.dma }] : []),
    routeCommits: vm.routeCommits, strayAddrs: vm.strayAddrs, setupMs: vm.setupMs, runMs: vm.runMs, inKvmMs: vm.inKvmMs,
    longestRun: { ms: vm.longestRun.ms, before: lines.find((l) => l.ms >= vm.longestRun.endMs)?.text ?? '' },
    hostRtc: { before: hostBefore, after: hostAfter }, vm,
  };
}

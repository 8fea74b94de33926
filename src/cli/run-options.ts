// The command line of `vfiokit run` read into a plan, without touching anything: the option table
// (RUN_SPEC), sizes like 512M, the vCPU count, each --device through the sub-option table
// (src/vmm/device-spec.ts), and the exit statuses the run answers, as data. Every bad value is a
// UsageError naming the option and saying what to write.
// Not responsible for: reading files, checking devices or running the guest (run.ts, preflight).
import { VfioError } from '../errors.js';
import { DEVICE_OPTIONS, MAX_VCPUS, MIN_RAM_BYTES, parseDeviceSpec, type VmDeviceSpec } from '../vmm-api.js';
import { flag, helpText, str, strs, SYSFS_OPTION, UsageError, type CommandSpec, type Parsed } from './args.js';

/** Guest RAM when --mem is not given: room for the lab's Image (about 10 MiB with its bss), an
 *  initrd and a kernel with little to do, small enough that a nested guest's memmap init is short. */
export const DEFAULT_MEM = 256n << 20n;
/** Guest RAM is whole pages (runVm's rule, layout.ts; checked here so that --mem is named). */
export const MEM_ALIGN = 0x1000n;

/** Size suffixes, binary (as QEMU's -m and the kernel's mem= read them). */
const SIZE_UNITS: Readonly<Record<string, bigint>> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/**
 * The exit statuses of `vfiokit run` (besides main.ts's 1 for a VfioError before the guest
 * started, 2 for a usage error, 70 for a bug): decisions as data, documented in docs/CLI.md.
 */
export const RUN_EXIT = {
  /** The guest powered off (PSCI SYSTEM_OFF). */
  poweroff: 0,
  /** The guest asked for a reset (PSCI SYSTEM_RESET: `reboot`, or a panic with panic=-1). */
  reboot: 3,
  /** The machine failed while the guest ran (an exit it cannot handle, an error of a device). */
  error: 4,
  /** Stopped by a signal: 128 + its number, as a shell reports it (SIGINT 130, SIGTERM 143). */
  signalBase: 128,
} as const;

export const RUN_SPEC: CommandSpec = {
  usage: 'vfiokit run --kernel IMAGE [--initrd FILE] [--append ARGS] [--mem SIZE] [--cpus N] [--device NAME[,OPT]...]... [--dtb-out FILE] [--bind]',
  options: {
    kernel: { type: 'string', value: 'IMAGE', help: 'the guest kernel: an arm64 Image (arch/arm64/boot/Image, uncompressed)' },
    initrd: { type: 'string', value: 'FILE', help: 'an initramfs for the guest (a newc cpio, gzip\'d or not)' },
    append: { type: 'string', value: 'ARGS', help: 'added to the guest kernel\'s command line (after the console and rdinit= the VMM sets)' },
    mem: { type: 'string', value: 'SIZE', help: `guest RAM, e.g. 512M or 1G (default ${DEFAULT_MEM >> 20n}M)` },
    cpus: { type: 'string', value: 'N', help: `vCPUs (default 1, at most ${MAX_VCPUS})` },
    device: {
      type: 'string', value: 'NAME[,OPT]', multiple: true,
      help: `pass this host device through (platform, AMBA or PCI, by its sysfs name); OPT: ${DEVICE_OPTIONS.map((o) => o.value ? `${o.key}=${o.value}` : o.key).join(', ')} (docs/VMM.md)`,
    },
    'dtb-out': { type: 'string', value: 'FILE', help: 'write the device tree the guest gets to FILE' },
    bind: { type: 'boolean', help: 'bind each device to its VFIO driver first and put it back on its driver after the guest ends (root)' },
    sysfs: SYSFS_OPTION,
  },
  positionals: { min: 0, max: 0 },
};

/** What the command line asks for. */
export interface RunPlan {
  kernel: string;
  initrd?: string;
  append?: string;
  memBytes: bigint;
  cpus: number;
  devices: VmDeviceSpec[];
  dtbOut?: string;
  bind: boolean;
  sysfs?: string;
}

const usage = (message: string): UsageError => new UsageError(message, helpText(RUN_SPEC));

/** Reads a size: digits with an optional K, M, G or T (binary; `iB`/`B` after it allowed);
 *  undefined when it is not one. */
export function parseSize(text: string): bigint | undefined {
  const m = /^(\d{1,15})([KMGT]?)(?:i?B)?$/i.exec(text);
  return m ? BigInt(m[1]!) * SIZE_UNITS[m[2]!.toUpperCase()]! : undefined;
}

/** The plan of a parsed command line; throws UsageError for every value that cannot be right. */
export function runPlan(a: Parsed): RunPlan {
  const kernel = str(a, 'kernel');
  if (kernel === undefined || kernel === '') throw usage('--kernel IMAGE is required: the guest\'s arm64 kernel (e.g. arch/arm64/boot/Image)');
  const memText = str(a, 'mem');
  let memBytes = DEFAULT_MEM;
  if (memText !== undefined) {
    const m = parseSize(memText);
    if (m === undefined) throw usage(`--mem ${memText}: not a size; write it like 512M or 1G (K, M, G, T: powers of 1024)`);
    if (m < MIN_RAM_BYTES) throw usage(`--mem ${memText}: guest RAM must be at least ${MIN_RAM_BYTES >> 20n}M (a Linux guest wants 64M or more)`);
    if (m % MEM_ALIGN !== 0n) throw usage(`--mem ${memText}: guest RAM must be whole 4 KiB pages (e.g. ${(m / MEM_ALIGN + 1n) * 4n}K)`);
    memBytes = m;
  }
  const cpusText = str(a, 'cpus');
  let cpus = 1;
  if (cpusText !== undefined) {
    if (!/^\d{1,3}$/.test(cpusText) || Number(cpusText) < 1 || Number(cpusText) > MAX_VCPUS) throw usage(`--cpus ${cpusText}: a whole number of vCPUs, 1 to ${MAX_VCPUS}`);
    cpus = Number(cpusText);
  }
  const devices: VmDeviceSpec[] = [];
  for (const text of strs(a, 'device')) {
    let spec: VmDeviceSpec;
    try { spec = parseDeviceSpec(text).spec; } catch (e) {
      if (!(e instanceof VfioError)) throw e;
      throw usage(`${e.message}`);
    }
    if (devices.some((d) => d.name === spec.name)) throw usage(`--device ${spec.name} given twice: pass each device once`);
    devices.push(spec);
  }
  for (const [name, v] of [['initrd', str(a, 'initrd')], ['dtb-out', str(a, 'dtb-out')], ['sysfs', str(a, 'sysfs')]] as const) {
    if (v === '') throw usage(`--${name} needs a file name`);
  }
  const plan: RunPlan = { kernel, memBytes, cpus, devices, bind: flag(a, 'bind') };
  const initrd = str(a, 'initrd'), append = str(a, 'append'), dtbOut = str(a, 'dtb-out'), sysfs = str(a, 'sysfs');
  if (initrd !== undefined) plan.initrd = initrd;
  if (append !== undefined && append !== '') plan.append = append;
  if (dtbOut !== undefined) plan.dtbOut = dtbOut;
  if (sysfs !== undefined) plan.sysfs = sysfs;
  return plan;
}

/** The exit status of a finished run. */
export function exitStatusOf(end: 'poweroff' | 'reboot' | 'stopped' | 'error', signal?: NodeJS.Signals): number {
  switch (end) {
    case 'poweroff': return RUN_EXIT.poweroff;
    case 'reboot': return RUN_EXIT.reboot;
    case 'error': return RUN_EXIT.error;
    case 'stopped': return RUN_EXIT.signalBase + (SIGNAL_NUMBERS[signal ?? 'SIGINT'] ?? 2);
  }
}

/** The signals `vfiokit run` stops the guest on, and their numbers (for 128 + n). */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

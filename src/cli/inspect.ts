// `vfiokit inspect <device> [--json] [--iommu auto|type1|noiommu|iommufd] [--sysfs DIR]`: opens the
// device through VFIO (so it must be bound to its VFIO driver, and this needs the rights to open
// /dev/vfio) and prints what the kernel says about it: kind and flags, IOMMU type and group, each
// region (index, flags, size, offset, sparse areas, the core's map/trap split) and each IRQ index
// (flags, count). The --json form is stable and documented in docs/CLI.md.
// Not responsible for: binding (vfiokit bind) or changing the device in any way.
import { openDevice, type OpenOptions, type VfioDevice } from '../device/device.js';
import { readFileSync } from 'node:fs';
import type { Sys } from '../../shim/sys.js';
import { choice, deviceArg, helpText, flag, parseCommand, str, IOMMU_MODES, IOMMU_OPTION, SYSFS_OPTION, type CommandSpec, type Parsed } from './args.js';
import type { Command } from './command.js';
import { printTable } from './list.js';

const SPEC: CommandSpec = {
  usage: 'vfiokit inspect <device> [--json] [--iommu auto|type1|noiommu|iommufd] [--sysfs DIR]',
  options: { json: { type: 'boolean', help: 'print the report as JSON (docs/CLI.md)' }, iommu: IOMMU_OPTION, sysfs: SYSFS_OPTION },
  positionals: { min: 1, max: 1 },
};

const DEVICE_FLAGS = ['RESET', 'PCI', 'PLATFORM', 'AMBA', 'CCW', 'AP', 'FSL_MC', 'CAPS', 'CDX'];
const REGION_FLAGS = ['READ', 'WRITE', 'MMAP', 'CAPS'];
const IRQ_FLAGS = ['EVENTFD', 'MASKABLE', 'AUTOMASKED', 'NORESIZE'];

/** The names of the set bits of `flags` (unknown bits as BIT<n>). */
export function flagNames(flags: number, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) if ((flags >>> b) & 1) out.push(names[b] ?? `BIT${b}`);
  return out;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export interface InspectReport {
  device: string;
  bus: string;
  kind: string;
  flags: number;
  flagNames: string[];
  reset: boolean;
  iommu: { type: string; group: number; groupPath: string | null };
  regions: {
    index: number; name: string; ok: boolean; error?: string;
    flags: number; flagNames: string[]; size: string; offset: string;
    sparse: { offset: string; size: string }[] | null;
    split: { offset: string; size: string; kind: 'map' | 'trap' }[];
  }[];
  irqs: { index: number; name: string; ok: boolean; error?: string; flags: number; flagNames: string[]; count: number; level: boolean }[];
  /** PCI devices: the IDs from sysfs (hex strings as sysfs gives them), for `vfiokit dt`. */
  pci?: { vendor: string; device: string; class: string };
}

/** vendor, device and class of a PCI device, from sysfs. */
function pciIdentity(name: string, sysfs: string): InspectReport['pci'] {
  const read = (f: string) => readFileSync(`${sysfs}/bus/pci/devices/${name}/${f}`, 'utf8').trim();
  try { return { vendor: read('vendor'), device: read('device'), class: read('class') }; } catch { return undefined; }
}

/** What `inspect --json` prints, from an open device. */
export function inspectReport(dev: VfioDevice, sysfs = '/sys'): InspectReport {
  const pci = dev.bus === 'pci' ? pciIdentity(dev.name, sysfs) : undefined;
  return {
    device: dev.name,
    bus: dev.bus,
    kind: dev.info.kind,
    flags: dev.info.flags,
    flagNames: flagNames(dev.info.flags, DEVICE_FLAGS),
    reset: dev.info.reset,
    iommu: { type: dev.iommu, group: dev.group, groupPath: dev.iommu === 'iommufd' ? null : `/dev/vfio/${dev.iommu === 'noiommu' ? 'noiommu-' : ''}${dev.group}` },
    regions: dev.regions.map((r) => {
      const base = { index: r.index, name: r.name, ok: r.ok };
      if (!r.ok) return { ...base, error: r.error?.errnoName ?? r.error?.statusName ?? r.error?.message ?? 'unknown', flags: 0, flagNames: [], size: '0x0', offset: '0x0', sparse: null, split: [] };
      return {
        ...base, flags: r.flags, flagNames: flagNames(r.flags, REGION_FLAGS), size: hex(r.size), offset: hex(r.fileOffset),
        sparse: r.sparse ? r.sparse.map((a) => ({ offset: hex(a.offset), size: hex(a.size) })) : null,
        split: r.size === 0n ? [] : r.split().map((s) => ({ offset: hex(s.offset), size: hex(s.size), kind: s.kind })),
      };
    }),
    irqs: dev.irqs.map((q) => ({
      index: q.index, name: q.name, ok: q.ok, ...(q.ok ? {} : { error: q.error?.errnoName ?? q.error?.message ?? 'unknown' }),
      flags: q.flags, flagNames: flagNames(q.flags, IRQ_FLAGS), count: q.count, level: q.level,
    })),
    ...(pci ? { pci } : {}),
  };
}

/** Prints the report as tables. */
export function printReport(r: InspectReport): void {
  console.log(`${r.device}: ${r.kind} device on the ${r.bus} bus, flags 0x${r.flags.toString(16)} (${r.flagNames.join(',') || '-'}), reset: ${r.reset ? 'yes' : 'no'}`);
  console.log(`IOMMU: ${r.iommu.type}, group ${r.iommu.group}${r.iommu.groupPath ? ` (${r.iommu.groupPath})` : ''}`);
  console.log('');
  printTable(['REGION', 'NAME', 'FLAGS', 'SIZE', 'OFFSET', 'SPARSE', 'MAP/TRAP'], r.regions.map((g) => g.ok
    ? [String(g.index), g.name, g.flagNames.join(',') || '-', g.size, g.offset,
      g.sparse ? g.sparse.map((a) => `${a.offset}+${a.size}`).join(' ') || 'none' : '-',
      g.split.map((s) => `${s.kind} ${s.offset}+${s.size}`).join(', ') || '-']
    : [String(g.index), g.name, `unavailable (${g.error})`, '-', '-', '-', '-']));
  console.log('');
  printTable(['IRQ', 'NAME', 'FLAGS', 'COUNT', 'TRIGGER'], r.irqs.map((q) => q.ok
    ? [String(q.index), q.name, q.flagNames.join(',') || '-', String(q.count), q.count === 0 ? '-' : q.level ? 'level' : 'edge']
    : [String(q.index), q.name, `unavailable (${q.error})`, '-', '-']));
}

/** The command on parsed arguments, with an injectable syscall layer (tests pass the fake libc's). */
async function run(a: Parsed, inject: { sys?: Sys } = {}): Promise<number> {
  const opts: OpenOptions = { iommu: choice(SPEC, a, 'iommu', IOMMU_MODES, 'auto'), sysfs: str(a, 'sysfs'), sys: inject.sys };
  const dev = openDevice(deviceArg(SPEC, a.positionals[0]!), opts);
  try {
    const r = inspectReport(dev, opts.sysfs);
    if (flag(a, 'json')) console.log(JSON.stringify(r, null, 2)); else printReport(r);
  } finally { dev.close(); }
  return 0;
}

/** `vfiokit inspect ARGS` without the command line around it (tests inject the fake libc's sys);
 *  throws UsageError and VfioError instead of printing them. */
export async function runInspect(args: string[], inject: { sys?: Sys } = {}): Promise<number> {
  const a = parseCommand(SPEC, args);
  if (a.help) { console.log(helpText(SPEC)); return 0; }
  return run(a, inject);
}

export const inspect: Command = {
  summary: 'open a VFIO device and show its flags, IOMMU group, regions (map/trap split) and IRQs',
  spec: SPEC,
  run: (a) => run(a),
};

// `vfiokit dt <device> --mmio-base A --spi N [--mmio-size S] [--page-size P] [--host-dtb F]
//  [--info F.json] [--format dts|dtb] [-o F]`: the guest's device-tree node for a passed-through
// device. What the device has comes from the kernel (the device is opened as `inspect` does) or,
// offline, from a saved `vfiokit inspect --json`; the host node from the host's DTB
// (/sys/firmware/fdt, or --host-dtb). Platform and AMBA devices: their regions are placed on a
// platform bus at --mmio-base and their IRQs on SPIs from --spi (src/core/placement.ts), and the node
// is generated from the host's (src/core/dtnode.ts: compatible, reg, GIC SPI triples, clocks, bus).
// PCI devices: the guest enumerates them behind its PCI host bridge, so the output is the node the
// PCI bus binding gives a device (compatible "pciVVVV,DDDD", reg from bus/device/function), for
// VMMs that attach properties to it.
// Not responsible for: merging the node into the VMM's tree (mergeFdt) or binding the device.
import { readFileSync, writeFileSync } from 'node:fs';
import { VfioError } from '../errors.js';
import { PlatformBus, guestNodeFor, guestOverlayFor, FdtBuilder, openDevice, type IommuOption, type GuestNodeRequest } from '../index.js';
import { validateOverlayLabel } from '../overlay.js';
import { choice, deviceArg, helpText, parseCommand, str, UsageError, IOMMU_MODES, IOMMU_OPTION, SYSFS_OPTION, type CommandSpec, type Parsed } from './args.js';
import { dumpFdt } from './fdt.js';
import { inspectReport, type InspectReport } from './inspect.js';
import type { Command } from './command.js';

const SPEC: CommandSpec = {
  usage: 'vfiokit dt <device> --mmio-base ADDR --spi N [--mmio-size SIZE] [--page-size BYTES] '
    + '[--host-dtb FILE] [--info FILE.json] [--format dts|dtb|dtbo] [--label NAME] [-o FILE] [--iommu MODE] [--sysfs DIR]',
  options: {
    'mmio-base': { type: 'string', value: 'ADDR', help: "the guest platform bus's MMIO base (platform and AMBA devices)" },
    'mmio-size': { type: 'string', value: 'SIZE', help: "the bus window's size (default 32 MiB, as QEMU virt's)" },
    spi: { type: 'string', value: 'N', help: "the bus's first SPI (INTID - 32)" },
    'page-size': { type: 'string', value: 'BYTES', help: 'the guest page size every region is rounded to: 4096 (default), 16384 or 65536' },
    'host-dtb': { type: 'string', value: 'FILE', help: "the host's DTB (default /sys/firmware/fdt)" },
    info: { type: 'string', value: 'FILE.json', help: 'a saved `vfiokit inspect DEV --json`: work offline' },
    format: { type: 'string', value: 'FMT', help: 'dts (default), dtb, or dtbo: a device-tree overlay for crosvm --device-tree-overlay (with --label)' },
    label: { type: 'string', value: 'NAME', help: "the overlay's label for the device node (crosvm's dt-symbol=NAME); --format dtbo only" },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    iommu: IOMMU_OPTION,
    sysfs: SYSFS_OPTION,
  },
  positionals: { min: 1, max: 1 },
};
const FORMATS = ['dts', 'dtb', 'dtbo'] as const;
/** Where Linux exposes the DTB it booted with. */
const HOST_DTB = '/sys/firmware/fdt';
/** Default platform-bus window: QEMU virt's platform bus is 32 MiB. */
const DEFAULT_MMIO_SIZE = 0x200_0000n;
/** SPIs a generated bus offers (QEMU virt's platform bus has 32). */
const BUS_SPIS = 32;
/** Guest page sizes: the arm64 translation granules run from 4 KiB to 64 KiB (powers of two). */
const MIN_PAGE_SIZE = 4096n, MAX_PAGE_SIZE = 65536n, DEFAULT_PAGE_SIZE = 4096n;
/** How the device's bus reads in a sentence. */
const BUS_NOUN: Readonly<Record<string, string>> = { amba: 'an AMBA device', platform: 'a platform device', pci: 'a PCI device' };

function bigintArg(a: Parsed, name: string): bigint | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  try { const n = BigInt(v); if (n >= 0n) return n; } catch { /* fall through */ }
  throw new UsageError(`--${name} ${v} is not a non-negative integer (give it in decimal or 0x hex)`, helpText(SPEC));
}

function pageSizeArg(a: Parsed): bigint {
  const p = bigintArg(a, 'page-size') ?? DEFAULT_PAGE_SIZE;
  if (p < MIN_PAGE_SIZE || p > MAX_PAGE_SIZE || (p & (p - 1n)) !== 0n) {
    throw new UsageError(`--page-size ${p} is not a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE} (the arm64 page sizes: 4096, 16384, 65536)`, helpText(SPEC));
  }
  return p;
}

function readFile(path: string, what: string): Uint8Array {
  try { return new Uint8Array(readFileSync(path)); } catch (e) {
    throw new VfioError({ kind: 'not-found', message: `cannot read ${what} ${path}: ${(e as Error).message}`, hint: what === 'the host DTB' ? 'pass --host-dtb FILE (the host\'s /sys/firmware/fdt saved as a file)' : 'check the path', cause: e });
  }
}

/** The device's description: a saved `inspect --json`, or the live device. */
function report(name: string, info: string | undefined, iommu: IommuOption, sysfs: string | undefined): InspectReport {
  if (info !== undefined) {
    const r = JSON.parse(new TextDecoder().decode(readFile(info, 'the inspect report'))) as InspectReport;
    if (r.device !== name) throw new VfioError({ kind: 'bad-argument', message: `${info} describes ${r.device}, not ${name}`, hint: `run vfiokit inspect ${name} --json > FILE` });
    return r;
  }
  const dev = openDevice(name, { iommu, sysfs });
  try { return inspectReport(dev, sysfs); } finally { dev.close(); }
}

/** What a platform/AMBA device's node is generated from: regions placed on a bus, IRQs on SPIs. */
function platformRequest(r: InspectReport, hostDtb: Uint8Array, base: bigint, size: bigint, spi: number, pageSize: bigint): GuestNodeRequest {
  using bus = new PlatformBus({ base, size, spiFirst: spi, spiCount: BUS_SPIS, pageSize });
  const device = bus.newDevice();
  const regions = r.regions.filter((g) => g.ok && BigInt(g.size) > 0n).map((g) => bus.placeRegion(BigInt(g.size), { device }).address);
  const lines = r.irqs.filter((q) => q.ok && q.count > 0);
  const spis = lines.map(() => bus.placeIrq(undefined, { device }).spi);
  return { hostDtb, deviceName: r.device, placement: { regions, spis }, irqFlags: lines.map((q) => q.flags), bus: { base, size } };
}

/** A PCI device's node under the PCI bus binding: pci@<dev>,<fn> with its IDs and config address. */
function pciNode(r: InspectReport): Uint8Array {
  const m = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(r.device);
  if (!m || !r.pci) throw new VfioError({ kind: 'bad-argument', message: `${r.device}: no PCI identity in the report`, hint: 'use an inspect report made by this version (it records vendor, device and class)' });
  const [bus, dev, fn] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
  const hex4 = (v: string) => parseInt(v, 16).toString(16).padStart(4, '0');
  using b = new FdtBuilder();
  b.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2);
  b.beginNode('pci').propString('device_type', 'pci').propU32('#address-cells', 3).propU32('#size-cells', 2);
  const id = `pci${hex4(r.pci.vendor)},${hex4(r.pci.device)}`;
  // Node name and compatible as the PCI binding gives them: the generic pciVVVV,DDDD at dev[,fn].
  b.beginNode(`${id}@${dev.toString(16)}${fn ? `,${fn}` : ''}`)
    .propStrings('compatible', [id, `pciclass,${parseInt(r.pci.class, 16).toString(16).padStart(6, '0')}`])
    // phys.hi of the config space address: bus << 16 | device << 11 | function << 8 (IEEE 1275 PCI binding).
    .propU32('reg', (bus << 16) | (dev << 11) | (fn << 8), 0, 0, 0, 0);
  b.endNode().endNode().endNode();
  return b.finish();
}

/** --label: required with --format dtbo, refused without it. */
function labelArg(a: Parsed, format: (typeof FORMATS)[number]): string | undefined {
  const label = str(a, 'label');
  if (format !== 'dtbo') {
    if (label !== undefined) throw new UsageError('--label names the node of an overlay: give it with --format dtbo', helpText(SPEC));
    return undefined;
  }
  if (label === undefined) throw new UsageError('--format dtbo needs --label NAME (the dt-symbol crosvm finds the node by)', helpText(SPEC));
  try { return validateOverlayLabel(label); } catch (e) { throw new UsageError(`--label: ${(e as Error).message}`, helpText(SPEC)); }
}

async function run(a: Parsed): Promise<number> {
  const name = deviceArg(SPEC, a.positionals[0]!);
  const format = choice(SPEC, a, 'format', FORMATS, 'dts');
  const iommu: IommuOption = choice(SPEC, a, 'iommu', IOMMU_MODES, 'auto');
  // Every option is checked before the device is opened.
  const base = bigintArg(a, 'mmio-base'), spi = bigintArg(a, 'spi');
  const size = bigintArg(a, 'mmio-size') ?? DEFAULT_MMIO_SIZE, page = pageSizeArg(a);
  const label = labelArg(a, format);
  const r = report(name, str(a, 'info'), iommu, str(a, 'sysfs'));
  let dtb: Uint8Array;
  if (r.bus === 'pci') {
    if (label !== undefined) throw new UsageError(`${name} is a PCI device: --format dtbo is for platform and AMBA devices (crosvm finds those by dt-symbol; PCI devices are enumerated)`, helpText(SPEC));
    dtb = pciNode(r);
  } else {
    if (base === undefined || spi === undefined) throw new UsageError(`${name} is ${BUS_NOUN[r.bus] ?? `a ${r.bus} device`}: --mmio-base and --spi place it on the guest's platform bus`, helpText(SPEC));
    const req = platformRequest(r, readFile(str(a, 'host-dtb') ?? HOST_DTB, 'the host DTB'), base, size, Number(spi), page);
    dtb = label === undefined ? guestNodeFor(req).dtb : guestOverlayFor({ ...req, label }).dtbo;
  }
  const out = format === 'dts' ? new TextEncoder().encode(dumpFdt(dtb)) : dtb;
  const file = str(a, 'output');
  if (file) writeFileSync(file, out); else process.stdout.write(out);
  return 0;
}

/** `vfiokit dt ARGS` without the command line around it; throws UsageError and VfioError. */
export async function runDt(args: string[]): Promise<number> {
  const a = parseCommand(SPEC, args);
  if (a.help) { console.log(helpText(SPEC)); return 0; }
  return run(a);
}

export const dt: Command = {
  summary: 'the guest device-tree node of a passed-through device (live, or offline from inspect --json and a host DTB)',
  spec: SPEC,
  run,
};

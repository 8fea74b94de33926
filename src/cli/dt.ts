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
import { PlatformBus } from '../core/placement.js';
import { guestNodeFor } from '../core/dtnode.js';
import { FdtBuilder } from '../fdt/index.js';
import { openDevice, type IommuOption } from '../device/device.js';
import { validateDeviceName } from '../sysfs.js';
import { parseArgs } from './args.js';
import { dumpFdt } from './fdt.js';
import { inspectReport, type InspectReport } from './inspect.js';
import type { Command } from './commands.js';

const USAGE = 'usage: vfiokit dt <device> --mmio-base ADDR --spi N [--mmio-size SIZE] [--page-size 4096|65536] '
  + '[--host-dtb FILE] [--info FILE.json] [--format dts|dtb] [-o FILE] [--iommu MODE] [--sysfs DIR]';
/** Where Linux exposes the DTB it booted with. */
const HOST_DTB = '/sys/firmware/fdt';
/** Default platform-bus window: QEMU virt's platform bus is 32 MiB. */
const DEFAULT_MMIO_SIZE = 0x200_0000n;
/** SPIs a generated bus offers (QEMU virt's platform bus has 32). */
const BUS_SPIS = 32;

function bigintArg(v: string | undefined, name: string): bigint | undefined {
  if (v === undefined) return undefined;
  try { const n = BigInt(v); if (n >= 0n) return n; } catch { /* fall through */ }
  throw new VfioError({ kind: 'bad-argument', message: `--${name} ${v} is not a non-negative integer`, hint: 'give it in decimal or 0x hex' });
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

/** A platform/AMBA device's node: regions placed on a bus, IRQs on SPIs, generated from the host's. */
function platformNode(r: InspectReport, hostDtb: Uint8Array, base: bigint, size: bigint, spi: number, pageSize: bigint): Uint8Array {
  using bus = new PlatformBus({ base, size, spiFirst: spi, spiCount: BUS_SPIS, pageSize });
  const device = bus.newDevice();
  const regions = r.regions.filter((g) => g.ok && BigInt(g.size) > 0n).map((g) => bus.placeRegion(BigInt(g.size), { device }).address);
  const lines = r.irqs.filter((q) => q.ok && q.count > 0);
  const spis = lines.map(() => bus.placeIrq(undefined, { device }).spi);
  return guestNodeFor({ hostDtb, deviceName: r.device, placement: { regions, spis }, irqFlags: lines.map((q) => q.flags), bus: { base, size } }).dtb;
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

export async function runDt(args: string[]): Promise<number> {
  const a = parseArgs(args.map((x) => (x === '-o' ? '--o' : x)), { flags: ['help'], options: ['mmio-base', 'mmio-size', 'spi', 'page-size', 'host-dtb', 'info', 'format', 'o', 'iommu', 'sysfs'] }, USAGE);
  if (a.flags.has('help')) { console.log(USAGE); return 0; }
  if (a.positionals.length !== 1) throw new VfioError({ kind: 'bad-argument', message: 'dt takes exactly one device name', hint: USAGE });
  const name = validateDeviceName(a.positionals[0]!);
  const format = a.options.get('format') ?? 'dts';
  if (format !== 'dts' && format !== 'dtb') throw new VfioError({ kind: 'bad-argument', message: `--format ${format}: dts or dtb`, hint: USAGE });
  const r = report(name, a.options.get('info'), (a.options.get('iommu') ?? 'auto') as IommuOption, a.options.get('sysfs'));
  let dtb: Uint8Array;
  if (r.bus === 'pci') dtb = pciNode(r);
  else {
    const base = bigintArg(a.options.get('mmio-base'), 'mmio-base');
    const spi = bigintArg(a.options.get('spi'), 'spi');
    if (base === undefined || spi === undefined) throw new VfioError({ kind: 'bad-argument', message: `${name} is a ${r.bus} device: --mmio-base and --spi place it on the guest's platform bus`, hint: USAGE });
    const size = bigintArg(a.options.get('mmio-size'), 'mmio-size') ?? DEFAULT_MMIO_SIZE;
    const page = bigintArg(a.options.get('page-size'), 'page-size') ?? 4096n;
    dtb = platformNode(r, readFile(a.options.get('host-dtb') ?? HOST_DTB, 'the host DTB'), base, size, Number(spi), page);
  }
  const out = format === 'dtb' ? dtb : new TextEncoder().encode(dumpFdt(dtb));
  const file = a.options.get('o');
  if (file) writeFileSync(file, out); else process.stdout.write(out);
  return 0;
}

export const dt: Command = {
  summary: 'the guest device-tree node of a passed-through device (live, or offline from inspect --json and a host DTB)',
  run: runDt,
};

// `vfiokit walkthrough`: a passthrough session on the real kernel, step by step, each step printed
// as it happens. It is what `vfiokit lab` runs inside the lab guest (the README's first command),
// and it uses only the public API, as a VMM would:
//   1. the lab devices and their VFIO drivers (sysfs)
//   2. pl031 (AMBA, no-IOMMU): regions, the register page mapped, the PrimeCell ID read through
//      the mapping (zero-copy) and through the trap path
//   3. pl031's alarm interrupt through the userspace IRQ machine: line up, EOI, line down, unmask
//   4. edu (PCI behind the SMMUv3, type1): BAR0 identification, a DMA into an IOVA mapped onto our
//      buffer, and a DMA aimed at an unmapped IOVA that the IOMMU stops
//   5. the guest's device-tree node for the pl031, generated from the host's
// Each step that fails prints why and the walkthrough exits 1.
// Not responsible for: booting the lab (lab/run.mjs) or binding the devices (lab/init.sh did).
import { readFileSync } from 'node:fs';
import { listDevices } from '../sysfs.js';
import { openDevice, allocDma } from '../device/device.js';
import { PlatformBus } from '../core/placement.js';
import { guestNodeFor } from '../core/dtnode.js';
import { dumpFdt } from './fdt.js';
import type { CommandSpec } from './args.js';
import type { Command } from './command.js';

const PL031 = '9010000.pl031', EDU = '0000:00:02.0';
/** pl031 registers: data, match, interrupt mask set/clear, raw status, clear. */
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;
/** edu BAR0 registers (QEMU docs/specs/edu.rst) and its DMA buffer in device space. */
const EDU_ID = 0x00, DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98, EDU_BUF = 0x40000n;
const DMA_START = 1, DMA_TO_RAM = 2;
/** PCI config region of vfio-pci, and the command register bits that let edu do DMA. */
const CONFIG_REGION = 7, PCI_COMMAND = 0x04, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4;
/** How long the alarm and a DMA may take under TCG before the step counts as failed. */
const ALARM_LIMIT_MS = 5000, DMA_LIMIT_MS = 3000;

const hex = (v: number | bigint, w = 0) => `0x${v.toString(16).padStart(w, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stepNo = 0;
const step = (title: string) => console.log(`\n[${++stepNo}] ${title}`);
const say = (s: string) => console.log(`    ${s}`);

async function until(cond: () => boolean, limitMs: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < limitMs; await sleep(10)) if (cond()) return true;
  return cond();
}

function devices(): void {
  step('the devices on this kernel and their drivers');
  for (const d of listDevices().filter((x) => [PL031, EDU, 'a000000.virtio_mmio'].includes(x.name))) {
    say(`${d.name.padEnd(20)} ${d.bus.padEnd(8)} driver ${d.driver ?? '-'}${d.iommuGroup !== null ? `, IOMMU group ${d.iommuGroup}` : ''}`);
  }
}

async function pl031(): Promise<void> {
  step(`${PL031}: open through VFIO and map its registers`);
  using dev = openDevice(PL031);
  say(`${dev.info.kind} device, IOMMU ${dev.iommu}, ${dev.regions.length} region(s), ${dev.irqs.length} IRQ(s)`);
  const region = dev.regions[0]!;
  say(`region 0: ${hex(region.size)} bytes, map/trap split: ${region.split().map((s) => `${s.kind} ${hex(s.offset)}+${hex(s.size)}`).join(', ')}`);
  const m = region.map();
  say(`mapped at host address ${hex(m.hostAddress)} (a KVM memslot can point here: the guest reads the device with no exit)`);
  const id = [0xff0, 0xff4, 0xff8, 0xffc].map((o) => m.read32(o) & 0xff);
  say(`PrimeCell ID through the mapping:  ${id.map((b) => hex(b, 2)).join(' ')}`);
  say(`PrimeCell ID through the trap path: ${[0xff0, 0xff4, 0xff8, 0xffc].map((o) => hex(region.read32(o) & 0xff, 2)).join(' ')}`);
  if (id.join() !== [0x0d, 0xf0, 0x05, 0xb1].join()) throw new Error('this is not the PrimeCell ID 0d f0 05 b1');

  step(`${PL031}: the RTC alarm through the userspace IRQ machine`);
  const lines: string[] = [];
  const routing = dev.routeIrqs({ setLine: (i, level) => { lines.push(`${i}:${level ? 'up' : 'down'}`); say(`guest line ${i} ${level ? 'raised' : 'lowered'}`); }, onMmap: (on) => say(`direct MMIO ${on ? 'back on' : 'off: the guest\'s next access traps (its EOI)'}`) });
  m.write32(ICR, 1);
  m.write32(MR, m.read32(DR) + 2);
  m.write32(IMSC, 1);
  say('alarm armed for 2 s from now');
  const t0 = Date.now();
  if (!await until(() => lines.length > 0, ALARM_LIMIT_MS)) throw new Error(`no interrupt within ${ALARM_LIMIT_MS} ms`);
  say(`interrupt received after ${((Date.now() - t0) / 1000).toFixed(2)} s (RIS ${region.read32(RIS) & 1})`);
  region.write32(IMSC, 0);
  region.write32(ICR, 1);
  routing.trappedAccess();
  say(`EOI: the machine counted ${routing.machine.line(0).delivered} delivery, ${routing.machine.line(0).unmasks} VFIO unmask`);
}

async function edu(): Promise<void> {
  step(`${EDU}: open through VFIO with the type1 IOMMU (SMMUv3)`);
  // The DMA buffers outlive the device: closing it removes its IOMMU mappings first.
  using src = allocDma(4096);
  using dst = allocDma(4096);
  using stray = allocDma(4096);
  using dev = openDevice(EDU);
  const bar = dev.regions[0]!.map();
  say(`${dev.info.kind} device, IOMMU ${dev.iommu} group ${dev.group}; BAR0 ${hex(dev.regions[0]!.size)} bytes mapped`);
  say(`BAR0 identification register: ${hex(bar.read32(EDU_ID), 8)}`);
  const cfg = dev.regions[CONFIG_REGION]!;
  cfg.write(PCI_COMMAND, 2, Number(cfg.read(PCI_COMMAND, 2)) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

  step(`${EDU}: DMA confined by the IOMMU`);
  const text = new TextEncoder().encode('passed through by vfiokit');
  src.bytes.set(text);
  stray.bytes.fill(0xee);
  dev.mapDma({ iova: 0x100000n, buffer: src.bytes, size: 4096n, write: false });
  dev.mapDma({ iova: 0x200000n, buffer: dst.bytes, size: 4096n });
  say('IOVA 0x100000 -> our source buffer (read-only), IOVA 0x200000 -> our destination buffer');
  const dma = async (from: bigint, to: bigint, cmd: number) => {
    bar.write64(DMA_SRC, from); bar.write64(DMA_DST, to); bar.write64(DMA_COUNT, BigInt(text.length));
    bar.write32(DMA_CMD, cmd | DMA_START);
    if (!await until(() => (bar.read32(DMA_CMD) & DMA_START) === 0, DMA_LIMIT_MS)) throw new Error('the DMA did not finish');
  };
  await dma(0x100000n, EDU_BUF, 0);
  await dma(EDU_BUF, 0x200000n, DMA_TO_RAM);
  const back = new TextDecoder().decode(dst.bytes.subarray(0, text.length));
  say(`device copied "${back}" from IOVA 0x100000 to IOVA 0x200000`);
  if (back !== 'passed through by vfiokit') throw new Error('the DMA round trip lost bytes');
  await dma(EDU_BUF, 0x300000n, DMA_TO_RAM);
  const untouched = stray.bytes.subarray(0, text.length).every((b) => b === 0xee);
  say(`a DMA aimed at the unmapped IOVA 0x300000: ${untouched ? 'blocked by the IOMMU, no memory touched' : 'REACHED MEMORY'}`);
  if (!untouched) throw new Error('the IOMMU did not stop a DMA to an unmapped IOVA');
  dev.unmapDma(0x100000n, 4096n);
  dev.unmapDma(0x200000n, 4096n);
}

function deviceTree(): void {
  step(`${PL031}: the guest's device-tree node, generated from the host's`);
  using bus = new PlatformBus({ base: 0xc000000n, size: 0x2000000n, spiFirst: 112, spiCount: 32 });
  const device = bus.newDevice();
  const region = bus.placeRegion(0x1000n, { device });
  const irq = bus.placeIrq(undefined, { device });
  say(`placed on the guest platform bus at ${hex(region.address)}, SPI ${irq.spi} (INTID ${irq.intid})`);
  const node = guestNodeFor({ hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), deviceName: PL031, placement: { regions: [region.address], spis: [irq.spi] }, irqFlags: [7], bus: { base: 0xc000000n, size: 0x2000000n } });
  for (const l of dumpFdt(node.dtb).trimEnd().split('\n')) say(l);
}

export async function runWalkthrough(): Promise<number> {
  console.log('vfiokit walkthrough: a passthrough session on this kernel, step by step');
  try {
    devices();
    await pl031();
    await edu();
    deviceTree();
  } catch (e) {
    console.log(`    FAILED: ${(e as Error).message}`);
    return 1;
  }
  console.log('\nwalkthrough: every step worked');
  return 0;
}

export const walkthrough: Command = {
  summary: 'a passthrough session on this kernel, step by step (what `vfiokit lab` runs in the guest)',
  spec: { usage: 'vfiokit walkthrough', options: {}, positionals: { min: 0, max: 0 } } satisfies CommandSpec,
  run: () => runWalkthrough(),
};

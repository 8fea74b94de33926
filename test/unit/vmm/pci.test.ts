// The mini-vmm's PCI host bridge (examples/mini-vmm/pci.ts) and its guest tree (dtb.ts with `pci`):
// ECAM offsets decoded and routed to the attached function, all-ones for the rest; the tree's
// host bridge and ITS read back by dtc/fdtget (independent readers) and parseFdt, and set beside
// QEMU virt's own nodes of the same kinds (the shape a Linux guest is known to boot with).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseFdt } from '../../../src/index';
import { boardDtb, linuxGuestDtb, FIRST_DEVICE_PHANDLE } from '../../../examples/mini-vmm/dtb';
import { BOARD } from '../../../src/vmm-api';
import { decodeEcam, ecamOffset, EcamHost, intxSpi, requesterId, type ConfigSpace } from '../../../src/vmm/ecam';
import { PCI_SPACE_MEM32, PCI_SPACE_MEM64 } from '../../../src/vmm/board';

const PCI_LAYOUT = { its: BOARD.its, ecam: BOARD.ecam, mmio32: BOARD.pciMmio32, intxSpis: BOARD.intxSpis };
import { LAYOUT } from '../../../examples/mini-vmm/vmm';
import { virtDtb } from '../dtnode/virt-dtb';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-vmm-pci-'));
const save = (name: string, b: Uint8Array): string => { const p = join(dir, name); writeFileSync(p, b); return p; };
function fdtget(f: string, ...args: string[]): string {
  const r = spawnSync('fdtget', [...args.slice(0, -2), f, ...args.slice(-2)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fdtget ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A function that records what reached it and answers reads with a fixed pattern. */
function fakeFunction(): ConfigSpace & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    configRead: (o, w) => { log.push(`R${w}@${o.toString(16)}`); return w === 4 ? 0x0010_1b36 : w === 2 ? 0x1b36 : 0x36; },
    configWrite: (o, w, v) => { log.push(`W${w}@${o.toString(16)}=${v.toString(16)}`); },
  };
}

test('decodeEcam: bus << 20 | device << 15 | function << 12 | register, and ecamOffset is its inverse', () => {
  assert.equal(decodeEcam(0n), { bus: 0, dev: 0, fn: 0, reg: 0 });
  assert.equal(decodeEcam(0x8000n + 0x3dn), { bus: 0, dev: 1, fn: 0, reg: 0x3d }, '00:01.0 PCI_INTERRUPT_PIN');
  assert.equal(decodeEcam(0x0fff_fffcn), { bus: 255, dev: 31, fn: 7, reg: 0xffc });
  assert.equal(decodeEcam(0x123_4000n + 0x104n), { bus: 0x12, dev: 6, fn: 4, reg: 0x104 });
  for (const a of [{ bus: 0, dev: 1, fn: 0, reg: 0x10 }, { bus: 3, dev: 31, fn: 7, reg: 0xfff }, { bus: 0, dev: 0, fn: 5, reg: 0x100 }]) assert.equal(decodeEcam(ecamOffset(a)), a);
  assert.throws(() => decodeEcam(-1n), /negative/);
  assert.is(requesterId(0, 1, 0), 0x08, '00:01.0 has requester ID 8');
  assert.is(requesterId(2, 31, 7), 0x2ff);
});

test('EcamHost: the attached function gets its register, width and value; every other function reads all-ones and takes no write', () => {
  const host = new EcamHost(PCI_LAYOUT.ecam.base, PCI_LAYOUT.ecam.buses);
  const fn = fakeFunction();
  host.attach({ bus: 0, dev: 1, fn: 0 }, fn);
  const at = (dev: number, f: number, reg: number): bigint => PCI_LAYOUT.ecam.base + ecamOffset({ bus: 0, dev, fn: f, reg });
  assert.equal(host.handle(at(1, 0, 0), 4, false, 0n), { handled: true, reply: 0x0010_1b36n });
  assert.equal(host.handle(at(1, 0, 0x4), 2, true, 0x0406n), { handled: true });
  assert.equal(host.handle(at(1, 0, 0x3c), 1, true, 0x1ffn), { handled: true }, 'a byte write passes the low byte only');
  assert.equal(host.handle(at(1, 0, 0x3d), 1, false, 0n), { handled: true, reply: 0x36n });
  assert.equal(fn.log, ['R4@0', 'W2@4=406', 'W1@3c=ff', 'R1@3d']);
  // The enumerator's probes of empty slots and functions.
  assert.equal(host.handle(at(0, 0, 0), 4, false, 0n), { handled: true, reply: 0xffff_ffffn });
  assert.equal(host.handle(at(1, 1, 0), 2, false, 0n), { handled: true, reply: 0xffffn });
  assert.equal(host.handle(at(2, 0, 4), 2, true, 0x6n), { handled: true });
  assert.equal(fn.log.length, 4, 'nothing else reached the function');
  assert.equal(host.counts, { reads: 2, writes: 2, absent: 3, bad: 0 });
});

test('EcamHost: odd widths and misaligned registers read all-ones and are dropped; outside the window is not its', () => {
  const host = new EcamHost(PCI_LAYOUT.ecam.base, 1);
  const fn = fakeFunction();
  host.attach({ bus: 0, dev: 1, fn: 0 }, fn);
  const base = PCI_LAYOUT.ecam.base + 0x8000n;   // 00:01.0
  assert.equal(host.handle(base + 0x2n, 4, false, 0n), { handled: true, reply: 0xffff_ffffn }, 'a 4-byte read at reg 2');
  assert.equal(host.handle(base + 0x1n, 2, true, 0n), { handled: true });
  assert.equal(host.handle(base, 8, false, 0n), { handled: true, reply: 0xffff_ffff_ffff_ffffn });
  assert.equal(fn.log, []);
  assert.is(host.counts.bad, 3);
  assert.is(host.size, 0x10_0000n, 'one bus: 1 MiB');
  assert.equal(host.handle(PCI_LAYOUT.ecam.base + host.size, 4, false, 0n), { handled: false });
  assert.equal(host.handle(PCI_LAYOUT.ecam.base - 4n, 4, false, 0n), { handled: false });
  assert.throws(() => host.attach({ bus: 0, dev: 1, fn: 0 }, fn), /already/);
  assert.throws(() => host.attach({ bus: 1, dev: 0, fn: 0 }, fn), /at\.bus: 1 is not an integer in 0\.\.0/);
  assert.throws(() => new EcamHost(0n, 0), /1\.\.256/);
});

test('INTx pins go to the four SPIs in order; pin 0 (none) and out-of-range pins have none', () => {
  assert.equal([1, 2, 3, 4].map((p) => intxSpi(p)), [...PCI_LAYOUT.intxSpis]);
  assert.is(intxSpi(0), undefined);
  assert.is(intxSpi(5), undefined);
});

const pciDt = { its: PCI_LAYOUT.its, ecam: PCI_LAYOUT.ecam, mmio32: PCI_LAYOUT.mmio32, intxSpis: PCI_LAYOUT.intxSpis };
const dtb = linuxGuestDtb({
  hostDtb: virtDtb(), deviceName: '9010000.pl031', regionGpa: 0x0c00_0000n, spi: 112, irqFlags: 7,
  ram: { gpa: LAYOUT.ram.gpa, size: 0x1000_0000n }, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bus: LAYOUT.bus,
  bootargs: 'mini-vmm', initrd: { start: 0x4e00_0000n, end: 0x4e01_0000n }, pci: pciDt,
});
const f = save('pci.dtb', dtb);
const GIC = 1, ITS = 2;
const PCIE = '/pcie@3f000000', ITS_NODE = '/intc@8000000/its@8080000';

test('dtc reads the tree with the host bridge; the one warning is still the platform bus\'s', () => {
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', f], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const warnings = r.stderr.trim().split('\n').filter(Boolean);
  assert.equal(warnings, ['/dev/null: Warning (unit_address_vs_reg): /platform-bus@c000000: node has a unit name, but no reg or ranges property']);
});

test('the host bridge node: pci-host-ecam-generic over the 1 MiB ECAM window, bus 0, the 32-bit memory window, dma-coherent', () => {
  assert.is(fdtget(f, '-t', 's', PCIE, 'compatible'), 'pci-host-ecam-generic');
  assert.is(fdtget(f, '-t', 's', PCIE, 'device_type'), 'pci');
  assert.is(fdtget(f, '-t', 'x', PCIE, 'reg'), '0 3f000000 0 100000');
  assert.is(fdtget(f, '-t', 'u', PCIE, 'bus-range'), '0 0');
  assert.is(fdtget(f, '-t', 'u', PCIE, '#address-cells'), '3');
  assert.is(fdtget(f, '-t', 'u', PCIE, '#size-cells'), '2');
  assert.is(fdtget(f, '-t', 'u', PCIE, '#interrupt-cells'), '1');
  assert.is(fdtget(f, '-t', 'x', PCIE, 'ranges'), '2000000 0 10000000 0 10000000 0 2eff0000', 'memory space, PCI address = CPU address');
  assert.is(fdtget(f, '-t', 'x', PCIE, 'dma-coherent'), '');
});

test('with a 64-bit window: ranges holds the 32-bit window, then the 64-bit one at QEMU virt\'s address and space code (phys.hi 0x03000000)', () => {
  const w64 = { base: 0x80_0000_0000n, size: 0x80_0000_0000n };
  const t = linuxGuestDtb({
    hostDtb: virtDtb(), deviceName: '9010000.pl031', regionGpa: 0x0c00_0000n, spi: 112, irqFlags: 7,
    ram: { gpa: LAYOUT.ram.gpa, size: 0x1000_0000n }, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bus: LAYOUT.bus, pci: { ...pciDt, mmio64: w64 },
  });
  const g = save('pci64.dtb', t);
  assert.is(fdtget(g, '-t', 'x', PCIE, 'ranges'), '2000000 0 10000000 0 10000000 0 2eff0000 3000000 80 0 80 0 80 0');
  assert.is(PCI_SPACE_MEM64, 0x0300_0000);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', g], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
});

test('INTA..INTD: interrupt-map sends pin p of any device to SPI intxSpis[p-1], level-high, on the GIC (with its two address cells)', () => {
  const t = parseFdt(dtb);
  const n = t.node(PCIE);
  assert.equal(n.prop('interrupt-map-mask').u32s(), [0, 0, 0, 7]);
  const map = n.prop('interrupt-map').u32s();
  // <child unit address (3) pin> <&gic> <parent unit address (2)> <type SPI, number, flags>: 10 cells.
  const gicAddrCells = t.node('/intc@8000000').prop('#address-cells').u32();
  assert.is(gicAddrCells, 2);
  const entry = 3 + 1 + 1 + gicAddrCells + 3;
  assert.is(map.length, 4 * entry);
  for (let pin = 1; pin <= 4; pin++) {
    const e = map.slice((pin - 1) * entry, pin * entry);
    assert.equal(e, [0, 0, 0, pin, GIC, 0, 0, 0, intxSpi(pin)!, 4], `INT${'ABCD'[pin - 1]}`);
  }
});

test('MSIs: msi-map sends every requester ID, unchanged, to the ITS under the GIC; the ITS node as the binding has it', () => {
  const t = parseFdt(dtb);
  assert.equal(t.node(PCIE).prop('msi-map').u32s(), [0, ITS, 0, 0x1_0000], 'RID base 0 -> ITS DeviceID base 0, all 65536 RIDs');
  const its = t.nodeByPhandle(ITS)!;
  assert.is(its.path, ITS_NODE);
  assert.equal(its.compatible(), ['arm,gic-v3-its']);
  assert.ok(its.has('msi-controller'));
  assert.is(its.prop('#msi-cells').u32(), 1);
  assert.equal(its.reg(), [{ address: PCI_LAYOUT.its, size: 0x2_0000n }]);
  const gic = t.node('/intc@8000000');
  assert.is(gic.prop('#size-cells').u32(), 2);
  assert.is(gic.prop('ranges').length, 0, 'identity ranges: the ITS address is a CPU address');
  assert.ok(its.reg()[0]!.address + its.reg()[0]!.size <= LAYOUT.gicr, 'the ITS frame ends where the redistributors begin');
  assert.is(t.maxPhandle, FIRST_DEVICE_PHANDLE, 'the board has the GIC and ITS below the device range; the pl031\'s clock at the first device phandle');
});

test('the same property names and cell shapes as QEMU virt\'s own host bridge and ITS nodes', () => {
  const virt = parseFdt(virtDtb());
  const qPci = virt.node('/').children().find((n) => n.compatible().includes('pci-host-ecam-generic'))!;
  const qIts = virt.node('/').children().flatMap((n) => n.children()).find((n) => n.compatible().includes('arm,gic-v3-its'))!;
  const names = (n: { properties(): { name: string }[] }): string[] => n.properties().map((p) => p.name).filter((x) => x !== 'phandle').sort();
  const ours = parseFdt(dtb);
  // QEMU adds linux,pci-domain (one host bridge here: domain 0 either way).
  assert.equal(names(ours.node(PCIE)), names(qPci).filter((x) => x !== 'linux,pci-domain'));
  assert.equal(names(ours.node(ITS_NODE)), names(qIts));
  for (const p of ['#address-cells', '#size-cells', '#interrupt-cells']) assert.is(ours.node(PCIE).prop(p).u32(), qPci.prop(p).u32(), p);
  assert.equal(ours.node(PCIE).prop('interrupt-map-mask').length, qPci.prop('interrupt-map-mask').length);
  assert.is(ours.node(PCIE).prop('msi-map').length, qPci.prop('msi-map').length);
  assert.is(qPci.prop('ranges').u32s().filter((_, i) => i % 7 === 0).includes(PCI_SPACE_MEM32), true, 'QEMU has a 32-bit memory window too');
  const q64 = qPci.prop('ranges').u32s().findIndex((v, i) => i % 7 === 0 && v === PCI_SPACE_MEM64);
  assert.equal(q64 >= 0 ? qPci.prop('ranges').u32s().slice(q64 + 3, q64 + 7) : [], [0x80, 0, 0x80, 0], 'QEMU\'s 64-bit window: 512 GiB at 512 GiB, as BOARD.pciMmio64');
  assert.is(ours.node(ITS_NODE).prop('#msi-cells').u32(), qIts.prop('#msi-cells').u32());
});

test('without pci the board is as before: the GIC has no children, #address-cells 0, no ranges; no host bridge', () => {
  const b = boardDtb({ ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr } });
  const t = parseFdt(b.dtb);
  assert.is(b.itsPhandle, undefined);
  assert.is(t.node('/intc@8000000').prop('#address-cells').u32(), 0);
  assert.not.ok(t.node('/intc@8000000').has('ranges'));
  assert.is(t.node('/intc@8000000').children().length, 0);
  assert.not.ok(t.node('/').children().some((n) => n.name.startsWith('pcie')));
  const withPci = boardDtb({ ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, pci: pciDt });
  assert.is(withPci.itsPhandle, ITS);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', save('board-pci.dtb', withPci.dtb)], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', 'the board with the host bridge draws no dtc warning');
  assert.throws(() => boardDtb({ ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, pci: { ...pciDt, intxSpis: [3, 4] } }), /four SPIs/);
});

test.run();

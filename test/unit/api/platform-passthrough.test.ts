// PlatformPassthrough over the fake VFIO kernel and QEMU virt's own DTB: what it places, maps,
// hands to the VMM (mapMemory/unmapMemory) and wires (the SET_IRQS and KVM_IRQFD requests, in
// order), the guest node it generates, the trapped-access path, the userspace IRQ machine's mmap
// switch as unmapMemory/mapMemory, fixed and identity placement, refusals, and what close() (its
// own, or the device's) undoes, in which order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice, VfioDevice } from '../../../src/device/device';
import { PlatformPassthrough, type PlatformMemorySlot, type PlatformPassthroughOptions } from '../../../src/device/platform-passthrough';
import { DEVICE_KINDS } from '../../../src/device/kinds';
import { PlatformBus } from '../../../src/core/placement';
import { parseFdt } from '../../../src/fdt/index';
import { VfioError } from '../../../src/errors';
import { KVM_IRQFD, VFIO_DEVICE_GET_REGION_INFO } from '../../../shim/ioctl';
import { fakeVfio, irqSets, signalEventfd, type FakeVfio } from './fake-vfio';
import { virtDtb } from '../dtnode/virt-dtb';

const PL031 = '9010000.pl031', EDU = '0000:00:02.0';
const TRIGGER = 1 << 5, UNMASK = 1 << 4, MASK = 1 << 3, DATA_NONE = 1, DATA_EVENTFD = 4;
const KVM_IRQFD_FLAG_DEASSIGN = 1, KVM_IRQFD_FLAG_RESAMPLE = 2;
const hostDtb = virtDtb();
const LAYOUT = { base: 0x0c00_0000n, size: 0x0200_0000n, spiFirst: 112, spiCount: 16 };
const GIC_PHANDLE = 0x8001;

function withFake(fn: (f: FakeVfio) => void | Promise<void>, opts?: Parameters<typeof fakeVfio>[0]): () => Promise<void> {
  return async () => {
    const f = fakeVfio(opts);
    try { await fn(f); } finally { f.dispose(); }
  };
}
const open = (f: FakeVfio, name = PL031): VfioDevice => openDevice(name, { sys: f.sys, sysfs: f.sysfs, iommu: name === EDU ? 'type1' : undefined });
const caught = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

/** The VMM's side: a log of the slots it was handed and taken back. */
function vmm(): { slots: string[]; opts: Pick<PlatformPassthroughOptions, 'mapMemory' | 'unmapMemory'> } {
  const slots: string[] = [];
  const s = (x: PlatformMemorySlot): string => `r${x.region} 0x${x.gpa.toString(16)}+0x${x.size.toString(16)}`;
  return { slots, opts: { mapMemory: (x) => slots.push(`map ${s(x)}`), unmapMemory: (x) => slots.push(`unmap ${s(x)}`) } };
}

/** The KVM_IRQFD requests so far: flags, gsi, whether a resample fd was given. */
function irqfds(f: FakeVfio): { flags: number; gsi: number; fd: number; resample: boolean }[] {
  return f.libc.log.filter((e) => e.method === 'ioctl' && e.args[1] === KVM_IRQFD).map((e) => {
    const b = e.args[2] as Uint8Array;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { fd: dv.getUint32(0, true), gsi: dv.getUint32(4, true), flags: dv.getUint32(8, true), resample: dv.getUint32(12, true) !== 0 };
  });
}

test('the kinds table: PCI names its indexes BAR0.. and INTX..; platform and AMBA reg0.. and irq0..; REQ/ERR only for PCI', withFake((f) => {
  const pl = open(f), edu = open(f, EDU);
  assert.equal([pl.regions[0]!.name, pl.irqs[0]!.name], ['reg0', 'irq0']);
  assert.equal([edu.regions[0]!.name, edu.regions[1]!.name, edu.irqs[0]!.name], ['BAR0', 'BAR1', 'INTX']);
  assert.equal(caught(() => pl.onRequest(() => {})).kind, 'not-supported');
  assert.equal(Object.entries(DEVICE_KINDS).map(([k, v]) => `${k}:${v.machine}:${v.routedLines}:${v.passthrough}:${v.eventIrqs}`),
    ['pci:pci:intx:pci:true', 'platform:platform:lines:platform:false', 'amba:platform:lines:platform:false', 'other:platform:lines:null:false']);
  pl.close(); edu.close();
}));

test('kvm delivery: the pl031 placed (first fit, SPI 112), its page handed to the VMM, the level line wired to KVM with no userspace trigger ever set', withFake((f) => {
  const dev = open(f);
  const vmFd = f.sys.open('/dev/kvm', 0);
  const v = vmm();
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, kvm: { vmFd }, ...v.opts });
  assert.is(pt.placement.regions.length, 1);
  const r = pt.placement.regions[0]!;
  assert.equal([r.index, r.address, r.size, r.maps.length], [0, 0x0c00_0000n, 0x1000n, 1]);
  assert.equal(pt.placement.irqs, [{ index: 0, spi: 112, intid: 144 }]);
  assert.equal(v.slots, ['map r0 0xc000000+0x1000']);
  // The machine's level wire steps, and nothing before them: no userspace eventfd was the trigger.
  assert.equal(irqSets(f).map((s) => s.flags), [DATA_NONE | MASK, DATA_EVENTFD | TRIGGER, DATA_EVENTFD | UNMASK, DATA_NONE | UNMASK]);
  assert.ok(!f.libc.log.some((e) => e.method === 'watchReadable'), 'no eventfd watched on the loop');
  const [assign] = irqfds(f);
  assert.equal([assign!.gsi, assign!.flags, assign!.resample], [112, KVM_IRQFD_FLAG_RESAMPLE, true]);
  assert.is(irqSets(f)[1]!.fds[0], assign!.fd, 'the trigger is the irqfd');
  assert.is(pt.irqRouting!.machine.line(0).state, 'wired');
  assert.is(pt.claims(0x0c00_0fffn), true);
  assert.is(pt.claims(0x0c00_1000n), false);

  const fdsOpen = f.libc.openFds.size;
  const maps = f.libc.mappings();
  pt.close();
  assert.equal(irqfds(f).at(-1)!.flags, KVM_IRQFD_FLAG_DEASSIGN, 'the irqfd deassigned');
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | TRIGGER, index: 0, start: 0, count: 0, fds: [] }, 'the index disabled');
  assert.equal(v.slots, ['map r0 0xc000000+0x1000', 'unmap r0 0xc000000+0x1000']);
  assert.is(f.libc.openFds.size, fdsOpen - 2, 'the irqfd and its resample eventfd closed');
  assert.is(f.libc.mappings(), maps - 1, 'the region unmapped');
  assert.ok(pt.closed);
  assert.is(caught(() => pt.mmioRead(0x0c00_0000n, 4)).kind, 'closed');
  pt.close(); // twice is harmless
  // The device can be passed through again, and routes again.
  const again = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, kvm: { vmFd }, ...v.opts });
  assert.is(again.placement.regions[0]!.address, 0x0c00_0000n);
  dev.close();
  assert.ok(again.closed, 'the device closes its passthrough');
  f.sys.close(vmFd);
  assert.is(f.libc.openFds.size, 0);
  assert.is(f.libc.mappings(), 0);
}));

test('a line wired from the start has no userspace eventfd until it is unwired: then one is made, watched and set as the trigger', withFake((f) => {
  const dev = open(f);
  const vmFd = f.sys.open('/dev/kvm', 0);
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, kvm: { vmFd }, ...vmm().opts });
  const routing = pt.irqRouting!;
  routing.unwireIrqfd(0);
  const trigger = irqSets(f).find((x) => x.flags === (DATA_EVENTFD | TRIGGER) && x.fds[0] !== irqfds(f)[0]!.fd)!;
  assert.ok(trigger, 'the trigger went back to a userspace eventfd');
  assert.equal(irqfds(f).at(-1)!.flags, KVM_IRQFD_FLAG_DEASSIGN);
  signalEventfd(f, trigger.fds[0]!);
  assert.equal([routing.machine.line(0).state, routing.machine.line(0).fires], ['active', 1n], 'the machine took the signal');
  dev.close();
  f.sys.close(vmFd);
  assert.is(f.libc.openFds.size, 0);
}));

test('the guest node: compatible, reg at the placed address, the level SPI, the GIC as interrupt-parent, the apb-pclk clock copied', withFake((f) => {
  const dev = open(f);
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts, dt: { firstPhandle: 0x9000 } });
  const t = parseFdt(pt.dtNode().dtb);
  const bus = t.node('/platform-bus@c000000');
  const node = t.node('/platform-bus@c000000/pl031@c000000');
  assert.equal(node.prop('compatible').strings(), ['arm,pl031', 'arm,primecell']);
  assert.equal(node.prop('reg').u32s(), [0, 0x0c00_0000, 0, 0x1000]);
  assert.equal(node.prop('interrupts').u32s(), [0, 112, 4], 'SPI 112, level-high (AUTOMASKED)');
  assert.is(bus.prop('interrupt-parent').u32(), GIC_PHANDLE);
  assert.is(t.nodeByPhandle(node.prop('clocks').u32())?.prop('compatible').string(), 'fixed-clock');
  assert.is(node.prop('clocks').u32(), 0x9000);
  assert.is(pt.dtNode().hostNodePath, '/pl031@9010000');
  dev.close();
  assert.is(caught(() => pt.dtNode()).kind, 'closed');
}));

test('dt.bus false: the device node alone at the root, absolute reg, its own interrupt-parent (for a VMM bus node shared by several devices)', withFake((f) => {
  const dev = open(f);
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts, dt: { bus: false } });
  const t = parseFdt(pt.dtNode().dtb);
  assert.is(t.findNode('/platform-bus@c000000'), undefined);
  const node = t.node('/pl031@c000000');
  assert.equal(node.prop('reg').u32s(), [0, 0x0c00_0000, 0, 0x1000]);
  assert.is(node.prop('interrupt-parent').u32(), GIC_PHANDLE);
  dev.close();
}));

test('userspace delivery: the IRQ -> unmapMemory and the line up at the placed SPI; the trapped ICR write goes through the mapping, then EOI; the timer hands the slot back', withFake(async (f) => {
  const dev = open(f);
  const v = vmm();
  const lines: string[] = [];
  const pt = dev.platform({
    bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, ...v.opts, timeoutNs: 1_000_000n,
    setLine: (line, level) => { lines.push(`${line.index} spi ${line.spi} intid ${line.intid} ${level ? 'up' : 'down'}`); v.slots.push(`line ${level ? 'up' : 'down'}`); },
  });
  const trigger = irqSets(f).at(-1)!;
  assert.is(trigger.flags, DATA_EVENTFD | TRIGGER, 'a userspace eventfd is the trigger');
  signalEventfd(f, trigger.fds[0]!);
  assert.equal(v.slots, ['map r0 0xc000000+0x1000', 'unmap r0 0xc000000+0x1000', 'line up'], 'the slot goes before the line rises: the EOI must trap');
  assert.equal(lines, ['0 spi 112 intid 144 up']);
  // The guest's ICR write (0x1c) traps: written through the mapping (Atomics), then the machine's EOI.
  const map = pt.placement.regions[0]!.maps[0]!.mapping;
  assert.is(pt.mmioWrite(0x0c00_001cn, 4, 0x1_0000_0001n), true);
  assert.is(map.read32(0x1c), 1, 'the low 4 bytes stored through the mapping');
  assert.equal(lines.at(-1), '0 spi 112 intid 144 down');
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | UNMASK, index: 0, start: 0, count: 1, fds: [] }, 'VFIO unmasked after the write');
  map.write32(0xfe0, 0x31);
  assert.is(pt.mmioRead(0x0c00_0fe0n, 4), 0x31n, 'a trapped read through the mapping');
  assert.is(pt.mmioRead(0x0c00_0fe0n, 1), 0x31n);
  assert.is(pt.mmioRead(0x1000n, 4), undefined, 'not the device\'s');
  assert.is(pt.mmioWrite(0x1000n, 4, 0n), false);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(v.slots.at(-1), 'map r0 0xc000000+0x1000', 'the timer gave the slot back');
  assert.equal(pt.stats(), { mmioReads: 2, mmioWrites: 1, mmioRefused: 0, slotsMapped: 2, slotsUnmapped: 1, lineAsserts: 1, lineDeasserts: 1 });
  dev.close();
  assert.equal(v.slots.at(-1), 'unmap r0 0xc000000+0x1000', 'close takes the slot back');
  assert.is(f.libc.openFds.size, 0);
  assert.is(f.libc.mappings(), 0);
}));

test('what a guest can do never throws: odd widths and misaligned accesses read all-ones and drop the write, counted', withFake((f) => {
  const dev = open(f);
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts });
  assert.is(pt.mmioRead(0x0c00_0000n, 3), 0xff_ffffn);
  assert.is(pt.mmioRead(0x0c00_0000n, 16), 0xffff_ffff_ffff_ffffn);
  assert.is(pt.mmioWrite(0x0c00_0000n, 0, 1n), true);
  const preads = f.libc.calls.pread ?? 0;
  assert.is(pt.mmioRead(0x0c00_0002n, 4), 0xffff_ffffn, 'misaligned: the region table refuses it');
  assert.is(f.libc.calls.pread ?? 0, preads, 'no syscall for a refused access');
  assert.is(dev.region(0).counters().misaligned, 1n);
  assert.is(pt.stats().mmioRefused, 3);
  assert.is(caught(() => pt.mmioRead(0x0c00_0000 as unknown as bigint, 4)).kind, 'bad-argument');
  assert.match(caught(() => pt.mmioWrite(0x0c00_0000n, 4, 1 as unknown as bigint)).message, /value/);
  dev.close();
}));

test('a region that cannot be mapped is trapped: no slot for it, accesses through the device fd (pread/pwrite at the region\'s offset)', withFake((f) => {
  const answer = f.libc.on.ioctl!;
  f.libc.on.ioctl = (fd, request, arg) => {
    const r = answer(fd, request, arg);
    if (request === VFIO_DEVICE_GET_REGION_INFO) { arg![4] = 0x3; } // READ | WRITE, no MMAP (vfio-platform's sub-page region)
    return r;
  };
  const dev = open(f);
  const v = vmm();
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...v.opts });
  assert.equal(v.slots, [], 'nothing handed to the VMM');
  assert.is(pt.placement.regions[0]!.maps.length, 0);
  assert.is(pt.mmioRead(0x0c00_0010n, 4), 0n);
  const pread = f.libc.log.filter((e) => e.method === 'pread').at(-1)!;
  assert.equal(pread.args.slice(2), [4, dev.regions[0]!.fileOffset + 0x10n]);
  pt.mmioWrite(0x0c00_001cn, 4, 1n);
  assert.equal(f.libc.log.filter((e) => e.method === 'pwrite').at(-1)!.args.slice(2), [4, dev.regions[0]!.fileOffset + 0x1cn]);
  dev.close();
}));

test('fixed placement: addresses and SPIs as given; identity: the host\'s own address from its node (1:1)', withFake((f) => {
  const dev = open(f);
  const window = { base: 0x0900_0000n, size: 0x0400_0000n, spiFirst: 1, spiCount: 64 };
  const fixed = dev.platform({ bus: window, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts, placement: { addresses: [0x0a00_0000n], spis: [40] } });
  assert.equal([fixed.placement.regions[0]!.address, fixed.placement.irqs[0]!.spi, fixed.placement.irqs[0]!.intid], [0x0a00_0000n, 40, 72]);
  fixed.close();
  const v = vmm();
  const id = dev.platform({ bus: window, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...v.opts, placement: { identity: true, spis: [2] } });
  assert.is(id.placement.regions[0]!.address, 0x0901_0000n, 'where the host has the pl031 (QEMU virt)');
  assert.equal(v.slots, ['map r0 0x9010000+0x1000']);
  assert.equal(parseFdt(id.dtNode().dtb).node('/platform-bus@9000000/pl031@9010000').prop('interrupts').u32s(), [0, 2, 4]);
  id.close();
  // Outside the window, the core refuses identity: nothing is left behind.
  const e = caught(() => dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts, placement: { identity: true } }));
  assert.is(e.kind, 'bad-argument');
  dev.close();
  assert.is(f.libc.mappings(), 0);
}));

test('a VMM bus shared by devices: each passthrough takes its own handle and frees it on close; the bus stays the VMM\'s', withFake((f) => {
  using bus = new PlatformBus(LAYOUT);
  const pl = open(f);
  const other = openDevice('a000000.virtio_mmio', { sys: f.sys, sysfs: f.sysfs });
  const a = pl.platform({ bus, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts });
  const b = other.platform({ bus, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts, dt: { bus: false } });
  assert.is(bus.info().devices, 2);
  assert.is.not(a.placement.regions[0]!.address, b.placement.regions[0]!.address);
  assert.is.not(a.placement.irqs[0]!.spi, b.placement.irqs[0]!.spi);
  pl.close();
  assert.is(bus.info().devices, 1, 'the pl031\'s ranges and SPI freed');
  assert.ok(!bus.closed);
  other.close();
  assert.is(bus.info().spisTaken, 0);
}));

test('refusals: a PCI device, a second passthrough, routeIrqs beside it, no delivery or two; a failure while wiring undoes everything', withFake((f) => {
  const edu = open(f, EDU);
  const e1 = caught(() => edu.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, ...vmm().opts }));
  assert.equal([e1.kind, /PCI room/.test(e1.hint ?? '')], ['not-supported', true]);
  edu.close();
  const dev = open(f);
  const vmFd = f.sys.open('/dev/kvm', 0);
  const base = { bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, ...vmm().opts };
  assert.match(caught(() => dev.platform(base)).message, /opts\.kvm/);
  assert.match(caught(() => dev.platform({ ...base, kvm: { vmFd }, setLine: () => {} })).message, /opts\.setLine/);
  assert.match(caught(() => dev.platform({ ...base, routeIrqs: false, kvm: { vmFd } })).message, /opts\.kvm/);
  assert.match(caught(() => dev.platform({ ...base, routeIrqs: false, placement: { addresses: [1n, 2n] } })).message, /one address per region/);
  const pt = dev.platform({ ...base, kvm: { vmFd } });
  assert.is(caught(() => dev.platform({ ...base, kvm: { vmFd } })).kind, 'bad-state');
  const e2 = caught(() => dev.routeIrqs({ setLine: () => {} }));
  assert.equal([e2.kind, /PlatformPassthrough/.test(e2.hint ?? '')], ['bad-state', true]);
  pt.close();

  const fds = f.libc.openFds.size, maps = f.libc.mappings();
  const v = vmm();
  const answer = f.libc.on.ioctl!;
  f.libc.on.ioctl = (fd, request, arg) => (request === KVM_IRQFD ? -22 : answer(fd, request, arg)); // EINVAL: no vGIC
  const e3 = caught(() => dev.platform({ ...base, ...v.opts, kvm: { vmFd } }));
  assert.equal([e3.kind, e3.errnoName], ['syscall', 'EINVAL']);
  assert.equal(v.slots, ['map r0 0xc000000+0x1000', 'unmap r0 0xc000000+0x1000'], 'the slot handed back');
  assert.is(f.libc.openFds.size, fds, 'no eventfd left');
  assert.is(f.libc.mappings(), maps, 'no mapping left');
  f.libc.on.ioctl = answer;
  dev.platform({ ...base, kvm: { vmFd } }).close(); // the device is free again
  dev.close();
  f.sys.close(vmFd);
  assert.is(f.libc.openFds.size, 0);
}));

test('the device\'s close() closes the passthrough first: the VMM\'s slot is taken back before the mapping behind it goes', withFake((f) => {
  const dev = open(f);
  const order: string[] = [];
  const pt = dev.platform({ bus: LAYOUT, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false, mapMemory: () => {}, unmapMemory: () => order.push('unmapMemory') });
  const before = f.libc.log.length;
  dev.close();
  order.push(...f.libc.log.slice(before).map((e) => e.method).filter((m) => m === 'munmap' || m === 'close'));
  assert.equal(order.slice(0, 3), ['unmapMemory', 'munmap', 'close'], order.join(' '));
  assert.ok(pt.closed);
  assert.ok(pt instanceof PlatformPassthrough);
}));

test.run();

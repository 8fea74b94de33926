// Runs INSIDE the lab guest: PlatformPassthrough against the real kernel, with the pl031 (vfio-amba)
// and a KVM VM with an initialised vGICv3 (no vCPU runs: the guest side is the VM's memslots and
// vGIC). Shown here, for both IRQ deliveries:
// - kvm: the register page placed on the bus and installed as a real memslot
//   (KVM_SET_USER_MEMORY_REGION over the VFIO mapping), the line wired to KVM at the placed SPI
//   without a userspace trigger ever set; a real alarm raises the pl031's interrupt and userspace
//   never sees it (the machine counts no fire); the guest node says where the device is;
// - userspace: the alarm takes the memslot away (unmapMemory) before the line goes up at the
//   placed SPI; the trapped ICR write through mmioWrite clears the alarm and is the EOI (line down,
//   VFIO unmask); after the timeout the memslot comes back (mapMemory);
// - identity placement puts the device at its host address, and the trap path reads its ID;
// - fds and vfio mappings are the same before and after each test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { openDevice, parseFdt, type PlatformMemorySlot } from '../../src/index';
import { createSys, realLibc, kvm } from '../../shim/index';
import { countFds, countVfioMaps } from '../support/fds';
import { struct, Undo, vmWithGic } from '../support/shim-lab';

const sys = createSys(realLibc());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Mappings of VFIO device fds (anon_inode:[vfio-device], or a /dev/vfio cdev): not this bundle's own files under /opt/vfiokit. */
/** VFIO device mappings held now (test/support/fds.ts). */
const maps = countVfioMaps;
const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c, PERIPH_ID0 = 0xfe0;
const BUS = { base: 0x0c00_0000n, size: 0x0200_0000n, spiFirst: 112, spiCount: 16 };
/** The guest GIC's phandle, as the mini-VMM's board gives it. */
const GIC_PHANDLE = 1;

/** The VMM's memslot 0 for the device: KVM_SET_USER_MEMORY_REGION (size 0 deletes it); each call logged. */
function memslots(vm: number, log: string[]): { mapMemory(s: PlatformMemorySlot): void; unmapMemory(s: PlatformMemorySlot): void } {
  const set = (s: PlatformMemorySlot, size: bigint) => kvm.setUserMemoryRegion(sys, vm, struct(32, [[0, 4, 0], [8, 8, s.gpa], [16, 8, size], [24, 8, s.hostAddress]]));
  return {
    mapMemory: (s) => { set(s, s.size); log.push(`map 0x${s.gpa.toString(16)}+0x${s.size.toString(16)}`); },
    unmapMemory: (s) => { set(s, 0n); log.push(`unmap 0x${s.gpa.toString(16)}`); },
  };
}

test('kvm delivery: placed, a real memslot over the VFIO mapping, the alarm wired to KVM at the placed SPI; userspace never sees it', async () => {
  const fdsBefore = countFds(), mapsBefore = maps();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(sys, undo);
    const slots: string[] = [];
    const actions: string[] = [];
    const fdsOpen = countFds();
    const pt = dev.platform({ bus: BUS, hostDtb, interruptParent: GIC_PHANDLE, kvm: { vmFd: vm }, ...memslots(vm, slots), onAction: (a) => actions.push(a.kind) });
    const r = pt.placement.regions[0]!, irq = pt.placement.irqs[0]!;
    console.log(`  placed: pl031 at 0x${r.address.toString(16)} (0x${r.size.toString(16)} bytes), SPI ${irq.spi} (INTID ${irq.intid}); fds +${countFds() - fdsOpen}; actions ${actions.join(' ')}`);
    assert.equal([r.address, irq.spi, irq.intid], [0x0c00_0000n, 112, 144]);
    assert.equal(slots, ['map 0xc000000+0x1000'], 'the page installed as a memslot');
    assert.equal(actions, ['mask', 'kvm-irqfd-assign', 'set-trigger', 'set-unmask-fd', 'unmask'], 'the level wire steps, and no userspace trigger before them');
    assert.is(countFds(), fdsOpen + 2, 'an irqfd and a resample eventfd, no userspace eventfd');
    const node = parseFdt(pt.dtNode().dtb).node('/platform-bus@c000000/pl031@c000000');
    assert.equal(node.prop('interrupts').u32s(), [0, 112, 4]);
    const m = r.maps[0]!.mapping;
    m.write32(ICR, 1); m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1);
    await sleep(2600);
    assert.ok(m.read32(RIS) & 1, 'the RTC raised its interrupt');
    const line = pt.irqRouting!.machine.line(0);
    assert.equal([line.state, line.fires], ['wired', 0n], 'the wired line did not reach userspace');
    m.write32(IMSC, 0); m.write32(ICR, 1);
    pt.close();
    assert.equal(slots.at(-1), 'unmap 0xc000000', 'close took the memslot back');
    assert.is(countFds(), fdsOpen, 'the irqfd eventfds closed');
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), fdsBefore);
  assert.is(maps(), mapsBefore);
});

test('userspace delivery: the alarm takes the memslot away, raises the placed SPI; the trapped ICR write is the EOI; the timer gives the memslot back', async () => {
  const fdsBefore = countFds(), mapsBefore = maps();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(sys, undo);
    const log: string[] = [];
    const pt = dev.platform({
      bus: BUS, hostDtb, interruptParent: GIC_PHANDLE, ...memslots(vm, log), timeoutNs: 200_000_000n,
      setLine: (l, level) => log.push(`line spi ${l.spi} ${level ? 'up' : 'down'}`),
    });
    const base = pt.placement.regions[0]!.address;
    assert.is(pt.mmioRead(base + BigInt(PERIPH_ID0), 4), 0x31n, 'PeriphID0 through the trapped path');
    const now = Number(pt.mmioRead(base + BigInt(DR), 4));
    pt.mmioWrite(base + BigInt(ICR), 4, 1n); pt.mmioWrite(base + BigInt(MR), 4, BigInt(now + 1)); pt.mmioWrite(base + BigInt(IMSC), 4, 1n);
    for (let i = 0; i < 300 && !log.includes('line spi 112 up'); i++) await sleep(10);
    assert.equal(log, ['map 0xc000000+0x1000', 'unmap 0xc000000', 'line spi 112 up'], 'the memslot goes before the line rises');
    // The VMM's own look, through the mapping (not a guest access, so no EOI): the alarm is pending.
    assert.is(pt.placement.regions[0]!.maps[0]!.mapping.read32(RIS), 1, 'the alarm is pending in the device');
    // The guest's handler: its first trapped access is the EOI (QEMU's rule), so it clears the
    // alarm first (ICR); a read of RIS first would EOI a line the device still holds high, and the
    // unmask would deliver it again.
    pt.mmioWrite(base + BigInt(ICR), 4, 1n);
    assert.equal(log.at(-1), 'line spi 112 down', 'the trapped access was the EOI');
    assert.is(pt.mmioRead(base + BigInt(RIS), 4), 0n);
    pt.mmioWrite(base + BigInt(IMSC), 4, 0n);
    await sleep(500);
    assert.equal(log.at(-1), 'map 0xc000000+0x1000', 'the memslot came back after the timeout');
    const st = pt.stats();
    console.log(`  stats: ${JSON.stringify(st)}; line 0: ${JSON.stringify(pt.irqRouting!.machine.line(0), (_k, v) => typeof v === 'bigint' ? Number(v) : v)}`);
    assert.equal([st.lineAsserts, st.lineDeasserts, st.slotsMapped, st.slotsUnmapped], [1, 1, 2, 1]);
    assert.is(pt.irqRouting!.machine.line(0).delivered, 1n);
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), fdsBefore);
  assert.is(maps(), mapsBefore);
});

test('identity placement: the device at its host address (0x9010000), its ID read through the passthrough; the placement freed on close', () => {
  const fdsBefore = countFds(), mapsBefore = maps();
  const dev = openDevice('9010000.pl031');
  try {
    const slots: PlatformMemorySlot[] = [];
    const pt = dev.platform({
      bus: { base: 0x0900_0000n, size: 0x0100_0000n, spiFirst: 1, spiCount: 31 }, hostDtb, interruptParent: GIC_PHANDLE, routeIrqs: false,
      placement: { identity: true }, mapMemory: (s) => slots.push(s), unmapMemory: () => {},
    });
    assert.is(pt.placement.regions[0]!.address, 0x0901_0000n);
    assert.equal(slots.map((s) => s.gpa), [0x0901_0000n]);
    const id = [0, 4, 8, 12].map((o) => Number(pt.mmioRead(0x0901_0000n + BigInt(PERIPH_ID0 + o), 4)));
    assert.equal(id, [0x31, 0x10, 0x14, 0x00], 'PeriphID of the pl031');
    assert.is(pt.mmioRead(0x0901_1000n, 4), undefined, 'the next page is not the device\'s');
  } finally { dev.close(); }
  assert.is(countFds(), fdsBefore);
  assert.is(maps(), mapsBefore);
});

test.run();

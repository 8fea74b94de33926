// Runs INSIDE the lab guest (arm64, KVM under TCG-emulated EL2): the mini-vmm (examples/mini-vmm)
// runs its bare-metal guest (guest/pl031.S) with the pl031 passed through. Shown here:
// - the guest reads the PrimeCell ID 0d f0 05 b1 through the memslot over the VFIO mapping, at the
//   address PlatformBus chose, with zero MMIO exits for the device;
// - two pl031 alarms reach the guest through VFIO -> eventfd -> KVM irqfd (resample: level) -> vGICv3,
//   acknowledged with ICC_IAR1_EL1 and EOId, with zero VMM wake-ups while the guest waits;
// - the guest DTB passed in x0 (FdtBuilder + guestNodeFor + mergeFdt), read back with parseFdt;
// - the open fds are the same before and after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import guest from '../../build/guest/pl031.bin';
import { readFileSync } from 'node:fs';
import { parseFdt } from '../../src/index';
import { guestDtb } from '../../examples/mini-vmm/dtb';
import { LAYOUT, runGuest, runGuestMachine, runGuestRelay, type Placement, type RunReport } from '../../examples/mini-vmm/vmm';
import { openFds } from '../support/fds';

const ms = (ns: bigint): string => (Number(ns) / 1e6).toFixed(1);

function show(r: RunReport): void {
  console.log(`  placement: pl031 at 0x${r.placement.regionGpa.toString(16)}, SPI ${r.placement.spi} (INTID ${r.placement.intid})`);
  console.log(`  guest console:\n${r.console.replace(/^/gm, '    | ')}`);
  const kinds = new Map<string, number>();
  for (const e of r.exits) kinds.set(e.exit.kind, (kinds.get(e.exit.kind) ?? 0) + 1);
  console.log(`  exits: ${r.exits.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); console bytes ${r.console.length}; device exits ${r.deviceExits} (forwarded ${r.forwarded}); stray ${r.strayExits}; end ${r.end}`);
  r.waits.forEach((w, i) => console.log(`  wait ${i + 1}: ${w.wakeups} VMM wake-ups, KVM_RUN blocked ${ms(w.blockedNs)} ms`));
}

// The guest DTB of the run, kept for the checks below.
let dtb: Uint8Array | undefined;
const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
const makeDtb = (p: Placement, irqFlags: number): Uint8Array => (dtb = guestDtb({
  hostDtb, deviceName: '9010000.pl031', regionGpa: p.regionGpa, spi: p.spi, irqFlags,
  ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bus: LAYOUT.bus,
}));

test('mini-vmm: the guest reads the pl031 PrimeCell ID through the passthrough memslot, takes two alarm IRQs via irqfd, powers off', () => {
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = runGuest({ guest, dtb: (p, dev) => makeDtb(p, dev.irqs[0]!.flags), onLine: (l, t) => console.log(`  [${t.toFixed(1)} ms] guest: ${l}`) });
  console.log(`  run: ${ms(process.hrtime.bigint() - t0)} ms`);
  show(r);
  assert.ok(r.console.startsWith('DTB d00dfeed\nID 0d f0 05 b1\n'), 'the DTB magic at x0, then the PrimeCell ID printed by the guest');
  assert.is(r.deviceExits, 0, 'no MMIO exit for the device: its reads went through the memslot');
  assert.is(r.strayExits, 0);
  assert.is(r.consoleDropped, 0);
  // Every exit is a console byte, plus the PSCI SYSTEM_OFF at the end.
  assert.is(r.exits.length, r.console.length + 1, 'exits = console bytes + SYSTEM_OFF');
  assert.is(r.end, 'shutdown', 'PSCI SYSTEM_OFF ended the run');
  const hex = r.placement.intid.toString(16).padStart(3, '0');
  assert.ok(r.console.includes(`IRQ 1 intid ${hex}\n`), 'first alarm taken at the placed INTID');
  assert.ok(r.console.includes(`IRQ 2 intid ${hex}\n`), 'second alarm');
  assert.is(r.waits.length, 2);
  for (const w of r.waits) assert.is(w.wakeups, 0, 'the VMM thread never woke while the guest waited for the IRQ');
  const after = openFds();
  console.log(`  open fds: ${before.length} before, ${after.length} after`);
  assert.equal(after, before, 'open fds equal before and after');
});

test('the guest DTB in x0 describes the device where PlatformBus put it: reg, level SPI, the GIC as parent', () => {
  assert.ok(dtb, 'the run built a DTB');
  const t = parseFdt(dtb!);
  const bus = t.node(`/platform-bus@${LAYOUT.bus.base.toString(16)}`);
  const dev = bus.children().find((n) => n.name.startsWith('pl031@'));
  assert.ok(dev, 'a pl031 node on the platform bus');
  const reg = dev!.prop('reg').u32s();
  const irq = dev!.prop('interrupts').u32s();
  console.log(`  guest DTB: ${dtb!.byteLength} bytes; ${dev!.path} reg <${reg.map((c) => '0x' + c.toString(16)).join(' ')}> interrupts <${irq.join(' ')}>`);
  assert.equal(reg, [0, 0x0c00_0000, 0, 0x1000]);
  assert.equal(irq, [0, 112, 4], 'SPI 112, level-high (VFIO says AUTOMASKED)');
  assert.is(bus.prop('interrupt-parent').u32(), t.node(`/intc@${LAYOUT.gicd.toString(16)}`).phandle);
});

// The same guest with no memslot for the device: every register access exits to the VMM, which
// forwards it to the VFIO mapping. The guest makes 15 device accesses (4 ID reads; per alarm ICR,
// DR, MR, IMSC and the ICR after the IRQ; IMSC at the end): 15 exits here, 0 with the memslot.
const DEVICE_ACCESSES = 4 + 2 * 5 + 1;

test('the same guest with the device trapped instead of mapped: one exit per register access, forwarded by the VMM', () => {
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = runGuest({ guest, deviceMmio: 'trap', dtb: (p, dev) => makeDtb(p, dev.irqs[0]!.flags) });
  console.log(`  run (trap): ${ms(process.hrtime.bigint() - t0)} ms`);
  show(r);
  const deviceRuns = r.exits.filter((e) => e.exit.kind === 'mmio' && e.exit.addr >= r.placement.regionGpa && e.exit.addr < r.placement.regionGpa + 0x1000n);
  const median = deviceRuns.map((e) => e.runNs).sort((a, b) => (a < b ? -1 : 1))[deviceRuns.length >> 1]!;
  console.log(`  trap path: ${r.deviceExits} device exits, forwarding ${(Number(r.forwardNs) / 1e3 / Math.max(1, r.forwarded)).toFixed(1)} us each in the VMM, median KVM_RUN of a device access ${(Number(median) / 1e3).toFixed(1)} us`);
  assert.ok(r.console.startsWith('DTB d00dfeed\nID 0d f0 05 b1\n'), 'same ID through the trap path');
  assert.is(r.deviceExits, DEVICE_ACCESSES);
  assert.is(r.forwarded, DEVICE_ACCESSES);
  assert.is(r.strayExits, 0);
  assert.is(r.end, 'shutdown');
  assert.ok(r.console.includes('IRQ 2 intid'), 'the IRQ path does not depend on how registers are reached');
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test('the comparison: the IRQ relayed through the VMM\'s event loop instead of irqfd wakes the VMM twice per interrupt', async () => {
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = await runGuestRelay({ guest, dtb: (p, dev) => makeDtb(p, dev.irqs[0]!.flags), onLine: (l, t) => console.log(`  [${t.toFixed(1)} ms] guest (relay): ${l}`) });
  console.log(`  run (relay): ${ms(process.hrtime.bigint() - t0)} ms`);
  show(r);
  console.log(`  relay wake-ups: ${r.relayWakeups.map((w) => `${w.what}@${w.at}`).join(' ')}`);
  assert.ok(r.console.includes('IRQ 1 intid') && r.console.includes('IRQ 2 intid'), 'both alarms arrive through the relay');
  assert.is(r.end, 'shutdown');
  assert.is(r.deviceExits, 0);
  assert.is(r.relayWakeups.filter((w) => w.what === 'trigger').length, 2, 'one trigger relayed per alarm');
  assert.is(r.relayWakeups.filter((w) => w.what === 'resample').length, 2, 'one unmask relayed per EOI');
  for (const w of r.waits) assert.ok(w.wakeups >= 1, 'the VMM woke during the wait to carry the trigger');
  assert.equal(openFds(), before, 'open fds equal before and after');
});

// The userspace IRQ mode: vfiokit's state machine (routeIrqs with setLine = KVM_IRQ_LINE, onMmap =
// the memslot deleted/restored), QEMU's vfio-platform scheme. Per alarm: VFIO's trigger wakes the
// VMM (mmap-off, assert), the handler's ICR write traps (forwarded, then trappedAccess: deassert,
// unmask), and 1.1 s later the timer brings the memslot back (mmap-on).
test('the userspace IRQ mode: vfiokit\'s IRQ state machine raises the SPI with KVM_IRQ_LINE and takes the guest\'s acknowledge as a trapped access', async () => {
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = await runGuestMachine({ guest, dtb: (p, dev) => makeDtb(p, dev.irqs[0]!.flags), onLine: (l, t) => console.log(`  [${t.toFixed(1)} ms] guest (machine): ${l}`) });
  console.log(`  run (machine): ${ms(process.hrtime.bigint() - t0)} ms`);
  show(r);
  console.log(`  machine events: ${r.relayWakeups.map((w) => `${w.what}@${w.at}`).join(' ')}`);
  const hex = r.placement.intid.toString(16).padStart(3, '0');
  assert.ok(r.console.includes(`IRQ 1 intid ${hex}\n`) && r.console.includes(`IRQ 2 intid ${hex}\n`), 'both alarms arrive through the state machine');
  assert.is(r.end, 'shutdown');
  const count = (w: string): number => r.relayWakeups.filter((x) => x.what === w).length;
  assert.ok(count('assert') >= 2, 'the machine raised the line for each alarm');
  assert.is(count('deassert'), count('assert'), 'and lowered it as often, on the trapped acknowledge');
  assert.ok(count('mmap-off') >= 2, 'direct MMIO went off for each alarm');
  assert.ok(r.forwarded >= 2 && r.deviceExits === r.forwarded, 'the acknowledges trapped and were forwarded to the mapping');
  assert.is(r.strayExits, 0);
  for (const w of r.waits) assert.ok(w.wakeups >= 1, 'the VMM woke during the wait to raise the line');
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

// Runs INSIDE the lab guest (arm64, KVM under TCG-emulated EL2): the mini-vmm (examples/mini-vmm)
// runs its bare-metal guest (guest/pl031.S) with the pl031 passed through. Shown here:
// - the guest reads the PrimeCell ID 0d f0 05 b1 through the memslot over the VFIO mapping, at the
//   address PlatformBus chose, with zero MMIO exits for the device;
// - two pl031 alarms reach the guest through VFIO -> eventfd -> KVM irqfd (resample: level) -> vGICv3,
//   acknowledged with ICC_IAR1_EL1 and EOId, with zero VMM wake-ups while the guest waits;
// - the guest DTB passed in x0 (built with vfiokit's guestNodeFor);
// - the open fds are the same before and after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import guest from '../../build/guest/pl031.bin';
import { runGuest, type RunReport } from '../../examples/mini-vmm/vmm';
import { openFds } from '../support/fds';

const ms = (ns: bigint): string => (Number(ns) / 1e6).toFixed(1);

function show(r: RunReport): void {
  console.log(`  placement: pl031 at 0x${r.placement.regionGpa.toString(16)}, SPI ${r.placement.spi} (INTID ${r.placement.intid})`);
  console.log(`  guest console:\n${r.console.replace(/^/gm, '    | ')}`);
  const kinds = new Map<string, number>();
  for (const e of r.exits) kinds.set(e.exit.kind, (kinds.get(e.exit.kind) ?? 0) + 1);
  console.log(`  exits: ${r.exits.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); console bytes ${r.console.length}; device exits ${r.deviceExits}; stray ${r.strayExits}; end ${r.end}`);
  r.waits.forEach((w, i) => console.log(`  wait ${i + 1}: ${w.wakeups} VMM wake-ups, KVM_RUN blocked ${ms(w.blockedNs)} ms`));
}

test('mini-vmm: the guest reads the pl031 PrimeCell ID through the passthrough memslot, takes two alarm IRQs via irqfd, powers off', () => {
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = runGuest({ guest, onLine: (l, t) => console.log(`  [${t.toFixed(1)} ms] guest: ${l}`) });
  console.log(`  run: ${ms(process.hrtime.bigint() - t0)} ms`);
  show(r);
  assert.ok(r.console.startsWith('ID 0d f0 05 b1\n'), 'PrimeCell ID printed by the guest');
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
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

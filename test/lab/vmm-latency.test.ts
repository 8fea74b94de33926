// Runs INSIDE the lab guest: the IRQ latency of the mini-VMM's three IRQ paths, in one process,
// with the guest measuring itself on its virtual counter (examples/mini-vmm/guest/latency.S): per
// pl031 alarm, delivery (the device raises its line -> the guest's handler) and acknowledge (the
// handler's ICR write and EOI). Paths: irqfd (VFIO -> KVM, no VMM code), the userspace state
// machine (vfiokit's IrqMachine, KVM_IRQ_LINE, the acknowledge trapped), the relay (the VMM's
// event loop between VFIO's and KVM's eventfds). Reported: the medians and the ratios to irqfd.
// Asserted: every round measured on every path; irqfd needs no VMM wake-up; the state machine
// wakes the VMM and traps the acknowledge, so its round trip is longer than irqfd's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import guest from '../../build/guest/latency.bin';
import { measureLatency, median, type LatencyRun } from '../../examples/mini-vmm/latency';
import type { IrqMode } from '../../examples/mini-vmm/vmm';
import { openFds } from '../support/fds';

const ROUNDS = 7; // .equ ROUNDS in guest/latency.S
const us = (ns: number): string => (ns / 1e3).toFixed(1);
const runs = new Map<IrqMode, LatencyRun>();

for (const mode of ['irqfd', 'machine', 'relay'] as const) {
  test(`latency guest, ${mode}: ${ROUNDS} alarms timed by the guest`, async () => {
    const before = openFds();
    const r = await measureLatency(mode, { guest });
    runs.set(mode, r);
    const d = r.rounds.map((x) => x.deliveryNs), a = r.rounds.map((x) => x.ackNs);
    console.log(`  ${mode}: CNTFRQ ${r.freqHz} Hz; delivery us ${d.map(us).join(' ')}; acknowledge us ${a.map(us).join(' ')}`);
    console.log(`  ${mode}: exits ${r.report.exits.length}, device exits ${r.report.deviceExits}, VMM IRQ events ${r.report.relayWakeups.length} (${r.report.relayWakeups.map((w) => w.what).join(' ')})`);
    // Where the VMM's time goes on the device exits (machine: the trapped acknowledges): the
    // KVM_RUN that ended in the exit, as the VMM saw it (async: with the thread-pool hop), and
    // the VMM's own handling (forward, trappedAccess and its ioctls).
    const dev = r.report.exits.filter((e) => e.exit.kind === 'mmio' && e.exit.addr >= r.report.placement.regionGpa && e.exit.addr < r.report.placement.regionGpa + 0x1000n);
    if (dev.length) console.log(`  ${mode}: device exits: handling us ${dev.map((e) => us(Number(e.handleNs))).join(' ')}`);
    assert.is(r.rounds.length, ROUNDS, 'one result line per alarm');
    for (const x of r.rounds) assert.ok(x.deliveryNs > 0 && x.ackNs > 0, 'counter moved forward');
    if (mode === 'irqfd') {
      assert.is(r.report.relayWakeups.length, 0);
      assert.is(r.report.deviceExits, 0, 'every device access through the memslot');
    } else if (mode === 'machine') {
      assert.ok(r.report.relayWakeups.filter((w) => w.what === 'assert').length >= ROUNDS, 'the machine raised the line per alarm');
      assert.ok(r.report.deviceExits >= ROUNDS, 'each acknowledge trapped');
    } else {
      assert.ok(r.report.relayWakeups.filter((w) => w.what === 'trigger').length >= ROUNDS, 'the relay carried each trigger');
    }
    assert.equal(openFds(), before, 'open fds equal before and after');
  });
}

test('the ratios: userspace paths against irqfd, medians of the same run', () => {
  const base = runs.get('irqfd');
  assert.ok(base && runs.size === 3, 'all three paths measured');
  const m = (r: LatencyRun, k: 'deliveryNs' | 'ackNs' | 'roundTripNs'): number => median(r.rounds.map((x) => x[k]));
  const span = (r: LatencyRun): string => { const v = r.rounds.map((x) => x.roundTripNs); return `${us(Math.min(...v))}..${us(Math.max(...v))}`; };
  console.log('  medians of ROUNDS alarms, us: path, delivery, acknowledge, round trip (its min..max), ratio of round trips to irqfd');
  for (const [mode, r] of runs) {
    console.log(`  ${mode.padEnd(8)} ${us(m(r, 'deliveryNs')).padStart(9)} ${us(m(r, 'ackNs')).padStart(9)} ${us(m(r, 'roundTripNs')).padStart(9)} (${span(r)})  ${(m(r, 'roundTripNs') / m(base!, 'roundTripNs')).toFixed(2)}`);
  }
  console.log(`@@VFIOKIT-LATENCY@@ ${JSON.stringify(Object.fromEntries([...runs].map(([k, r]) => [k, r.rounds])))}`);
  assert.ok(m(runs.get('machine')!, 'roundTripNs') > m(base!, 'roundTripNs'), 'the state machine path (VMM wake-up, KVM_IRQ_LINE, trapped acknowledge) is slower than irqfd');
});

test.run();

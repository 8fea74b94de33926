// Runs INSIDE the lab guest: irqfd wiring through the device API against a real KVM VM with a
// vGICv3. The pl031 line is routed to KVM (wireIrqfd): an alarm then goes to the VM, not to the
// VMM's setLine; unwired, the next alarm comes back to userspace through the IRQ machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice } from '../../src/index';
import { countFds } from '../support/fds';
import { vmWithGic } from '../support/kvm-lab';
import { Undo } from '../support/shim-lab';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DR = 0x00, MR = 0x04, IMSC = 0x10, ICR = 0x1c;

test('wireIrqfd routes the pl031 alarm to KVM (setLine stays silent); unwireIrqfd brings the next alarm back to userspace', async () => {
  const before = countFds();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(undo);
    const m = dev.regions[0]!.map();
    const lines: boolean[] = [];
    const actions: string[] = [];
    const routing = dev.routeIrqs({ setLine: (_i, l) => { lines.push(l); }, onAction: (a) => actions.push(a.kind) });
    const fdsRouted = countFds();
    routing.wireIrqfd(0, vm, 5);
    assert.equal(actions, ['mask', 'kvm-irqfd-assign', 'set-trigger', 'set-unmask-fd', 'unmask']);
    assert.is(routing.machine.line(0).state, 'wired');
    assert.is(countFds(), fdsRouted + 2, 'an irqfd and a resample eventfd');
    m.write32(ICR, 1); m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1);
    await sleep(2600);
    assert.ok(m.read32(0x14) & 1, 'the RTC raised its interrupt');
    assert.equal(lines, [], 'the wired line did not reach userspace');
    m.write32(IMSC, 0); m.write32(ICR, 1);
    actions.length = 0;
    routing.unwireIrqfd(0);
    assert.equal(actions, ['mask', 'set-unmask-fd', 'set-trigger', 'kvm-irqfd-deassign', 'unmask']);
    assert.is(countFds(), fdsRouted);
    m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1);
    for (let i = 0; i < 300 && lines.length === 0; i++) await sleep(10);
    assert.equal(lines, [true], 'after unwire the alarm is delivered to userspace again');
    m.write32(IMSC, 0); m.write32(ICR, 1);
    routing.trappedAccess();
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), before);
});

test('a wired line is unwired by close(): the irqfd is deassigned and every fd closed', () => {
  const before = countFds();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(undo);
    dev.routeIrqs({ setLine() {} }).wireIrqfd(0, vm, 6);
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), before);
});

test.run();

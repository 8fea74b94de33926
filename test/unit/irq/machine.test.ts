// The IRQ machine's behaviour, case by case, through the TypeScript wrapper.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IrqMachine, LEVEL_FLAGS, EDGE_FLAGS, ROUTE_KVM, ROUTE_USER, VFIO_IRQ_INFO_NORESIZE, type IrqAction } from '../../../src/core/irq-machine';
import { VfioError } from '../../../src/errors';

const MS = 1_000_000n;
const T = 1100n * MS; // the default timeout

/** Actions as compact strings: "kind(index)" or "kind(index,arg)" when arg != 0. */
const s = (acts: IrqAction[]) => acts.map((a) => (a.arg === 0n ? `${a.kind}(${a.index})` : `${a.kind}(${a.index},${a.arg})`));

function platform(lines: ('level' | 'edge')[], timeoutNs?: bigint): IrqMachine {
  const m = new IrqMachine('platform', timeoutNs === undefined ? {} : { timeoutNs });
  lines.forEach((l, i) => m.declareLine(i, { level: l === 'level' }));
  m.start();
  return m;
}

test('first fire traps MMIO before it asserts the guest line', () => {
  using m = platform(['level']);
  assert.equal(s(m.fire(0, 10n)), ['mmap-disable(0)', 'assert-line(0)']);
  assert.is(m.info().state, 'busy');
  assert.is(m.line(0).state, 'active');
});

test('EOI of a level IRQ deasserts, unmasks and arms the mmap timer for now + 1100 ms', () => {
  using m = platform(['level']);
  m.fire(0, 10n);
  assert.equal(s(m.trappedAccess(20n)), ['deassert-line(0)', 'unmask(0)', `arm-timer(0,${20n + T})`]);
  assert.is(m.info().state, 'idle-trapped');
});

test('EOI of an edge IRQ does not unmask', () => {
  using m = platform(['edge']);
  m.fire(0, 10n);
  assert.equal(s(m.trappedAccess(20n)), ['deassert-line(0)', `arm-timer(0,${20n + T})`]);
});

test('edge IRQ while another is active is queued, not injected', () => {
  using m = platform(['level', 'edge']);
  m.fire(0, 1n);
  assert.equal(m.fire(1, 2n), []);
  assert.is(m.line(1).state, 'pending');
  assert.is(m.info().queueLength, 1);
});

test('EOI injects the next pending IRQ in FIFO order and arms no timer', () => {
  using m = platform(['edge', 'edge', 'edge']);
  m.fire(0, 1n);
  m.fire(2, 2n);
  m.fire(1, 3n);
  assert.equal(s(m.trappedAccess(4n)), ['deassert-line(0)', 'assert-line(2)']);
  assert.equal(s(m.trappedAccess(5n)), ['deassert-line(2)', 'assert-line(1)']);
  assert.equal(s(m.trappedAccess(6n)), ['deassert-line(1)', `arm-timer(0,${6n + T})`]);
});

test('edge IRQ that fires again while PENDING is coalesced', () => {
  using m = platform(['level', 'edge']);
  m.fire(0, 1n);
  m.fire(1, 2n);
  assert.equal(m.fire(1, 3n), []);
  assert.is(m.info().queueLength, 1, 'queued once, not twice as QEMU does');
  const l = m.line(1);
  assert.is(l.fires, 2n);
  assert.is(l.coalesced, 1n);
  m.trappedAccess(4n);
  m.trappedAccess(5n);
  assert.is(m.line(1).delivered, 1n);
});

test('edge IRQ that fires again while ACTIVE is delivered again after its EOI', () => {
  using m = platform(['edge']);
  m.fire(0, 1n);
  assert.equal(m.fire(0, 2n), []);
  assert.is(m.line(0).state, 'active-pending');
  assert.equal(s(m.trappedAccess(3n)), ['deassert-line(0)', 'assert-line(0)']);
  assert.is(m.line(0).delivered, 2n);
});

test('level IRQ that fires again while ACTIVE is coalesced (the line is automasked)', () => {
  using m = platform(['level']);
  m.fire(0, 1n);
  assert.equal(m.fire(0, 2n), []);
  assert.is(m.line(0).coalesced, 1n);
  assert.equal(s(m.trappedAccess(3n)), ['deassert-line(0)', 'unmask(0)', `arm-timer(0,${3n + T})`]);
});

test('trapped access with nothing active does nothing', () => {
  using m = platform(['level']);
  assert.equal(m.trappedAccess(5n), []);
  assert.is(m.info().state, 'idle-mapped');
});

test('the timer re-enables mapping once nothing is active', () => {
  using m = platform(['level']);
  m.fire(0, 0n);
  m.trappedAccess(10n);
  assert.equal(s(m.timer(10n + T)), ['mmap-enable(0)']);
  const i = m.info();
  assert.is(i.state, 'idle-mapped');
  assert.is(i.timerArmed, false);
});

test('a timer that fires while an IRQ is active re-arms instead of mapping', () => {
  using m = platform(['level']);
  m.fire(0, 0n);
  m.trappedAccess(10n);
  m.fire(0, 20n); // mapping is still off: no mmap-disable
  assert.equal(s(m.timer(10n + T)), [`arm-timer(0,${10n + T + T})`]);
  assert.is(m.info().mapped, false);
});

test('a fire while the mapping is already trapped asserts without mmap-disable', () => {
  using m = platform(['level']);
  m.fire(0, 0n);
  m.trappedAccess(10n);
  assert.equal(s(m.fire(0, 20n)), ['assert-line(0)']);
});

test('a timer callback that came early is re-armed for the same deadline', () => {
  using m = platform(['level']);
  m.fire(0, 0n);
  m.trappedAccess(10n);
  assert.equal(s(m.timer(11n)), [`arm-timer(0,${10n + T})`]);
});

test('the timeout is configurable', () => {
  using m = platform(['edge'], 5n * MS);
  m.fire(0, 0n);
  assert.equal(s(m.trappedAccess(1n)), ['deassert-line(0)', `arm-timer(0,${1n + 5n * MS})`]);
  assert.is(m.info().timeoutNs, 5n * MS);
});

test('wiring a level line masks, assigns irqfd with resample, sets trigger and unmask fd, unmasks', () => {
  using m = platform(['edge', 'level']);
  assert.equal(s(m.wire(1)), ['mask(1)', 'kvm-irqfd-assign(1,1)', `set-trigger(1,${ROUTE_KVM})`, 'set-unmask-fd(1,1)', 'unmask(1)']);
  assert.is(m.line(1).state, 'wired');
});

test('wiring an edge line sets the trigger only', () => {
  using m = platform(['edge']);
  assert.equal(s(m.wire(0)), ['kvm-irqfd-assign(0)', `set-trigger(0,${ROUTE_KVM})`]);
});

test('unwiring a level line undoes the wiring in reverse', () => {
  using m = platform(['level']);
  m.wire(0);
  const steps = m.unwire(0);
  assert.equal(s(steps), ['mask(0)', 'set-unmask-fd(0)', 'set-trigger(0)', 'kvm-irqfd-deassign(0)', 'unmask(0)']);
  assert.is(steps[2]!.arg, ROUTE_USER, 'the trigger goes back to the userspace eventfd');
  assert.is(m.line(0).state, 'inactive');
});

test('a resample fd is given for any IRQ index, not only index 0', () => {
  using m = platform(['edge', 'edge', 'edge', 'level']);
  assert.ok(s(m.wire(3)).includes('set-unmask-fd(3,1)'));
});

test('a wired line refuses userspace fire', () => {
  using m = platform(['level']);
  m.wire(0);
  try { m.fire(0, 1n); assert.unreachable(); } catch (e) {
    assert.instance(e, VfioError);
    assert.is((e as VfioError).kind, 'bad-state');
    assert.is((e as VfioError).statusName, 'IRQ_WIRED');
  }
});

test('PCI: enabling MSI switches INTx off first', () => {
  using m = new IrqMachine('pci');
  m.declareLine(0, LEVEL_FLAGS, 1);
  m.declareLine(1, EDGE_FLAGS | VFIO_IRQ_INFO_NORESIZE, 8);
  m.declareLine(2, EDGE_FLAGS | VFIO_IRQ_INFO_NORESIZE, 64);
  m.start();
  assert.equal(s(m.setPciMode('intx')), ['enable-index(0,1)']);
  assert.equal(s(m.setPciMode('msi', 4)), ['disable-index(0)', 'enable-index(1,4)']);
  assert.equal(s(m.setPciMode('msix', 64)), ['disable-index(1)', 'enable-index(2,64)']);
  assert.equal(s(m.setPciMode('msi', 8)), ['disable-index(2)', 'enable-index(1,8)']);
  assert.equal(s(m.setPciMode('none')), ['disable-index(1)']);
  assert.is(m.info().pciMode, 'none');
});

test('PCI: switching INTx off while it is active deasserts, drops nothing silently and maps again', () => {
  using m = new IrqMachine('pci');
  m.declareLine(0, LEVEL_FLAGS, 1);
  m.declareLine(1, EDGE_FLAGS | VFIO_IRQ_INFO_NORESIZE, 1);
  m.start();
  m.setPciMode('intx');
  assert.equal(s(m.fire(0, 1n)), ['mmap-disable(0)', 'assert-line(0)']);
  assert.equal(s(m.setPciMode('msi', 1)), ['deassert-line(0)', 'disable-index(0)', 'mmap-enable(0)', 'enable-index(1,1)']);
  const i = m.info();
  assert.is(i.mapped, true);
  assert.is(i.active, undefined);
});

test('PCI: an INTx fire still queued when INTx is switched off is counted as dropped', () => {
  using m = new IrqMachine('pci');
  m.declareLine(0, EDGE_FLAGS, 1); // an edge INTx (no real kernel reports one) can be re-queued while ACTIVE
  m.start();
  m.setPciMode('intx');
  m.fire(0, 1n);
  m.fire(0, 2n);
  assert.is(m.line(0).state, 'active-pending');
  assert.equal(s(m.setPciMode('none')), ['deassert-line(0)', 'disable-index(0)', 'mmap-enable(0)']);
  const l = m.line(0);
  assert.is(l.dropped, 1n);
  assert.is(l.fires, l.delivered + l.coalesced + l.dropped);
  assert.is(m.info().queueLength, 0);
});

test('PCI: INTx switched off with the mmap timer armed cancels it', () => {
  using m = new IrqMachine('pci');
  m.declareLine(0, LEVEL_FLAGS, 1);
  m.start();
  m.setPciMode('intx');
  m.fire(0, 1n);
  m.trappedAccess(2n);
  assert.equal(s(m.setPciMode('none')), ['disable-index(0)', 'cancel-timer(0)', 'mmap-enable(0)']);
  assert.is(m.info().timerArmed, false);
});

test('PCI: switching off a wired INTx disables the index, then removes the irqfd', () => {
  using m = new IrqMachine('pci');
  m.declareLine(0, LEVEL_FLAGS, 1);
  m.start();
  m.setPciMode('intx');
  m.wire(0);
  assert.equal(s(m.setPciMode('none')), ['disable-index(0)', 'kvm-irqfd-deassign(0)']);
});

test('PCI: MSI-X grows in place when the kernel allows resizing', () => {
  using m = new IrqMachine('pci');
  m.declareLine(2, EDGE_FLAGS, 16);
  m.start();
  m.setPciMode('msix', 2);
  assert.equal(s(m.setPciMode('msix', 8)), ['enable-index(2,8)']);
  assert.equal(s(m.setPciMode('msix', 4)), ['disable-index(2)', 'enable-index(2,4)'], 'shrinking re-enables');
  assert.equal(m.setPciMode('msix', 4), [], 'same mode and count: nothing to do');
});

test('PCI: a vector count beyond the declared count is refused', () => {
  using m = new IrqMachine('pci');
  m.declareLine(1, EDGE_FLAGS | VFIO_IRQ_INFO_NORESIZE, 4);
  m.start();
  assert.throws(() => m.setPciMode('msi', 5), (e: VfioError) => e.statusName === 'IRQ_COUNT');
  assert.throws(() => m.setPciMode('msi', 0), (e: VfioError) => e.statusName === 'IRQ_COUNT');
  assert.is(m.info().pciMode, 'none');
});

test('declaring more than the PCI spec allows is refused', () => {
  using m = new IrqMachine('pci');
  assert.throws(() => m.declareLine(1, EDGE_FLAGS, 33), (e: VfioError) => e.statusName === 'IRQ_COUNT');
  assert.throws(() => m.declareLine(2, EDGE_FLAGS, 2049), (e: VfioError) => e.statusName === 'IRQ_COUNT');
  m.declareLine(2, EDGE_FLAGS, 2048);
});

test('flags without EVENTFD, or AUTOMASKED without MASKABLE, are refused', () => {
  using m = new IrqMachine('platform');
  assert.throws(() => m.declareLine(0, 0), (e: VfioError) => e.statusName === 'IRQ_FLAGS' && e.kind === 'bad-argument');
  assert.throws(() => m.declareLine(0, 0b101), (e: VfioError) => e.statusName === 'IRQ_FLAGS');
});

test('time that goes backwards is refused and changes nothing', () => {
  using m = platform(['edge']);
  m.fire(0, 100n);
  assert.throws(() => m.trappedAccess(99n), (e: VfioError) => e.statusName === 'IRQ_TIME_BACKWARDS');
  assert.is(m.line(0).state, 'active');
});

test('use after close throws kind closed; closing twice is harmless', () => {
  const m = platform(['edge']);
  m.close();
  m.close();
  assert.ok(m.closed);
  assert.throws(() => m.fire(0, 1n), (e: VfioError) => e.kind === 'closed');
  assert.throws(() => m.info(), (e: VfioError) => e.kind === 'closed');
});

test('the machine table is bounded: the 65th machine is refused with no-space, and slots are reused', () => {
  const ms: IrqMachine[] = [];
  try {
    for (let i = 0; i < 64; i++) ms.push(new IrqMachine('platform'));
    assert.throws(() => new IrqMachine('platform'), (e: VfioError) => e.kind === 'no-space');
    ms.pop()!.close();
    ms.push(new IrqMachine('platform'));
  } finally {
    for (const m of ms) m.close();
  }
});

test.run();

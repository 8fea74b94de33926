// The latency guest's console parser (examples/mini-vmm/latency.ts) and the KVM_IRQ_LINE struct
// the userspace IRQ mode uses (abi.ts irqLevel): pure, checked here; the runs are lab tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { median, parseLatency } from '../../../examples/mini-vmm/latency';
import { irqLevel } from '../../../src/vmm/abi';

test('parseLatency converts counter ticks to ns with the guest\'s CNTFRQ', () => {
  // 62.5 MHz: 16 ns per tick. 0x3e8 = 1000 ticks = 16 us; 0x64 = 100 ticks = 1.6 us.
  const r = parseLatency('F 03b9aca0\nL 000003e8 00000064\nL 00000010 00000001\noff\n'.replace('03b9aca0', (62_500_000).toString(16).padStart(8, '0')));
  assert.is(r.freqHz, 62_500_000);
  assert.is(r.rounds.length, 2);
  assert.is(r.rounds[0]!.deliveryNs, 16_000);
  assert.is(r.rounds[0]!.ackNs, 1_600);
  assert.is(r.rounds[0]!.roundTripNs, 17_600);
  assert.is(r.rounds[1]!.deliveryNs, 256);
});

test('parseLatency refuses a console without the frequency, a zero frequency, or a broken result line', () => {
  assert.throws(() => parseLatency('L 00000001 00000001\n'), /no "F <frequency>"/);
  assert.throws(() => parseLatency('F 00000000\n'), /CNTFRQ_EL0 is 0/);
  assert.throws(() => parseLatency('F 00000010\nL 0001 00000001\n'), /malformed line/);
});

test('median: odd, even, unsorted; nothing is an error', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /nothing/);
});

test('irqLevel: struct kvm_irq_level for an SPI: type 1 << 24 | INTID, then the level', () => {
  const b = irqLevel(112, true);
  assert.is(b.byteLength, 8);
  assert.equal([...b], [144, 0, 0, 1, 1, 0, 0, 0]);
  assert.equal([...irqLevel(0, false)], [32, 0, 0, 1, 0, 0, 0, 0]);
});

test.run();

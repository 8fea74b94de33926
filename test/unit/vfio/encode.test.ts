// Encoders: whole expected byte layouts, annotated by offset, and the arguments they refuse.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeIrqSet, encodeDmaMap, encodeDmaUnmap, MAX_IRQS, VFIO_PCI_MSIX_IRQ_INDEX } from '../../../src/vfio/index';
import { VfioError } from '../../../src/errors';
import { hex } from './replies';

const statusOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e.statusName ?? e.kind; throw e; }
  return 'OK';
};

test('irq_set TRIGGER|DATA_EVENTFD for MSI-X vectors 1..3, vector 2 detached (-1)', () => {
  const b = encodeIrqSet({ index: VFIO_PCI_MSIX_IRQ_INDEX, start: 1, action: 'trigger', fds: [17, -1, 23] });
  assert.equal([...b], [...hex(`
    20 00 00 00   // @0  argsz = 32 (20 + 3 * 4)
    24 00 00 00   // @4  flags = ACTION_TRIGGER (0x20) | DATA_EVENTFD (0x4)
    02 00 00 00   // @8  index = 2 (MSI-X)
    01 00 00 00   // @12 start = 1
    03 00 00 00   // @16 count = 3
    11 00 00 00   // @20 fd 17
    ff ff ff ff   // @24 -1: detach
    17 00 00 00   // @28 fd 23`)]);
});

test('irq_set UNMASK|DATA_NONE for INTx (what a level line needs after EOI)', () => {
  assert.equal([...encodeIrqSet({ index: 0, action: 'unmask', count: 1 })], [...hex(`
    14 00 00 00   // @0  argsz = 20
    11 00 00 00   // @4  flags = ACTION_UNMASK (0x10) | DATA_NONE (0x1)
    00 00 00 00   // @8  index 0
    00 00 00 00   // @12 start 0
    01 00 00 00   // @16 count 1`)]);
});

test('irq_set MASK|DATA_BOOL, and TRIGGER|DATA_NONE count 0 (disable the index)', () => {
  assert.equal([...encodeIrqSet({ index: 2, start: 4, action: 'mask', bools: [true, false, true] })], [...hex(`
    17 00 00 00   // @0  argsz = 23
    0a 00 00 00   // @4  flags = ACTION_MASK (0x8) | DATA_BOOL (0x2)
    02 00 00 00 04 00 00 00 03 00 00 00   // @8 index 2, @12 start 4, @16 count 3
    01 00 01      // @20 data`)]);
  assert.equal([...encodeIrqSet({ index: 1, action: 'trigger', count: 0 })], [...hex('14000000 21000000 01000000 00000000 00000000')]);
});

test('irq_set refuses fds below -1, two data kinds, and ranges past MAX_IRQS', () => {
  assert.is(statusOf(() => encodeIrqSet({ index: 0, action: 'trigger', fds: [-2] })), 'bad-argument');
  assert.is(statusOf(() => encodeIrqSet({ index: 0, action: 'trigger', fds: [3], count: 1 })), 'bad-argument');
  assert.is(statusOf(() => encodeIrqSet({ index: 2, start: MAX_IRQS - 1, action: 'trigger', fds: [3, 4] })), 'VFIO_TOO_MANY');
  assert.is(statusOf(() => encodeIrqSet({ index: 2, start: MAX_IRQS - 2, action: 'trigger', fds: [3, 4] })), 'OK');
});

test('dma_map READ|WRITE of 8 KiB', () => {
  assert.equal([...encodeDmaMap({ vaddr: 0x7f12_3456_0000n, iova: 0x10_0000n, size: 0x2000n })], [...hex(`
    20 00 00 00   // @0  argsz = 32
    03 00 00 00   // @4  flags = READ | WRITE
    00 00 56 34 12 7f 00 00   // @8  vaddr
    00 00 10 00 00 00 00 00   // @16 iova = 0x100000
    00 20 00 00 00 00 00 00   // @24 size = 0x2000`)]);
  assert.equal([...encodeDmaMap({ vaddr: 0x1000n, iova: 0n, size: 0x1000n, write: false }).subarray(4, 8)], [1, 0, 0, 0], 'read-only');
});

test('dma_map refuses size 0 and ranges that wrap past 2^64', () => {
  assert.is(statusOf(() => encodeDmaMap({ vaddr: 0x1000n, iova: 0n, size: 0n })), 'BAD_ARG');
  assert.is(statusOf(() => encodeDmaMap({ vaddr: 0x1000n, iova: (1n << 64n) - 0x1000n, size: 0x2000n })), 'OVERFLOW');
  assert.is(statusOf(() => encodeDmaMap({ vaddr: 0x1000n, iova: (1n << 64n) - 0x1000n, size: 0x1000n })), 'OK', 'ending at 2^64-1 is fine');
});

test('dma_unmap of a range, and of everything', () => {
  assert.equal([...encodeDmaUnmap({ iova: 0x10_0000n, size: 0x2000n })], [...hex(`
    18 00 00 00   // @0  argsz = 24
    00 00 00 00   // @4  flags = 0
    00 00 10 00 00 00 00 00   // @8  iova
    00 20 00 00 00 00 00 00   // @16 size`)]);
  assert.equal([...encodeDmaUnmap({ all: true })], [...hex('18000000 02000000 0000000000000000 0000000000000000')]);
  assert.is(statusOf(() => encodeDmaUnmap({ all: true, iova: 0x1000n, size: 0x1000n })), 'BAD_ARG');
  assert.is(statusOf(() => encodeDmaUnmap({ iova: 0x1000n, size: 0n })), 'BAD_ARG');
});

test.run();

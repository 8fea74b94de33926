// isPlainDmaRange (src/device/dma.ts), the comparison-only test mapDma/unmapDma try first, against
// checkDmaRange, the full checks it stands in for: whatever it accepts, checkDmaRange accepts too,
// and it accepts every valid range below 2^53; whatever it refuses goes to checkDmaRange, which
// answers as before (test/unit/api/device-irq-dma.test.ts checks those errors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkDmaRange, isPlainDmaRange } from '../../../src/device/dma';
import { systemPageSize } from '../../../src/device/context';

const U64 = 2n ** 64n, TWO_53 = 2n ** 53n, PAGE = BigInt(systemPageSize());
/** Values with the edges weighted in: 0, pages, around 2^53 and 2^64, negatives, unaligned. */
const value = fc.oneof(
  fc.bigInt({ min: 0n, max: 0x1_0000_0000n }).map((v) => v * PAGE),
  fc.constantFrom(0n, 1n, PAGE, PAGE - 1n, TWO_53 - PAGE, TWO_53, TWO_53 + PAGE, U64 - PAGE, U64, -PAGE),
  fc.bigInt({ min: -1n, max: U64 }),
  fc.bigInt({ min: TWO_53 - 0x10000n, max: TWO_53 + 0x10000n }),
);
const passes = (iova: bigint, size: bigint): boolean => { try { checkDmaRange(iova, size, 'dev', 'test'); return true; } catch { return false; } };

test('isPlainDmaRange accepts exactly the valid ranges whose IOVA and size are below 2^53', () => {
  fc.assert(fc.property(value, value, (iova, size) => {
    const plain = isPlainDmaRange(iova, size);
    if (plain) assert.ok(passes(iova, size), `plain but refused: ${iova} ${size}`);
    assert.is(plain, passes(iova, size) && iova < TWO_53 && size < TWO_53, `${iova} ${size}`);
  }), { numRuns: 5000 });
});

test('with a host address, both ranges must be plain', () => {
  fc.assert(fc.property(value, value, value, (iova, size, host) => {
    assert.is(isPlainDmaRange(iova, size, host), isPlainDmaRange(iova, size) && isPlainDmaRange(host, size), `${iova} ${size} ${host}`);
  }), { numRuns: 5000 });
});

test('anything but bigints is not plain (checkDmaRange then says what is wrong)', () => {
  assert.is(isPlainDmaRange(4096 as unknown as bigint, 4096n), false);
  assert.is(isPlainDmaRange(4096n, '4096' as unknown as bigint), false);
  assert.is(isPlainDmaRange(4096n, 4096n, 4096 as unknown as bigint), false);
  assert.is(passes(4096 as unknown as bigint, 4096n), false);
});

test.run();

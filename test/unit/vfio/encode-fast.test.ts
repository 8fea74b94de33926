// The TypeScript twins of the core's DMA encoders (encodeDmaMapInto, encodeDmaUnmapInto, and their
// word-view forms encodeDmaMapWords, encodeDmaUnmapWords: the hot path of mapDma/unmapDma) against
// the core's own (encodeDmaMap, encodeDmaUnmap): for any input, the same bytes, or the same error
// (kind, status and message).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeDmaMap, encodeDmaMapInto, encodeDmaMapWords, encodeDmaUnmap, encodeDmaUnmapInto, encodeDmaUnmapWords } from '../../../src/vfio/encode';
import { structWords } from '../../../shim/bytes';
import { VfioError } from '../../../src/errors';

type Outcome = { bytes: number[] } | { kind: string; status: number | undefined; message: string };
function outcome(fn: () => Uint8Array): Outcome {
  try { return { bytes: [...fn()] }; } catch (e) {
    if (!(e instanceof VfioError)) throw e;
    return { kind: e.kind, status: e.status, message: e.message };
  }
}

const U64 = 2n ** 64n;
/** u64 values with the edges weighted in: 0, 1, a page, near 2^64, and outside [0, 2^64). */
const big = fc.oneof(
  fc.bigInt({ min: 0n, max: U64 - 1n }),
  fc.constantFrom(0n, 1n, 0x1000n, U64 - 1n, U64 - 0x1000n, U64, -1n),
  fc.bigInt({ min: U64 - 0x10000n, max: U64 - 1n }),
  fc.bigInt({ min: 0n, max: 0x1_0000_0000n }),
);

test('encodeDmaMapInto answers what the core answers, bytes or error', () => {
  fc.assert(fc.property(big, big, big, fc.boolean(), fc.boolean(), (vaddr, iova, size, read, write) => {
    const out = new Uint8Array(32).fill(0xee);
    assert.equal(outcome(() => encodeDmaMapInto(out, vaddr, iova, size, read, write)), outcome(() => encodeDmaMap({ vaddr, iova, size, read, write })));
  }), { numRuns: 5000 });
});

test('encodeDmaUnmapInto answers what the core answers, bytes or error', () => {
  fc.assert(fc.property(big, big, (iova, size) => {
    const out = new Uint8Array(24).fill(0xee);
    assert.equal(outcome(() => encodeDmaUnmapInto(out, iova, size)), outcome(() => encodeDmaUnmap({ iova, size })));
  }), { numRuns: 5000 });
});

test('encodeDmaMapWords answers what the core answers, bytes or error, over a reused struct', () => {
  const out = structWords(32);
  fc.assert(fc.property(big, big, big, fc.boolean(), fc.boolean(), (vaddr, iova, size, read, write) => {
    out.bytes.fill(0xee);
    assert.equal(outcome(() => encodeDmaMapWords(out, vaddr, iova, size, read, write).slice()), outcome(() => encodeDmaMap({ vaddr, iova, size, read, write })));
  }), { numRuns: 5000 });
});

test('encodeDmaUnmapWords answers what the core answers, bytes or error, over a reused struct', () => {
  const out = structWords(24);
  fc.assert(fc.property(big, big, (iova, size) => {
    out.bytes.fill(0xee);
    assert.equal(outcome(() => encodeDmaUnmapWords(out, iova, size).slice()), outcome(() => encodeDmaUnmap({ iova, size })));
  }), { numRuns: 5000 });
});

test('an output buffer too small is refused (NO_SPACE) and left untouched', () => {
  const small = new Uint8Array(31);
  let e: unknown;
  try { encodeDmaMapInto(small, 0x1000n, 0x2000n, 0x1000n, true, true); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.kind === 'bad-argument' && e.statusName === 'NO_SPACE', String(e));
  assert.ok(small.every((b) => b === 0));
  try { encodeDmaUnmapInto(new Uint8Array(23), 0x1000n, 0x1000n); e = undefined; } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.statusName === 'NO_SPACE', String(e));
  const words = structWords(24); // a map request does not fit an unmap's struct
  try { encodeDmaMapWords(words, 0x1000n, 0x2000n, 0x1000n, true, true); e = undefined; } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.statusName === 'NO_SPACE', String(e));
  assert.ok(words.bytes.every((b) => b === 0));
});

test.run();

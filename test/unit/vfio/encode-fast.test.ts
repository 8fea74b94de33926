// The TypeScript encoders of the fixed DMA request structs (encodeDmaMapWords, encodeDmaUnmapWords,
// encodeIoasMapWords, encodeIoasUnmapWords: the hot path of mapDma/unmapDma on both IOMMU paths)
// against the core's encoders of the same structs (vfio_dma_map_encode, vfio_dma_unmap_encode,
// vfio_ioas_map_encode, vfio_ioas_unmap_encode, kept for hosts in other languages: docs/ABI.md),
// called raw: for any input, the same bytes, or the same error (kind, status and message).
// The word views write the host's byte order and the core little-endian: the same bytes on the
// hosts vfiokit runs on (x86_64, AArch64: test/unit/shim/bytes.test.ts checks the host).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeDmaMap, encodeDmaMapWords, encodeDmaUnmap, encodeDmaUnmapWords, encodeError, u64 } from '../../../src/vfio/encode';
import { encodeIoasMap, encodeIoasMapWords, encodeIoasUnmap, encodeIoasUnmapWords } from '../../../src/vfio/iommufd';
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR } from '../../../src/vfio/uapi';
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../../shim/uapi/iommufd';
import { structWords } from '../../../shim/bytes';
import { core } from '../../../src/core/loader';
import { VfioError } from '../../../src/errors';

type Outcome = { bytes: number[] } | { kind: string; status: number | undefined; message: string };
function outcome(fn: () => Uint8Array): Outcome {
  try { return { bytes: [...fn()] }; } catch (e) {
    if (!(e instanceof VfioError)) throw e;
    return { kind: e.kind, status: e.status, message: e.message };
  }
}

/** A core encoder called raw, its status turned into the error the TypeScript one throws. */
type F = (...a: (number | bigint)[]) => number;
function viaCore(name: string, cap: number, what: string, hint: string | undefined, args: (number | bigint)[]): Uint8Array {
  const c = core();
  const st = c.fn<F>(name)(c.transientPtr, cap, ...args);
  if (st < 0) throw encodeError(st, what, hint);
  return c.take(c.transientPtr, st);
}
const IOAS_HINT = 'check the arguments against docs/vfio-region.md';
const hex = (v: bigint) => `0x${v.toString(16)}`;

const U64 = 2n ** 64n;
/** u64 values with the edges weighted in: 0, 1, a page, near 2^64, and outside [0, 2^64). */
const big = fc.oneof(
  fc.bigInt({ min: 0n, max: U64 - 1n }),
  fc.constantFrom(0n, 1n, 0x1000n, U64 - 1n, U64 - 0x1000n, U64, -1n),
  fc.bigInt({ min: U64 - 0x10000n, max: U64 - 1n }),
  fc.bigInt({ min: 0n, max: 0x1_0000_0000n }),
);
const RUNS = { numRuns: 5000 };

test('dma_map: encodeDmaMapWords answers what vfio_dma_map_encode answers, bytes or error, over a reused struct', () => {
  const out = structWords(32);
  fc.assert(fc.property(big, big, big, fc.boolean(), fc.boolean(), fc.boolean(), (vaddr, iova, size, read, write, vaddrFlag) => {
    out.bytes.fill(0xee);
    const flags = (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0) | (vaddrFlag ? VFIO_DMA_MAP_FLAG_VADDR : 0);
    const core_ = outcome(() => viaCore('vfio_dma_map_encode', 32, `encodeDmaMap(iova ${hex(iova)}, size ${hex(size)})`, undefined, [flags, u64(vaddr), u64(iova), u64(size)]));
    assert.equal(outcome(() => encodeDmaMapWords(out, vaddr, iova, size, read, write, vaddrFlag).slice()), core_);
    assert.equal(outcome(() => encodeDmaMap({ vaddr, iova, size, read, write, updateVaddr: vaddrFlag })), core_, 'the request-object form');
  }), RUNS);
});

test('dma_unmap: encodeDmaUnmapWords answers what vfio_dma_unmap_encode answers, for a range, ALL and VADDR', () => {
  const out = structWords(24);
  const edge = fc.oneof(big, fc.constant(0n));
  fc.assert(fc.property(edge, edge, fc.constantFrom(0, VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR, 1, 8), (iova, size, flags) => {
    out.bytes.fill(0xee);
    const core_ = outcome(() => viaCore('vfio_dma_unmap_encode', 24, `encodeDmaUnmap(iova ${hex(iova)}, size ${hex(size)})`, undefined, [flags, u64(iova), u64(size)]));
    assert.equal(outcome(() => encodeDmaUnmapWords(out, iova, size, flags).slice()), core_);
    if (flags === 0 || flags === VFIO_DMA_UNMAP_FLAG_ALL || flags === VFIO_DMA_UNMAP_FLAG_VADDR) {
      const req = { iova, size, all: flags === VFIO_DMA_UNMAP_FLAG_ALL, vaddrOnly: flags === VFIO_DMA_UNMAP_FLAG_VADDR };
      assert.equal(outcome(() => encodeDmaUnmap(req)), core_, 'the request-object form');
    }
  }), RUNS);
});

test('ioas_map: encodeIoasMapWords answers what vfio_ioas_map_encode answers, fixed IOVA or not', () => {
  const out = structWords(40);
  fc.assert(fc.property(fc.nat(), big, big, fc.option(big), fc.boolean(), fc.boolean(), (ioasId, userVa, length, iova, read, write) => {
    out.bytes.fill(0xee);
    const at = iova ?? undefined;
    const flags = (at !== undefined ? IOMMU_IOAS_MAP_FIXED_IOVA : 0) | (read ? IOMMU_IOAS_MAP_READABLE : 0) | (write ? IOMMU_IOAS_MAP_WRITEABLE : 0);
    const core_ = outcome(() => viaCore('vfio_ioas_map_encode', 40, `encodeIoasMap(ioas ${ioasId}, length ${hex(length)})`, IOAS_HINT, [flags, ioasId >>> 0, u64(userVa), u64(length), u64(at ?? 0n)]));
    assert.equal(outcome(() => encodeIoasMapWords(out, ioasId, userVa, length, at, read, write).slice()), core_);
    assert.equal(outcome(() => encodeIoasMap({ ioasId, userVa, length, iova: at, read, write })), core_, 'the request-object form');
  }), RUNS);
});

test('ioas_unmap: encodeIoasUnmapWords answers what vfio_ioas_unmap_encode answers, "everything" included', () => {
  const out = structWords(24);
  fc.assert(fc.property(fc.nat(), fc.oneof(big, fc.constant(0n)), big, (ioasId, iova, length) => {
    out.bytes.fill(0xee);
    const core_ = outcome(() => viaCore('vfio_ioas_unmap_encode', 24, `encodeIoasUnmap(ioas ${ioasId})`, IOAS_HINT, [ioasId >>> 0, u64(iova), u64(length)]));
    assert.equal(outcome(() => encodeIoasUnmapWords(out, ioasId, iova, length).slice()), core_);
    assert.equal(outcome(() => encodeIoasUnmap({ ioasId, iova, length })), core_, 'the request-object form');
  }), RUNS);
  assert.equal(outcome(() => encodeIoasUnmap({ ioasId: 1, all: true })), outcome(() => viaCore('vfio_ioas_unmap_encode', 24, 'x', IOAS_HINT, [1, 0n, U64 - 1n])));
});

test('an output struct too small is refused (NO_SPACE) and left untouched', () => {
  let e: unknown;
  const words = structWords(24); // a map request does not fit an unmap's struct
  try { encodeDmaMapWords(words, 0x1000n, 0x2000n, 0x1000n, true, true); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.kind === 'no-space' && e.statusName === 'NO_SPACE', String(e));
  assert.ok(words.bytes.every((b) => b === 0));
  try { encodeDmaUnmapWords(structWords(16), 0x1000n, 0x1000n); e = undefined; } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.statusName === 'NO_SPACE', String(e));
  const small = structWords(32);
  try { encodeIoasMapWords(small, 1, 0x1000n, 0x1000n, 0x2000n, true, true); e = undefined; } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.statusName === 'NO_SPACE', String(e));
  assert.ok(small.bytes.every((b) => b === 0));
  try { encodeIoasUnmapWords(structWords(16), 1, 0x1000n, 0x1000n); e = undefined; } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.statusName === 'NO_SPACE', String(e));
});

test.run();

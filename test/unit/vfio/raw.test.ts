// Raw exports of the vfio_ and region_ modules, for what the TypeScript wrappers never send: buffers
// outside scratch, null pointers with zero lengths, encoder flag combinations, NO_SPACE with the size
// needed, table bounds; and random arguments to every export never trap and never grow memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { core } from '../../../src/core/loader';
import { regionReply, sparseCap } from './replies';

type F = (...a: (number | bigint)[]) => number;
const c = core();
const fn = (n: string) => c.fn<F>(n);
const name = (st: number) => c.statusName(st).split(':')[0];
const S = c.transientPtr;
const memoryBefore = c.exports.memory.buffer.byteLength;

test('decoders refuse a buffer outside scratch with BAD_ARG', () => {
  assert.is(name(fn('vfio_region_info_decode')(0, 32, -1)), 'BAD_ARG');
  assert.is(name(fn('vfio_device_info_decode')(S + c.scratchSize - 8, 20)), 'BAD_ARG');
});

test('NEED_ARGSZ leaves the argsz asked for in slot 0', () => {
  const b = regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n, caps: [sparseCap([[0n, 0x1000n]])] });
  const p = c.put(b, 0);
  assert.is(name(fn('vfio_region_info_decode')(p, 32, 0)), 'VFIO_NEED_ARGSZ');
  assert.is(c.result(0), BigInt(b.length));
});

test('irq_set encoder: one action and one data type, bools 0/1, fds >= -1, NO_SPACE with the size', () => {
  const enc = fn('vfio_irq_set_encode');
  const out = S + 4096;
  assert.is(enc(out, 64, 0, 0, 1, 0x01 | 0x20, 0, 0), 20, 'DATA_NONE needs no data pointer');
  assert.is(name(enc(out, 64, 0, 0, 1, 0x01 | 0x02 | 0x20, 0, 0)), 'BAD_ARG', 'two data types');
  assert.is(name(enc(out, 64, 0, 0, 1, 0x01 | 0x10 | 0x20, 0, 0)), 'BAD_ARG', 'two actions');
  assert.is(name(enc(out, 64, 0, 0, 1, 0x01, 0, 0)), 'BAD_ARG', 'no action');
  assert.is(name(enc(out, 64, 0, 0, 1, 0x01 | 0x20 | 0x40, 0, 0)), 'BAD_ARG', 'unknown bit');
  const d = c.put(new Uint8Array([2]), 0);
  assert.is(name(enc(out, 64, 0, 0, 1, 0x02 | 0x08, d, 1)), 'BAD_ARG', 'a bool that is 2');
  const fds = c.put(new Uint8Array([0xfe, 0xff, 0xff, 0xff]), 0);
  assert.is(name(enc(out, 64, 0, 0, 1, 0x04 | 0x20, fds, 4)), 'BAD_ARG', 'fd -2');
  assert.is(name(enc(out, 64, 0, 0, 2, 0x04 | 0x20, fds, 4)), 'BAD_ARG', 'dataLen not count * 4');
  assert.is(name(enc(out, 20, 0, 0, 1, 0x04 | 0x20, c.put(new Uint8Array([5, 0, 0, 0]), 0), 4)), 'NO_SPACE');
  assert.is(c.result(0), 24n);
});

test('dma encoders: unknown flags and GET_DIRTY_BITMAP are refused; NO_SPACE gives the size', () => {
  assert.is(name(fn('vfio_dma_map_encode')(S, 32, 8, 0x1000n, 0n, 0x1000n)), 'BAD_ARG');
  assert.is(name(fn('vfio_dma_map_encode')(S, 16, 3, 0x1000n, 0n, 0x1000n)), 'NO_SPACE');
  assert.is(c.result(0), 32n);
  assert.is(name(fn('vfio_dma_unmap_encode')(S, 24, 1, 0n, 0x1000n)), 'BAD_ARG');
  assert.is(fn('vfio_dma_unmap_encode')(S, 24, 4, 0x1000n, 0x1000n), 24, 'VADDR');
});

test('ioas_iova_ranges: the encoder refuses an array without an address, a count beyond the bound, an array past 2^64; the decoder names the len and count needed', () => {
  const enc = fn('vfio_ioas_iova_ranges_encode');
  assert.is(enc(S, 32, 1, 0, 0n), 32, 'the first step: no array');
  assert.is(name(enc(S, 32, 1, 1, 0n)), 'BAD_ARG', 'ranges but no address');
  assert.is(name(enc(S, 32, 1, 1025, 0x1000n)), 'VFIO_TOO_MANY');
  assert.is(name(enc(S, 32, 1, 2, (1n << 64n) - 16n)), 'OVERFLOW', 'the second range would end past 2^64');
  assert.is(enc(S, 32, 1, 1, (1n << 64n) - 16n), 32, 'one range ends exactly at 2^64 - 1');
  assert.is(name(enc(S, 31, 1, 0, 0n)), 'NO_SPACE');
  assert.is(c.result(0), 32n);
  const dec = fn('vfio_ioas_iova_ranges_decode');
  const reply = new Uint8Array(32);
  new DataView(reply.buffer).setUint32(8, 3, true);
  new DataView(reply.buffer).setBigUint64(24, 1n, true);
  const p = c.put(reply, 0);
  assert.is(name(dec(p, 32)), 'NO_SPACE');
  assert.equal([c.result(0), c.result(1)], [80n, 3n], 'len needed, num_iovas');
  assert.is(name(dec(p, 40)), 'BAD_ARG', 'len not 32 + 16k');
  assert.is(name(dec(0, 32)), 'BAD_ARG', 'outside scratch');
});

test('region table bounds: MAX_TABLES tables, MAX_HOLES holes, NO_SPACE gives the bytes needed', () => {
  const hs: number[] = [];
  for (;;) { const h = fn('region_table_create')(); if (h < 0) { assert.is(name(h), 'LIMIT'); break; } hs.push(h); }
  assert.is(hs.length, 16);
  const h = hs[0]!;
  assert.is(fn('region_add')(h, 0, 7, 0x10000n, 0n, 0, 0, 0), 0, 'no areas: null pointer accepted');
  assert.is(name(fn('region_split')(h, 0, 4096n, S, 9, S + 4096, 1024)), 'LIMIT');
  c.put(new Uint8Array(new BigUint64Array([0x3000n, 0x10n]).buffer), 0);
  assert.is(name(fn('region_split')(h, 0, 4096n, S, 1, S + 4096, 24)), 'NO_SPACE');
  assert.is(c.result(0), 72n, 'MAP, TRAP, MAP');
  assert.is(fn('region_split')(h, 0, 4096n, S, 1, S + 4096, 72), 3);
  assert.is(name(fn('region_split')(h, 0, 8192n + 1n, 0, 0, S + 4096, 72)), 'BAD_ARG', 'page size not a power of two');
  assert.is(name(fn('region_split')(h, 0, 2048n, 0, 0, S + 4096, 72)), 'BAD_ARG', 'page size below 4 KiB');
  assert.is(name(fn('region_add_failed')(h, 1, 5)), 'BAD_ARG');
  for (const x of hs) assert.is(fn('region_table_free')(x), 0);
});

test('random arguments to every vfio_ and region_ export never trap and never grow memory', () => {
  const names = ['vfio_device_info_decode', 'vfio_region_info_decode', 'vfio_irq_info_decode', 'vfio_iommu_type1_info_decode',
    'vfio_irq_set_encode', 'vfio_dma_map_encode', 'vfio_dma_unmap_encode', 'vfio_ioas_map_encode', 'vfio_ioas_unmap_encode', 'vfio_ioas_iova_ranges_encode', 'vfio_ioas_iova_ranges_decode', 'vfio_limits', 'region_table_create', 'region_table_free',
    'region_add', 'region_add_failed', 'region_get', 'region_area', 'region_split', 'region_check', 'region_counters', 'region_limits'];
  const i32 = fc.oneof(fc.integer({ min: -3, max: 64 }), fc.integer(), fc.integer({ min: S, max: S + c.scratchSize + 64 }));
  const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 0x20000n }), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }));
  fc.assert(fc.property(fc.constantFrom(...names), fc.array(fc.tuple(i32, u64), { minLength: 8, maxLength: 8 }), fc.uint8Array({ maxLength: 128 }), (n, args, junk) => {
    c.put(junk, 0);
    const f = c.exports[n] as (...a: unknown[]) => number;
    // pick i32 or u64 per parameter by position, as the signatures say (u64 where BigInt is needed)
    const sig: Record<string, string> = {
      vfio_dma_map_encode: 'iiiUUU', vfio_dma_unmap_encode: 'iiiUU', vfio_ioas_map_encode: 'iiiiUUU', vfio_ioas_unmap_encode: 'iiiUU', vfio_ioas_iova_ranges_encode: 'iiiiU', region_limits: '', region_add: 'iiiUUiii', region_split: 'iiUiiii', region_check: 'iiUii',
    };
    const s = sig[n] ?? 'iiiiiiii';
    const a = [...s].map((k, i) => (k === 'U' ? args[i]![1] : args[i]![0]));
    const st = f(...a);
    assert.type(st, 'number');
  }), { numRuns: 3000 });
  assert.is(c.exports.memory.buffer.byteLength, memoryBefore);
});

test.run();

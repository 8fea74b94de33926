// shim/bytes.ts against DataView (the oracle here; it is banned from src/ and shim/ themselves),
// and the ban itself: no DataView anywhere in src/ or shim/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { u16, u32, u64, u32be, u64be, setU16, setU32, setU64, structWords, LITTLE_ENDIAN_HOST } from '../../../shim/bytes';

test('reads agree with DataView at every offset of a subarray, both byte orders', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.nat(8), (raw, start) => {
    const b = raw.subarray(start % 4);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o + 8 <= b.length; o++) {
      assert.is(u16(b, o), dv.getUint16(o, true));
      assert.is(u32(b, o), dv.getUint32(o, true));
      assert.is(u64(b, o), dv.getBigUint64(o, true));
      assert.is(u32be(b, o), dv.getUint32(o));
      assert.is(u64be(b, o), dv.getBigUint64(o));
    }
  }));
});

test('writes agree with DataView, negatives as two\'s complement, 64-bit modulo 2^64', () => {
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.nat(7), (v, w, o) => {
    const a = new Uint8Array(16), b = new Uint8Array(16);
    setU32(a, o, v); new DataView(b.buffer).setUint32(o, v >>> 0, true);
    assert.equal([...a], [...b]);
    setU16(a, o, v & 0xffff); new DataView(b.buffer).setUint16(o, v & 0xffff, true);
    assert.equal([...a], [...b]);
    setU64(a, o, w); new DataView(b.buffer).setBigUint64(o, BigInt.asUintN(64, w), true);
    assert.equal([...a], [...b]);
  }));
});

test('structWords: a store through its views writes the bytes setU32/setU64 write, on a little-endian host', () => {
  assert.ok(LITTLE_ENDIAN_HOST, 'the hosts vfiokit runs on (x86_64, AArch64 Linux) are little-endian');
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(1), (v, w, i) => {
    const s = structWords(16), plain = new Uint8Array(16);
    s.u32[i] = v; setU32(plain, i * 4, v);
    s.u64[1] = w; setU64(plain, 8, w);
    assert.equal([...s.bytes], [...plain]);
    assert.is(s.u64[1], u64(s.bytes, 8));
  }));
});

test('no DataView in src/ or shim/ (it tears 32-bit accesses; registers go through Atomics)', () => {
  const hits: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts')) readFileSync(p, 'utf8').split('\n').forEach((l, i) => {
        if (/\bDataView\b/.test(l) && !/^\s*(\/\/|\*|\/\*)/.test(l)) hits.push(`${p}:${i + 1}`);
      });
    }
  };
  walk('src'); walk('shim');
  assert.equal(hits, []);
});

test.run();

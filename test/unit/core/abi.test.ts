// The core's contract with any host: what it imports, that its memory is fixed, and the
// scratch/result/status conventions that docs/ABI.md describes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Core, TRANSIENT_BYTES } from '../../../src/core/loader';
import { statusError } from '../../../src/core/status';

const release = readFileSync('build/vfiokit-core.wasm');
const portable = readFileSync('build/vfiokit-core.portable.wasm');

test('resultNumber(i) is Number(result(i)) for any 64-bit slot value (no bigint below 2^32)', () => {
  const c = new Core(new Uint8Array(release));
  const base = c.exports.result_ptr() >>> 0;
  fc.assert(fc.property(fc.nat(63), fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n)), (slot, v) => {
    for (let k = 0; k < 8; k++) c.u8[base + 8 * slot + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    assert.is(c.result(slot), v);
    assert.is(c.resultNumber(slot), Number(v));
  }), { numRuns: 3000 });
});

test('the release core imports nothing but env.abort', () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(release));
  const extra = imports.filter((i) => !(i.module === 'env' && i.name === 'abort'));
  assert.equal(extra, [], `unexpected imports: ${JSON.stringify(extra)}`);
});

test('the portable core imports nothing at all', () => {
  assert.equal(WebAssembly.Module.imports(new WebAssembly.Module(portable)), []);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(portable), {});
  assert.is((inst.exports.abi_version as () => number)(), 1);
});

test('linear memory has a fixed maximum equal to its initial size', () => {
  const c = new Core(new Uint8Array(release));
  const before = c.exports.memory.buffer.byteLength;
  assert.ok(before >= c.scratchSize, 'memory holds the scratch area');
  assert.throws(() => c.exports.memory.grow(1), /./, 'growing past the maximum fails');
  assert.is(c.exports.memory.buffer.byteLength, before);
});

test('status_name names generic codes and returns empty text for unknown ones', () => {
  const c = new Core(new Uint8Array(release));
  assert.match(c.statusName(-3), /^NO_SPACE/);
  assert.match(c.statusName(-1000), /^INTERNAL/);
  assert.is(c.statusName(-98), '');
});

test('every named status has an error kind beside it, and every kind is one the host knows', () => {
  const c = new Core(new Uint8Array(release));
  const kinds = new Set(['bad-argument', 'bad-fdt', 'bad-state', 'busy', 'closed', 'core-bug', 'kernel-reply', 'no-space', 'not-found', 'not-supported', 'input']);
  let named = 0;
  for (let code = -1; code >= -1000; code--) {
    const name = c.statusName(code), kind = c.statusKind(code);
    assert.is(name === '', kind === '', `status ${code}: name "${name}", kind "${kind}"`);
    if (name === '') continue;
    named++;
    assert.ok(kinds.has(kind), `status ${code} (${name}) has kind "${kind}"`);
  }
  assert.ok(named > 90, `${named} named statuses`);
  assert.is(c.statusKind(0), '-');
  assert.is(c.statusKind(-4), 'not-found');
  assert.is(c.statusKind(-7), 'input');
});

test('statusError takes the kind from the core and resolves an input fault by whose input it was', () => {
  const c = new Core(new Uint8Array(release));
  const e = statusError(c, -4, { what: 'look it up', device: 'dev0' });
  assert.is(e.kind, 'not-found');
  assert.is(e.statusName, 'NOT_FOUND');
  assert.match(e.message, /^dev0: look it up: NOT_FOUND: no such item/);
  assert.is(statusError(c, -7, { what: 'add' }).kind, 'bad-argument');
  assert.is(statusError(c, -7, { what: 'decode', input: 'kernel-reply' }).kind, 'kernel-reply');
  assert.is(statusError(c, -999, { what: 'x' }).kind, 'core-bug', 'an unknown status is a bug of the core');
});

test('put refuses data that does not fit the scratch area and keeps what fits', () => {
  const c = new Core(new Uint8Array(release));
  const p = c.put(new Uint8Array([1, 2, 3]), 10);
  assert.equal([...c.take(p, 3)], [1, 2, 3]);
  assert.throws(() => c.put(new Uint8Array(4), c.scratchSize - 3), (e: Error & { kind?: string }) => e.kind === 'bad-argument');
});

test('persistent scratch buffers do not overlap, and freed space is reused', () => {
  const c = new Core(new Uint8Array(release));
  const a = c.alloc(100), b = c.alloc(5000), d = c.alloc(1);
  assert.ok(a >= c.transientPtr + TRANSIENT_BYTES, 'above the transient half');
  assert.ok(a + 100 <= b && b + 5000 <= d, 'in order, no overlap');
  c.free(b);
  assert.is(c.alloc(4000), b, 'first fit reuses the hole');
  assert.throws(() => c.free(b + 1), (e: Error & { kind?: string }) => e.kind === 'core-bug');
  assert.throws(() => c.alloc(c.scratchSize), (e: Error & { kind?: string }) => e.kind === 'no-space');
});

test.run();

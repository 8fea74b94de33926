// dtnode_generate at the ABI, around the fdt reader and writer it uses: the exact size needed on
// NO_SPACE, the writer handle closed on every path (a leak would fill the fdt writer table), the
// reader's fault in the result slots of DTNODE_BAD_DTB, and an output buffer overlapping an input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { core } from '../../../src/core/loader';
import { virtDtb } from './virt-dtb';

type F = (...a: (number | bigint)[]) => number;
const c = core();
const generate = c.fn<F>('dtnode_generate');
const statusName = (st: number) => c.statusName(st).split(':')[0];
const host = virtDtb();
const PATH = new TextEncoder().encode('/pl031@9010000');
const MAX_WRITERS = 16;

/** The host DTB, path and placement at the start of scratch; the output after them. */
function setup(dtb: Uint8Array) {
  const dtbPtr = c.put(dtb, 0);
  let off = (dtb.length + 7) & ~7;
  const pathPtr = c.put(PATH, off); off += 64;
  const regsPtr = c.put(new Uint8Array(new BigUint64Array([0x0c00_0000n]).buffer), off); off += 8;
  const spisPtr = c.put(new Uint8Array(new Uint32Array([112]).buffer), off); off += 8;
  const flagsPtr = c.put(new Uint8Array(new Uint32Array([7]).buffer), off); off += 8;
  const outPtr = c.scratchPtr + off;
  const call = (len: number, cap: number, out = outPtr) => generate(dtbPtr, len, pathPtr, PATH.length, regsPtr, 1, spisPtr, flagsPtr, 1,
    0x0c00_0000n, 0x0200_0000n, 2, 2, 0n, 0, 0x9000, out, cap);
  return { dtbPtr, outPtr, call };
}

/** Opens every fdt writer slot and closes them again: false when one is missing. */
function writerTableFull(): boolean {
  const handles: number[] = [];
  for (let i = 0; i < MAX_WRITERS; i++) {
    const h = c.fn<F>('fdt_sw_create')(c.scratchPtr + (5 << 20) + i * 256, 256, 1);
    if (h <= 0) break;
    handles.push(h);
  }
  for (const h of handles) c.fn<F>('fdt_sw_close')(h);
  return handles.length === MAX_WRITERS;
}

test('NO_SPACE gives the exact size needed, and a buffer of that size is enough', () => {
  const { call, outPtr } = setup(host);
  const full = call(host.length, 4096);
  assert.ok(full > 0, `status ${full}`);
  const dtb = c.take(outPtr, full);
  for (const cap of [0, 59, 60, full - 1]) {
    assert.is(statusName(call(host.length, cap)), 'NO_SPACE', `cap ${cap}`);
    assert.is(Number(c.result(0)), full, `cap ${cap}`);
  }
  assert.is(call(host.length, full), full);
  assert.equal(c.take(outPtr, full), dtb);
});

test('100 failing calls in a row (NO_SPACE, a host name the writer refuses) leave the writer table usable', () => {
  const { call } = setup(host);
  for (let i = 0; i < 50; i++) assert.is(statusName(call(host.length, 100)), 'NO_SPACE');
  // The copied clock's name "apb-pclk" becomes "apb/pclk": valid for the reader, refused by the writer.
  const bad = host.slice();
  const at = Buffer.from(bad).indexOf('apb-pclk\0');
  assert.ok(at > 0);
  bad[at + 3] = 0x2f;
  const b = setup(bad);
  for (let i = 0; i < 50; i++) assert.is(statusName(b.call(bad.length, 4096)), 'DTNODE_BAD_DTB');
  assert.ok(writerTableFull(), 'every writer slot is free again');
  assert.ok(setup(host).call(host.length, 4096) > 0);
});

test('with every writer slot taken, generate answers LIMIT and leaks nothing', () => {
  const handles: number[] = [];
  for (let i = 0; i < MAX_WRITERS; i++) handles.push(c.fn<F>('fdt_sw_create')(c.scratchPtr + (5 << 20) + i * 256, 256, 1));
  assert.ok(handles.every((h) => h > 0));
  assert.is(statusName(setup(host).call(host.length, 4096)), 'LIMIT');
  for (const h of handles) c.fn<F>('fdt_sw_close')(h);
  assert.ok(setup(host).call(host.length, 4096) > 0);
});

test('DTNODE_BAD_DTB carries the reader fault: slot 1 offset, slot 2 FDT_ERR_* status', () => {
  const cut = host.slice();
  new DataView(cut.buffer).setUint32(0, 0x12345678);   // bad magic
  const { call } = setup(cut);
  assert.is(statusName(call(cut.length, 4096)), 'DTNODE_BAD_DTB');
  assert.is(Number(c.result(1)), 0);
  assert.is(statusName(Number(BigInt.asIntN(64, c.result(2)))), 'FDT_BAD_MAGIC');
  const trunc = setup(host);
  assert.is(statusName(trunc.call(200, 4096)), 'DTNODE_BAD_DTB');
  assert.is(statusName(Number(BigInt.asIntN(64, c.result(2)))), 'FDT_TRUNCATED');
});

test('an output buffer overlapping the host DTB is refused with BAD_ARG', () => {
  const { call, dtbPtr } = setup(host);
  assert.is(statusName(call(host.length, 4096, dtbPtr + 64)), 'BAD_ARG');
});

test.run();

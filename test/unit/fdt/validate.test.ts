// Validation: each rule of the reader (docs/fdt.md) broken once in a known tiny blob, with the
// status and the byte offset of the fault that fdt_check and parseFdt report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FdtBuilder, parseFdt } from '../../../src/fdt/index';
import { VfioError } from '../../../src/errors';
import { dtc, raw, res, load, statusName } from './tools';

// The tiny tree of write.test.ts: header 0..40, reservation terminator 40..56, structure 56..132
// (root BEGIN 56, PROP compatible 64, BEGIN "n" 80, PROP reg 88, PROP compatible 104,
// END_NODE 120 and 124, END 128), strings 132..147.
function tiny(): Uint8Array {
  const b = new FdtBuilder();
  b.beginNode('').propString('compatible', 'x').beginNode('n').propU32('reg', 1).propString('compatible', 'y').endNode().endNode();
  return b.finish();
}
const set32 = (b: Uint8Array, off: number, v: number) => { new DataView(b.buffer, b.byteOffset).setUint32(off, v); return b; };

/** / { a { }; x; } by hand: the format wants properties before subnodes. */
function propAfterSubnode(): Uint8Array {
  const w = [0xd00dfeed, 98, 56, 96, 40, 17, 16, 0, 2, 40, 0, 0, 0, 0,
    1, 0,             // 56 BEGIN_NODE ""
    1, 0x61000000,    // 64 BEGIN_NODE "a"
    2,                // 72 END_NODE
    3, 0, 0,          // 76 PROP len 0 name "x"
    2, 9];            // 88 END_NODE, 92 END
  const b = new Uint8Array(98);
  w.forEach((x, i) => set32(b, i * 4, x));
  b[96] = 0x78;
  return b;
}

const CASES: [string, (b: Uint8Array) => Uint8Array, string, number][] = [
  ['input shorter than a header', (b) => b.slice(0, 20), 'FDT_TRUNCATED', 20],
  ['bad magic', (b) => set32(b, 0, 0xd00dfeee), 'FDT_BAD_MAGIC', 0],
  ['version 15', (b) => set32(b, 20, 15), 'FDT_BAD_VERSION', 20],
  ['last_comp_version 17', (b) => set32(b, 24, 17), 'FDT_BAD_VERSION', 24],
  ['totalsize past the input', (b) => set32(b, 4, 148), 'FDT_TRUNCATED', 4],
  ['structure block overlapping the header', (b) => set32(b, 8, 36), 'FDT_BAD_LAYOUT', 8],
  ['structure block misaligned', (b) => set32(b, 8, 58), 'FDT_BAD_LAYOUT', 8],
  ['strings block past totalsize', (b) => set32(b, 32, 16), 'FDT_BAD_LAYOUT', 32],
  ['structure block past totalsize', (b) => set32(b, 36, 1000), 'FDT_BAD_LAYOUT', 36],
  ['strings block overlapping the structure block', (b) => set32(b, 12, 100), 'FDT_BAD_LAYOUT', 12],
  ['reservation map misaligned', (b) => set32(b, 16, 44), 'FDT_BAD_LAYOUT', 16],
  ['reservation map without terminator before the structure block', (b) => set32(b, 44, 1), 'FDT_BAD_RSVMAP', 56],
  ['unknown token', (b) => set32(b, 64, 7), 'FDT_BAD_TOKEN', 64],
  ['END inside a node', (b) => set32(b, 120, 9), 'FDT_BAD_NESTING', 120],
  ['END_NODE at depth 0', (b) => set32(set32(b, 124, 2), 128, 2), 'FDT_BAD_NESTING', 128],
  ['property after a subnode', () => propAfterSubnode(), 'FDT_BAD_NESTING', 76],
  ['property value past the structure block', (b) => set32(b, 68, 1000), 'FDT_BAD_PROP', 64],
  ['property name offset past the strings block', (b) => set32(b, 72, 15), 'FDT_BAD_STRING', 64],
  ['property name not NUL-terminated in the strings block', (b) => { b[146] = 0x41; return b; }, 'FDT_BAD_STRING', 64],
  ['node name running off the structure block', (b) => { b[85] = 0x78; return set32(b, 36, 30); }, 'FDT_BAD_NAME', 80],
  ['no FDT_END', (b) => set32(b, 36, 72), 'FDT_NO_END', 128],
];

for (const [what, breakIt, status, offset] of CASES) {
  test(`${what}: ${status} at byte ${offset}`, () => {
    const bad = breakIt(tiny());
    const [p, l] = load(bad);
    const st = raw('fdt_check')(p, l);
    assert.is(statusName(st), status);
    assert.is(Number(res(0)), offset);
    try { parseFdt(bad); assert.unreachable('parsed'); } catch (e) {
      assert.ok(e instanceof VfioError);
      assert.is(e.kind, 'bad-fdt'); assert.is(e.statusName, status); assert.is(e.offset, offset);
    }
  });
}

test('the unbroken tiny tree validates, with its counts in the result slots', () => {
  const [p, l] = load(tiny());
  assert.is(raw('fdt_check')(p, l), 0);
  assert.equal([0, 1, 2, 3, 4, 5, 6].map((i) => Number(res(i))), [147, 2, 3, 2, 0, 17, 0]);
});

test('65 nested nodes are FDT_TOO_DEEP at the 65th node (the kernel\'s FDT_MAX_DEPTH is 64); 64 are fine', () => {
  const nest = (n: number) => dtc(`/dts-v1/; / { ${'a { '.repeat(n - 1)}${'}; '.repeat(n - 1)} };`);
  const [p, l] = load(nest(64));
  assert.is(raw('fdt_check')(p, l), 0);
  assert.is(Number(res(3)), 64);
  const deep = nest(65);
  const [q, m] = load(deep);
  assert.is(statusName(raw('fdt_check')(q, m)), 'FDT_TOO_DEEP');
  const at = Number(res(0));
  assert.is(new DataView(deep.buffer).getUint32(at), 1, 'the fault offset is a BEGIN_NODE token');
  assert.is(parseFdt(nest(64)).nodes().length, 64);
});

test('a version 16 blob (no size_dt_struct) reads; a blob of a later version compatible with 16 reads', () => {
  const v16 = set32(set32(tiny(), 20, 16), 36, 0xffffffff);
  const [p, l] = load(v16);
  assert.is(raw('fdt_check')(p, l), 0);
  const v18 = set32(tiny(), 20, 18);
  assert.is(parseFdt(v18).version, 18);
});

test('BAD_ARG for a blob outside scratch', () => {
  assert.is(statusName(raw('fdt_check')(0, 100)), 'BAD_ARG');
});

test.run();

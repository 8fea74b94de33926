// Properties (fast-check): random trees written by FdtBuilder read back equal through parseFdt (and
// dtc accepts a sample of them); random mutations of valid blobs (truncation, bit flips, header
// fields set to anything, tokens overwritten) never trap the core, whether the mutated blob is
// validated or queried directly as if it had changed after validation; random writer call
// sequences never trap. The Wasm memory's byte length never changes over the run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { FdtBuilder, parseFdt, mergeFdt } from '../../../src/fdt/index';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { dtc, dts, virtDtb, raw, res, putAt } from './tools';

const memBytes = core().exports.memory.buffer.byteLength;
/** FDT_FUZZ_SCALE=20 multiplies every run count (a longer one-off run). */
const SCALE = Number(process.env.FDT_FUZZ_SCALE ?? 1);
const STATUS_INTERNAL = -1000;

interface TNode { name: string; props: [string, Uint8Array][]; kids: TNode[] }
const nameArb = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,12}$/);
const nodeArb = fc.letrec((tie) => ({
  node: fc.record({
    name: fc.tuple(nameArb, fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined })).map(([n, u]) => (u === undefined ? n : `${n}@${u.toString(16)}`)),
    props: fc.uniqueArray(fc.tuple(nameArb, fc.uint8Array({ maxLength: 24 })), { maxLength: 5, selector: (p) => p[0] }),
    kids: fc.oneof({ depthSize: 'small' }, fc.constant([]), fc.uniqueArray(tie('node') as fc.Arbitrary<TNode>, { maxLength: 4, selector: (n) => n.name })),
  }),
})).node as fc.Arbitrary<TNode>;
const treeArb = fc.record({ props: fc.uniqueArray(fc.tuple(nameArb, fc.uint8Array({ maxLength: 24 })), { maxLength: 5, selector: (p) => p[0] }), kids: fc.uniqueArray(nodeArb, { maxLength: 5, selector: (n) => n.name }) });

function write(tree: { props: [string, Uint8Array][]; kids: TNode[] }): Uint8Array {
  using b = new FdtBuilder({ initialSize: 128 });
  const emit = (n: { name: string; props: [string, Uint8Array][]; kids: TNode[] }) => {
    b.beginNode(n.name);
    for (const [k, v] of n.props) b.propBytes(k, v);
    for (const c of n.kids) emit(c);
    b.endNode();
  };
  emit({ name: '', ...tree });
  return b.finish();
}

test('random trees written by FdtBuilder read back equal (names, order, property bytes); dtc accepts a sample', () => {
  let n = 0;
  fc.assert(fc.property(treeArb, (tree) => {
    const blob = write(tree);
    const fdt = parseFdt(blob);
    const check = (want: { name: string; props: [string, Uint8Array][]; kids: TNode[] }, got = fdt.root) => {
      assert.is(got.name, want.name);
      assert.equal(got.properties().map((p) => [p.name, Array.from(p.bytes)]), want.props.map(([k, v]) => [k, Array.from(v)]));
      assert.is(got.children().length, want.kids.length);
      want.kids.forEach((k, i) => check(k, got.children()[i]));
    };
    check({ name: '', ...tree });
    if (n++ % 50 === 0) dts(blob);
  }), { numRuns: 1000 * SCALE });
  assert.is(core().exports.memory.buffer.byteLength, memBytes);
});

/** Every query the core offers, on whatever bytes sit at (p, l). None may trap or return INTERNAL. */
function queryAll(p: number, l: number): void {
  const ok = (st: number) => { assert.ok(st !== STATUS_INTERNAL, 'INTERNAL'); return st; };
  ok(raw('fdt_check')(p, l));
  ok(raw('fdt_max_phandle')(p, l));
  for (let i = 0; i < 3; i++) ok(raw('fdt_rsv_entry')(p, l, i));
  const names = ['compatible', 'reg', 'phandle', '#address-cells'].map((s, i) => putAt(s, (5 << 20) + i * 64)) as [number, number][];
  const [rp, rl] = putAt('/', (5 << 20) + 1024);
  const root = ok(raw('fdt_path_offset')(p, l, rp, rl));
  let budget = 400;
  const visit = (node: number, depth: number) => {
    if (node < 0 || budget-- <= 0 || depth > 70) return;
    ok(raw('fdt_node_name')(p, l, node));
    ok(raw('fdt_parent')(p, l, node));
    ok(raw('fdt_reg')(p, l, node, 0));
    for (const [np, nl] of names) ok(raw('fdt_get_prop')(p, l, node, np, nl));
    let q = ok(raw('fdt_first_prop')(p, l, node));
    for (let k = 0; q >= 0 && k < 50; k++) q = ok(raw('fdt_next_prop')(p, l, q));
    let c = ok(raw('fdt_first_subnode')(p, l, node));
    for (let k = 0; c >= 0 && k < 50; k++) { visit(c, depth + 1); c = ok(raw('fdt_next_subnode')(p, l, c)); }
  };
  visit(root, 0);
  const [cp, cl] = putAt('arm,pl011', (5 << 20) + 2048);
  let o = ok(raw('fdt_node_by_compatible')(p, l, -1, cp, cl));
  for (let k = 0; o >= 0 && k < 20; k++) o = ok(raw('fdt_node_by_compatible')(p, l, o, cp, cl));
  ok(raw('fdt_node_by_phandle')(p, l, 1));
  // Arbitrary offsets as nodes and properties.
  for (const off of [0, 4, 40, 56, l - 4, l, l + 4, 0x7fff_fffc, -4]) {
    ok(raw('fdt_first_subnode')(p, l, off)); ok(raw('fdt_next_prop')(p, l, off)); ok(raw('fdt_reg')(p, l, off, 0));
  }
  ok(raw('fdt_index')(p, l, core().transientPtr + (6 << 20) - (1 << 20), 1 << 20));
}

const SAMPLE = dtc(readFileSync('test/unit/fdt/fixtures/sample.dts', 'utf8'));
const VIRT = virtDtb();
const SMALL_SUB = (() => { const b = new FdtBuilder(); b.beginNode('').beginNode('x').propU32('phandle', 0x7000).endNode().endNode(); return b.finish(); })();

const mutation = (len: number) => fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: len }) }),
  fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.integer({ min: 0, max: len * 8 - 1 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('header' as const), field: fc.integer({ min: 0, max: 9 }), value: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 256 }), fc.integer({ min: len - 64, max: len + 64 }).map((x) => Math.max(0, x))) }),
  fc.record({ kind: fc.constant('token' as const), at: fc.integer({ min: 0, max: (len >> 2) - 1 }), value: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 0xffff_ffff })) }),
);
type Mutation = { kind: 'truncate'; at: number } | { kind: 'flip'; bits: number[] } | { kind: 'header'; field: number; value: number } | { kind: 'token'; at: number; value: number };

function mutate(blob: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'truncate') return blob.slice(0, m.at);
  const out = blob.slice();
  const dv = new DataView(out.buffer);
  if (m.kind === 'flip') for (const b of m.bits) out[b >> 3]! ^= 1 << (b & 7);
  else if (m.kind === 'header') dv.setUint32(m.field * 4, m.value);
  else dv.setUint32(m.at * 4, m.value);
  return out;
}

/** Validation statuses the mutations reached: shows they get past the header into the blocks. */
const seen = new Set<string>();

function neverTraps(blob: Uint8Array, m: Mutation): void {
  const bad = mutate(blob, m);
  try { parseFdt(bad); seen.add('OK'); } catch (e) { assert.ok(e instanceof VfioError && e.kind === 'bad-fdt', String(e)); seen.add(e.statusName!); }
  for (const [base, sub] of [[bad, SMALL_SUB], [SAMPLE, bad]] as const) {
    try { mergeFdt(base, sub, '/'); } catch (e) { assert.ok(e instanceof VfioError && e.kind !== 'core-bug', String(e)); }
  }
  // The same bytes queried without validation, as if they had changed after a successful check.
  const [p, l] = putAt(bad, 0);
  queryAll(p, bad.length === l ? l : l);
  // And queried with the original (longer) length: bytes past a truncation are whatever was there.
  queryAll(p, Math.max(l, blob.length));
}

test('mutations of a small written tree and of the dtc fixture never trap (validated or not)', () => {
  const small = write({ props: [['compatible', new TextEncoder().encode('arm,pl011\0')], ['#address-cells', new Uint8Array([0, 0, 0, 1])]], kids: [{ name: 'a@1', props: [['reg', new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2])], ['phandle', new Uint8Array([0, 0, 0, 1])]], kids: [{ name: 'b', props: [], kids: [] }] }] });
  for (const blob of [small, SAMPLE]) fc.assert(fc.property(mutation(blob.length), (m) => neverTraps(blob, m as Mutation)), { numRuns: 1500 * SCALE });
  for (const s of ['OK', 'FDT_TRUNCATED', 'FDT_BAD_MAGIC', 'FDT_BAD_LAYOUT', 'FDT_BAD_TOKEN', 'FDT_BAD_NESTING', 'FDT_BAD_PROP', 'FDT_BAD_STRING', 'FDT_NO_END']) assert.ok(seen.has(s), `no mutation led to ${s}: ${[...seen].join(' ')}`);
  assert.is(core().exports.memory.buffer.byteLength, memBytes);
});

test('mutations of QEMU virt (1 MiB padded) never trap', () => {
  const total = new DataView(VIRT.buffer, VIRT.byteOffset).getUint32(4);
  const structEnd = new DataView(VIRT.buffer, VIRT.byteOffset).getUint32(12) + new DataView(VIRT.buffer, VIRT.byteOffset).getUint32(32);
  assert.ok(total === VIRT.length && structEnd < total);
  // Mutations aimed at the used part (header, map, structure, strings) where they matter.
  const used = VIRT.slice(0, (structEnd + 3) & ~3);
  const padded = (m: Mutation) => { const out = new Uint8Array(VIRT.length); out.set(mutate(used, m)); new DataView(out.buffer).setUint32(4, m.kind === 'header' && m.field === 1 ? m.value : total); return out; };
  fc.assert(fc.property(mutation(used.length), (m) => {
    const bad = padded(m as Mutation);
    try { parseFdt(bad); } catch (e) { assert.ok(e instanceof VfioError && e.kind === 'bad-fdt', String(e)); }
    const [p, l] = putAt(bad, 0);
    queryAll(p, l);
  }), { numRuns: 300 * SCALE });
  assert.is(core().exports.memory.buffer.byteLength, memBytes);
});

test('random writer call sequences never trap and every status is a documented one', () => {
  const ops = fc.array(fc.record({ op: fc.integer({ min: 0, max: 9 }), name: fc.string({ maxLength: 8 }), n: fc.integer({ min: -2, max: 1 << 20 }), cap: fc.integer({ min: 0, max: 1 << 14 }) }), { maxLength: 60 });
  fc.assert(fc.property(ops, (seq) => {
    const base = core().transientPtr + (7 << 20);
    const h = raw('fdt_sw_create')(base, 4096, 1);
    for (const s of seq) {
      const [p, l] = putAt(s.name, 0);
      let st = 0;
      switch (s.op) {
        case 0: st = raw('fdt_sw_begin_node')(h, p, l); break;
        case 1: st = raw('fdt_sw_end_node')(h); break;
        case 2: st = raw('fdt_sw_prop_u32')(h, p, l, s.n >>> 0); break;
        case 3: st = raw('fdt_sw_prop_string')(h, p, l, p, l); break;
        case 4: st = raw('fdt_sw_prop_cells')(h, p, l, core().transientPtr + 4096, s.n & 0xff); break;
        case 5: st = raw('fdt_sw_resize')(h, base, s.cap); break;
        case 6: st = raw('fdt_sw_finish')(h); break;
        case 7: st = raw('fdt_sw_add_reserve')(h, BigInt(s.n >>> 0), 1n); break;
        case 8: st = raw('fdt_sw_alloc_phandle')(h); break;
        case 9: st = raw('fdt_sw_prop')(h, p, l, s.n, s.cap); break;
      }
      assert.ok(st >= 0 || core().statusName(st) !== '', `undocumented status ${st}`);
      assert.ok(st !== STATUS_INTERNAL);
    }
    if (raw('fdt_sw_info')(h) === 4 /* FINISHED */) assert.is(raw('fdt_check')(base, Number(res(0))), 0, 'a finished blob validates');
    raw('fdt_sw_close')(h);
  }), { numRuns: 1000 * SCALE });
  assert.is(core().exports.memory.buffer.byteLength, memBytes);
});

test.run();

// The reader against dtc's and fdtget's answers: a DTS fixture compiled by dtc and QEMU virt's own
// DTBs (GICv2 and GICv3, 1 MiB padded as dumpdtb writes them) are read through parseFdt and through
// the raw fdt_* exports, and every node, subnode list, property, phandle, compatible match and reg
// entry is compared with what fdtget reports for the same file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { parseFdt, type Fdt } from '../../../src/fdt/index';
import { dtc, tmpFile, fdtgetTree, hexBytes, virtDtb, virtDtbGicv2, raw, res, load, putAt, statusName, type FdtgetNode } from './tools';

const SAMPLE = readFileSync('test/unit/fdt/fixtures/sample.dts', 'utf8');
const blobs: [string, () => Uint8Array][] = [
  ['sample.dts via dtc', () => dtc(SAMPLE)],
  ['QEMU virt GICv3', virtDtb],
  ['QEMU virt GICv2', virtDtbGicv2],
];

const u32s = (hex: string) => { const b = hex ? hex.split(' ').map((x) => parseInt(x, 16)) : []; const out: number[] = []; for (let i = 0; i + 3 < b.length; i += 4) out.push(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0); return out; };
const dec = (hex: string) => new TextDecoder().decode(new Uint8Array(hex ? hex.split(' ').map((x) => parseInt(x, 16)) : []));
const parentPath = (p: string) => (p.lastIndexOf('/') === 0 ? '/' : p.slice(0, p.lastIndexOf('/')));

for (const [label, get] of blobs) {
  const blob = get();
  const file = tmpFile(blob);
  const want: FdtgetNode[] = fdtgetTree(file);
  const byPath = new Map(want.map((n) => [n.path, n]));
  let fdt: Fdt;

  test(`${label}: parseFdt has fdtget's nodes in structure order, with the same subnodes and property values`, () => {
    fdt = parseFdt(blob);
    assert.ok(want.length > 10, `${want.length} nodes`);
    assert.equal(fdt.nodes().map((n) => n.path), want.map((n) => n.path));
    for (const w of want) {
      const n = fdt.node(w.path);
      assert.equal(n.children().map((c) => c.name), w.children, w.path);
      assert.equal(n.properties().map((p) => p.name), [...w.props.keys()], w.path);
      for (const [name, hex] of w.props) assert.is(hexBytes(n.prop(name).bytes), hex, `${w.path} ${name}`);
    }
  });

  test(`${label}: raw fdt_path_offset, subnode and property iteration, get_prop and parent agree with fdtget`, () => {
    const [p, l] = load(blob);
    assert.is(raw('fdt_check')(p, l), 0);
    const offsetOf = new Map<string, number>();
    for (const w of want) {
      const [pp, pl] = putAt(w.path, 2 << 20);
      const off = raw('fdt_path_offset')(p, l, pp, pl);
      assert.ok(off >= 0, `${w.path}: ${statusName(off)}`);
      offsetOf.set(w.path, off);
      assert.is(off, fdt.node(w.path).offset);
      const kids: string[] = [];
      for (let c = raw('fdt_first_subnode')(p, l, off); c >= 0; c = raw('fdt_next_subnode')(p, l, c)) {
        const nl = raw('fdt_node_name')(p, l, c);
        kids.push(new TextDecoder().decode(blob.subarray(Number(res(0)), Number(res(0)) + nl)));
      }
      assert.equal(kids, w.children, w.path);
      const props: string[] = [];
      for (let q = raw('fdt_first_prop')(p, l, off); q >= 0; q = raw('fdt_next_prop')(p, l, q)) {
        const name = new TextDecoder().decode(blob.subarray(Number(res(0)), Number(res(0) + res(1))));
        props.push(name);
        assert.is(hexBytes(blob.subarray(Number(res(2)), Number(res(2) + res(3)))), w.props.get(name), `${w.path} ${name}`);
      }
      assert.equal(props, [...w.props.keys()], w.path);
      for (const [name, hex] of w.props) {
        const [np, nl] = putAt(name, 3 << 20);
        assert.ok(raw('fdt_get_prop')(p, l, off, np, nl) >= 0, `${w.path} ${name}`);
        assert.is(hexBytes(blob.subarray(Number(res(2)), Number(res(2) + res(3)))), hex);
      }
      const par = raw('fdt_parent')(p, l, off);
      if (w.path === '/') assert.is(statusName(par), 'NOT_FOUND');
      else assert.is(par, offsetOf.get(parentPath(w.path)), w.path);
    }
  });

  test(`${label}: phandles resolve to fdtget's nodes, and the max phandle is fdtget's largest`, () => {
    const [p, l] = load(blob);
    let max = 0, seen = 0;
    for (const w of want) {
      const hex = w.props.get('phandle') ?? w.props.get('linux,phandle');
      if (hex === undefined) continue;
      const ph = u32s(hex)[0]!;
      max = Math.max(max, ph); seen++;
      assert.is(raw('fdt_node_by_phandle')(p, l, ph), fdt.node(w.path).offset, w.path);
      assert.is(fdt.nodeByPhandle(ph)?.path, w.path);
    }
    assert.ok(seen > 0);
    assert.is(raw('fdt_max_phandle')(p, l), 0);
    assert.is(Number(res(0)), max);
    assert.is(fdt.maxPhandle, max);
    assert.is(statusName(raw('fdt_node_by_phandle')(p, l, 0xdead)), 'NOT_FOUND');
  });

  test(`${label}: every compatible string finds exactly fdtget's nodes, in order, raw and through Fdt`, () => {
    const [p, l] = load(blob);
    const compats = new Map<string, string[]>();
    for (const w of want) {
      const hex = w.props.get('compatible');
      if (hex === undefined) continue;
      for (const c of dec(hex).split('\0').slice(0, -1)) compats.set(c, [...(compats.get(c) ?? []), w.path]);
    }
    assert.ok(compats.size > 3);
    for (const [c, paths] of compats) {
      const [cp, cl] = putAt(c, 2 << 20);
      const got: string[] = [];
      for (let o = raw('fdt_node_by_compatible')(p, l, -1, cp, cl); o >= 0; o = raw('fdt_node_by_compatible')(p, l, o, cp, cl)) got.push(fdt.nodes().find((n) => n.offset === o)!.path);
      assert.equal(got, paths, c);
      assert.equal(fdt.allCompatible(c).map((n) => n.path), paths, c);
      const first = fdt.findCompatible(c)!;
      assert.is(first.path, paths[0]);
      assert.is(fdt.findCompatible(c, first)?.path, paths[1]);
    }
  });

  test(`${label}: reg decodes with the parent's #address-cells/#size-cells (defaults 2/1), raw and through Fdt`, () => {
    const [p, l] = load(blob);
    let checked = 0;
    for (const w of want) {
      const hex = w.props.get('reg');
      if (hex === undefined || w.path === '/') continue;
      const par = byPath.get(parentPath(w.path))!;
      const ac = par.props.has('#address-cells') ? u32s(par.props.get('#address-cells')!)[0]! : 2;
      const sc = par.props.has('#size-cells') ? u32s(par.props.get('#size-cells')!)[0]! : 1;
      const cells = u32s(hex).map(BigInt);
      const expect: { address: bigint; size: bigint }[] = [];
      const field = (at: number, n: number) => cells.slice(at, at + n).reduce((a, x) => (a << 32n) | x, 0n);
      if (ac + sc > 0) for (let i = 0; i < cells.length; i += ac + sc) expect.push({ address: field(i, ac), size: field(i + ac, sc) });
      assert.equal(fdt.node(w.path).reg(), expect, w.path);
      const off = fdt.node(w.path).offset;
      const n = raw('fdt_reg')(p, l, off, 0);
      assert.is(n, expect.length, `${w.path}: ${statusName(n)}`);
      expect.forEach((e, i) => {
        raw('fdt_reg')(p, l, off, i);
        assert.is(res(0), e.address); assert.is(res(1), e.size); assert.is(Number(res(2)), ac); assert.is(Number(res(3)), sc);
      });
      checked++;
    }
    assert.ok(checked >= 5, `${checked} reg properties`);
  });
}

test('QEMU virt DTB is padded to 1 MiB and still reads (totalsize <= input length)', () => {
  const blob = virtDtb();
  assert.is(blob.length, 1 << 20);
  const [p, l] = load(blob);
  assert.is(raw('fdt_check')(p, l), 0);
  assert.ok(Number(res(0)) <= blob.length);
  assert.is(parseFdt(blob).root.prop('compatible').string(), 'linux,dummy-virt');
});

test('sample.dts: reservation map, typed accessors and libfdt path rule (name matches name@unit)', () => {
  const fdt = parseFdt(dtc(SAMPLE));
  assert.equal(fdt.reservations, [{ address: 0x80000000n, size: 0x10000n }, { address: 0xffff0000ffff0000n, size: 0x1000n }]);
  assert.is(fdt.node('/soc/uart').path, '/soc/uart@9000000');
  assert.is(fdt.node('/chosen').prop('bootargs').string(), 'console=ttyAMA0 root=/dev/vda');
  assert.equal(fdt.node('/soc/uart@9000000').prop('clock-names').strings(), ['uartclk', 'apb_pclk']);
  assert.equal(fdt.node('/soc/uart@9000000').prop('interrupts').u32s(), [0, 1, 4]);
  assert.is(fdt.node('/soc/rtc@9010000').phandle, 0x77);
  assert.equal(fdt.node('/platform-bus@c000000/dev@0').reg(), [{ address: 0x1_0000_0002n, size: 0x1000n }, { address: 0xffff_ffff_ffff_f000n, size: 0x10n }]);
  assert.is(fdt.node('/soc/deep/a/b/c/d/e/f').depth, 8);
  assert.is(fdt.findNode('/soc/nothere'), undefined);
  assert.throws(() => fdt.node('/nothere'), (e: any) => e.kind === 'not-found');
  assert.throws(() => fdt.node('/soc').prop('nothere'), (e: any) => e.kind === 'not-found');
  assert.throws(() => fdt.node('/chosen').prop('bootargs').u32(), (e: any) => e.kind === 'bad-fdt');
  const [p, l] = load(dtc(SAMPLE));
  const [pp, pl] = putAt('soc', 2 << 20);
  assert.is(statusName(raw('fdt_path_offset')(p, l, pp, pl)), 'BAD_ARG');
  assert.is(raw('fdt_rsv_entry')(p, l, 1), 0);
  assert.is(res(0), 0xffff0000ffff0000n);
  assert.is(statusName(raw('fdt_rsv_entry')(p, l, 2)), 'NOT_FOUND');
});

test.run();

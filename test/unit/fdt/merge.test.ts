// Merge: a subtree built with FdtBuilder grafted into QEMU virt's DTB and into a dtc fixture,
// checked with dtc and fdtget; name and phandle clashes; malformed inputs; NO_SPACE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FdtBuilder, parseFdt, mergeFdt, fdtMaxPhandle } from '../../../src/fdt/index';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { dtc, dts, tmpFile, fdtget, fdtgetTree, virtDtb, raw, res, putAt, statusName } from './tools';

const errOf = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('no error');
};

/** A platform bus with two devices, phandles above `base`'s largest. */
function subtree(firstPhandle: number, busName = 'vfio-bus@10000000'): Uint8Array {
  using b = new FdtBuilder({ firstPhandle });
  const clk = b.allocPhandle();
  b.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2);
  b.beginNode('vfio-clk').propString('compatible', 'fixed-clock').propU32('#clock-cells', 0).propU32('clock-frequency', 24_000_000).propU32('phandle', clk).endNode();
  b.beginNode(busName).propStrings('compatible', ['qemu,platform', 'simple-bus']).propU32('#address-cells', 1).propU32('#size-cells', 1)
    .propU32('ranges', 0, 0, 0x0c00_0000, 0x200_0000)
    .beginNode('ethernet@0').propString('compatible', 'calxeda,hb-xgmac').propU32('reg', 0, 0x1000).propU32('interrupts', 0, 112, 4).propU32('clocks', clk).propEmpty('dma-coherent').endNode()
    .beginNode('rtc@1000').propStrings('compatible', ['arm,pl031', 'arm,primecell']).propU32('reg', 0x1000, 0x1000).endNode()
    .endNode();
  b.endNode();
  return b.finish();
}

test('a platform bus merged under / of QEMU virt: dtc accepts it, fdtget sees base and subtree unchanged', () => {
  const base = virtDtb();
  const sub = subtree(fdtMaxPhandle(base) + 1);
  const merged = mergeFdt(base, sub, '/');
  dts(merged);
  const f = tmpFile(merged);
  const got = fdtgetTree(f);
  const before = fdtgetTree(tmpFile(base));
  const subT = fdtgetTree(tmpFile(sub));
  // Every base node keeps its properties; the root gains the subtree root's children, after its own.
  for (const n of before) {
    const m = got.find((g) => g.path === n.path)!;
    assert.equal(m.props, n.props, n.path);
    if (n.path !== '/') assert.equal(m.children, n.children, n.path);
  }
  assert.equal(got.find((g) => g.path === '/')!.children, [...before[0]!.children, ...subT[0]!.children]);
  for (const n of subT.slice(1)) assert.equal(got.find((g) => g.path === n.path)?.props, n.props, n.path);
  assert.is(got.length, before.length + subT.length - 1);
  assert.is(fdtget(f, '/vfio-bus@10000000/ethernet@0', 'clocks', 'u'), String(fdtMaxPhandle(base) + 1));
  assert.is(fdtget(f, '/vfio-bus@10000000/rtc@1000', 'compatible', 's'), 'arm,pl031 arm,primecell');
  assert.is(merged.length, new DataView(merged.buffer, merged.byteOffset).getUint32(4), 'no padding');
});

test('merge under a deeper parent, strings shared with the base are not duplicated', () => {
  const base = dtc('/dts-v1/; / { #address-cells = <2>; #size-cells = <2>; soc { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges; uart@0 { compatible = "arm,pl011"; reg = <0 0x1000>; }; }; };');
  using b = new FdtBuilder();
  b.beginNode('').beginNode('uart@1000').propString('compatible', 'arm,pl011').propU32('reg', 0x1000, 0x1000).propString('status', 'okay').endNode().endNode();
  const merged = mergeFdt(base, b.finish(), '/soc');
  const f = tmpFile(merged);
  assert.is(fdtget(f, '/soc/uart@1000', 'reg', 'x'), '1000 1000');
  assert.is(fdtget(f, '/soc/uart@1000', 'status', 's'), 'okay');
  const dv = new DataView(merged.buffer, merged.byteOffset);
  const baseDv = new DataView(base.buffer, base.byteOffset);
  assert.is(dv.getUint32(32), baseDv.getUint32(32) + 'status\0'.length, 'only "status" was added to the strings block');
  assert.equal(parseFdt(merged).node('/soc').children().map((n) => n.name), ['uart@0', 'uart@1000']);
});

test('a subtree child named like a child of the parent is FDT_NAME_CLASH', () => {
  const base = dtc('/dts-v1/; / { a { }; b@1 { }; };');
  using b = new FdtBuilder();
  b.beginNode('').beginNode('c').endNode().beginNode('b@1').endNode().endNode();
  const e = errOf(() => mergeFdt(base, b.finish(), '/'));
  assert.is(e.kind, 'bad-argument');
  assert.is(e.statusName, 'FDT_NAME_CLASH');
});

test('a subtree phandle already used in the base is FDT_PHANDLE_CLASH naming the phandle', () => {
  const base = virtDtb();
  const max = fdtMaxPhandle(base);
  assert.ok(max > 0);
  const e = errOf(() => mergeFdt(base, subtree(max), '/'));
  assert.is(e.statusName, 'FDT_PHANDLE_CLASH');
  assert.is(core().result(0), BigInt(max));
  assert.ok(mergeFdt(base, subtree(max + 1), '/').length > 0);
});

test('a missing parent is not-found; a relative path is bad-argument; malformed inputs are bad-fdt naming the input', () => {
  const base = dtc('/dts-v1/; / { a { }; };');
  const sub = subtree(1);
  assert.is(errOf(() => mergeFdt(base, sub, '/nothere')).kind, 'not-found');
  assert.is(errOf(() => mergeFdt(base, sub, 'a')).kind, 'bad-argument');
  const badSub = sub.slice(); badSub[0] = 0;
  const e1 = errOf(() => mergeFdt(base, badSub, '/'));
  assert.is(e1.kind, 'bad-fdt'); assert.is(e1.statusName, 'FDT_BAD_MAGIC'); assert.match(e1.message, /subtree/);
  const badBase = base.slice(0, 30);
  const e2 = errOf(() => mergeFdt(badBase, sub, '/'));
  assert.is(e2.statusName, 'FDT_TRUNCATED'); assert.match(e2.message, /base/);
});

test('raw fdt_merge: NO_SPACE gives the exact totalsize; that size succeeds; an output overlapping an input is BAD_ARG', () => {
  const base = virtDtb(), sub = subtree(fdtMaxPhandle(virtDtb()) + 1);
  const c = core();
  const [bp, bl] = putAt(base, 0), [sp, sl] = putAt(sub, 1 << 21), [pp, pl] = putAt('/', (1 << 21) + 65536);
  const out = c.transientPtr + (3 << 20);
  assert.is(statusName(raw('fdt_merge')(bp, bl, sp, sl, pp, pl, out, 100)), 'NO_SPACE');
  const need = Number(res(0));
  assert.is(statusName(raw('fdt_merge')(bp, bl, sp, sl, pp, pl, out, need - 1)), 'NO_SPACE');
  assert.is(raw('fdt_merge')(bp, bl, sp, sl, pp, pl, out, need), need);
  assert.is(statusName(raw('fdt_merge')(bp, bl, sp, sl, pp, pl, bp + 16, need)), 'BAD_ARG');
});

test.run();

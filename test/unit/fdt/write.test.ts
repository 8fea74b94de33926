// The writer: exact bytes of a tiny tree (annotated by offset), trees written by the core read back
// by dtc and fdtget, NO_SPACE with the exact size needed, FdtBuilder's lifetime and errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FdtBuilder, parseFdt } from '../../../src/fdt/index';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { dts, tmpFile, fdtget, raw, res, putAt, statusName } from './tools';

const kindOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return `${e.kind}${e.statusName ? ` ${e.statusName}` : ''}`; throw e; }
  return 'OK';
};
const be = (...w: number[]) => w.flatMap((x) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
const str = (s: string) => Array.from(new TextEncoder().encode(s));

test('a tiny tree has exactly the expected bytes (strings deduplicated, offsets annotated)', () => {
  const b = new FdtBuilder();
  b.beginNode('').propString('compatible', 'x').beginNode('n').propU32('reg', 1).propString('compatible', 'y').endNode().endNode();
  const blob = b.finish();
  const expected = [
    // 0: header
    ...be(0xd00dfeed),  // 0   magic
    ...be(147),         // 4   totalsize
    ...be(56),          // 8   off_dt_struct
    ...be(132),         // 12  off_dt_strings
    ...be(40),          // 16  off_mem_rsvmap
    ...be(17),          // 20  version
    ...be(16),          // 24  last_comp_version
    ...be(0),           // 28  boot_cpuid_phys
    ...be(15),          // 32  size_dt_strings
    ...be(76),          // 36  size_dt_struct
    // 40: reservation map: only the terminator
    ...be(0, 0, 0, 0),
    // 56: structure block
    ...be(1), 0, 0, 0, 0,                         // 56  BEGIN_NODE ""  (name NUL + pad)
    ...be(3), ...be(2), ...be(4), ...str('x'), 0, 0, 0, // 64  PROP len 2 nameoff 4 ("compatible") "x\0" + pad
    ...be(1), ...str('n'), 0, 0, 0,               // 80  BEGIN_NODE "n"
    ...be(3), ...be(4), ...be(0), ...be(1),       // 88  PROP len 4 nameoff 0 ("reg") <1>
    ...be(3), ...be(2), ...be(4), ...str('y'), 0, 0, 0, // 104 PROP compatible reuses nameoff 4
    ...be(2),                                     // 120 END_NODE (n)
    ...be(2),                                     // 124 END_NODE (root)
    ...be(9),                                     // 128 END
    // 132: strings block, written back to front: "reg" was added after "compatible"
    ...str('reg'), 0, ...str('compatible'), 0,    // 132..146
  ];
  assert.equal(Array.from(blob), expected);
  assert.ok(dts(blob).includes('compatible = "y";'));
});

test('a tree with every property kind decompiles with dtc and reads back with fdtget', () => {
  using b = new FdtBuilder({ initialSize: 64 });   // starts tiny: grows through NO_SPACE
  b.addReserve(0x8000_0000n, 0x10_0000n).addReserve(0xffff_0000_0000_0000n, 0x1000n);
  b.beginNode('')
    .propU32('#address-cells', 2).propU32('#size-cells', 2)
    .propStrings('compatible', ['vfiokit,test', 'linux,dummy-virt'])
    .propString('model', 'vfiokit test board');
  const gic = b.allocPhandle();
  b.beginNode('intc@8000000').propStrings('compatible', ['arm,gic-400']).propU64('reg', 0x800_0000n, 0x1_0000n, 0x801_0000n, 0x1_0000n)
    .propU32('#interrupt-cells', 3).propEmpty('interrupt-controller').propU32('phandle', gic).endNode();
  b.beginNode('platform-bus@c000000').propU32('#address-cells', 1).propU32('#size-cells', 1).propU32('ranges', 0, 0x0c00_0000, 0x200_0000)
    .beginNode('dev@1000').propString('compatible', 'vfiokit,dev').propU32('reg', 0x1000, 0x100).propU32('interrupts', 0, 112, 4)
    .propU32('interrupt-parent', gic).propBytes('local-mac-address', new Uint8Array([0, 0x11, 0x22, 0x33, 0x44, 0x55])).propEmpty('dma-coherent')
    .endNode().endNode();
  b.beginNode('chosen').propString('bootargs', 'console=ttyAMA0').endNode();
  b.endNode();
  const blob = b.finish();
  const text = dts(blob);
  assert.ok(text.includes('/memreserve/\t0x0000000080000000 0x0000000000100000;'), text);
  assert.ok(text.includes('interrupt-controller;'));
  assert.ok(text.includes('local-mac-address = [00 11 22 33 44 55];'));
  const f = tmpFile(blob);
  assert.is(fdtget(f, '/', 'compatible', 's'), 'vfiokit,test linux,dummy-virt');
  assert.is(fdtget(f, '/', 'model', 's'), 'vfiokit test board');
  assert.is(fdtget(f, '/intc@8000000', 'reg', 'x'), '0 8000000 0 10000 0 8010000 0 10000');
  assert.is(fdtget(f, '/intc@8000000', 'phandle', 'u'), String(gic));
  assert.is(fdtget(f, '/platform-bus@c000000/dev@1000', 'reg', 'x'), '1000 100');
  assert.is(fdtget(f, '/platform-bus@c000000/dev@1000', 'interrupts', 'u'), '0 112 4');
  assert.is(fdtget(f, '/platform-bus@c000000/dev@1000', 'interrupt-parent', 'u'), String(gic));
  assert.is(fdtget(f, '/platform-bus@c000000', 'ranges', 'x'), '0 c000000 2000000');
  assert.is(fdtget(f, '/chosen', 'bootargs', 's'), 'console=ttyAMA0');
  const back = parseFdt(blob);
  assert.equal(back.node('/platform-bus@c000000/dev@1000').reg(), [{ address: 0x1000n, size: 0x100n }]);
  assert.is(back.reservations.length, 2);
});

test('NO_SPACE reports the exact size needed: resizing to exactly that size lets the same call succeed', () => {
  const base = core().transientPtr + (1 << 20);
  let cap = 60, noSpace = 0;
  const h = raw('fdt_sw_create')(base, cap, 1);
  assert.ok(h > 0);
  const call = (fn: () => number) => {
    raw('fdt_sw_info')(h);
    const usedBefore = res(0);
    let st = fn();
    if (statusName(st) === 'NO_SPACE') {
      noSpace++;
      const need = Number(res(0));
      raw('fdt_sw_info')(h);
      assert.is(res(0), usedBefore, 'a refused call changes nothing');
      assert.is(raw('fdt_sw_resize')(h, base, need - 1), 0);
      assert.is(statusName(fn()), 'NO_SPACE', 'one byte less is still too small');
      assert.is(Number(res(0)), need);
      assert.is(raw('fdt_sw_resize')(h, base, need), 0);
      cap = need;
      st = fn();
    }
    assert.ok(st >= 0, statusName(st));
  };
  call(() => raw('fdt_sw_add_reserve')(h, 1n, 2n));
  call(() => raw('fdt_sw_begin_node')(h, ...putAt('', 0)));
  for (let i = 0; i < 20; i++) {
    call(() => raw('fdt_sw_begin_node')(h, ...putAt(`node@${i}`, 0)));
    call(() => raw('fdt_sw_prop_string')(h, ...putAt(`name-${i % 3}`, 0), ...putAt('v'.repeat(i), 256)));
    call(() => raw('fdt_sw_prop_u32')(h, ...putAt('reg', 0), i));
    call(() => raw('fdt_sw_end_node')(h));
  }
  call(() => raw('fdt_sw_end_node')(h));
  const total = raw('fdt_sw_finish')(h);
  raw('fdt_sw_close')(h);
  assert.is(total, cap, 'the buffer was always exactly as large as needed');
  assert.ok(noSpace >= 60, `${noSpace} NO_SPACE answers`);
  const blob = core().take(base, total);
  assert.is(fdtget(tmpFile(blob), '/node@19', 'reg', 'u'), '19');
  assert.is(statusName(raw('fdt_sw_create')(base, 59, 1)), 'NO_SPACE');
  assert.is(res(0), 60n);
});

test('FdtBuilder lifetime: finish twice returns the same blob, close twice is harmless, use after close is "closed"', () => {
  const b = new FdtBuilder();
  b.beginNode('').endNode();
  const a = b.finish();
  assert.is(b.finish(), a);
  assert.is(kindOf(() => b.beginNode('x')), 'bad-state');
  b.close(); b.close();
  assert.is(kindOf(() => b.beginNode('x')), 'closed');
  assert.is(kindOf(() => b.finish()), 'closed');
  const c = new FdtBuilder();
  c.close(); c[Symbol.dispose]();
  assert.is(kindOf(() => c.propU32('x', 1)), 'closed');
  assert.is(kindOf(() => c.finish()), 'closed');
});

test('FdtBuilder frees its persistent buffer: 500 builders of 256 KiB opened and closed in turn', () => {
  for (let i = 0; i < 500; i++) {
    using b = new FdtBuilder({ initialSize: 256 << 10 });
    b.beginNode('');
    if (i % 2) { b.endNode(); b.finish(); }
  }
});

test('FdtBuilder errors: bad names, properties after a subnode, values, finish with open nodes', () => {
  using b = new FdtBuilder();
  assert.is(kindOf(() => b.beginNode('root')), 'bad-argument FDT_W_BAD_NAME');
  b.beginNode('');
  assert.is(kindOf(() => b.beginNode('')), 'bad-argument FDT_W_BAD_NAME');
  assert.is(kindOf(() => b.beginNode('a/b')), 'bad-argument FDT_W_BAD_NAME');
  assert.is(kindOf(() => b.beginNode('x'.repeat(256))), 'bad-argument FDT_W_BAD_NAME');
  assert.is(kindOf(() => b.propU32('', 1)), 'bad-argument FDT_W_BAD_NAME');
  assert.is(kindOf(() => b.propString('s', 'a\0b')), 'bad-argument FDT_W_BAD_VALUE');
  assert.is(kindOf(() => b.propU32('n', -1)), 'bad-argument');
  assert.is(kindOf(() => b.finish()), 'bad-state BAD_STATE');
  b.beginNode('child').endNode();
  assert.is(kindOf(() => b.propU32('late', 1)), 'bad-state BAD_STATE');
  assert.is(kindOf(() => b.addReserve(0n, 1n)), 'bad-state BAD_STATE');
  for (let i = 0; i < 63; i++) b.beginNode('d');
  assert.is(kindOf(() => b.beginNode('d')), 'bad-argument FDT_W_TOO_DEEP');
});

test('phandles: allocated upward from firstPhandle; a phandle property written by hand moves the allocator past it', () => {
  using b = new FdtBuilder({ firstPhandle: 100 });
  assert.is(b.allocPhandle(), 100);
  assert.is(b.allocPhandle(), 101);
  b.beginNode('').beginNode('a').propU32('phandle', 500).endNode().beginNode('b').propU32('linux,phandle', 300).endNode();
  assert.is(b.allocPhandle(), 501);
  b.endNode();
  assert.is(parseFdt(b.finish()).maxPhandle, 500);
  using c = new FdtBuilder({ firstPhandle: 0xffff_fffe });
  assert.is(c.allocPhandle(), 0xffff_fffe);
  assert.is(kindOf(() => c.allocPhandle()), 'no-space FDT_W_PHANDLES_EXHAUSTED');
});

test('two FdtBuilders built interleaved, both growing their buffers, give two independent trees', () => {
  using a = new FdtBuilder({ initialSize: 64 });
  using b = new FdtBuilder({ initialSize: 64 });
  a.beginNode(''); b.beginNode('');
  for (let i = 0; i < 300; i++) {
    a.beginNode(`a@${i}`).propU32('reg', i).propString('label', `a-${i}`).endNode();
    b.beginNode(`b@${i}`).propU64('reg', BigInt(i) << 32n).propStrings('compatible', [`b,${i}`, 'b']).endNode();
  }
  a.endNode(); b.endNode();
  const ta = parseFdt(a.finish()), tb = parseFdt(b.finish());
  assert.is(ta.nodes().length, 301); assert.is(tb.nodes().length, 301);
  assert.is(ta.node('/a@299').prop('label').string(), 'a-299');
  assert.equal(tb.node('/b@299').prop('compatible').strings(), ['b,299', 'b']);
  assert.is(tb.node('/b@7').prop('reg').u64(), 7n << 32n);
});

test.run();

// The MSI-X emulation (THE RULE in assembly/pci/msix.ts) through src/core/msix.ts: the table and
// PBA as a guest reads and writes them at every width the PCI spec allows, the vector and
// function masks, enable/disable, pending bits delivered on unmask, accesses the spec leaves
// undefined, and the host's "vector fired". Fixture: multi() (16 vectors, table in BAR1 at
// 0x2000, PBA at 0x3000, MSI-X capability at 0x70, Message Control at 0x72).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PciConfig, type PciAction } from '../../../src/core/pci';
import { PciMsix, type MsixAction } from '../../../src/core/msix';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { Cfg, edu, multi } from './fixtures';

const CONTROL = 0x72;
const ENABLE = 0x8000;
const MASKALL = 0x4000;
const entry = (v: number, reg = 0) => v * 16 + reg;
const ALL64 = 0xffff_ffff_ffff_ffffn;

function open(): { p: PciConfig; x: PciMsix } {
  const { config, sizes } = multi();
  const p = new PciConfig(config, sizes);
  return { p, x: new PciMsix(p) };
}

/** Programs vector v (address, data) while masked, then unmasks it; returns the unmask's actions. */
function program(x: PciMsix, v: number, address: bigint, data: number): MsixAction[] {
  x.write('table', entry(v, 0), 8, address);
  x.write('table', entry(v, 8), 4, data);
  return x.write('table', entry(v, 12), 4, 0);
}

const route = (vector: number, address: bigint, data: number): PciAction => ({ kind: 'msix-route', vector, address, data });
const deliver = (vector: number, address: bigint, data: number): PciAction => ({ kind: 'msix-deliver', vector, address, data });
const mask = (vector: number): PciAction => ({ kind: 'msix-mask', vector });
const unmask = (vector: number): PciAction => ({ kind: 'msix-unmask', vector });
const update = (control: number): PciAction => ({ kind: 'msix-update', offset: 0x70, control: control | 0x000f }); // Table Size - 1 = 15

test('a fresh table: every vector masked, address and data 0, nothing pending, MSI-X disabled', () => {
  using p = open().p;
  const x = new PciMsix(p);
  assert.is(x.entries, 16);
  for (let v = 0; v < 16; v++) {
    assert.is(x.read('table', entry(v, 12), 4), 1n, `vector ${v} control`);
    assert.is(x.read('table', entry(v, 0), 8), 0n);
    assert.is(x.read('table', entry(v, 8), 4), 0n);
  }
  assert.is(x.read('pba', 0, 8), 0n);
  assert.equal(x.stats(), { entries: 16, enabled: false, functionMasked: false, badAccesses: 0n, pbaWrites: 0n, firesDropped: 0n, liveVectors: 0, pendingVectors: 0 });
});

test('round trips: each dword, each qword, and dword reads of a qword write', () => {
  const { p, x } = open();
  using _ = p;
  x.write('table', entry(3, 0), 4, 0xfee0_1004);
  x.write('table', entry(3, 4), 4, 0x0000_0001);
  x.write('table', entry(3, 8), 4, 0xdead_beef);
  assert.is(x.read('table', entry(3, 0), 4), 0xfee0_1004n);
  assert.is(x.read('table', entry(3, 4), 4), 1n);
  assert.is(x.read('table', entry(3, 8), 4), 0xdead_beefn);
  assert.is(x.read('table', entry(3, 0), 8), 0x1_fee0_1004n, 'a qword read of the address');
  assert.is(x.read('table', entry(3, 8), 8), (1n << 32n) | 0xdead_beefn, 'data in the low dword, vector control in the high');
  x.write('table', entry(5, 0), 8, 0x1234_5678_9abc_def0n);
  assert.is(x.read('table', entry(5, 0), 4), 0x9abc_def0n);
  assert.is(x.read('table', entry(5, 4), 4), 0x1234_5678n);
  x.write('table', entry(5, 8), 8, (1n << 32n) | 0x4021n);
  assert.is(x.read('table', entry(5, 8), 4), 0x4021n);
  assert.is(x.read('table', entry(5, 12), 4), 1n);
  assert.equal(x.vector(5), { vector: 5, address: 0x1234_5678_9abc_def0n, data: 0x4021, masked: true, pending: false, live: false, stale: true });
});

test('Message Address bits 1:0 and Vector Control bits 31:1 read 0 whatever is written', () => {
  const { p, x } = open();
  using _ = p;
  x.write('table', entry(0, 0), 4, 0xffff_ffff);
  assert.is(x.read('table', entry(0, 0), 4), 0xffff_fffcn);
  x.write('table', entry(0, 12), 4, 0xffff_ffff);
  assert.is(x.read('table', entry(0, 12), 4), 1n);
  x.write('table', entry(0, 12), 4, 0xffff_fffe);
  assert.is(x.read('table', entry(0, 12), 4), 0n);
});

test('unmasking a programmed vector with MSI-X on: one route, then unmask', () => {
  const { p, x } = open();
  using _ = p;
  assert.equal(p.write(CONTROL, 2, ENABLE), [update(ENABLE)], 'no vector is unmasked yet');
  assert.equal(program(x, 2, 0x8090040n, 0x21), [route(2, 0x8090040n, 0x21), unmask(2)]);
  assert.ok(x.vector(2).live);
});

test('mask and unmask without a new address or data: mask, unmask, never a route', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 2, 0x8090040n, 0x21);
  for (let i = 0; i < 3; i++) {
    assert.equal(x.write('table', entry(2, 12), 4, 1), [mask(2)]);
    assert.equal(x.write('table', entry(2, 12), 4, 0), [unmask(2)]);
  }
  assert.equal(x.write('table', entry(2, 12), 4, 0), [], 'unmasking an unmasked vector does nothing');
});

test('a new address written while masked is routed once, at the unmask', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 2, 0x8090040n, 0x21);
  x.write('table', entry(2, 12), 4, 1);
  assert.equal(x.write('table', entry(2, 0), 4, 0x8090080), []);
  assert.equal(x.write('table', entry(2, 8), 4, 0x22), []);
  assert.equal(x.write('table', entry(2, 12), 4, 0), [route(2, 0x8090080n, 0x22), unmask(2)]);
});

test('data and unmask in one qword write: the route comes before the unmask', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  x.write('table', entry(4, 0), 8, 0x8090040n);
  assert.equal(x.write('table', entry(4, 8), 8, 0x33n), [route(4, 0x8090040n, 0x33), unmask(4)]);
});

test('writing a live vector\'s address or data (undefined in the spec) routes at once; a qword address write is one route', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 1, 0x8090040n, 0x21);
  assert.equal(x.write('table', entry(1, 8), 4, 0x25), [route(1, 0x8090040n, 0x25)]);
  assert.equal(x.write('table', entry(1, 0), 8, 0x1_0000_0040n), [route(1, 0x1_0000_0040n, 0x25)]);
  assert.equal(x.write('table', entry(1, 8), 4, 0x25), [], 'the same value: no route');
  assert.equal(x.fire(1), [deliver(1, 0x1_0000_0040n, 0x25)], 'delivered with what the guest reads back');
});

test('a fire while live is delivered at once; while masked it is pending, shown in the PBA, and delivered at unmask', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 9, 0x8090040n, 0x29);
  assert.equal(x.fire(9), [deliver(9, 0x8090040n, 0x29)]);
  x.write('table', entry(9, 12), 4, 1);
  assert.equal(x.fire(9), []);
  assert.equal(x.fire(9), [], 'a second fire while masked is the same pending bit');
  assert.is(x.read('pba', 0, 8), 1n << 9n);
  assert.is(x.read('pba', 0, 4), 1n << 9n);
  assert.is(x.read('pba', 4, 4), 0n);
  assert.equal(x.write('table', entry(9, 12), 4, 0), [unmask(9), deliver(9, 0x8090040n, 0x29)]);
  assert.is(x.read('pba', 0, 8), 0n);
  assert.equal(x.write('table', entry(9, 12), 4, 1), [mask(9)]);
  assert.equal(x.write('table', entry(9, 12), 4, 0), [unmask(9)], 'nothing pending any more');
});

test('Function Mask: masks every live vector before the update; clearing it unmasks them after, delivering what fired meanwhile', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 0, 0x8090040n, 0x20);
  program(x, 7, 0x8090040n, 0x27);
  assert.equal(p.write(CONTROL, 2, ENABLE | MASKALL), [mask(0), mask(7), update(ENABLE | MASKALL)]);
  assert.equal(x.fire(7), []);
  assert.ok(x.vector(7).pending);
  assert.equal(x.write('table', entry(3, 12), 4, 0), [], 'unmasking a vector under the function mask is not live yet');
  assert.equal(p.write(CONTROL, 2, ENABLE), [update(ENABLE), unmask(0), route(3, 0n, 0), unmask(3), unmask(7), deliver(7, 0x8090040n, 0x27)]);
  assert.equal(x.stats().liveVectors, 3);
  assert.equal(x.stats().functionMasked, false);
});

test('disable: live vectors are masked first; fires while disabled are dropped, not pending; enable unmasks them again without a route', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  program(x, 5, 0x8090040n, 0x25);
  assert.equal(p.write(CONTROL, 2, 0), [mask(5), update(0)]);
  assert.equal(x.fire(5), []);
  assert.is(x.vector(5).pending, false);
  assert.is(x.stats().firesDropped, 1n);
  assert.equal(p.write(CONTROL, 2, ENABLE), [update(ENABLE), unmask(5)]);
  assert.equal(p.write(CONTROL + 1, 1, 0xc0), [mask(5), update(ENABLE | MASKALL)], 'a byte write of the control\'s upper half counts too');
});

test('accesses the spec leaves undefined read all-ones of their width and write nothing, and are counted', () => {
  const { p, x } = open();
  using _ = p;
  x.write('table', entry(0, 8), 4, 0x1234);
  assert.is(x.read('table', entry(0, 8), 1), 0xffn, 'byte');
  assert.is(x.read('table', entry(0, 8), 2), 0xffffn, 'word');
  assert.is(x.read('table', entry(0, 9), 4), 0xffff_ffffn, 'misaligned dword');
  assert.is(x.read('table', entry(0, 4), 8), ALL64, 'qword not 8-aligned');
  assert.is(x.read('table', entry(16, 0), 4), 0xffff_ffffn, 'past the last entry');
  assert.is(x.read('pba', 8, 4), 0xffff_ffffn, 'past the PBA (16 vectors: one qword)');
  assert.equal(x.write('table', entry(0, 8), 2, 0x5678), []);
  assert.equal(x.write('table', entry(0, 6), 4, 0x5678), []);
  assert.equal(x.write('table', entry(16, 8), 4, 0x5678), []);
  assert.is(x.read('table', entry(0, 8), 4), 0x1234n, 'unchanged');
  assert.equal(x.write('pba', 0, 8, ALL64), [], 'the PBA is read-only');
  assert.equal(x.write('pba', 0, 2, 0xffff), [], 'a PBA write of an undefined width is a bad access');
  assert.is(x.read('pba', 0, 8), 0n);
  const s = x.stats();
  assert.is(s.badAccesses, 10n);
  assert.is(s.pbaWrites, 1n);
});

test('the biggest table: 2048 vectors unmasked under the function mask come live in one config write', () => {
  // 2048 entries x 16 = 32 KiB of table at 0 and the PBA (256 bytes) at 0x8000 of a 64 KiB BAR0.
  const c = new Cfg(256).u16(0, 0x1b36).u16(2, 0x0010).u16(6, 0x10).u32(0x10, 0x4).u8(0x34, 0x40)
    .cap(0x40, 0x11, 0).u16(0x42, 0x07ff).u32(0x44, 0x0).u32(0x48, 0x8000);
  using p = new PciConfig(c.b, [65536n, 0n, 0n, 0n, 0n, 0n, 0n]);
  const x = new PciMsix(p);
  assert.is(x.entries, 2048);
  p.write(0x42, 2, ENABLE | MASKALL);
  for (let v = 0; v < 2048; v++) assert.equal(x.write('table', entry(v, 12), 4, 0), []);
  for (let v = 0; v < 2048; v += 2) x.fire(v);
  assert.is(x.stats().pendingVectors, 1024);
  assert.is(x.read('pba', 0x100 - 8, 8), 0x5555_5555_5555_5555n);
  const acts = p.write(0x42, 2, ENABLE);
  assert.is(acts.length, 1 + 2048 * 2 + 1024);
  assert.is(acts.filter((a) => a.kind === 'msix-deliver').length, 1024);
  assert.is(x.stats().liveVectors, 2048);
  assert.is(x.stats().pendingVectors, 0);
});

test('the raw protocol: a table write or fire that does not fit changes nothing and says how much it needs', () => {
  const { p, x } = open();
  using _ = p;
  p.write(CONTROL, 2, ENABLE);
  x.write('table', entry(0, 0), 8, 0x8090040n);
  const c = core();
  const w = c.fn<(...a: (number | bigint)[]) => number>('pci_msix_write');
  const out = c.transientPtr + 8192;
  assert.is(w(p.coreHandle(), 0, entry(0, 12), 4, 0n, out, 32), -3);
  assert.is(c.result(0), 64n, 'route + unmask');
  assert.equal(x.vector(0).masked, true);
  const fire = c.fn<(...a: (number | bigint)[]) => number>('pci_msix_fire');
  assert.is(fire(p.coreHandle(), 16, out, 32), -1, 'vector out of range');
  assert.is(fire(p.coreHandle(), 0, out, 0), -3);
  assert.is(x.vector(0).pending, false, 'a fire that did not fit changed nothing');
});

test('no MSI-X capability: PciMsix refuses; a closed config is closed; bad vectors are the caller\'s bug', () => {
  const { config, sizes } = edu();
  using e = new PciConfig(config, sizes);
  try { new PciMsix(e); assert.unreachable(); } catch (err) {
    assert.instance(err, VfioError);
    assert.is((err as VfioError).kind, 'bad-argument');
    assert.match((err as VfioError).message, /no MSI-X capability/);
  }
  const { p, x } = open();
  assert.throws(() => x.fire(16), (err: unknown) => err instanceof VfioError && err.kind === 'bad-argument');
  assert.throws(() => x.vector(-1), (err: unknown) => err instanceof VfioError && err.kind === 'bad-argument');
  p.close();
  assert.throws(() => x.read('table', 0, 4), (err: unknown) => err instanceof VfioError && err.kind === 'closed');
  assert.throws(() => new PciMsix(p), (err: unknown) => err instanceof VfioError && err.kind === 'closed');
});

test('a new PciConfig in a reused slot starts with a fresh table', () => {
  const a = open();
  a.p.write(CONTROL, 2, ENABLE);
  program(a.x, 1, 0x8090040n, 0x21);
  a.p.close();
  const b = open();
  using _ = b.p;
  assert.equal(b.x.vector(1), { vector: 1, address: 0n, data: 0, masked: true, pending: false, live: false, stale: true });
  assert.is(b.x.stats().enabled, false);
});

test.run();

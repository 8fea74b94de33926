// Property test of the MSI-X emulation (THE RULE in assembly/pci/msix.ts) over random sequences of
// guest table/PBA accesses, Message Control writes and host fires (fast-check). A model written
// here from the PCI spec keeps the table, the masks and how many fires each vector is owed; a host
// stand-in carries out the actions. Properties, after every step:
//   - a vector is delivered once per fire, either at the fire or (coalesced with the other fires
//     of the same masked period, as the PBA has one bit) at the unmask, and never while masked:
//     a deliver needs the host to have the vector live and the model to owe it a fire
//   - fires while MSI-X is disabled are dropped; while masked they are pending (PBA bit set)
//   - the host has a vector live exactly when enabled && !function mask && !vector mask, with the
//     route the table holds; a route comes only when the host has none or address/data changed
//   - mask/unmask come in pairs (never mask a masked vector, never unmask a live one)
//   - every read equals the model; bad accesses change nothing; memory does not grow
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PciConfig, type PciAction } from '../../../src/core/pci';
import { PciMsix } from '../../../src/core/msix';
import { core } from '../../../src/core/loader';
import { Cfg } from './fixtures';

const RUNS = Number(process.env.PCI_PROPERTY_RUNS ?? 300);
const ALL64 = 0xffff_ffff_ffff_ffffn;

/** A function with `n` vectors: BAR0 64 KiB, table at 0, PBA at 0x8000; MSI-X at 0x40. */
function device(n: number): { config: Uint8Array; sizes: bigint[] } {
  const c = new Cfg(256).u16(0, 0x1b36).u16(2, 0x0010).u16(6, 0x10).u32(0x10, 0x0).u8(0x34, 0x40)
    .cap(0x40, 0x11, 0).u16(0x42, n - 1).u32(0x44, 0x0).u32(0x48, 0x8000);
  return { config: c.b, sizes: [65536n, 0n, 0n, 0n, 0n, 0n, 0n] };
}

type Op =
  | { t: 'ctl'; enable: boolean; fmask: boolean }
  | { t: 'w'; v: number; reg: 0 | 4 | 8 | 12; wide: boolean; value: bigint }
  | { t: 'mask'; v: number; masked: boolean }
  | { t: 'fire'; v: number }
  | { t: 'r'; pba: boolean; off: number; width: number }
  | { t: 'bad'; pba: boolean; off: number; width: number; value: bigint };

/** Values that repeat often (so that rewriting the same address is common) and any u64. */
const valueArb = fc.oneof(fc.constantFrom(0n, 1n, 0x8090040n, 0x1_0000_0021n), fc.bigInt({ min: 0n, max: ALL64 }));

const opArb = (n: number): fc.Arbitrary<Op> => {
  const v = fc.nat(n - 1);
  return fc.oneof(
    fc.record({ t: fc.constant('ctl' as const), enable: fc.boolean(), fmask: fc.boolean() }),
    fc.constant({ t: 'ctl' as const, enable: true, fmask: false }),
    fc.record({ t: fc.constant('w' as const), v, reg: fc.constantFrom(0, 4, 8, 12) as fc.Arbitrary<0 | 4 | 8 | 12>, wide: fc.boolean(), value: valueArb }),
    fc.record({ t: fc.constant('mask' as const), v, masked: fc.boolean() }),
    fc.record({ t: fc.constant('fire' as const), v }),
    fc.record({ t: fc.constant('fire' as const), v }),
    fc.record({ t: fc.constant('r' as const), pba: fc.boolean(), off: fc.nat(n * 16 + 16), width: fc.constantFrom(1, 2, 4, 8) }),
    fc.record({ t: fc.constant('bad' as const), pba: fc.boolean(), off: fc.nat(n * 16 + 16), width: fc.constantFrom(1, 2, 3, 4, 8, 16), value: valueArb }),
  );
};

class Model {
  readonly addr: bigint[]; readonly data: number[]; readonly masked: boolean[];
  readonly owed: number[]; readonly dirty: boolean[];
  enabled = false; fmask = false;
  constructor(readonly n: number) {
    this.addr = Array(n).fill(0n); this.data = Array(n).fill(0); this.masked = Array(n).fill(true);
    this.owed = Array(n).fill(0); this.dirty = Array(n).fill(true);
  }
  live(v: number): boolean { return this.enabled && !this.fmask && !this.masked[v]!; }
  bytes(pba: boolean): number { return pba ? Math.ceil(this.n / 64) * 8 : this.n * 16; }
  valid(pba: boolean, off: number, width: number): boolean {
    return (width === 4 || width === 8) && off % width === 0 && off + width <= this.bytes(pba);
  }
  dword(pba: boolean, off: number): bigint {
    if (pba) {
      let bits = 0n;
      for (let k = 0; k < 32; k++) { const v = (off / 4) * 32 + k; if (v < this.n && this.owed[v]! > 0) bits |= 1n << BigInt(k); }
      return bits;
    }
    const v = Math.floor(off / 16), reg = off % 16;
    if (reg === 0) return this.addr[v]! & 0xffff_ffffn;
    if (reg === 4) return this.addr[v]! >> 32n;
    if (reg === 8) return BigInt(this.data[v]!);
    return this.masked[v]! ? 1n : 0n;
  }
  read(pba: boolean, off: number, width: number): bigint {
    if (!this.valid(pba, off, width)) return width < 8 ? (1n << BigInt(width * 8)) - 1n : ALL64;
    const lo = this.dword(pba, off);
    return width === 4 ? lo : lo | (this.dword(pba, off + 4) << 32n);
  }
  writeDword(v: number, reg: number, value: bigint): void {
    const a = this.addr[v]!, d = this.data[v]!;
    if (reg === 0) this.addr[v] = (a & ~0xffff_ffffn) | (value & 0xffff_fffcn);
    else if (reg === 4) this.addr[v] = (a & 0xffff_ffffn) | ((value & 0xffff_ffffn) << 32n);
    else if (reg === 8) this.data[v] = Number(value & 0xffff_ffffn);
    else this.masked[v] = (value & 1n) === 1n;
    if (this.addr[v] !== a || this.data[v] !== d) this.dirty[v] = true;
  }
}

test('any sequence of guest accesses, control writes and fires keeps the delivery and masking invariants', () => {
  const c = core();
  const memoryBefore = c.exports.memory.buffer.byteLength;
  fc.assert(fc.property(fc.constantFrom(1, 3, 16, 63, 64, 65, 130).chain((n) => fc.tuple(fc.constant(n), fc.array(opArb(n), { minLength: 20, maxLength: 150 }))), ([n, ops]) => {
    const { config, sizes } = device(n);
    using p = new PciConfig(config, sizes);
    const x = new PciMsix(p);
    const m = new Model(n);
    const live = new Set<number>();
    const routes = new Map<number, { address: bigint; data: number }>();

    const carry = (acts: PciAction[], what: string) => {
      for (const a of acts) {
        if (a.kind === 'msix-update') continue;
        assert.ok(a.kind.startsWith('msix-'), `${what}: unexpected ${a.kind}`);
        const v = (a as { vector: number }).vector;
        if (a.kind === 'msix-route') {
          assert.ok(m.dirty[v] || !routes.has(v), `${what}: a route for vector ${v} whose address/data did not change`);
          assert.equal([a.address, a.data], [m.addr[v], m.data[v]], `${what}: the route is the table's`);
          routes.set(v, { address: a.address, data: a.data }); m.dirty[v] = false;
        } else if (a.kind === 'msix-mask') {
          assert.ok(live.has(v), `${what}: mask of vector ${v} that the host does not have live`);
          live.delete(v);
        } else if (a.kind === 'msix-unmask') {
          assert.not.ok(live.has(v), `${what}: unmask of live vector ${v}`);
          assert.ok(routes.has(v), `${what}: unmask of vector ${v} before any route`);
          live.add(v);
        } else if (a.kind === 'msix-deliver') {
          assert.ok(live.has(v), `${what}: vector ${v} delivered while masked`);
          assert.ok(m.owed[v]! > 0, `${what}: vector ${v} delivered without a fire owed`);
          assert.equal({ address: a.address, data: a.data }, routes.get(v), `${what}: delivered with the host's route`);
          m.owed[v] = 0;
        }
      }
    };

    for (const [i, o] of ops.entries()) {
      const what = `step ${i} ${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
      if (o.t === 'ctl') {
        m.enabled = o.enable; m.fmask = o.fmask;
        carry(p.write(0x42, 2, (o.enable ? 0x8000 : 0) | (o.fmask ? 0x4000 : 0)), what);
      } else if (o.t === 'w' || o.t === 'mask') {
        const reg = o.t === 'mask' ? 12 : o.reg;
        const wide = o.t === 'w' && o.wide && (reg === 0 || reg === 8);
        const value = o.t === 'mask' ? (o.masked ? 1n : 0n) : wide ? o.value : o.value & 0xffff_ffffn;
        m.writeDword(o.v, reg, value & 0xffff_ffffn);
        if (wide) m.writeDword(o.v, reg + 4, value >> 32n);
        carry(x.write('table', o.v * 16 + reg, wide ? 8 : 4, value), what);
      } else if (o.t === 'fire') {
        if (m.enabled) m.owed[o.v]! += 1;
        const acts = x.fire(o.v);
        assert.is(acts.length, m.live(o.v) ? 1 : 0, `${what}: deliver exactly when live`);
        carry(acts, what);
      } else if (o.t === 'r') {
        assert.is(x.read(o.pba ? 'pba' : 'table', o.off, o.width), m.read(o.pba, o.off, o.width), what);
      } else {
        if (!m.valid(o.pba, o.off, o.width)) {
          assert.equal(x.write(o.pba ? 'pba' : 'table', o.off, o.width, o.value), [], `${what}: a bad write does nothing`);
        } else if (o.pba) {
          assert.equal(x.write('pba', o.off, o.width, o.value), [], `${what}: the PBA is read-only`);
        }
      }
      for (let v = 0; v < n; v++) {
        assert.is(live.has(v), m.live(v), `${what}: vector ${v} live in the host`);
        if (m.live(v)) {
          assert.is(m.owed[v], 0, `${what}: a live vector owes nothing`);
          assert.equal(routes.get(v), { address: m.addr[v], data: m.data[v] }, `${what}: vector ${v}'s route is the table's`);
        }
        assert.is(m.owed[v]! > 0, x.vector(v).pending, `${what}: vector ${v} pending`);
      }
    }
    for (let off = 0; off < m.bytes(true); off += 8) assert.is(x.read('pba', off, 8), m.read(true, off, 8));
  }), { numRuns: RUNS });
  assert.is(c.exports.memory.buffer.byteLength, memoryBefore);
});

test.run();

// The MSI-X relocation decision (THE RULE in assembly/pci/relocate.ts) at 4, 16 and 64 KiB pages:
// a few layouts by hand (an NVMe-like BAR0 whose table shares its page with the doorbells), then
// random BAR layouts against a reference model written here, which finds shared pages by
// subtracting the table and PBA from each trapped window (the core counts covered bytes instead).
// Properties beyond equality with the model: a relocated table and PBA fit their BAR, start on a
// page boundary past every device byte of it, and the BAR stays a power of two its register can
// decode; nothing moves when no page is shared or the kernel would not map the pages anyway.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { msixGuestView, msixRelocation, type MsixRelocation } from '../../../src/core/msix';
import { decodeBars, findCapabilities, msixHoles, PciConfig } from '../../../src/core/pci';
import { Cfg } from './fixtures';

const RUNS = Number(process.env.PCI_PROPERTY_RUNS ?? 400);
const PAGES = [4096, 16384, 65536];

interface Layout {
  /** Per slot 0..5: 0 none, 1 mem32, 2 mem64 (takes the next slot), 3 I/O; with log2 sizes. */
  kinds: number[]; log2: number[];
  entries: number; tableBar: number; tableOff: number; pbaBar: number; pbaOff: number;
}

function build(l: Layout): { config: Uint8Array; sizes: bigint[] } {
  const c = new Cfg(256).u16(0, 0x1b36).u16(2, 0x0010).u16(6, 0x10).u8(0x34, 0x40);
  const sizes = [0n, 0n, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < 6; i++) {
    const k = l.kinds[i]!;
    if (k === 0) continue;
    sizes[i] = 1n << BigInt(l.log2[i]!);
    c.u32(0x10 + i * 4, k === 3 ? 1 : k === 2 ? 4 : 0);
  }
  c.cap(0x40, 0x11, 0).u16(0x42, l.entries - 1).u32(0x44, l.tableOff | l.tableBar).u32(0x48, l.pbaOff | l.pbaBar);
  return { config: c.b, sizes };
}

/** Random valid layouts: BAR kinds and sizes, then the table and PBA placed inside memory BARs. */
const layoutArb: fc.Arbitrary<Layout> = fc.record({
  kinds: fc.array(fc.constantFrom(0, 0, 1, 2, 3), { minLength: 6, maxLength: 6 }),
  log2: fc.array(fc.integer({ min: 12, max: 34 }), { minLength: 6, maxLength: 6 }),
  entries: fc.oneof(fc.integer({ min: 1, max: 2048 }), fc.constantFrom(1, 32, 64, 65, 256, 2048)),
  t: fc.tuple(fc.nat(5), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(5), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()),
  /** One layout in eight is crowded: every slot a 32-bit BAR, BAR0 2 GiB (where IMPOSSIBLE lives). */
  crowd: fc.nat(7),
}).map(({ kinds, log2, entries, t, crowd }) => {
  const k = crowd === 0 ? [1, 1, 1, 1, 1, 1] : [...kinds];
  const sz = [...log2];
  if (crowd === 0) sz[0] = 31;
  for (let i = 0; i < 6; i++) {
    if (k[i] === 2) { if (i === 5) k[i] = 1; else { k[i + 1] = 0; i++; } }
  }
  for (let i = 0; i < 6; i++) {
    if (k[i] === 1) sz[i] = Math.min(sz[i]!, 31);          // a 32-bit BAR decodes at most 2 GiB
    if (k[i] === 3) sz[i] = 2 + (sz[i]! % 15);              // I/O: 4 bytes .. 64 KiB
  }
  const upper = (i: number) => i > 0 && k[i - 1] === 2;
  const mem = [0, 1, 2, 3, 4, 5].filter((i) => (k[i] === 1 || k[i] === 2) && !upper(i));
  if (mem.length === 0) { k[0] = 1; sz[0] = 16; mem.push(0); }
  const tableBytes = entries * 16, pbaBytes = Math.ceil(entries / 64) * 8;
  const [tb, tf, pb0, pf, sameBar] = t;
  const tb0 = crowd === 0 ? 0 : tb; // crowded: the table in the 2 GiB BAR0
  const fit = (bar: number, bytes: number) => 2 ** sz[bar]! >= bytes;
  const tableBar = mem.find((b, j) => j >= tb0 % mem.length && fit(b, tableBytes)) ?? mem.find((b) => fit(b, tableBytes));
  if (tableBar === undefined) { sz[mem[0]!] = 16; return { kinds: k, log2: sz, entries: 1, tableBar: mem[0]!, tableOff: 0, pbaBar: mem[0]!, pbaOff: 0x8000 }; }
  const pbaBar = sameBar ? tableBar : (mem.find((b, j) => j >= pb0 % mem.length && fit(b, pbaBytes)) ?? tableBar);
  // Offsets are 8-aligned and below 2^32 (the register's field); often near page boundaries.
  const place = (bar: number, bytes: number, f: number) => {
    const room = Math.min(2 ** sz[bar]! - bytes, 0xffff_fff8);
    return Math.floor((room * f) / 8) * 8;
  };
  let tableOff = place(tableBar, tableBytes, tf);
  let pbaOff = place(pbaBar, pbaBytes, pf);
  if (sameBar && tf < 0.3) { tableOff = 0; pbaOff = Math.min(tableBytes + 0, 2 ** sz[tableBar]! - pbaBytes) & ~7; }
  return { kinds: k, log2: sz, entries, tableBar, tableOff, pbaBar, pbaOff };
});

// --- the reference model ---
type Range = [bigint, bigint];
/** [a0, a1) minus each of `cut`, as a list of ranges. */
function subtract(a: Range, cut: Range[]): Range[] {
  let parts: Range[] = [a];
  for (const [c0, c1] of cut) {
    parts = parts.flatMap(([p0, p1]) => {
      const out: Range[] = [];
      if (c0 > p0) out.push([p0, c0 < p1 ? c0 : p1]);
      if (c1 < p1) out.push([c1 > p0 ? c1 : p0, p1]);
      return out.filter(([x0, x1]) => x1 > x0);
    });
  }
  return parts;
}

function reference(l: Layout, page: bigint, mappable: number[]): MsixRelocation {
  const size = (i: number) => (l.kinds[i] === 0 || (i > 0 && l.kinds[i - 1] === 2 && l.kinds[i] === 0) ? 0n : 1n << BigInt(l.log2[i]!));
  const tableBytes = BigInt(l.entries * 16), pbaBytes = BigInt(Math.ceil(l.entries / 64) * 8);
  const table: Range = [BigInt(l.tableOff), BigInt(l.tableOff) + tableBytes];
  const pba: Range = [BigInt(l.pbaOff), BigInt(l.pbaOff) + pbaBytes];
  const window = ([a0, a1]: Range, bar: number): Range => {
    const w1 = ((a1 + page - 1n) / page) * page;
    return [(a0 / page) * page, w1 < size(bar) ? w1 : size(bar)];
  };
  const cuts = (bar: number): Range[] => [...(l.tableBar === bar ? [table] : []), ...(l.pbaBar === bar ? [pba] : [])];
  const tShared = mappable.includes(l.tableBar) && subtract(window(table, l.tableBar), cuts(l.tableBar)).length > 0;
  const pShared = mappable.includes(l.pbaBar) && subtract(window(pba, l.pbaBar), cuts(l.pbaBar)).length > 0;
  let need = 1n;
  const rounded = ((tableBytes + pbaBytes + page - 1n) / page) * page;
  while (need < rounded) need *= 2n;
  if (!tShared && !pShared) return { kind: 'none', need };
  const shared = { table: tShared, pba: pShared };
  const b = l.tableBar;
  // The register decodes the doubled size, and the upper half starts where a 32-bit Table Offset reaches.
  const limit = l.kinds[b] === 2 ? 1n << 32n : 1n << 31n;
  const grown = size(b) * 2n > need * 2n ? size(b) * 2n : need * 2n;
  if (grown <= limit) return { kind: 'extend', bar: b, size: grown, tableOffset: grown / 2n, pbaOffset: grown / 2n + tableBytes, need, shared };
  const occupied = (i: number) => l.kinds[i] !== 0 || (i > 0 && l.kinds[i - 1] === 2);
  const free = [0, 1, 2, 3, 4, 5].find((i) => !occupied(i));
  if (free !== undefined) {
    return { kind: 'new-bar', bar: free, size: need, is64Bit: free < 5 && !occupied(free + 1), prefetchable: true, tableOffset: 0n, pbaOffset: tableBytes, need, shared };
  }
  return { kind: 'impossible', need, shared };
}

// --- by hand ---

/** NVMe-like: BAR0 64-bit 16 KiB, doorbells from 0x1000, 32-entry table at 0x2000, PBA at 0x3000. */
function nvme(): { config: Uint8Array; sizes: bigint[] } {
  return build({ kinds: [2, 0, 0, 0, 0, 0], log2: [14, 0, 0, 0, 0, 0], entries: 32, tableBar: 0, tableOff: 0x2000, pbaBar: 0, pbaOff: 0x3000 });
}

test('NVMe-like BAR0 at 64 KiB pages: the table shares the one page with the doorbells: BAR0 doubles to 128 KiB, table at 64 KiB', () => {
  const { config, sizes } = nvme();
  const r = msixRelocation(config, sizes, { pageSize: 65536, mappable: [0] });
  assert.equal(r, { kind: 'extend', bar: 0, size: 131072n, tableOffset: 65536n, pbaOffset: 65536n + 512n, need: 65536n, shared: { table: true, pba: true } });
});

test('the same BAR0 when the kernel would not map the MSI-X pages anyway: nothing to gain, nothing moves', () => {
  const { config, sizes } = nvme();
  assert.equal(msixRelocation(config, sizes, { pageSize: 65536 }), { kind: 'none', need: 65536n });
});

test('a table that fills its page exactly is not shared; a PBA alone in a page with device bytes is', () => {
  // 256 entries = 4 KiB of table at 0x1000; the PBA (32 bytes) at 0x2000 leaves the rest of its page.
  const l: Layout = { kinds: [1, 0, 0, 0, 0, 0], log2: [14, 0, 0, 0, 0, 0], entries: 256, tableBar: 0, tableOff: 0x1000, pbaBar: 0, pbaOff: 0x2000 };
  const { config, sizes } = build(l);
  const r = msixRelocation(config, sizes, { pageSize: 4096, mappable: [0] });
  assert.equal(r, { kind: 'extend', bar: 0, size: 32768n, tableOffset: 16384n, pbaOffset: 16384n + 4096n, need: 8192n, shared: { table: false, pba: true } });
});

test('a 2 GiB 32-bit BAR cannot double: a new 64-bit prefetchable BAR in the first free pair of slots', () => {
  const l: Layout = { kinds: [1, 1, 0, 0, 0, 0], log2: [31, 14, 0, 0, 0, 0], entries: 16, tableBar: 0, tableOff: 0x1000, pbaBar: 0, pbaOff: 0x1800 };
  const { config, sizes } = build(l);
  assert.equal(msixRelocation(config, sizes, { pageSize: 4096, mappable: [0] }),
    { kind: 'new-bar', bar: 2, size: 4096n, is64Bit: true, prefetchable: true, tableOffset: 0n, pbaOffset: 256n, need: 4096n, shared: { table: true, pba: true } });
});

test('every slot taken and the table\'s 32-bit BAR too large: impossible, trap in place', () => {
  const l: Layout = { kinds: [1, 1, 1, 1, 1, 1], log2: [31, 12, 12, 12, 12, 12], entries: 16, tableBar: 0, tableOff: 0, pbaBar: 0, pbaOff: 0x100 };
  const { config, sizes } = build(l);
  const r = msixRelocation(config, sizes, { pageSize: 4096, mappable: [0, 1, 2, 3, 4, 5] });
  assert.equal(r, { kind: 'impossible', need: 4096n, shared: { table: true, pba: true } });
});

test('a 64-bit BAR of 4 GiB holding the table cannot double (the upper half would start past a 32-bit Table Offset): a new BAR', () => {
  const l: Layout = { kinds: [2, 0, 0, 0, 0, 0], log2: [32, 0, 0, 0, 0, 0], entries: 16, tableBar: 0, tableOff: 0x1000, pbaBar: 0, pbaOff: 0x1800 };
  const { config, sizes } = build(l);
  assert.is(msixRelocation(config, sizes, { pageSize: 4096, mappable: [0] }).kind, 'new-bar');
});

test('the guest view of the NVMe-like BAR0 at 64 KiB: BAR0 sized 128 KiB, the capability names BAR0 at 64 KiB (table) and 64 KiB + 512 (PBA), the rest untouched', () => {
  const { config, sizes } = nvme();
  const v = msixGuestView(config, sizes, { pageSize: 65536, mappable: [0] });
  assert.is(v.relocation.kind, 'extend');
  assert.equal(v.sizes, [131072n, 0n, 0n, 0n, 0n, 0n, 0n]);
  assert.equal(findCapabilities(v.config).msix, { offset: 0x40, control: 31, tableBar: 0, tableOffset: 0x10000, pbaBar: 0, pbaOffset: 0x10200, tableSize: 32 });
  const changed = [...v.config.keys()].filter((i) => v.config[i] !== config[i]);
  assert.equal(changed, [0x45, 0x46, 0x49, 0x4a], 'the Table and PBA Offset registers alone');
  using shadow = new PciConfig(v.config, v.sizes);
  shadow.write(0x10, 4, 0xffff_ffff);
  assert.is(shadow.read(0x10, 4) >>> 0, 0xfffe_0004, 'the guest sizes BAR0 at 128 KiB');
});

test('no MSI-X: none', () => {
  const c = new Cfg(256).u16(0, 0x1b36).u32(0x10, 0);
  assert.equal(msixRelocation(c.b, [4096n, 0n, 0n, 0n, 0n, 0n], { pageSize: 4096, mappable: [0] }), { kind: 'none', need: 0n });
});

// --- properties ---

for (const page of PAGES) {
  test(`${page / 1024} KiB pages: random layouts decide as the reference model, and a relocation is sound`, () => {
    const seen = new Set<string>();
    fc.assert(fc.property(layoutArb, fc.array(fc.nat(5), { maxLength: 6 }), (l, mappable) => {
      const { config, sizes } = build(l);
      const got = msixRelocation(config, sizes, { pageSize: page, mappable });
      const want = reference(l, BigInt(page), mappable);
      assert.equal(got, want, JSON.stringify(l));
      seen.add(got.kind);
      const tableBytes = BigInt(l.entries * 16), pbaBytes = BigInt(Math.ceil(l.entries / 64) * 8);
      const P = BigInt(page);
      if (got.kind === 'extend') {
        const old = sizes[got.bar]!;
        assert.ok((got.size & (got.size - 1n)) === 0n, 'a power of two');
        assert.ok(got.size <= (l.kinds[got.bar] === 2 ? 1n << 63n : 1n << 31n), 'its register decodes it');
        assert.ok(got.tableOffset >= old && got.tableOffset % P === 0n, 'past every device byte, on a page');
        assert.ok(got.pbaOffset + pbaBytes <= 1n << 32n, 'the offsets fit the 32-bit Table/PBA Offset fields');
        assert.ok(got.pbaOffset >= got.tableOffset + tableBytes && got.pbaOffset % 8n === 0n);
        assert.ok(got.pbaOffset + pbaBytes <= got.size, 'fits');
      } else if (got.kind === 'new-bar') {
        assert.is(sizes[got.bar], 0n, 'an unimplemented slot');
        assert.not.ok(got.bar > 0 && l.kinds[got.bar - 1] === 2, 'not the upper half of a 64-bit BAR');
        if (got.is64Bit) assert.is(sizes[got.bar + 1], 0n);
        assert.ok(got.size % P === 0n && (got.size & (got.size - 1n)) === 0n && got.pbaOffset + pbaBytes <= got.size);
      }
      if (mappable.length === 0) assert.is(got.kind, 'none', 'nothing is gained when the kernel maps no MSI-X page');
    }), { numRuns: RUNS });
    assert.equal([...seen].sort(), ['extend', 'impossible', 'new-bar', 'none'], 'every outcome was drawn');
  });

  test(`${page / 1024} KiB pages: the guest view applies the decision: a valid function whose trapped MSI-X pages hold no device byte`, () => {
    const seen = new Set<string>();
    fc.assert(fc.property(layoutArb, fc.array(fc.nat(5), { maxLength: 6 }), (l, mappable) => {
      const { config, sizes } = build(l);
      const v = msixGuestView(config, sizes, { pageSize: page, mappable });
      const r = v.relocation;
      assert.equal(r, msixRelocation(config, sizes, { pageSize: page, mappable }), 'the same decision');
      seen.add(r.kind);
      decodeBars(v.config, v.sizes); // throws for a function the guest could not be shown
      new PciConfig(v.config, v.sizes).close();
      const cap = findCapabilities(v.config).msix!;
      if (r.kind === 'none' || r.kind === 'impossible') {
        assert.equal([v.config, v.sizes], [config, sizes], 'nothing moved');
        return;
      }
      assert.equal([cap.tableBar, BigInt(cap.tableOffset), cap.pbaBar, BigInt(cap.pbaOffset)], [r.bar, r.tableOffset, r.bar, r.pbaOffset]);
      assert.is(v.sizes[r.bar], r.size);
      // Where the guest finds the structures, every trapped page is the emulation's alone: past
      // the device's bytes of an extended BAR, or in a BAR with no device behind it.
      const deviceBytes = r.kind === 'extend' ? sizes[r.bar]! : 0n;
      for (const h of msixHoles(v.config, v.sizes, { pageSize: page })) {
        assert.is(h.bar, r.bar);
        assert.ok(h.offset >= deviceBytes, `hole at 0x${h.offset.toString(16)} holds no device byte (device 0x${deviceBytes.toString(16)})`);
      }
      const regs = new Set([cap.offset + 4, cap.offset + 5, cap.offset + 6, cap.offset + 7, cap.offset + 8, cap.offset + 9, cap.offset + 10, cap.offset + 11]);
      if (r.kind === 'new-bar') for (let i = 0; i < (r.is64Bit ? 8 : 4); i++) regs.add(0x10 + 4 * r.bar + i);
      assert.equal([...v.config.keys()].filter((i) => v.config[i] !== config[i] && !regs.has(i)), [], 'nothing else changed');
      if (r.kind === 'new-bar') {
        const bar = decodeBars(v.config, v.sizes).find((b) => b.index === r.bar)!;
        assert.equal([bar.kind, bar.prefetchable, bar.size], [r.is64Bit ? 'memory64' : 'memory32', true, r.size]);
      }
    }), { numRuns: RUNS });
    assert.ok(seen.has('extend') && seen.has('new-bar'), `both moves drawn (${[...seen].join(', ')})`);
  });
}

test.run();

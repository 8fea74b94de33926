// Decoding of real-shaped config spaces: BARs of every kind, the capability list, the MSI-X
// holes for 4 KiB and 64 KiB pages, and each kind of malformed config with its own status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBars, findCapabilities, msixHoles, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX } from '../../../src/core/pci';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { edu, multi, plain, Cfg, MiB, GiB } from './fixtures';

function kernelReply(fn: () => unknown, statusName: string, offset: number): void {
  try { fn(); } catch (e) {
    assert.instance(e, VfioError);
    const v = e as VfioError;
    assert.is(v.kind, 'kernel-reply', v.message);
    assert.is(v.statusName, statusName, v.message);
    assert.is(v.offset, offset, `fault offset of ${statusName}`);
    return;
  }
  assert.unreachable(`expected ${statusName}`);
}

test('edu: BAR0 is a 1 MiB 32-bit non-prefetchable memory BAR at the host address; nothing else', () => {
  const { config, sizes } = edu();
  assert.equal(decodeBars(config, sizes), [
    { index: 0, kind: 'memory32', prefetchable: false, romEnabled: false, register: 0x10, address: 0x10000000n, size: MiB },
  ]);
});

test('edu: one MSI capability at 0x40, 64-bit, 1 vector, no per-vector mask; no MSI-X', () => {
  const caps = findCapabilities(edu().config);
  assert.equal(caps.list, [{ id: PCI_CAP_ID_MSI, offset: 0x40 }]);
  assert.equal(caps.msi, { offset: 0x40, control: 0x0080, is64Bit: true, perVectorMask: false, vectors: 1 });
  assert.is(caps.msix, undefined);
});

test('multi: I/O, 32-bit, 64-bit prefetchable pair, 64-bit pair and ROM; upper slots are not BARs', () => {
  const { config, sizes } = multi();
  const bars = decodeBars(config, sizes);
  assert.equal(bars.map((b) => [b.index, b.kind, b.prefetchable, b.address, b.size, b.register]), [
    [0, 'io', false, 0xe000n, 256n, 0x10],
    [1, 'memory32', false, 0xfe000000n, 16384n, 0x14],
    [2, 'memory64', true, 0x40_0000_0000n, 8n * GiB, 0x18],
    [4, 'memory64', false, 0xfd000000n, 65536n, 0x20],
    [6, 'rom', false, 0xfc000000n, 65536n, 0x30],
  ]);
  assert.is(bars[4]!.romEnabled, false);
});

test('multi: the capability list in order, MSI with 32 vectors and masking, MSI-X table and PBA in BAR1', () => {
  const caps = findCapabilities(multi().config);
  assert.equal(caps.list.map((c) => [c.id, c.offset]), [[0x01, 0x40], [0x05, 0x50], [PCI_CAP_ID_MSIX, 0x70], [0x09, 0x80]]);
  assert.equal(caps.msi, { offset: 0x50, control: 0x018a, is64Bit: true, perVectorMask: true, vectors: 32 });
  assert.equal(caps.msix, { offset: 0x70, control: 0x000f, tableSize: 16, tableBar: 1, tableOffset: 0x2000, pbaBar: 1, pbaOffset: 0x3000 });
});

test('a status register without CAP_LIST means no capabilities, whatever 0x34 holds', () => {
  const c = edu().config.slice();
  c[0x06] = 0;
  assert.equal(findCapabilities(c), { list: [], msi: undefined, msix: undefined });
});

test('the two reserved low bits of a capability pointer are masked off (PCI spec 6.7)', () => {
  const c = edu().config.slice();
  c[0x34] = 0x43;
  assert.equal(findCapabilities(c).list, [{ id: 5, offset: 0x40 }]);
});

test('size 0 means unimplemented: the type bits of that register are not looked at', () => {
  // BAR0 says 64-bit with no size; BAR1 is then a BAR of its own.
  const cfg = plain([0x00000004, 0x00000001], []);
  assert.equal(decodeBars(cfg, [0n, 16n, 0n, 0n, 0n, 0n]).map((b) => [b.index, b.kind]), [[1, 'io']]);
});

test('MSI-X holes, 4 KiB pages: table and PBA pages of BAR1 touch, so one hole [0x2000, 0x4000)', () => {
  const { config, sizes } = multi();
  assert.equal(msixHoles(config, sizes, { pageSize: 4096 }), [{ bar: 1, covers: 'table+pba', offset: 0x2000n, size: 0x2000n }]);
});

test('MSI-X holes, 64 KiB pages: the rounded hole is clipped to the 16 KiB BAR, i.e. all of it', () => {
  const { config, sizes } = multi();
  assert.equal(msixHoles(config, sizes, { pageSize: 65536 }), [{ bar: 1, covers: 'table+pba', offset: 0n, size: 0x4000n }]);
});

test('MSI-X holes: a BAR with MSIX_MAPPABLE needs none', () => {
  const { config, sizes } = multi();
  assert.equal(msixHoles(config, sizes, { pageSize: 4096, mappable: [1] }), []);
  assert.equal(msixHoles(edu().config, edu().sizes, { pageSize: 4096 }), [], 'no MSI-X, no hole');
});

test('MSI-X holes: table in BAR4 and PBA in BAR1 give one hole each, sorted by BAR', () => {
  const { config, sizes } = multi();
  const c = new Cfg(0); Object.assign(c, { b: config });
  c.u32(0x74, 0x00008004);  // table: BIR 4 (the 64 KiB 64-bit BAR), offset 0x8000
  c.u32(0x78, 0x00000101);  // PBA: BIR 1, offset 0x100
  assert.equal(msixHoles(config, sizes, { pageSize: 4096 }), [
    { bar: 1, covers: 'pba', offset: 0n, size: 0x1000n },
    { bar: 4, covers: 'table', offset: 0x8000n, size: 0x1000n },
  ]);
  assert.equal(msixHoles(config, sizes, { pageSize: 4096, mappable: [4] }), [{ bar: 1, covers: 'pba', offset: 0n, size: 0x1000n }]);
});

test('MSI-X holes: table and PBA far apart in one BAR stay two holes; a table crossing a page takes both pages', () => {
  const { config, sizes } = multi();
  const c = new Cfg(0); Object.assign(c, { b: config });
  c.u16(0x72, 0x00ff);      // 256 entries: 4096 bytes of table
  c.u32(0x74, 0x00000801);  // table at 0x800: [0x800, 0x1800) crosses into the second page
  c.u32(0x78, 0x00003801);  // PBA at 0x3800 (32 bytes)
  assert.equal(msixHoles(config, sizes, { pageSize: 4096 }), [
    { bar: 1, covers: 'table', offset: 0n, size: 0x2000n },
    { bar: 1, covers: 'pba', offset: 0x3000n, size: 0x1000n },
  ]);
});

// --- malformed config spaces, each with its own status and the offset of the register at fault ---

test('a capability list that loops is PCI_CAP_LOOP, found within the 48-entry bound', () => {
  const c = edu().config.slice();
  c[0x41] = 0x40; // MSI's next points to itself
  kernelReply(() => findCapabilities(c), 'PCI_CAP_LOOP', 0x41);
  const d = multi().config.slice();
  d[0x81] = 0x50; // vendor cap -> back to MSI: a longer cycle
  kernelReply(() => findCapabilities(d), 'PCI_CAP_LOOP', 0x71);
});

test('a capability pointer into the header is PCI_CAP_POINTER, at the pointer that named it', () => {
  const c = edu().config.slice();
  c[0x34] = 0x20;
  kernelReply(() => findCapabilities(c), 'PCI_CAP_POINTER', 0x34);
  const d = multi().config.slice();
  d[0x51] = 0x3c;
  kernelReply(() => findCapabilities(d), 'PCI_CAP_POINTER', 0x51);
});

test('an MSI capability running past offset 256 is PCI_CAP_TRUNCATED', () => {
  const c = edu().config.slice();
  c[0x34] = 0xf4; c[0xf4] = 0x05; c[0xf5] = 0; c[0xf6] = 0x80; // 64-bit MSI needs 16 bytes: 0xf4 + 16 > 256
  kernelReply(() => findCapabilities(c), 'PCI_CAP_TRUNCATED', 0xf4);
});

test('MSI Multiple Message Capable above 5 is PCI_MSI_MMC', () => {
  const c = edu().config.slice();
  c[0x42] = 0x8c; // MMC 6
  kernelReply(() => findCapabilities(c), 'PCI_MSI_MMC', 0x42);
});

test('a 64-bit BAR in slot 5 is PCI_BAR64_LAST_SLOT', () => {
  const cfg = plain([0, 0, 0, 0, 0, 0x00000004], []);
  kernelReply(() => decodeBars(cfg, [0n, 0n, 0n, 0n, 0n, 4096n]), 'PCI_BAR64_LAST_SLOT', 0x24);
});

test('a region size that is not a power of two is PCI_BAR_SIZE', () => {
  const { config } = edu();
  kernelReply(() => decodeBars(config, [MiB + 4096n, 0n, 0n, 0n, 0n, 0n]), 'PCI_BAR_SIZE', 0x10);
  kernelReply(() => decodeBars(config, [MiB, 0n, 0n, 0n, 0n, 0n, 3000n]), 'PCI_BAR_SIZE', 0x30);
});

test('sizes below the minimum of the type are PCI_BAR_TOO_SMALL: memory 8, I/O 2, ROM 1024', () => {
  kernelReply(() => decodeBars(plain([0], []), [8n, 0n, 0n, 0n, 0n, 0n]), 'PCI_BAR_TOO_SMALL', 0x10);
  kernelReply(() => decodeBars(plain([0, 1], []), [0n, 2n, 0n, 0n, 0n, 0n]), 'PCI_BAR_TOO_SMALL', 0x14);
  kernelReply(() => decodeBars(plain([], []), [0n, 0n, 0n, 0n, 0n, 0n, 1024n]), 'PCI_BAR_TOO_SMALL', 0x30);
  assert.is(decodeBars(plain([0, 1], []), [16n, 4n, 0n, 0n, 0n, 0n, 2048n]).length, 3, 'the minimums themselves are fine');
});

test('sizes its register cannot decode are PCI_BAR_TOO_LARGE: 4 GiB 32-bit, 128 KiB I/O, 32 MiB ROM', () => {
  kernelReply(() => decodeBars(plain([0], []), [4n * GiB, 0n, 0n, 0n, 0n, 0n]), 'PCI_BAR_TOO_LARGE', 0x10);
  kernelReply(() => decodeBars(plain([1], []), [1n << 17n, 0n, 0n, 0n, 0n, 0n]), 'PCI_BAR_TOO_LARGE', 0x10);
  kernelReply(() => decodeBars(plain([], []), [0n, 0n, 0n, 0n, 0n, 0n, 32n * MiB]), 'PCI_BAR_TOO_LARGE', 0x30);
  assert.is(decodeBars(plain([4], []), [1n << 63n, 0n, 0n, 0n, 0n, 0n])[0]!.size, 1n << 63n, 'a 2^63 64-bit BAR is fine');
});

test('a size on the upper slot of a 64-bit BAR is PCI_BAR64_UPPER_SIZED; a reserved memory type is PCI_BAR_TYPE', () => {
  kernelReply(() => decodeBars(plain([4], []), [4096n, 4096n, 0n, 0n, 0n, 0n]), 'PCI_BAR64_UPPER_SIZED', 0x14);
  kernelReply(() => decodeBars(plain([6], []), [4096n, 0n, 0n, 0n, 0n, 0n]), 'PCI_BAR_TYPE', 0x10);
  assert.is(decodeBars(plain([2], []), [4096n, 0n, 0n, 0n, 0n, 0n])[0]!.kind, 'memory32', 'type 01b (below 1M) is 32-bit, as Linux treats it');
});

test('MSI-X naming an I/O BAR, an upper slot or an unimplemented BAR is PCI_MSIX_BIR; past the BAR is PCI_MSIX_RANGE', () => {
  const { config, sizes } = multi();
  const variant = (off: number, v: number) => { const c = config.slice(); new DataView(c.buffer).setUint32(off, v, true); return c; };
  kernelReply(() => msixHoles(variant(0x74, 0x2000), sizes, { pageSize: 4096 }), 'PCI_MSIX_BIR', 0x74);
  kernelReply(() => msixHoles(variant(0x78, 0x3003), sizes, { pageSize: 4096 }), 'PCI_MSIX_BIR', 0x78);
  kernelReply(() => msixHoles(variant(0x74, 0x2005), sizes, { pageSize: 4096 }), 'PCI_MSIX_BIR', 0x74);
  kernelReply(() => findCapabilities(variant(0x74, 0x2006)), 'PCI_MSIX_BIR', 0x74);
  kernelReply(() => msixHoles(variant(0x74, 0x3f81), sizes, { pageSize: 4096 }), 'PCI_MSIX_RANGE', 0x74);
  assert.is(msixHoles(variant(0x74, 0x3f01), sizes, { pageSize: 4096 }).length, 1, 'a table ending exactly at the BAR end fits');
});

test('a bridge header and a config of the wrong length are refused', () => {
  const c = edu().config.slice();
  c[0x0e] = 0x01;
  kernelReply(() => decodeBars(c, edu().sizes), 'PCI_HEADER_TYPE', 0x0e);
  assert.throws(() => decodeBars(new Uint8Array(255), edu().sizes), (e: VfioError) => e.kind === 'bad-argument');
  assert.throws(() => decodeBars(edu().config, [1n]), (e: VfioError) => e.kind === 'bad-argument');
  assert.throws(() => decodeBars(edu().config, [-1n, 0n, 0n, 0n, 0n, 0n]), (e: VfioError) => e.kind === 'bad-argument');
  assert.throws(() => msixHoles(multi().config, multi().sizes, { pageSize: 8192 * 16 }), (e: VfioError) => e.kind === 'bad-argument');
});

test('every pci status has a name in the module range, and the unused codes of the range have none', () => {
  const c = core();
  const named = [];
  for (let code = -700; code >= -799; code--) {
    const n = c.statusName(code);
    if (n) { assert.match(n, /^PCI_[A-Z0-9_]+: ./, `code ${code}`); named.push(code); }
  }
  assert.equal(named, [...Array(14).keys()].map((i) => -700 - i).concat([-740, -741, -742, -743]));
  assert.is(new Set(named.map((x) => c.statusName(x).split(':')[0])).size, named.length, 'names are distinct');
});

test.run();

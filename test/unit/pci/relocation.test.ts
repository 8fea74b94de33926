// Relocation actions of the shadow config (THE RULE in assembly/pci/shadow.ts): maps exactly when
// decoding is on and the address is complete, moves as unmap-then-map, unmaps when decoding goes
// off; COMMAND bits forwarded to the device in the right place; MSI/MSI-X updates; guest-facing
// robustness; the raw output-buffer protocol and handle table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PciConfig, type PciAction } from '../../../src/core/pci';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { edu, multi, MiB, GiB } from './fixtures';

const fwdCmd = (value: number): PciAction => ({ kind: 'forward-write', offset: 0x04, width: 2, value });
const map = (bar: number, address: bigint, size: bigint): PciAction => ({ kind: 'map', bar, address, size });
const unmap = (bar: number, address: bigint, size: bigint): PciAction => ({ kind: 'unmap', bar, address, size });

test('edu: programming BAR0 with decoding off does nothing; turning MEMORY on forwards COMMAND, then maps', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  assert.equal(p.write(0x10, 4, 0x20000000), []);
  assert.equal(p.write(0x04, 2, 0x0002), [fwdCmd(0x0002), map(0, 0x20000000n, MiB)]);
  assert.equal(p.bar(0).mappedAt, 0x20000000n);
});

test('edu: a new address with decoding on is a move: unmap the old, then map the new; the same address is no action', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  p.write(0x10, 4, 0x20000000); p.write(0x04, 2, 0x0002);
  assert.equal(p.write(0x10, 4, 0x30000000), [unmap(0, 0x20000000n, MiB), map(0, 0x30000000n, MiB)]);
  assert.equal(p.write(0x10, 4, 0x30000000), []);
  assert.equal(p.write(0x12, 2, 0x3010), [unmap(0, 0x30000000n, MiB), map(0, 0x30100000n, MiB)], 'a 16-bit write to the upper half moves too');
});

test('edu: turning MEMORY off unmaps first, then forwards COMMAND; on again maps at the same address', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  p.write(0x10, 4, 0x20000000); p.write(0x04, 2, 0x0006);
  assert.equal(p.write(0x04, 2, 0x0004), [unmap(0, 0x20000000n, MiB), fwdCmd(0x0004)]);
  assert.equal(p.bar(0).mapped, false);
  assert.equal(p.write(0x04, 2, 0x0006), [fwdCmd(0x0006), map(0, 0x20000000n, MiB)]);
});

test('edu: bus master and INTx disable reach the device alone; other COMMAND bits are read-only and not forwarded', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  assert.equal(p.write(0x04, 2, 0x0004), [fwdCmd(0x0004)]);
  assert.equal(p.write(0x04, 2, 0x0404), [fwdCmd(0x0404)]);
  assert.equal(p.write(0x04, 2, 0x0444), [], 'parity error response (bit 6) is not virtualized');
  assert.is(p.read(0x04, 2), 0x0404);
  assert.is(p.stats().readOnlyWrites, 1n);
});

test('the shadow starts with IO, MEMORY and MASTER off whatever the host left on, and BARs unassigned', () => {
  const { config, sizes } = edu();
  assert.is(config[0x04], 0x07);
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x04, 2), 0);
  assert.equal(p.bars().filter((b) => b.mapped), []);
});

test('address 0 is unassigned: decoding on with BAR0 at 0 maps nothing', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  assert.equal(p.write(0x04, 2, 0x0002), [fwdCmd(0x0002)]);
});

test('64-bit: the low write alone with decoding on unmaps and maps nothing; the upper write maps the complete address', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  p.write(0x18, 4, 0x0000000c); p.write(0x1c, 4, 0x00000010); // BAR2 at 0x10_0000_0000
  assert.equal(p.write(0x04, 2, 0x0002), [fwdCmd(0x0002), map(2, 0x10_0000_0000n, 8n * GiB)]);
  assert.equal(p.write(0x18, 4, 0x0000000c), [unmap(2, 0x10_0000_0000n, 8n * GiB)], 'low half written: the address is incomplete');
  assert.ok(p.bar(2).pending);
  assert.equal(p.write(0x1c, 4, 0x00000020), [map(2, 0x20_0000_0000n, 8n * GiB)]);
  assert.not.ok(p.bar(2).pending);
});

test('64-bit: a low-half write is taken as complete when MEMORY decoding is turned on (QEMU rule)', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  p.write(0x1c, 4, 0x2); p.write(0x18, 4, 0x0000000c); // upper first, then low: pending
  assert.ok(p.bar(2).pending);
  assert.equal(p.write(0x04, 2, 0x0002), [fwdCmd(0x0002), map(2, 0x2_0000_0000n, 8n * GiB)]);
});

test('I/O BARs follow COMMAND.IO and memory BARs COMMAND.MEMORY; one COMMAND write maps them in slot order', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  p.write(0x10, 4, 0xc000); p.write(0x14, 4, 0xd0000000); p.write(0x20, 4, 0xe0000000); p.write(0x24, 4, 0);
  assert.equal(p.write(0x04, 2, 0x0002), [fwdCmd(0x0002), map(1, 0xd0000000n, 16384n), map(4, 0xe0000000n, 65536n)]);
  assert.equal(p.write(0x04, 2, 0x0001), [unmap(1, 0xd0000000n, 16384n), unmap(4, 0xe0000000n, 65536n), fwdCmd(0x0001), map(0, 0xc000n, 256n)]);
});

test('ROM: mapped only with its ENABLE bit and MEMORY decoding; clearing ENABLE unmaps', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  p.write(0x04, 2, 0x0002);
  assert.equal(p.write(0x30, 4, 0xc0000000), [], 'address without ENABLE');
  assert.equal(p.write(0x30, 4, 0xc0000001), [map(6, 0xc0000000n, 65536n)]);
  assert.equal(p.write(0x30, 1, 0x00), [unmap(6, 0xc0000000n, 65536n)]);
});

test('MSI: enable, multiple message enable, address and data are writable and reported; capable bits and pending are not', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x52, 2), 0x018a, 'host state cleared: not enabled, MME 0');
  assert.is(p.read(0x54, 4), 0, 'address cleared');
  assert.equal(p.write(0x54, 4, 0xfee01003), [{ kind: 'msi-update', offset: 0x50, control: 0x018a }]);
  assert.is(p.read(0x54, 4) >>> 0, 0xfee01000, 'the two low address bits are read-only');
  assert.equal(p.write(0x52, 2, 0x0051), [{ kind: 'msi-update', offset: 0x50, control: 0x01db }]);
  assert.is(p.read(0x52, 2), 0x01db, 'enable and MME 5 taken; 64BIT/MASKBIT/MMC kept');
  p.write(0x50 + 0x14, 4, 0);
  assert.is(p.read(0x64, 4), 5, 'pending bits are the device\'s, read-only');
  assert.equal(p.write(0x52, 2, 0x01db), [], 'no change, no update');
});

test('MSI-X: enable and function mask are writable and reported; the table size is read-only', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.equal(p.write(0x72, 2, 0xc7ff), [{ kind: 'msix-update', offset: 0x70, control: 0xc00f }]);
  assert.is(p.read(0x72, 2), 0xc00f);
  assert.is(p.read(0x74, 4), 0x2001, 'table offset/BIR read as the device has them');
  assert.equal(p.write(0x74, 4, 0), []);
  assert.is(p.read(0x74, 4), 0x2001);
});

test('guest-facing: bad width, misaligned and out-of-range accesses read all-ones and drop writes, counted', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x101, 1), 0xff);
  assert.is(p.read(0x11, 2), 0xffff);
  assert.is(p.read(0x12, 4) >>> 0, 0xffffffff);
  assert.is(p.read(0x10, 3) >>> 0, 0xffffffff);
  assert.is(p.read(0xfffffffc, 4) >>> 0, 0xffffffff);
  assert.equal(p.write(0x11, 4, 0xffffffff), []);
  assert.equal(p.write(0x100, 4, 1), []);
  assert.equal(p.write(0x10, 0, 1), []);
  const s = p.stats();
  assert.is(s.badReads, 5n);
  assert.is(s.badWrites, 3n);
  assert.is(p.read(0x10, 4), 0, 'nothing was written');
});

test('read-only registers keep their value; INTERRUPT_LINE is a writable scratch register', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  p.write(0x00, 4, 0xdeadbeef);
  assert.is(p.read(0x00, 4), 0x11e81234);
  p.write(0x3c, 1, 0x2a);
  assert.is(p.read(0x3c, 1), 0x2a);
  assert.is(p.read(0x3d, 1), 0x01, 'interrupt pin is read-only');
  p.write(0x3c, 2, 0x0705);
  assert.is(p.read(0x3c, 2), 0x0105);
});

test('extended config space (4096-byte config) reads from the shadow and drops writes', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x100, 4), 0x00010001);
  assert.equal(p.write(0x100, 4, 0), []);
  assert.is(p.read(0x100, 4), 0x00010001);
  assert.is(p.read(0xffc, 4), 0);
});

test('forwarded ranges: reads go to forward.read, writes become forward-write actions', () => {
  const { config, sizes } = multi();
  const seen: [number, number][] = [];
  using p = new PciConfig(config, sizes, { forward: { ranges: [{ offset: 0x80, length: 8 }], read: (o, w) => { seen.push([o, w]); return 0x1234_5678; } } });
  assert.is(p.read(0x84, 2), 0x5678, 'masked to the width');
  assert.equal(seen, [[0x84, 2]]);
  assert.equal(p.write(0x86, 2, 0xabcd), [{ kind: 'forward-write', offset: 0x86, width: 2, value: 0xabcd }]);
  assert.is(p.read(0x88, 4), 0, 'outside the range: from the shadow');
});

test('forward ranges over virtualized registers, misaligned or overlapping are refused', () => {
  const { config, sizes } = multi();
  const read = () => 0;
  const refused = (ranges: { offset: number; length: number }[], name: string) =>
    assert.throws(() => new PciConfig(config, sizes, { forward: { ranges, read } }), (e: VfioError) => e.kind === 'bad-argument' && e.statusName === name, name);
  refused([{ offset: 0x10, length: 4 }], 'PCI_FORWARD_VIRTUALIZED');
  refused([{ offset: 0x6c, length: 8 }], 'PCI_FORWARD_VIRTUALIZED');  // touches MSI-X at 0x70
  refused([{ offset: 0x80, length: 8 }, { offset: 0x84, length: 4 }], 'PCI_FORWARD_VIRTUALIZED');
  refused([{ offset: 0x82, length: 4 }], 'PCI_FORWARD_RANGE');
  refused([{ offset: 0xffc, length: 8 }], 'PCI_FORWARD_RANGE');
});

// --- raw ABI: the output-buffer protocol and the handle table ---

type F = (...a: (number | bigint)[]) => number;
const c = core();
const raw = (n: string) => c.fn<F>(`pci_${n}`);

function rawCreate(cfg: Uint8Array, sizes: bigint[]): number {
  const p = c.put(cfg, 0);
  const s = new BigUint64Array(7); sizes.forEach((v, i) => { s[i] = v; });
  const sp = c.put(new Uint8Array(s.buffer), 8192);
  return raw('config_create')(p, cfg.length, sp);
}

test('a too-small action buffer returns NO_SPACE with the size needed and changes nothing', () => {
  const { config, sizes } = multi();
  const h = rawCreate(config, sizes);
  assert.ok(h > 0);
  const out = c.transientPtr + 16384;
  const w = raw('config_write');
  w(h, 0x14, 4, 0xd0000000, out, 256); w(h, 0x20, 4, 0xe0000000, out, 256); w(h, 0x24, 4, 0, out, 256);
  const st = w(h, 0x04, 2, 0x0002, out, 64);
  assert.is(c.statusName(st).split(':')[0], 'NO_SPACE');
  assert.is(c.result(0), 3n * 32n, 'forward + two maps');
  assert.is(raw('config_read')(h, 0x04, 2, out, 0), 0);
  assert.is(c.result(0), 0n, 'COMMAND unchanged');
  assert.is(raw('config_bar')(h, 1), 1);
  assert.is(c.result(2), 0n, 'BAR1 not mapped');
  assert.is(w(h, 0x04, 2, 0x0002, out, 96), 3, 'the same write with room');
  assert.is(raw('config_free')(h), 0);
  assert.is(c.statusName(raw('config_free')(h)).split(':')[0], 'BAD_HANDLE', 'freeing twice');
  assert.is(c.statusName(w(h, 0x04, 2, 0, out, 256)).split(':')[0], 'BAD_HANDLE', 'a freed handle is refused');
  assert.is(c.statusName(w(0, 0x04, 2, 0, out, 256)).split(':')[0], 'BAD_HANDLE');
  assert.is(c.statusName(w(h, 0x04, 2, 0, 0, 256)).split(':')[0], 'BAD_ARG', 'an output buffer outside scratch');
});

test('raw: a forwarded read needs room for its record; limits and slot bounds are reported', () => {
  const { config, sizes } = multi();
  const h = rawCreate(config, sizes);
  assert.is(raw('config_forward')(h, 0x80, 8), 0);
  const out = c.transientPtr + 16384;
  assert.is(c.statusName(raw('config_read')(h, 0x84, 4, out, 31)).split(':')[0], 'NO_SPACE');
  assert.is(c.result(0), 32n);
  assert.is(raw('config_read')(h, 0x84, 4, out, 32), 1);
  assert.equal([c.u8[out], c.u8[out + 8], c.u8[out + 24]], [4, 0x84, 4], 'FORWARD_READ, offset, width');
  assert.is(c.statusName(raw('config_bar')(h, 7)).split(':')[0], 'BAD_ARG');
  assert.is(raw('config_info')(h), 0);
  assert.equal([c.result(4), c.result(5), c.result(6), c.result(7)], [4096n, 0x50n, 0x70n, 1n]);
  assert.is(raw('limits')(), 32);
  assert.equal([0, 1, 2, 3].map((i) => c.result(i)), [64n, 48n, 8n, 8n]);
  raw('config_free')(h);
});

test('every handle-taking export refuses a freed, a never-issued and a zero handle with BAD_HANDLE', () => {
  const { config, sizes } = edu();
  const h = rawCreate(config, sizes);
  raw('config_free')(h);
  const out = c.transientPtr + 16384;
  const calls: [string, (h: number) => number][] = [
    ['config_free', (x) => raw('config_free')(x)],
    ['config_forward', (x) => raw('config_forward')(x, 0x80, 4)],
    ['config_read', (x) => raw('config_read')(x, 0, 4, out, 256)],
    ['config_write', (x) => raw('config_write')(x, 4, 2, 2, out, 256)],
    ['config_bar', (x) => raw('config_bar')(x, 0)],
    ['config_info', (x) => raw('config_info')(x)],
  ];
  for (const [name, call] of calls) {
    for (const bad of [h, 0, -1, 0x7fffffff, h + 1]) {
      assert.is(c.statusName(call(bad)).split(':')[0], 'BAD_HANDLE', `${name}(${bad})`);
    }
  }
});

test('the table holds MAX_CONFIGS shadows; one more is no-space; close frees a slot; a closed one says closed', () => {
  raw('limits')();
  const max = Number(c.result(0));
  const { config, sizes } = edu();
  const all: PciConfig[] = [];
  for (let i = 0; i < max; i++) all.push(new PciConfig(config, sizes));
  assert.throws(() => new PciConfig(config, sizes), (e: VfioError) => e.kind === 'no-space');
  all[7]!.close();
  all[7]!.close();
  assert.throws(() => all[7]!.read(0, 4), (e: VfioError) => e.kind === 'closed');
  const again = new PciConfig(config, sizes);
  assert.is(again.read(0, 2), 0x1234);
  again.close();
  for (const p of all) p.close();
});

test.run();

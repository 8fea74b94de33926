// The guest's BAR sizing protocol, step by step as Linux's __pci_read_base and EDK2 do it:
// save the register, write all-ones, read the mask back, restore. A guest-side reader written
// here from the PCI spec turns the mask into a size, which must equal the VFIO region size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PciConfig, type PciAction } from '../../../src/core/pci';
import { edu, multi, MiB, GiB, hex } from './fixtures';

/** What a guest learns from the read-back mask of a 32-bit register (PCI spec 6.2.5.1). */
function sizeFromMask32(mask: number, io: boolean): bigint {
  const addrBits = (mask & (io ? ~0x3 : ~0xf)) >>> 0;
  return BigInt(((~addrBits >>> 0) + 1) >>> 0 || 0x1_0000_0000);
}

/** Sizes one BAR like a guest: save, all-ones, read, restore; returns [size, the actions of each write]. */
function sizeBar(p: PciConfig, reg: number, is64: boolean): { size: bigint; lo: number; hi: number; actions: PciAction[][] } {
  const actions: PciAction[][] = [];
  const saveLo = p.read(reg, 4);
  const saveHi = is64 ? p.read(reg + 4, 4) : 0;
  actions.push(p.write(reg, 4, 0xffffffff));
  if (is64) actions.push(p.write(reg + 4, 4, 0xffffffff));
  const lo = p.read(reg, 4);
  const hi = is64 ? p.read(reg + 4, 4) : 0;
  actions.push(p.write(reg, 4, saveLo));
  if (is64) actions.push(p.write(reg + 4, 4, saveHi));
  assert.is(p.read(reg, 4), saveLo, 'restored');
  let size: bigint;
  if (is64) {
    const mask = (BigInt(hi) << 32n) | BigInt((lo & ~0xf) >>> 0);
    size = ((~mask) & 0xffff_ffff_ffff_ffffn) + 1n;
  } else {
    size = sizeFromMask32(lo, (lo & 1) === 1);
  }
  return { size, lo, hi, actions };
}

test('edu BAR0: reads 0 (unassigned, 32-bit memory), sizes to 1 MiB, restores', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x10, 4), 0, 'address unassigned, type bits 0 (32-bit, non-prefetchable)');
  const r = sizeBar(p, 0x10, false);
  assert.is(hex(r.lo), hex(0xfff00000), 'mask with the type bits');
  assert.is(r.size, MiB);
  assert.ok(r.actions.every((a) => a.length === 0), 'no action while decoding is off');
});

test('edu BAR0: bits below the size are read-only, so a placed address reads back aligned', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  p.write(0x10, 4, 0x20012345);
  assert.is(hex(p.read(0x10, 4)), hex(0x20000000));
  assert.is(p.bar(0).address, 0x20000000n);
});

test('multi BAR0 (I/O, 256 bytes): type bit 0 stays set through sizing', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x10, 4), 0x1);
  const r = sizeBar(p, 0x10, false);
  assert.is(hex(r.lo), hex(0xffffff01));
  assert.is(r.size, 256n);
});

test('multi BAR2/3 (64-bit prefetchable, 8 GiB): the low half reads back only its type bits, the upper half 0xfffffffe', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.is(hex(p.read(0x18, 4)), hex(0xc), '64-bit, prefetchable, address 0');
  assert.is(p.read(0x1c, 4), 0);
  const r = sizeBar(p, 0x18, true);
  assert.is(hex(r.lo), hex(0x0000000c));
  assert.is(hex(r.hi), hex(0xfffffffe));
  assert.is(r.size, 8n * GiB);
});

test('multi BAR4/5 (64-bit, 64 KiB): the upper half reads back all-ones', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  const r = sizeBar(p, 0x20, true);
  assert.is(hex(r.lo), hex(0xffff0004));
  assert.is(hex(r.hi), hex(0xffffffff));
  assert.is(r.size, 65536n);
});

test('ROM (64 KiB): ~ENABLE reads back the address mask; all-ones also sets the enable bit; restore clears both', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.is(p.read(0x30, 4), 0, 'the host address and enable bit are not shown');
  p.write(0x30, 4, 0xfffffffe);     // Linux: ~PCI_ROM_ADDRESS_ENABLE
  assert.is(hex(p.read(0x30, 4)), hex(0xffff0000));
  assert.ok(p.bar(6).sizing);
  p.write(0x30, 4, 0xffffffff);
  assert.is(hex(p.read(0x30, 4)), hex(0xffff0001));
  p.write(0x30, 4, 0);
  assert.is(p.read(0x30, 4), 0);
  assert.not.ok(p.bar(6).sizing);
});

test('unimplemented BARs and upper slots of 32-bit neighbours read 0 and ignore all-ones', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  for (const reg of [0x14, 0x18, 0x1c, 0x20, 0x24, 0x30]) {
    p.write(reg, 4, 0xffffffff);
    assert.is(p.read(reg, 4), 0, `register ${hex(reg)}`);
  }
});

test('sizing with decoding on never maps: the all-ones writes only unmap, the restore maps back', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  p.write(0x20, 4, 0xe0000000); p.write(0x24, 4, 0x1);  // BAR4 at 0x1_e000_0000
  p.write(0x14, 4, 0xd0000000);                         // BAR1 at 0xd0000000
  const on = p.write(0x04, 2, 0x2);
  assert.equal(on.filter((a) => a.kind === 'map').map((a) => a.kind === 'map' && [a.bar, a.address]), [[1, 0xd0000000n], [4, 0x1_e000_0000n]]);
  for (const [reg, is64, bar, at] of [[0x14, false, 1, 0xd0000000n], [0x20, true, 4, 0x1_e000_0000n]] as const) {
    const r = sizeBar(p, reg, is64);
    const sizingWrites = r.actions.slice(0, is64 ? 2 : 1).flat();
    const restoreWrites = r.actions.slice(is64 ? 2 : 1).flat();
    assert.equal(sizingWrites.map((a) => a.kind), ['unmap'], `BAR${bar}: the sizing writes only unmap`);
    assert.equal(restoreWrites, [{ kind: 'map', bar, address: at, size: sizes[bar]! }], `BAR${bar}: the restore maps back`);
  }
});

test('sub-dword writes: a 64-bit BAR sized byte by byte reads back the same mask', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  for (let i = 0; i < 8; i++) p.write(0x20 + i, 1, 0xff);
  assert.is(hex(p.read(0x20, 4)), hex(0xffff0004));
  assert.is(hex(p.read(0x24, 4)), hex(0xffffffff));
  assert.is(hex(p.read(0x22, 2)), hex(0xffff));
  assert.is(hex(p.read(0x20, 1)), hex(0x04));
  assert.ok(p.bar(4).sizing);
});

test.run();

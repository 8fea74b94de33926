// BarSlots: the VM's guest-placed BAR memslots. A hostile or buggy guest can place a BAR anywhere;
// what KVM would refuse (a slot over another, EEXIST) or what lies outside the host bridge's window
// must be refused here and counted, never handed to KVM, and unmapping a refused piece is nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BarSlots } from '../../../src/vmm/bar-slots';
import type { GuestMemorySlot } from '../../../src/index';
import type { Vm } from '../../../src/vmm/kvm';

/** A VM that records memslots the way KVM would, and fails as KVM does on an overlap. */
function fakeVm(): { vm: Vm; live: Map<number, { gpa: bigint; size: bigint }> } {
  const live = new Map<number, { gpa: bigint; size: bigint }>();
  let next = 10;
  const vm = {
    mapHost(gpa: bigint, size: bigint): number {
      for (const x of live.values()) if (gpa < x.gpa + x.size && x.gpa < gpa + size) throw new Error('EEXIST: KVM would refuse an overlapping slot');
      live.set(next, { gpa, size });
      return next++;
    },
    unmapHost(slot: number): void { if (!live.delete(slot)) throw new Error(`no slot ${slot}`); },
  } as unknown as Vm;
  return { vm, live };
}
const WINDOW = { base: 0x1000_0000n, size: 0x1000_0000n };
const slot = (gpa: bigint, size: bigint): GuestMemorySlot => ({ bar: 0, gpa, size, hostAddress: 0x7f00_0000_0000n });

test('slots inside the window and apart are installed; the counts follow', () => {
  const { vm, live } = fakeVm();
  const refused: string[] = [];
  const s = new BarSlots(vm, WINDOW, (_x, why) => refused.push(why));
  assert.ok(s.map(slot(0x1000_0000n, 0x4000n)));
  assert.ok(s.map(slot(0x1000_4000n, 0x1000n)));   // adjacent, not overlapping
  assert.is(live.size, 2);
  assert.equal(s.counts, { mapped: 2, removed: 0, refused: 0, most: 2 });
  assert.ok(s.unmap(slot(0x1000_0000n, 0x4000n)));
  assert.is(live.size, 1);
  assert.equal([s.counts.removed, s.installed, refused.length], [1, 1, 0]);
});

test('a BAR over another, over the window\'s edge or outside it is refused, not handed to KVM', () => {
  const { vm, live } = fakeVm();
  const refused: string[] = [];
  const s = new BarSlots(vm, WINDOW, (_x, why) => refused.push(why));
  assert.ok(s.map(slot(0x1800_0000n, 0x10000n)));
  assert.not.ok(s.map(slot(0x1800_8000n, 0x10000n)), 'overlapping');
  assert.not.ok(s.map(slot(0x1800_0000n, 0x10000n)), 'the same place twice');
  assert.not.ok(s.map(slot(0x1fff_f000n, 0x2000n)), 'across the window\'s end');
  assert.not.ok(s.map(slot(0x4000_0000n, 0x1000n)), 'over guest RAM, outside the window');
  assert.not.ok(s.map(slot(0x0fff_f000n, 0x1000n)), 'below the window');
  assert.not.ok(s.map(slot(0x1000_0000n, 0n)), 'empty');
  assert.is(live.size, 1, 'KVM saw only the one good slot');
  assert.is(s.counts.refused, 6);
  assert.is(refused.length, 6);
  assert.match(refused[0]!, /over the BAR slot at 0x18000000/);
  assert.match(refused[2]!, /outside the PCI MMIO window 0x10000000\.\.0x20000000/);
  // Unmapping what was refused removes nothing (the installed slot at the same gpa has another size).
  assert.not.ok(s.unmap(slot(0x1800_0000n, 0x8000n)));
  assert.not.ok(s.unmap(slot(0x4000_0000n, 0x1000n)));
  assert.is(live.size, 1);
  assert.ok(s.unmap(slot(0x1800_0000n, 0x10000n)));
  assert.is(live.size, 0);
});

test('two windows (the 32-bit one and the 64-bit one): a slot inside either is installed, one across or between them refused, naming both', () => {
  const { vm, live } = fakeVm();
  const refused: string[] = [];
  const HIGH = { base: 0x80_0000_0000n, size: 0x80_0000_0000n };
  const s = new BarSlots(vm, [WINDOW, HIGH], (_x, why) => refused.push(why));
  assert.ok(s.map(slot(0x1000_0000n, 0x1000n)), 'in the 32-bit window');
  assert.ok(s.map(slot(0x80_0000_0000n, 0x4000_0000n)), 'a 1 GiB BAR in the 64-bit window');
  assert.ok(s.map(slot(0xff_c000_0000n, 0x4000_0000n)), 'at the very top of it');
  assert.not.ok(s.map(slot(0x7f_ffff_f000n, 0x2000n)), 'across the 64-bit window\'s start');
  assert.not.ok(s.map(slot(0x1_0000_0000n, 0x1000n)), 'between the windows');
  assert.not.ok(s.map(slot(0x1fff_f000n, 0x80_0000_0000n)), 'from one window into the other');
  assert.is(live.size, 3);
  assert.is(refused.length, 3);
  assert.match(refused[0]!, /outside the PCI MMIO windows 0x10000000\.\.0x20000000, 0x8000000000\.\.0x10000000000/);
});

test('a bad window in the list is refused naming its index', () => {
  const { vm } = fakeVm();
  assert.throws(() => new BarSlots(vm, [WINDOW, { base: 1, size: 2n } as never]), (e: unknown) => e instanceof Error && /window\[1\]\.base/.test(e.message));
});

test.run();

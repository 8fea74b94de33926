// vfiokit/vmm's guest map (src/vmm/layout.ts) and the board tree for N vCPUs: no two ranges
// overlap for any vCPU count, the platform bus runs from after the UART to the top of the VM's
// IPA space (so it grows with KVM_CAP_ARM_VM_IPA_SIZE), the board's ranges inside it are reserved,
// and bad sizes are refused naming the argument. The tree for N cpus read back with parseFdt.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFdt, PlatformBus, VfioError } from '../../../src/index';
import { BOARD, boardDtb, MAX_VCPUS } from '../../../src/vmm-api';
import { firstOverlap, layoutFor, MIN_IPA_BITS } from '../../../src/vmm/layout';
import { attachOrder, fillBelowFloor } from '../../../src/vmm/run';
import { GICR_SIZE_PER_CPU } from '../../../src/vmm/abi';
import type { ResolvedDeviceSpec } from '../../../src/vmm/config';

const MiB = 1n << 20n;
const badArg = (name: string) => (e: unknown): boolean => e instanceof VfioError && e.kind === 'bad-argument' && e.message.includes(name) && !!e.hint;

test('no two ranges of the map overlap, for 1 to MAX_VCPUS vCPUs and RAM up to the top', () => {
  for (let cpus = 1; cpus <= MAX_VCPUS; cpus++) {
    const l = layoutFor({ cpus, memBytes: 256n * MiB, ipaBits: 40 });
    assert.is(firstOverlap(l.ranges), undefined, `${cpus} cpus`);
    assert.is(l.gicr.size, GICR_SIZE_PER_CPU * BigInt(cpus));
    assert.ok(l.gicr.base + l.gicr.size <= l.uart, 'the redistributors end before the UART');
  }
  const top = layoutFor({ cpus: 2, memBytes: (1n << 40n) - BOARD.ram, ipaBits: 40 });
  assert.is(top.ram.gpa + top.ram.size, 1n << 40n, 'RAM may run to the last byte');
});

test('the platform bus: from after the UART to 2^ipaBits, so it grows with the IPA size (not a fixed 32 MiB)', () => {
  for (const bits of [MIN_IPA_BITS, 40, 44, 48]) {
    const l = layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits: bits });
    assert.is(l.bus.base, BOARD.uart + 0x1000n);
    assert.is(l.bus.base + l.bus.size, 1n << BigInt(bits), `${bits} bits`);
    assert.ok(l.bus.size > 32n * MiB);
    for (const r of l.busReserved) assert.ok(r.base >= l.bus.base && r.base + r.size <= l.bus.base + l.bus.size, `${r.name} inside the bus's window`);
  }
  const l = layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits: 40 });
  assert.is(l.bus.spiFirst + l.bus.spiCount + 32, l.nrIrqs, 'the bus\'s SPIs run to the vGIC\'s last line');
  assert.ok(l.intxSpis.every((s) => s < l.bus.spiFirst), 'INTx SPIs are below the bus\'s');
});

test('the 64-bit PCI window: QEMU virt\'s 512 GiB at 512 GiB from 40 IPA bits, reserved on the bus; none below 40 bits or when RAM reaches it', () => {
  for (const bits of [40, 44, 48]) {
    const l = layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits: bits });
    assert.equal(l.pciMmio64, { base: 0x80_0000_0000n, size: 0x80_0000_0000n }, `${bits} bits`);
    assert.ok(l.busReserved.some((r) => r.name === 'pci-mmio64' && r.base === 0x80_0000_0000n), 'no platform device lands in it');
    assert.is(firstOverlap(l.ranges), undefined);
  }
  assert.is(layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits: 39 }).pciMmio64, undefined, 'the window would end above 2^39');
  assert.is(layoutFor({ cpus: 1, memBytes: 0x80_0000_0000n - BOARD.ram, ipaBits: 40 }).pciMmio64?.base, 0x80_0000_0000n, 'RAM ending at its base');
  const big = layoutFor({ cpus: 1, memBytes: 0x80_0000_0000n - BOARD.ram + 0x1000n, ipaBits: 44 });
  assert.is(big.pciMmio64, undefined, 'RAM reaching into it: no window, RAM wins');
  assert.is(firstOverlap(big.ranges), undefined);
});

test('bad vCPU counts, RAM sizes and IPA sizes are refused, naming the argument', () => {
  for (const cpus of [0, MAX_VCPUS + 1, 1.5, NaN]) assert.throws(() => layoutFor({ cpus, memBytes: 64n * MiB, ipaBits: 40 }), badArg('cpus'));
  for (const memBytes of [0n, 4095n, 64n * MiB + 1n, 1n << 40n]) assert.throws(() => layoutFor({ cpus: 1, memBytes, ipaBits: 40 }), badArg('memBytes'));
  for (const ipaBits of [31, 53, 40.5]) assert.throws(() => layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits }), badArg('ipaBits'));
  // 32-bit IPA: RAM at 1 GiB can hold at most 3 GiB.
  assert.throws(() => layoutFor({ cpus: 1, memBytes: (3n << 30n) + 0x1000n, ipaBits: 32 }), badArg('memBytes'));
});

const spec = (name: string, o: Partial<ResolvedDeviceSpec> = {}): ResolvedDeviceSpec => ({ name, irqfd: true, identity: false, ...o });

test('placement order: fixed and 1:1 devices first, then the rest, each in command-line order', () => {
  const specs = [spec('a'), spec('b', { identity: true }), spec('0000:00:03.0'), spec('c', { addr: 0x0c10_0000n }), spec('d')];
  assert.equal(attachOrder(specs), { pinned: [1, 3], rest: [0, 2, 4] });
});

test('below the first-fit floor: the holes are filled after the pinned placements, so first fit starts at the floor and 1:1 may go below it', () => {
  const l = layoutFor({ cpus: 1, memBytes: 64n * MiB, ipaBits: 40 });
  const bus = new PlatformBus(l.bus);
  try {
    const board = bus.newDevice();
    for (const r of l.busReserved) bus.placeRegion(r.size, { device: board, fixed: r.base, align: 0x1000n });
    const pinned = bus.placeRegion(0x1000n, { identity: 0x0901_0000n });   // the lab's pl031, 1:1
    fillBelowFloor(bus, l);
    const first = bus.placeRegion(0x1000n);
    assert.is(pinned.address, 0x0901_0000n);
    assert.is(first.address, BOARD.firstFitFloor, 'first fit lands on the floor (QEMU virt\'s platform bus)');
    const second = bus.placeRegion(0x200n);
    assert.is(second.address, BOARD.firstFitFloor + 0x1000n);
    assert.throws(() => bus.placeRegion(0x1000n, { fixed: 0x0a00_0000n, align: 0x1000n }), 'below the floor is taken once filled');
    const big = bus.placeRegion(1n << 30n);
    assert.ok(big.address >= l.ram.gpa + l.ram.size, `a 1 GiB region goes above RAM (0x${big.address.toString(16)}): the bus is not 32 MiB`);
  } finally { bus.close(); }
});

test('the board tree with N cpus: cpu@0..N-1 with reg = index, psci enable-method, redistributors sized for N, the timer', () => {
  for (const cpus of [1, 2, 4]) {
    const l = layoutFor({ cpus, memBytes: 64n * MiB, ipaBits: 40 });
    const b = boardDtb({ ram: l.ram, gic: { dist: l.gicd, redist: l.gicr.base }, cpus, timer: true });
    const t = parseFdt(b.dtb);
    const cpuNodes = t.node('/cpus').children().filter((c) => c.name.startsWith('cpu@'));
    assert.equal(cpuNodes.map((c) => c.name), Array.from({ length: cpus }, (_, i) => `cpu@${i}`));
    assert.equal(cpuNodes.map((c) => c.prop('reg').u32()), Array.from({ length: cpus }, (_, i) => i));
    assert.ok(cpuNodes.every((c) => c.prop('enable-method').string() === 'psci'));
    const gic = t.node(`/intc@${l.gicd.toString(16)}`);
    assert.equal(gic.reg(), [{ address: l.gicd, size: 0x1_0000n }, { address: l.gicr.base, size: l.gicr.size }]);
    assert.ok(t.findNode('/timer'));
  }
  assert.throws(() => boardDtb({ ram: { gpa: BOARD.ram, size: MiB }, gic: { dist: BOARD.gicd, redist: BOARD.gicr }, cpus: 17 }), badArg('cpus'));
});

test.run();

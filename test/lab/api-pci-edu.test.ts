// Runs INSIDE the lab guest: QEMU's edu (0000:00:02.0, vfio-pci) handed to a "guest" through
// PciPassthrough, the test playing the guest's firmware and driver: the config space it sees
// (IDs, BAR0 sizing, COMMAND off, the MSI capability), BAR0 placed -> one memory slot of the
// device's mmap (the registers answer through it) and removed again, MSI enabled by the guest
// and sent by the edu's raise-IRQ register -> delivered to userspace (deliverMsi) with the
// shadow's address and data, INTx back when MSI is disabled (setIntx, EOI by a trapped access),
// reset ('not-supported': the edu offers none), and fds and mappings counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds, countVfioMaps } from '../support/fds';
import { openDevice, VfioError, type GuestMemorySlot } from '../../src/index';
import { EDU, ID, IRQ_ACK, IRQ_RAISE, IRQ_STATUS, LIVENESS } from '../support/edu';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The process's mappings of VFIO devices (anon_inode:[vfio-device], or a /dev/vfio cdev). */
/** VFIO device mappings held now (test/support/fds.ts). */
const vfioMaps = countVfioMaps;
const GPA = 0x4000_0000n;
/** The edu's MSI capability (at 0x40: 64-bit address, one vector, no mask) and the message the guest gives it. */
const MSI = 0x40, MSI_ADDRESS = 0x0808_0040n, MSI_DATA = 0x21;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

function open() {
  const dev = openDevice(EDU);
  const slots: GuestMemorySlot[] = [];
  const msis: [bigint, number][] = [];
  const intx: boolean[] = [];
  const pci = dev.pci({
    mapMemory: (s) => { slots.push(s); },
    unmapMemory: (s) => { const i = slots.findIndex((x) => x.gpa === s.gpa); assert.ok(i >= 0, 'unmap of a slot mapped'); slots.splice(i, 1); },
    deliverMsi: (a, d) => { msis.push([a, d]); },
    setIntx: (l) => { intx.push(l); },
  });
  return { dev, pci, slots, msis, intx };
}

test('config through the shadow: IDs and capabilities as the device has them, BAR0 unassigned with its 1 MiB size mask, COMMAND off', () => {
  const before = countFds();
  const { dev, pci } = open();
  try {
    assert.is(pci.configRead(0x00, 4) >>> 0, 0x11e81234);
    assert.is(pci.configRead(0x04, 2) & 0x7, 0, 'IO, MEMORY, MASTER off: a function fresh from reset');
    assert.is(pci.configRead(0x10, 4), 0, 'BAR0 unassigned');
    pci.configWrite(0x10, 4, 0xffff_ffff);
    assert.is(pci.configRead(0x10, 4) >>> 0, 0xfff0_0000, '1 MiB, 32-bit, non-prefetchable');
    assert.is(pci.configRead(0x34, 1), MSI);
    assert.is(pci.configRead(MSI, 1), 0x05, 'MSI');
    assert.is(pci.configRead(MSI + 2, 2) & 0x1, 0, 'disabled');
    assert.is(pci.configRead(0x3d, 1), 1, 'INTA');
    assert.is(pci.configRead(0x1000, 4) >>> 0, 0xffff_ffff, 'past the config space: all-ones');
    assert.is(pci.stats().mode, 'intx', 'INTx routed at start (setIntx given)');
  } finally { dev.close(); }
  assert.is(countFds(), before);
});

test('BAR0 placed with MEMORY on -> one 1 MiB slot of the device mmap; the registers answer through it and through the trap path; MEMORY off removes it', () => {
  const before = countFds(), mapsBefore = vfioMaps();
  const { dev, pci, slots } = open();
  try {
    pci.configWrite(0x10, 4, Number(GPA));
    assert.equal(slots, [], 'decoding off: nothing mapped');
    pci.configWrite(0x04, 2, 0x0006);
    assert.is(slots.length, 1);
    assert.equal([slots[0]!.bar, slots[0]!.gpa, slots[0]!.size], [0, GPA, 0x10_0000n]);
    assert.is(Number(dev.regions[7]!.read(0x04, 2)) & 0x6, 0x6, 'COMMAND reached the device');
    const regs = new Uint32Array(dev.sys.view(slots[0]!.hostAddress, 4096));
    assert.is(Atomics.load(regs, ID / 4), 0x010000ed, 'the identification register through the slot\'s host address');
    pci.mmioWrite(GPA + BigInt(LIVENESS), 4, 0x1234_5678n);
    assert.is(Atomics.load(regs, LIVENESS / 4), (~0x1234_5678) >>> 0, 'a trapped write, read back through the mapping');
    assert.is(pci.mmioRead(GPA + BigInt(ID), 4), 0x010000edn);
    assert.ok(pci.claims(GPA + 0xf_fffcn));
    assert.not.ok(pci.claims(GPA + 0x10_0000n));
    pci.configWrite(0x04, 2, 0);
    assert.equal(slots, []);
    assert.not.ok(pci.claims(GPA));
    const st = pci.stats();
    assert.equal([st.slotsMapped, st.slotsUnmapped, st.barTraps], [1, 1, 2]);
  } finally { dev.close(); }
  assert.is(countFds(), before);
  assert.is(vfioMaps(), mapsBefore, 'the BAR mapping released');
});

test('MSI: the guest enables it (INTx off first), the edu raises it, deliverMsi gets the shadow\'s address and data; disabled, INTx is back with its EOI', async () => {
  const before = countFds();
  const { dev, pci, msis, intx } = open();
  try {
    pci.configWrite(0x10, 4, Number(GPA));
    pci.configWrite(0x04, 2, 0x0006); // MEMORY, MASTER: an MSI is a memory write by the device
    pci.configWrite(MSI + 4, 4, Number(MSI_ADDRESS)); pci.configWrite(MSI + 8, 4, 0); pci.configWrite(MSI + 12, 2, MSI_DATA);
    pci.configWrite(MSI + 2, 2, 0x0081);
    assert.is(pci.stats().mode, 'msi');
    assert.is(pci.stats().enabledVectors, 1);
    pci.mmioWrite(GPA + BigInt(IRQ_RAISE), 4, 1n);
    await until(() => msis.length === 1, 'one MSI delivered');
    assert.equal(msis[0], [MSI_ADDRESS, MSI_DATA]);
    pci.mmioWrite(GPA + BigInt(IRQ_ACK), 4, 1n);
    pci.mmioWrite(GPA + BigInt(IRQ_RAISE), 4, 2n);
    await until(() => msis.length === 2, 'a second MSI');
    pci.mmioWrite(GPA + BigInt(IRQ_ACK), 4, 2n);
    assert.equal(intx, [], 'INTx silent while MSI is on');
    pci.configWrite(MSI + 2, 2, 0x0080);
    assert.is(pci.stats().mode, 'intx');
    pci.mmioWrite(GPA + BigInt(IRQ_RAISE), 4, 4n);
    await until(() => intx.includes(true), 'the INTx line raised through setIntx');
    assert.is(pci.mmioRead(GPA + BigInt(IRQ_STATUS), 4), 4n, 'the guest reads the status (a trapped access)');
    pci.mmioWrite(GPA + BigInt(IRQ_ACK), 4, 4n); // acknowledged, then the EOI lowers the line
    await until(() => intx.at(-1) === false, 'the line lowered at the EOI');
    // The first EOI (the status read) unmasked the line while the device still held it high, so
    // the kernel may signal once more: a guest's handler then finds nothing (status 0) and its
    // access is the EOI that ends it, as under QEMU.
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      if (intx.at(-1) === true) assert.is(pci.mmioRead(GPA + BigInt(IRQ_STATUS), 4), 0n, 'a spurious assertion: nothing pending');
    }
    assert.is(intx.at(-1), false, 'the line stays low once the device lowered it');
    assert.is(msis.length, 2);
    console.log(`  # edu through PciPassthrough: 2 MSIs to userspace, INTx ${intx.map((l) => (l ? 'up' : 'down')).join(' ')}; stats ${JSON.stringify(pci.stats())}`);
  } finally { dev.close(); }
  assert.is(countFds(), before);
});

test('reset: the edu offers no VFIO_DEVICE_RESET: \'not-supported\', and the passthrough goes on', () => {
  const before = countFds();
  const { dev, pci, slots } = open();
  try {
    pci.configWrite(0x10, 4, Number(GPA)); pci.configWrite(0x04, 2, 0x0002);
    let err: unknown;
    try { pci.reset(); } catch (e) { err = e; }
    assert.ok(err instanceof VfioError && err.kind === 'not-supported', String(err));
    assert.is(slots.length, 1, 'nothing torn down');
    assert.is(pci.mmioRead(GPA, 4), 0x010000edn);
  } finally { dev.close(); }
  assert.is(countFds(), before);
});

test.run();

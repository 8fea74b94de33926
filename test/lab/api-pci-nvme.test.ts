// Runs INSIDE the lab guest: QEMU's NVMe (0000:00:03.0, vfio-pci) handed through PciPassthrough
// to a KVM VM with a vGICv3 and an ITS, the test playing the guest: BAR0 placed -> its registers a
// memory slot, the MSI-X table and PBA pages trapped; MSI-X enabled by the guest (INTx's irqfd
// gone first), each vector an irqfd on an MSI route with the requester ID; 100 mask/unmask
// cycles that switch the VFIO trigger and never assign an irqfd again; the controller's own
// completion interrupt (an admin command through the passthrough's BAR0) made pending in the
// PBA while the vector is masked, delivered at unmask, and taken by KVM's irqfd while it is not;
// reset (VFIO_DEVICE_RESET, the guest's view back to reset, vectors torn down); fds and
// mappings counted. No guest runs in the VM: its ITS stays disabled, so KVM blocks the
// injections (counted as deliveriesBlocked); the L2 guest's own driver is the mini-VMM's test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { countFds, countVfioMaps } from '../support/fds';
import { Undo } from '../support/shim-lab';
import { ITS_DOORBELL, vmWithIts } from '../support/kvm-its';
import { NVME, NVME_SYSFS } from '../support/nvme';
import { allocDma, KvmIrqRoutes, openDevice, VFIO_PCI_MSIX_IRQ_INDEX, type GuestMemorySlot, type PciPassthrough, type VfioDevice } from '../../src/index';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The process's mappings of VFIO devices (anon_inode:[vfio-device], or a /dev/vfio cdev). */
/** VFIO device mappings held now (test/support/fds.ts). */
const vfioMaps = countVfioMaps;
const GPA = 0x1000_0000n;
/** QEMU's NVMe's MSI-X capability (docs/LAB.md); the table and PBA are where the guest's view of it
 *  says (the device has them at BAR0+0x2000 and +0x3000; the passthrough may have moved them). */
const MSIX_CAP = 0x40;
let TABLE = 0n, PBA = 0n;
/** Where the guest finds the table and PBA: BAR0 (the only BIR here) plus the capability's offsets. */
function findMsix(pci: PciPassthrough): void {
  const t = pci.configRead(MSIX_CAP + 4, 4) >>> 0, p = pci.configRead(MSIX_CAP + 8, 4) >>> 0;
  assert.equal([t & 7, p & 7], [0, 0], 'both in BAR0');
  TABLE = GPA + BigInt(t & ~7); PBA = GPA + BigInt(p & ~7);
}
/** The guest's requester ID for the function (00:03.0). */
const DEVID = 3 << 3;
/** NVMe controller registers (NVMe base spec 3.1.3) and the admin queues this test makes. */
const CC = 0x14, CSTS = 0x1c, AQA = 0x24, ASQ = 0x28, ACQ = 0x30, SQ0TDBL = 0x1000, CQ0HDBL = 0x1004;
const QDEPTH = 16, IOVA_SQ = 0x10_0000n, IOVA_CQ = 0x11_0000n, IOVA_DATA = 0x12_0000n;
const have = existsSync(NVME_SYSFS) && existsSync('/dev/kvm');
const SKIP = `  SKIP: needs ${NVME} (QEMU's NVMe in the lab) and /dev/kvm`;

/** The host's interrupt count of vfio-msix vector `n` of the NVMe (/proc/interrupts), or undefined. */
function hostCount(n: number): number | undefined {
  const line = readFileSync('/proc/interrupts', 'utf8').split('\n').find((l) => l.includes(`vfio-msix[${n}](${NVME})`));
  return line ? line.trim().split(/\s+/).slice(1, 3).map(Number).reduce((a, b) => a + b, 0) : undefined;
}
const vfioMsixLines = () => readFileSync('/proc/interrupts', 'utf8').split('\n').filter((l) => l.includes(`vfio-msix`) && l.includes(NVME)).length;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

interface Rig { dev: VfioDevice; pci: PciPassthrough; routes: KvmIrqRoutes; slots: GuestMemorySlot[]; undo: Undo; errors: unknown[] }

function rig(): Rig {
  const undo = new Undo();
  const vmFd = vmWithIts(undo);
  const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 32 });
  undo.add('routes', () => routes.close());
  const dev = openDevice(NVME);
  undo.add('device', () => dev.close());
  const slots: GuestMemorySlot[] = [];
  const errors: unknown[] = [];
  const pci = dev.pci({
    mapMemory: (s) => { slots.push(s); },
    unmapMemory: (s) => { slots.splice(slots.findIndex((x) => x.gpa === s.gpa), 1); },
    kvm: { vmFd, routes, devid: DEVID, intxGsi: 5 },
    onError: (e) => errors.push(e),
  });
  return { dev, pci, routes, slots, undo, errors };
}

/** The guest's firmware: BAR0 (64-bit) at GPA, MEMORY and MASTER on. */
function place(pci: PciPassthrough): void {
  pci.configWrite(0x10, 4, 0xffff_ffff); pci.configWrite(0x14, 4, 0xffff_ffff);
  pci.configWrite(0x10, 4, Number(GPA)); pci.configWrite(0x14, 4, 0);
  pci.configWrite(0x04, 2, 0x0006);
  findMsix(pci);
}
const entry = (n: number) => TABLE + BigInt(16 * n);
function program(pci: PciPassthrough, n: number): void {
  pci.mmioWrite(entry(n), 4, ITS_DOORBELL & 0xffff_ffffn); pci.mmioWrite(entry(n) + 4n, 4, ITS_DOORBELL >> 32n); pci.mmioWrite(entry(n) + 8n, 4, BigInt(n));
}
const mask = (pci: PciPassthrough, n: number, m: boolean) => pci.mmioWrite(entry(n) + 12n, 4, m ? 1n : 0n);

test('BAR0 -> one memory slot of the registers; the MSI-X table and PBA pages stay trapped; MSI-X on: INTx\'s irqfd goes first, each vector one irqfd on an MSI route', () => {
  if (!have) { console.log(SKIP); return; }
  const before = countFds(), mapsBefore = vfioMaps();
  const r = rig();
  try {
    const { pci, slots } = r;
    const q = r.dev.irqs[VFIO_PCI_MSIX_IRQ_INDEX]!;
    console.log(`  # MSI-X index: ${q.count} vectors, flags 0x${q.flags.toString(16)} (NORESIZE ${(q.flags & 8) !== 0}); page size ${r.dev.pageSize}`);
    assert.is(pci.stats().mode, 'intx', 'INTx wired (irqfd + resample at GSI 5) at start');
    place(pci);
    console.log(`  # guest view: relocation ${pci.relocation}, BAR0 ${pci.config.bar(0).size} bytes, table at BAR0+0x${(TABLE - GPA).toString(16)}, PBA at BAR0+0x${(PBA - GPA).toString(16)}; slots ${slots.map((x) => `0x${x.gpa.toString(16)}+0x${x.size.toString(16)}`).join(' ')}`);
    if (r.dev.pageSize === 4096) {
      if (pci.relocation === 'none') assert.equal(slots.map((s) => [s.gpa, s.size]), [[GPA, 0x2000n]], 'the registers and doorbells; not the table (0x2000) or PBA (0x3000) pages');
      else assert.equal(slots.map((s) => [s.gpa, s.size]), [[GPA, 0x4000n]], 'the device\'s whole BAR0; the table and PBA moved past it');
    }
    assert.is(pci.configRead(MSIX_CAP, 1), 0x11);
    for (let n = 0; n < 4; n++) program(pci, n);
    pci.configWrite(MSIX_CAP + 2, 2, 0x8000);
    const st = pci.stats();
    assert.equal([st.mode, st.enabledVectors], ['msix', 4], 'MSI-X on over the 4 vectors the guest programmed');
    assert.is(vfioMsixLines(), 4, 'the host allocated 4 vectors (/proc/interrupts)');
    for (let n = 0; n < 4; n++) mask(pci, n, false);
    assert.equal([pci.stats().irqfdAssigns, r.routes.msiRoutes, r.routes.commits], [4, 4, 4]);
    assert.ok(vfioMaps() >= (r.dev.pageSize === 4096 ? 1 : 0), 'the registers\' slot is a mapping of the device');
    // Vector 9 unmasked past the 4 enabled: the index grows (rebuilt when the kernel says NORESIZE).
    program(pci, 9);
    mask(pci, 9, false);
    const g = pci.stats();
    assert.equal([g.enabledVectors, g.irqfdAssigns, g.indexRebuilds], [10, 5, (q.flags & 8) !== 0 ? 1 : 0]);
    assert.is(vfioMsixLines(), 10);
    console.log(`  # grown to 10 vectors: ${g.indexRebuilds} rebuild(s), ${g.deliveries} delivery(ies) after it (${g.deliveriesBlocked} blocked: no guest ITS)`);
    assert.ok(r.errors.length <= g.deliveriesBlocked, 'only blocked deliveries reported');
  } finally { r.undo.run(); }
  assert.is(countFds(), before);
  assert.is(vfioMaps(), mapsBefore);
});

test('100 mask/unmask cycles of a vector: 200 trigger switches, no irqfd assigned or deassigned, no route committed', () => {
  if (!have) { console.log(SKIP); return; }
  const r = rig();
  try {
    const { pci } = r;
    place(pci);
    for (let n = 0; n < 2; n++) { program(pci, n); }
    pci.configWrite(MSIX_CAP + 2, 2, 0x8000);
    for (let n = 0; n < 2; n++) mask(pci, n, false);
    const s0 = pci.stats(), commits = r.routes.commits;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) { mask(pci, 1, true); mask(pci, 1, false); }
    const us = Number(process.hrtime.bigint() - t0) / 1000 / 200;
    const s = pci.stats();
    assert.equal([s.irqfdAssigns - s0.irqfdAssigns, s.irqfdDeassigns, s.triggerSwitches - s0.triggerSwitches, s.routeUpdates, r.routes.commits - commits], [0, 0, 200, 0, 0]);
    console.log(`  # 100 mask/unmask cycles: 200 VFIO trigger switches, 0 irqfd assigns/deassigns, 0 route commits; ${us.toFixed(1)} us per mask or unmask (TCG)`);
  } finally { r.undo.run(); }
});

test('the controller\'s completion interrupt: pending in the PBA while vector 0 is masked, delivered at unmask (KVM_SIGNAL_MSI), then KVM\'s irqfd takes it', async () => {
  if (!have) { console.log(SKIP); return; }
  const before = countFds();
  const r = rig();
  const sq = allocDma(4096), cq = allocDma(4096), data = allocDma(4096);
  try {
    const { pci, dev } = r;
    place(pci);
    program(pci, 0);
    pci.configWrite(MSIX_CAP + 2, 2, 0x8000);
    for (const [iova, b] of [[IOVA_SQ, sq], [IOVA_CQ, cq], [IOVA_DATA, data]] as const) dev.mapDma({ iova, buffer: b.bytes, size: 4096n });
    const w32 = (off: number, v: bigint) => pci.mmioWrite(GPA + BigInt(off), 4, v);
    const r32 = (off: number) => Number(pci.mmioRead(GPA + BigInt(off), 4));
    // The admin queues, then the controller enabled (CC.EN, 64-byte SQ and 16-byte CQ entries).
    w32(CC, 0n);
    await until(() => (r32(CSTS) & 1) === 0, 'controller disabled');
    w32(AQA, BigInt((QDEPTH - 1) << 16 | (QDEPTH - 1)));
    w32(ASQ, IOVA_SQ); w32(ASQ + 4, 0n); w32(ACQ, IOVA_CQ); w32(ACQ + 4, 0n);
    w32(CC, 0x0046_0001n);
    await until(() => (r32(CSTS) & 1) === 1, 'controller ready');
    const sqe = new Uint32Array(sq.bytes.buffer, sq.bytes.byteOffset, 1024), cqe = new Uint32Array(cq.bytes.buffer, cq.bytes.byteOffset, 1024);
    let tail = 0, head = 0, phase = 1;
    /** Identify Controller (opcode 0x06, CNS 1) through the admin queue; waits for its completion. */
    const identify = async (cid: number) => {
      sqe.fill(0, tail * 16, tail * 16 + 16);
      sqe[tail * 16] = 0x06 | (cid << 16); sqe[tail * 16 + 6] = Number(IOVA_DATA); sqe[tail * 16 + 10] = 1;
      tail = (tail + 1) % QDEPTH;
      w32(SQ0TDBL, BigInt(tail));
      await until(() => ((Atomics.load(cqe, head * 4 + 3) >>> 16) & 1) === phase, `completion of command ${cid}`);
      assert.is(Atomics.load(cqe, head * 4 + 3) & 0xffff, cid);
      head = (head + 1) % QDEPTH; if (head === 0) phase ^= 1;
      w32(CQ0HDBL, BigInt(head));
    };
    const host0 = hostCount(0) ?? 0;
    // Masked: the fire reaches userspace and only sets the pending bit.
    await identify(1);
    await until(() => pci.mmioRead(PBA, 8) === 1n, 'PBA bit 0 set by the masked vector\'s fire');
    assert.ok((hostCount(0) ?? 0) > host0, 'the host took the device\'s MSI-X interrupt');
    assert.is(pci.stats().deliveries, 0);
    mask(pci, 0, false);
    assert.is(pci.mmioRead(PBA, 8), 0n, 'delivered at unmask, pending bit clear');
    const s1 = pci.stats();
    assert.equal([s1.deliveries, s1.irqfdAssigns], [1, 1]);
    // Live: the trigger is the irqfd; KVM consumes it, userspace sees nothing.
    const host1 = hostCount(0) ?? 0;
    await identify(2);
    await until(() => (hostCount(0) ?? 0) > host1, 'the host took the second interrupt');
    await sleep(100);
    assert.is(pci.mmioRead(PBA, 8), 0n);
    assert.is(pci.stats().deliveries, 1, 'no userspace delivery: KVM\'s irqfd took it');
    console.log(`  # completion IRQs: masked -> PBA -> 1 delivery at unmask (${s1.deliveriesBlocked} blocked by the test VM's disabled ITS); live -> irqfd; errors to onError: ${r.errors.length}`);
    w32(CC, 0n);
  } finally { r.undo.run(); sq.close(); cq.close(); data.close(); }
  assert.is(countFds(), before);
});

test('reset: MSI-X off, VFIO_DEVICE_RESET, slots removed, every vector\'s irqfd deassigned and route removed, INTx wired again; the guest sees the function out of reset', () => {
  if (!have) { console.log(SKIP); return; }
  const r = rig();
  try {
    const { pci, dev, slots } = r;
    if (!dev.info.reset) { console.log(`  SKIP reset: ${NVME} offers no VFIO_DEVICE_RESET`); return; }
    place(pci);
    for (let n = 0; n < 3; n++) { program(pci, n); }
    pci.configWrite(MSIX_CAP + 2, 2, 0x8000);
    for (let n = 0; n < 3; n++) mask(pci, n, false);
    pci.reset();
    const s = pci.stats();
    assert.equal([s.mode, s.irqfdDeassigns, slots.length, r.routes.msiRoutes], ['intx', 3, 0, 0]);
    assert.is(vfioMsixLines(), 0, 'the host vectors freed');
    assert.is(pci.configRead(0x10, 4) & ~0xf, 0, 'BAR0 unassigned');
    assert.is(pci.configRead(MSIX_CAP + 2, 2) & 0xc000, 0, 'MSI-X disabled');
    place(pci);
    assert.ok(slots.length >= (dev.pageSize === 4096 ? 1 : 0), 'placed again');
    assert.equal(r.errors, []);
  } finally { r.undo.run(); }
});

test.run();

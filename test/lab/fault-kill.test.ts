// Runs INSIDE the lab guest: a process holding a device is SIGKILLed at a chosen point, and a new
// process takes the device over. The killed process is this file run again as a child in one of
// the roles below; it says "ready" at its point and is killed a random 0-30 ms later (0-300 ms
// for the open loop, which has no single point). Points: in the middle of opens and closes
// (type1 and iommufd alternately), with the BAR mapped, with DMA mapped, with the INTx wired to a
// KVM vGIC by irqfd and raised, during an MSI storm, in the middle of a DMA, with the pl031's
// alarm routed and armed, in the middle of virtio_mmio trap reads. Afterwards this process opens
// the device, records what the killed one left behind in the kernel (VFIO IRQ handlers still in
// /proc/interrupts) and in the device (edu: an interrupt still raised, its DMA engine still busy;
// pl031: its alarm interrupt still pending), quiesces it where it can (no device here offers a
// reset: edu's info.reset is false, and vfio-platform runs with reset_required=0), and checks that
// everything works: edu identification, one MSI, one INTx, a DMA round trip through a fresh
// mapping; the pl031's and virtio_mmio's registers. Also: what the device does with a DMA it had
// started when its owner died, if the next owner turns bus mastering on at once (measured, not
// asserted: it is the device's behaviour, and the mitigation is the next owner's).
// Then two processes race for one group (type1, iommufd, and one of each): exactly one opens, the
// other gets a VfioError with a hint and leaves nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { allocDma, openDevice, VfioError, type IommuKind, type VfioDevice } from '../../src/index';
import { CONFIG, DMA_CMD, DMA_COUNT, DMA_DST, DMA_SRC, DMA_START, DMA_TO_RAM, EDU, EDU_BUF, ID, IRQ_ACK, IRQ_RAISE, IRQ_STATUS, eduDma, enableBusMaster } from '../support/edu';
import { countFds } from '../support/fds';
import { CHILD_ARGS, CHILD_ROLE, startChild, stayAlive } from '../support/child';
import { createSys, realLibc } from '../../shim/index';
import { Undo, vmWithGic } from '../support/shim-lab';
import { progress, report, rng, size, sleep, soakDeadline } from '../support/load';

const PL031 = '9010000.pl031', VIRTIO = 'a000000.virtio_mmio';
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;
const PCI_COMMAND = 0x04, PCI_COMMAND_MASTER = 0x4;
/** The IOVA every role and check maps its DMA page at (so a stale DMA would land there). */
const IOVA = 0x20_0000n;
/** ms a child may take to start node, load this bundle and reach its point. */
const READY_MS = 30_000;

/** Where a child is killed: the role it runs and the device it holds. */
const POINTS = ['open-loop', 'mapped', 'dma-mapped', 'irqfd', 'msi-storm', 'mid-dma', 'pl031-alarm', 'virtio-trap'] as const;
type Point = typeof POINTS[number];
const deviceOf = (p: Point): string => p === 'pl031-alarm' ? PL031 : p === 'virtio-trap' ? VIRTIO : EDU;

// ---- the child's side -----------------------------------------------------------------------
async function child(role: string, args: string[]): Promise<void> {
  const iommu = (args[0] ?? 'type1') as IommuKind;
  const ready = (): void => { console.log('ready'); };
  if (role === 'open-loop') {
    ready();
    for (let i = 0; ; i++) openDevice(EDU, { iommu: i % 2 ? 'iommufd' : 'type1' }).close();
  }
  if (role === 'race') {
    // Waits for "go" on stdin, so that two children open at the same moment.
    const go = new Promise<void>((r) => process.stdin.once('data', () => r()));
    console.log('waiting');
    await go;
    const before = countFds();
    try {
      const dev = openDevice(EDU, { iommu });
      console.log(JSON.stringify({ opened: true }));
      await sleep(1500);
      dev.close();
    } catch (e) {
      const x = e as VfioError;
      console.log(JSON.stringify({ opened: false, vfio: x instanceof VfioError, kind: x.kind, errnoName: x.errnoName, message: x.message, hint: x.hint, fdsLeft: countFds() - before }));
    }
    process.exit(0);
  }
  const dev = openDevice(role === 'pl031-alarm' ? PL031 : role === 'virtio-trap' ? VIRTIO : EDU, { iommu: role === 'pl031-alarm' || role === 'virtio-trap' ? 'auto' : iommu });
  if (role === 'virtio-trap') { ready(); for (;;) dev.regions[0]!.read32(0); }
  const bar = dev.regions[0]!.map();
  if (role === 'pl031-alarm') {
    dev.routeIrqs({ setLine() {} });
    bar.write32(ICR, 1); bar.write32(MR, bar.read32(DR) + 1); bar.write32(IMSC, 1);
  } else if (role === 'dma-mapped') {
    const buf = allocDma(16 * 4096);
    for (let i = 0; i < 16; i++) dev.mapDma({ iova: IOVA + BigInt(i * 4096), buffer: buf.bytes.subarray(i * 4096, (i + 1) * 4096), size: 4096n });
  } else if (role === 'irqfd') {
    const vm = vmWithGic(createSys(realLibc()), new Undo());
    dev.routeIrqs({ setLine() {} }).wireIrqfd(0, vm, 5);
    bar.write32(IRQ_RAISE, 1); // the line is up in the vGIC when the process dies
  } else if (role === 'msi-storm') {
    enableBusMaster(dev);
    let n = 0;
    dev.irqs[1]!.onTrigger(() => { bar.write32(IRQ_ACK, 1); bar.write32(IRQ_RAISE, 1); if (++n === 50) ready(); });
    bar.write32(IRQ_RAISE, 1);
    stayAlive();
    return;
  } else if (role === 'mid-dma') {
    // A pattern into the edu's buffer, then a copy back towards the IOVA that dies with us.
    const buf = allocDma(4096);
    buf.bytes.fill(0x5a);
    dev.mapDma({ iova: IOVA, buffer: buf.bytes, size: 4096n });
    enableBusMaster(dev);
    await eduDma(bar, IOVA, EDU_BUF, 4095, 0);
    bar.write64(DMA_SRC, EDU_BUF); bar.write64(DMA_DST, IOVA); bar.write64(DMA_COUNT, 4095n);
    bar.write32(DMA_CMD, DMA_TO_RAM | DMA_START); // 100 ms in the edu's timer: we die before it ends
  }
  ready();
  stayAlive();
}

// ---- the parent's side ----------------------------------------------------------------------
/** What a killed process left, and what taking over took. */
const left = { irqHandlers: 0, eduIrqRaised: 0, eduDmaBusy: 0, eduBusMaster: 0, pl031AlarmPending: 0 };

/** VFIO's interrupt handlers still registered in the kernel (/proc/interrupts names them vfio-*). */
function vfioIrqHandlers(): number {
  return readFileSync('/proc/interrupts', 'utf8').split('\n').filter((l) => /vfio-(intx|msi|msix|irq)|vfio-platform|vfio-amba/.test(l)).length;
}

/** Resolves with the next count `arm` delivers, or rejects after ms. */
function once(arm: (got: (n: bigint) => void) => void, ms: number, what: string): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    arm((n) => { clearTimeout(t); resolve(n); });
  });
}

/** Opens the edu after a kill: records what was left, quiesces it (no reset: its DMA is let run
 *  out with bus mastering off), then identification, one MSI, one INTx, a DMA round trip. */
async function eduTakesOver(iommu: Exclude<IommuKind, 'noiommu'>): Promise<void> {
  const dev = openDevice(EDU, { iommu });
  const buf = allocDma(4096);
  try {
    const bar = dev.regions[0]!.map();
    const cfg = dev.regions[CONFIG]!;
    if (bar.read32(IRQ_STATUS) !== 0) left.eduIrqRaised++;
    if (bar.read32(DMA_CMD) & DMA_START) left.eduDmaBusy++;
    if (Number(cfg.read(PCI_COMMAND, 2)) & PCI_COMMAND_MASTER) left.eduBusMaster++;
    assert.is(dev.info.reset, false, 'edu offers no reset, so taking over is quiescing');
    for (let i = 0; i < 300 && (bar.read32(DMA_CMD) & DMA_START); i++) await sleep(10);
    assert.is(bar.read32(DMA_CMD) & DMA_START, 0, 'the DMA engine went idle');
    bar.write32(IRQ_ACK, bar.read32(IRQ_STATUS));
    assert.is(bar.read32(ID), 0x010000ed);
    buf.bytes.fill(0xee);
    dev.mapDma({ iova: IOVA, buffer: buf.bytes, size: 4096n });
    enableBusMaster(dev);
    await sleep(150); // a DMA left over would have landed by now
    assert.ok(buf.bytes.every((b) => b === 0xee), 'nothing the killed process started reached the new mapping');
    const msi = dev.irqs[1]!;
    assert.is(await once((got) => { msi.onTrigger((n) => { bar.write32(IRQ_ACK, 1); got(n); }); bar.write32(IRQ_RAISE, 1); }, 3000, 'MSI'), 1n);
    msi.disable();
    const intx = dev.irqs[0]!;
    assert.is(await once((got) => { intx.onTrigger((n) => { bar.write32(IRQ_ACK, 1); intx.unmask(); got(n); }); bar.write32(IRQ_RAISE, 1); }, 3000, 'INTx'), 1n);
    intx.disable();
    for (let i = 0; i < 64; i++) buf.bytes[i] = i ^ 0x3c;
    await eduDma(bar, IOVA, EDU_BUF, 64, 0);
    buf.bytes.fill(0, 0, 64);
    await eduDma(bar, EDU_BUF, IOVA, 64, DMA_TO_RAM);
    assert.ok(buf.bytes.subarray(0, 64).every((b, i) => b === (i ^ 0x3c)), 'a DMA round trip');
  } finally { dev.close(); buf.close(); }
}

function pl031TakesOver(): void {
  const dev = openDevice(PL031);
  try {
    const m = dev.regions[0]!.map();
    if (m.read32(RIS) & m.read32(IMSC) & 1) left.pl031AlarmPending++;
    m.write32(IMSC, 0); m.write32(ICR, 1); // quiesced: its interrupt masked and cleared
    assert.is(m.read32(0xffc) & 0xff, 0xb1, 'PrimeCell ID');
    assert.is(m.read32(RIS) & 1, 0);
  } finally { dev.close(); }
}

function virtioTakesOver(): void {
  const dev = openDevice(VIRTIO);
  try { assert.is(dev.regions[0]!.read32(0), 0x74726976); } finally { dev.close(); }
}

test('SIGKILL at every point, then a new owner: it opens, quiesces, and everything works', async () => {
  const before = countFds();
  const r = rng();
  const kills = size(POINTS.length, 240), until = soakDeadline(0.15);
  const byPoint: Record<string, number> = {};
  let n = 0;
  const t0 = Date.now();
  while (n < kills || Date.now() < until) {
    const point = POINTS[n % POINTS.length]!;
    const iommu = (Math.floor(n / POINTS.length) % 2 === 0 ? 'type1' : 'iommufd') as 'type1' | 'iommufd';
    const c = startChild(point, [iommu]);
    await c.waitFor(/^ready$/, READY_MS);
    await sleep(r.int(point === 'open-loop' ? 300 : 30));
    c.proc.kill('SIGKILL');
    const { signal } = await c.exit;
    assert.is(signal, 'SIGKILL', `${point}: killed`);
    left.irqHandlers += vfioIrqHandlers();
    if (deviceOf(point) === EDU) await eduTakesOver(iommu);
    else if (point === 'pl031-alarm') pl031TakesOver();
    else virtioTakesOver();
    byPoint[point] = (byPoint[point] ?? 0) + 1;
    n++;
    progress(() => `${n} kills`);
  }
  const s = (Date.now() - t0) / 1000;
  console.log(`  ${n} kills in ${s.toFixed(1)} s (${Object.entries(byPoint).map(([k, v]) => `${k} ${v}`).join(', ')}); left behind: ${left.irqHandlers} VFIO IRQ handlers in the kernel, edu interrupt still raised ${left.eduIrqRaised}x, edu DMA still running ${left.eduDmaBusy}x, edu bus master on ${left.eduBusMaster}x, pl031 alarm pending ${left.pl031AlarmPending}x; the new owner worked every time`);
  report('fault sigkill', { kills: n, seconds: +s.toFixed(1), ...left, recovered: n, ok: left.irqHandlers === 0 && countFds() === before });
  assert.is(left.irqHandlers, 0, 'the kernel released every VFIO IRQ handler of a killed process');
  assert.is(countFds(), before);
});

test('a DMA the killed owner started: where it lands if the next owner turns bus mastering on at once (measured)', async () => {
  const rounds = size(1, 20);
  let landed = 0;
  for (let i = 0; i < rounds; i++) {
    const c = startChild('mid-dma', ['type1']);
    await c.waitFor(/^ready$/, READY_MS);
    c.proc.kill('SIGKILL');
    await c.exit;
    const dev = openDevice(EDU);
    const buf = allocDma(4096);
    try {
      buf.bytes.fill(0xee);
      dev.mapDma({ iova: IOVA, buffer: buf.bytes, size: 4096n });
      enableBusMaster(dev); // at once, without waiting for the engine: what a careless VMM does
      const bar = dev.regions[0]!.map();
      for (let k = 0; k < 300 && (bar.read32(DMA_CMD) & DMA_START); k++) await sleep(10);
      if (buf.bytes[0] === 0x5a) landed++;
    } finally { dev.close(); buf.close(); }
  }
  console.log(`  a DMA started by the killed owner landed in the next owner's new mapping at the same IOVA in ${landed} of ${rounds} rounds when it enabled bus mastering at once (with the engine waited out first, never: the test above)`);
  report('fault stale dma', { rounds, landed, ok: true });
});

async function race(a: IommuKind, b: IommuKind): Promise<{ winners: number; loser: Record<string, unknown> | undefined }> {
  const kids = [startChild('race', [a]), startChild('race', [b])];
  // Both up and listening, then "go" to both at once.
  await Promise.all(kids.map((k) => k.waitFor(/^waiting$/, READY_MS)));
  for (const k of kids) k.proc.stdin!.write('go\n');
  const results = await Promise.all(kids.map(async (k) => JSON.parse(await k.waitFor(/^\{/, READY_MS)) as Record<string, unknown>));
  await Promise.all(kids.map((k) => k.exit));
  return { winners: results.filter((x) => x.opened).length, loser: results.find((x) => !x.opened) };
}

test('two processes race for one group: exactly one opens it, the other gets a clear VfioError and leaves nothing behind', async () => {
  const before = countFds();
  const rounds = size(1, 30);
  const pairs: [IommuKind, IommuKind][] = [['type1', 'type1'], ['iommufd', 'iommufd'], ['type1', 'iommufd']];
  const outcomes: string[] = [];
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    for (const [a, b] of pairs) {
      const { winners, loser } = await race(a, b);
      n++;
      assert.is(winners, 1, `${a} vs ${b}: one winner`);
      assert.ok(loser && loser.vfio === true, `${a} vs ${b}: the loser got a VfioError`);
      assert.ok(typeof loser!.hint === 'string' && (loser!.hint as string).length > 0, `a hint: ${String(loser!.message)}`);
      assert.is(loser!.fdsLeft, 0, 'the loser left no fd open');
      const o = `${a} vs ${b}: ${String(loser!.kind)} ${String(loser!.errnoName)}`;
      if (!outcomes.includes(o)) { outcomes.push(o); console.log(`  ${o}: ${String(loser!.message)} (hint: ${String(loser!.hint)})`); }
    }
  }
  openDevice(EDU).close(); // and it opens afterwards
  report('fault race', { races: n, winnersPerRace: 1, outcomes: outcomes.join('; '), ok: countFds() === before });
  assert.is(countFds(), before);
});

if (CHILD_ROLE) await child(CHILD_ROLE, CHILD_ARGS);
else test.run();

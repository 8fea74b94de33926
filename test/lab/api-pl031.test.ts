// Runs INSIDE the lab guest: the pl031 RTC (9010000.pl031, vfio-amba, no-IOMMU) through the
// public device API against the real kernel: identification through the mapping and the trap
// path, refused accesses counted, the alarm IRQ through the userspace IRQ machine, teardown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds, countVfioMaps } from '../support/fds';
import { openDevice, VfioError } from '../../src/index';

const PL031 = '9010000.pl031';
const fds = countFds;
/** VFIO device mappings held now (test/support/fds.ts). */
const maps = countVfioMaps;
// PL031 registers
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;

const PRIMECELL = [0x0d, 0xf0, 0x05, 0xb1];

test('pl031 opens through no-IOMMU: AMBA flags, one 0x1000 mappable region, one level IRQ', () => {
  const before = fds();
  const dev = openDevice(PL031);
  try {
    assert.is(dev.iommu, 'noiommu');
    assert.is(dev.info.kind, 'amba');
    assert.ok(dev.info.flags & 0x8, `flags 0x${dev.info.flags.toString(16)}`);
    assert.is(dev.regions.length, 1);
    const r = dev.regions[0]!;
    assert.ok(r.ok);
    assert.is(r.size, 0x1000n);
    assert.ok(r.mmappable && r.readable && r.writable);
    assert.equal(r.split(), [{ offset: 0n, size: 0x1000n, kind: 'map' }]);
    assert.is(dev.irqs.length, 1);
    assert.is(dev.irqs[0]!.count, 1);
    assert.ok(dev.irqs[0]!.level, 'the pl031 line is level (AUTOMASKED)');
  } finally { dev.close(); }
  assert.is(fds(), before);
});

test('PrimeCell ID 0d f0 05 b1 through the mapping and through the trap path', () => {
  const fdsBefore = fds(), mapsBefore = maps();
  const dev = openDevice(PL031);
  try {
    const m = dev.regions[0]!.map();
    assert.is(maps(), mapsBefore + 1);
    assert.equal([0xff0, 0xff4, 0xff8, 0xffc].map((o) => m.read32(o) & 0xff), PRIMECELL);
    assert.equal([0xff0, 0xff4, 0xff8, 0xffc].map((o) => dev.regions[0]!.read32(o)), PRIMECELL);
    assert.is(dev.regions[0]!.read(0xfe0, 4), 0x31n); // peripheral ID 0
    // cost of one 32-bit read each way (TCG-emulated arm64: relative figures only)
    const N = 2000;
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) m.read32(0xff0);
    const mapNs = Number(process.hrtime.bigint() - t) / N;
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) dev.regions[0]!.read32(0xff0);
    const trapNs = Number(process.hrtime.bigint() - t) / N;
    console.log(`pl031 read32: mapping ${mapNs.toFixed(0)} ns, trap path (check + pread) ${trapNs.toFixed(0)} ns per read`);
  } finally { dev.close(); }
  assert.is(fds(), fdsBefore);
  assert.is(maps(), mapsBefore);
});

test('an out-of-range trap read returns all-ones and is counted; a bad write is dropped and counted', () => {
  const dev = openDevice(PL031);
  try {
    const r = dev.regions[0]!;
    assert.is(r.read(0x1000, 4), 0xffff_ffffn);
    assert.is(r.read(0xff2, 4), 0xffff_ffffn); // misaligned
    assert.is(r.read(0x1001, 1), 0xffn);
    assert.is(r.read(0xffcn, 4), 0xb1n, 'a good read in between still works');
    assert.is(r.write(0x2000, 4, 1), false);
    const c = r.counters();
    assert.is(c.readsRefused, 3n);
    assert.is(c.writesDropped, 1n);
    assert.is(c.outOfRange, 3n);
    assert.is(c.misaligned, 1n);
  } finally { dev.close(); }
});

test('pl031 and virtio_mmio open together share one no-IOMMU container; closing one leaves the other working', () => {
  const before = fds();
  const rtc = openDevice(PL031);
  const virtio = openDevice('a000000.virtio_mmio');
  try {
    const fdsBoth = fds();
    assert.is(virtio.regions[0]!.read32(0), 0x74726976);
    rtc.close();
    assert.is(fds(), fdsBoth - 2, 'the pl031 device fd and its group fd closed; the container stays');
    assert.is(virtio.regions[0]!.read32(0), 0x74726976);
  } finally { rtc.close(); virtio.close(); }
  assert.is(fds(), before);
});

test('[Symbol.dispose] closes the device', () => {
  const before = fds();
  const dev = openDevice(PL031);
  dev[Symbol.dispose]();
  assert.ok(dev.closed);
  assert.is(fds(), before);
});

test('a Mapping and the device throw kind closed after close; closing twice is harmless', () => {
  const dev = openDevice(PL031);
  const m = dev.regions[0]!.map();
  dev.close();
  dev.close();
  assert.throws(() => m.read32(0xff0), (e: unknown) => e instanceof VfioError && e.kind === 'closed');
  assert.throws(() => dev.regions[0]!.read32(0xff0), (e: unknown) => e instanceof VfioError && e.kind === 'closed');
  assert.throws(() => dev.reset(), (e: unknown) => e instanceof VfioError && e.kind === 'closed');
  assert.throws(() => dev.irqs[0]!.onTrigger(() => {}), (e: unknown) => e instanceof VfioError && e.kind === 'closed');
});

/** Resolves with the next value pushed, or rejects after ms. */
function waiter<T>(): { push(v: T): void; next(ms: number): Promise<T> } {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  return {
    push(v) { queue.push(v); wake?.(); },
    next(ms) {
      return new Promise((resolve, reject) => {
        const take = () => { if (queue.length) { clearTimeout(t); wake = undefined; resolve(queue.shift()!); return true; } return false; };
        const t = setTimeout(() => { wake = undefined; reject(new Error(`nothing within ${ms} ms`)); }, ms);
        if (!take()) wake = () => { take(); };
      });
    },
  };
}

test('two alarms delivered through the userspace IRQ machine (fire -> line up; EOI -> line down + VFIO unmask)', async () => {
  const fdsBefore = fds(), mapsBefore = maps();
  const dev = openDevice(PL031);
  try {
    const m = dev.regions[0]!.map();
    const r = dev.regions[0]!;
    const lines = waiter<[number, boolean]>();
    const mmap: boolean[] = [];
    const actions: string[] = [];
    const routing = dev.routeIrqs({
      setLine: (i, level) => lines.push([i, level]),
      onMmap: (on) => { mmap.push(on); },
      timeoutNs: 200_000_000n,
      onAction: (a) => actions.push(a.kind),
    });
    for (let round = 1; round <= 2; round++) {
      m.write32(ICR, 1);
      m.write32(MR, m.read32(DR) + 2);
      m.write32(IMSC, 1);
      const t0 = Date.now();
      assert.equal(await lines.next(5000), [0, true], `round ${round}: line asserted`);
      const waited = Date.now() - t0;
      assert.ok(waited > 500 && waited < 3500, `round ${round}: alarm after ${waited} ms`);
      assert.is(mmap[mmap.length - 1], false, 'direct MMIO is switched off so the EOI traps');
      assert.is(r.read32(RIS) & 1, 1, 'the RTC raised its interrupt');
      // the guest's handler: clear the interrupt through the trap path, which is the EOI
      r.write32(IMSC, 0);
      r.write32(ICR, 1);
      routing.trappedAccess();
      assert.equal(await lines.next(100), [0, false], `round ${round}: line lowered on EOI`);
      assert.is(routing.machine.line(0).delivered, BigInt(round));
    }
    assert.ok(actions.includes('unmask'), `actions: ${actions.join(' ')}`);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(mmap, [false, true, false, true], 'direct MMIO off at each delivery, back 200 ms after each EOI');
    assert.is(routing.machine.line(0).unmasks, 2n);
  } finally { dev.close(); }
  assert.is(fds(), fdsBefore);
  assert.is(maps(), mapsBefore);
});

test('direct delivery: onTrigger handler, unmask, disable', async () => {
  const fdsBefore = fds();
  const dev = openDevice(PL031);
  try {
    const m = dev.regions[0]!.map();
    const got = waiter<bigint>();
    dev.irqs[0]!.onTrigger((n) => got.push(n));
    assert.ok(fds() > fdsBefore);
    m.write32(ICR, 1);
    m.write32(MR, m.read32(DR) + 1);
    m.write32(IMSC, 1);
    assert.is(await got.next(4000), 1n);
    m.write32(IMSC, 0);
    m.write32(ICR, 1);
    dev.irqs[0]!.unmask();
    dev.irqs[0]!.disable();
    dev.irqs[0]!.disable();
  } finally { dev.close(); }
  assert.is(fds(), fdsBefore);
});

test.run();

// Runs INSIDE the lab guest: DMA integrity under churn, through type1 and through iommufd. The
// edu at 0000:00:02.0 copies between an IOVA and its own 4 KiB buffer; a pool of DMA pages is
// mapped at random IOVA slots and unmapped again between the copies (some mappings read-only), and
// a shadow copy of the pool and of the edu's buffer says what every byte must be. Each step is
// one of: map a free page at a free slot, unmap a slot, a copy of random length and content from a
// mapped IOVA into the device, a copy from the device to a writable mapped IOVA, a copy aimed at an
// unmapped IOVA or at a read-only mapping (one of each is made first, whatever the seed). After
// every copy the whole pool is compared with the shadow: the copied bytes arrived, nothing else
// changed, and a copy the IOMMU must stop left memory untouched (those are counted). The seed is
// printed (VFIOKIT_LOAD_SEED repeats a run).
// edu's DMA engine runs 100 ms per copy (its timer), so the short run is a few dozen copies;
// `npm run soak` runs thousands per IOMMU path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocDma, openDevice, type IommuKind } from '../../src/index';
import { DMA_TO_RAM, EDU, EDU_BUF, eduDma, enableBusMaster } from '../support/edu';
import { countFds } from '../support/fds';
import { progress, report, rng, size, soakDeadline } from '../support/load';

const PAGE = 4096;
/** Bytes of the edu's buffer a copy may use: QEMU 7.2's edu accepts a copy only when its end lies
 *  strictly inside the 4 KiB buffer (edu_check_range), and anything else is a hw_error that ends
 *  QEMU, so the last byte is never used and a copy is at most 4095 bytes. */
const EDU_BYTES = PAGE - 1;
/** Pages in the pool, and IOVA slots they are mapped at (more slots than pages: some stay unmapped). */
const POOL_PAGES = 32, SLOTS = 48;
/** The first slot's IOVA; slots are one page apart, all below edu's 28-bit DMA mask. */
const IOVA0 = 0x10_0000n;
const iovaOf = (slot: number): bigint => IOVA0 + BigInt(slot * PAGE);

interface Slot { page: number; write: boolean }

async function churn(iommu: Exclude<IommuKind, 'noiommu'>, copies: number, until: number): Promise<void> {
  const before = countFds();
  const r = rng();
  const dev = openDevice(EDU, { iommu });
  const pool = allocDma(POOL_PAGES * PAGE);
  const shadow = new Uint8Array(POOL_PAGES * PAGE);
  const eduShadow = new Uint8Array(EDU_BYTES);
  const slots = new Map<number, Slot>();
  const freePages = Array.from({ length: POOL_PAGES }, (_, i) => i);
  const n = { copies: 0, toDevice: 0, toRam: 0, bytes: 0, maps: 0, unmaps: 0, blockedUnmapped: 0, blockedReadOnly: 0, mismatches: 0 };
  const t0 = Date.now();
  try {
    const bar = dev.regions[0]!.map();
    enableBusMaster(dev);
    for (let i = 0; i < pool.bytes.length; i++) pool.bytes[i] = shadow[i] = r.int(256);
    const check = (what: string): void => {
      if (Buffer.compare(pool.bytes, shadow) === 0) return;
      n.mismatches++;
      const at = pool.bytes.findIndex((b, i) => b !== shadow[i]);
      assert.unreachable(`${iommu}: after ${what}, pool byte ${at} (page ${Math.floor(at / PAGE)}) is 0x${pool.bytes[at]!.toString(16)}, expected 0x${shadow[at]!.toString(16)} (seed ${r.seed})`);
    };
    /** Maps a free page at a free slot, writable 3 times in 4 unless `write` is given. */
    const map = (write = r.int(4) !== 0): void => {
      const free = [...Array(SLOTS).keys()].filter((s) => !slots.has(s));
      if (free.length === 0 || freePages.length === 0) return;
      const slot = free[r.int(free.length)]!, page = freePages.splice(r.int(freePages.length), 1)[0]!;
      dev.mapDma({ iova: iovaOf(slot), buffer: pool.bytes.subarray(page * PAGE, (page + 1) * PAGE), size: BigInt(PAGE), write });
      slots.set(slot, { page, write }); n.maps++;
    };
    const unmap = (): void => {
      const mapped = [...slots.keys()];
      if (mapped.length === 0) return;
      const slot = mapped[r.int(mapped.length)]!;
      assert.is(dev.unmapDma(iovaOf(slot), BigInt(PAGE)), BigInt(PAGE));
      freePages.push(slots.get(slot)!.page); slots.delete(slot); n.unmaps++;
    };
    /** A random copy: [offset, offset + length) inside a page, length 1..EDU_BYTES. */
    const range = (): [number, number] => { const len = 1 + r.int(EDU_BYTES); return [r.int(PAGE - len + 1), len]; };
    /** Where in the edu's buffer a copy of `len` bytes may start. */
    const eduAt = (len: number): number => r.int(EDU_BYTES - len + 1);
    const pick = (f: (s: Slot) => boolean): number | undefined => { const c = [...slots].filter(([, s]) => f(s)).map(([k]) => k); return c.length ? c[r.int(c.length)] : undefined; };
    /** device -> RAM where the IOMMU must stop it: a read-only mapping (when `readOnly` and one
     *  exists) or an unmapped slot. */
    const blocked = async (readOnly: boolean): Promise<void> => {
      const ro = readOnly ? pick((s) => !s.write) : undefined;
      const unmapped = [...Array(SLOTS).keys()].filter((s) => !slots.has(s));
      const slot = ro ?? unmapped[r.int(unmapped.length)];
      if (slot === undefined) return;
      const [off, len] = range();
      await eduDma(bar, EDU_BUF, iovaOf(slot) + BigInt(off), len, DMA_TO_RAM);
      if (ro !== undefined) n.blockedReadOnly++; else n.blockedUnmapped++;
      n.copies++;
      check(`a copy aimed at ${ro !== undefined ? 'read-only' : 'unmapped'} slot ${slot}`);
    };
    // One read-only mapping among the first eight, so that a run of any seed has one to aim at.
    map(false);
    for (let i = 1; i < 8; i++) map();
    // The edu's buffer starts as whatever it held: one copy over all of it makes the shadow true.
    const first = pick(() => true)!, fp = slots.get(first)!.page * PAGE;
    await eduDma(bar, iovaOf(first), EDU_BUF, EDU_BYTES, 0);
    eduShadow.set(shadow.subarray(fp, fp + EDU_BYTES));
    // One copy of each kind the IOMMU must stop, whatever the seed: the random ops below aim one
    // in ten at such a place, and 24 copies of some seeds had none (CI, 2026-12-03).
    await blocked(true);
    await blocked(false);
    while (n.copies < copies || Date.now() < until) {
      progress(() => `${iommu}: ${n.copies} copies, ${n.mismatches} mismatches`);
      const op = r.int(10);
      if (op < 2) { map(); continue; }
      if (op < 3) { unmap(); continue; }
      if (op < 6) {
        // RAM -> device: fresh random bytes in the source range first (pool and shadow alike).
        const slot = pick(() => true);
        if (slot === undefined) { map(); continue; }
        const [off, len] = range(), dst = eduAt(len), p = slots.get(slot)!.page * PAGE + off;
        for (let i = 0; i < len; i++) pool.bytes[p + i] = shadow[p + i] = r.int(256);
        await eduDma(bar, iovaOf(slot) + BigInt(off), EDU_BUF + BigInt(dst), len, 0);
        eduShadow.set(shadow.subarray(p, p + len), dst);
        n.toDevice++; n.bytes += len; n.copies++;
        check(`a copy of ${len} bytes from slot ${slot} to the device`);
      } else if (op < 9) {
        // device -> RAM, at a writable mapping.
        const slot = pick((s) => s.write);
        if (slot === undefined) { map(); continue; }
        const [off, len] = range(), src = eduAt(len), p = slots.get(slot)!.page * PAGE + off;
        await eduDma(bar, EDU_BUF + BigInt(src), iovaOf(slot) + BigInt(off), len, DMA_TO_RAM);
        shadow.set(eduShadow.subarray(src, src + len), p);
        n.toRam++; n.bytes += len; n.copies++;
        check(`a copy of ${len} bytes from the device to slot ${slot}`);
      } else {
        await blocked(r.int(2) === 0);
      }
    }
  } finally { dev.close(); pool.close(); }
  const s = (Date.now() - t0) / 1000;
  console.log(`  ${iommu}: ${n.copies} copies (${n.toDevice} to the device, ${n.toRam} to RAM, ${n.bytes} bytes checked), ${n.blockedUnmapped} aimed at unmapped IOVAs and ${n.blockedReadOnly} at read-only ones left memory untouched; ${n.maps} maps, ${n.unmaps} unmaps; ${n.mismatches} mismatches; ${s.toFixed(1)} s, ${(n.copies / s).toFixed(1)} copies/s (seed ${r.seed})`);
  report(`dma ${iommu}`, { ...n, seconds: +s.toFixed(1), copiesPerSecond: +(n.copies / s).toFixed(1), seed: r.seed, ok: n.mismatches === 0 && countFds() === before });
  assert.is(n.mismatches, 0);
  assert.ok(n.blockedReadOnly > 0, 'a copy was aimed at a read-only mapping');
  assert.ok(n.blockedUnmapped > 0, 'a copy was aimed at an unmapped IOVA');
  assert.is(countFds(), before);
}

test('type1: random copies between random IOVAs with mappings added and removed in between; every byte checked', async () => {
  await churn('type1', size(24, 1500), soakDeadline(0.1));
});

test('iommufd: the same churn through /dev/iommu and the device cdev', async () => {
  await churn('iommufd', size(24, 1500), soakDeadline(0.1));
});

test.run();

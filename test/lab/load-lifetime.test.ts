// Runs INSIDE the lab guest: open/map/route/close cycles per device kind, with what the process
// holds sampled as they go. A cycle opens the device, maps its register region (virtio_mmio's is
// not mappable: a read through the trap path instead), reads an identification register, routes
// its IRQs through the IRQ machine, for the edu also maps and unmaps a DMA page (alternately
// through type1 and iommufd), and closes the device. Every SAMPLE_EVERY cycles: open fds,
// mappings (all, and VFIO's), eventfds, resident memory and V8's heap after a full GC, the core's
// Wasm memory and the free slots of its IRQ-machine and region tables. Asserted: fds, mappings,
// eventfds and the core's tables exactly as before the first cycle at every sample; RSS and heap
// slopes (least squares over the second half of the samples) within the named bounds. The loop
// lets Node's event loop turn every LOOP_TURN_EVERY cycles, as a VMM's does: Node-API runs the
// finalizers of external buffers and wrapped objects (koffi's views of a mapping, its uv_poll
// handles) on a later turn of the loop, so a loop that never yields keeps ~0.2 KiB of native
// memory per mapping and per watched eventfd until it does (measured in the lab, 2026-12-02:
// 206 bytes per watch, 226 per view without turns; 14 with a turn every 100 cycles). Short counts
// in the lab suite; `npm run soak` runs 10,000 cycles per kind and more while its time share lasts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocDma, openDevice, type DmaBuffer, type VfioDevice } from '../../src/index';
import { EDU, ID } from '../support/edu';
import { holdings, progress, report, size, slope, soakDeadline, type Holdings } from '../support/load';

/** Cycles between two turns of the event loop (see above). */
const LOOP_TURN_EVERY = 10;
/** Cycles between two samples (each sample runs a full GC and walks /proc). */
const SAMPLE_EVERY = Number(process.env.VFIOKIT_LIFETIME_SAMPLE ?? 0) || size(20, 500);
/** Cycles run before the first sample: V8 compiles the hot paths, the dispatcher and the core's
 *  tables reach their working size. Measured in the lab (2026-12-03, edu, 1,000 cycles sampled
 *  every 20): RSS steps up by 2-5 MiB at a time until about 550 cycles of a fresh process (V8's
 *  code and heap pages as it tiers up), then grows under 1 KiB a cycle; the heap after a full GC
 *  moves by a MiB over the same start. With 50 cycles of warm-up the short run's slopes measured
 *  those steps (RSS 25,000-32,000 KiB per 1,000, heap up to 2,600, in 5 of 5 runs after the open
 *  path's cuts and 1 of 2 before): so the short run warms up past them too. */
const WARMUP = 600;
/** How far resident memory and V8's live heap (after a full GC) may grow, in KiB per 1,000 cycles:
 *  the least-squares slope over the second half of the samples. Measured in the lab: RSS climbs
 *  about 10 MiB over the first 1,000 cycles of a fresh process (glibc arenas, V8's code and heap
 *  reaching their working size), then the soak's 10,000 cycles per kind held 3.5 (virtio_mmio),
 *  21 (pl031) and 205 (edu, type1 and iommufd alternately) KiB per 1,000 (2026-12-02); so only the
 *  soak can hold RSS to a tight bound, and the short run bounds it loosely, leaving the exact rules
 *  (fds, VFIO's mappings, eventfds, the core) to catch a leak. A leaked 4 KiB buffer per cycle is
 *  4,000 KiB per 1,000; a leaked device object, tens of KiB of heap per cycle. */
const MAX_RSS_KIB_PER_1000 = size(16_384, 256), MAX_HEAP_KIB_PER_1000 = size(1024, 32);
/** All of the process's mappings (V8's heap pages and malloc's included) may grow by this many per
 *  1,000 cycles (the same slope): V8 takes another 256 KiB page now and then as its heap settles
 *  (16 over 10,000 pl031 cycles, measured); a mapping leaked per cycle would be 1,000. VFIO's own
 *  mappings must not change at all. */
const MAX_MAPS_PER_1000 = 10;

interface Kind { name: string; device: string; cycle(n: number, buf: DmaBuffer): void }

const KINDS: Kind[] = [
  {
    name: 'edu (PCI)', device: EDU,
    cycle(n, buf) {
      const dev = openDevice(EDU, { iommu: n % 2 === 0 ? 'type1' : 'iommufd' });
      try {
        assert.is(dev.regions[0]!.map().read32(ID), 0x010000ed);
        dev.mapDma({ iova: 0x10_0000n, buffer: buf.bytes, size: 4096n });
        dev.routeIrqs({ setLine() {} });
        assert.is(dev.unmapDma(0x10_0000n, 4096n), 4096n);
      } finally { dev.close(); }
    },
  },
  {
    name: 'pl031 (AMBA)', device: '9010000.pl031',
    cycle() { withDevice('9010000.pl031', (dev) => { assert.is(dev.regions[0]!.map().read32(0xffc) & 0xff, 0xb1); dev.routeIrqs({ setLine() {} }); }); },
  },
  {
    name: 'virtio_mmio (platform)', device: 'a000000.virtio_mmio',
    cycle() { withDevice('a000000.virtio_mmio', (dev) => { assert.is(dev.regions[0]!.read32(0), 0x74726976); dev.routeIrqs({ setLine() {} }); }); },
  },
];

function withDevice(name: string, f: (dev: VfioDevice) => void): void {
  const dev = openDevice(name);
  try { f(dev); } finally { dev.close(); }
}

/** One turn of Node's event loop. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

const FLAT: (keyof Holdings)[] = ['fds', 'vfioMaps', 'eventfds', 'coreBytes', 'freeMachines', 'freeRegionTables'];

for (const kind of KINDS) {
  test(`${kind.name}: open/map/route/close cycles hold fds, mappings, eventfds and the core's tables flat; RSS and heap slopes bounded`, async () => {
    const cycles = Number(process.env.VFIOKIT_LIFETIME_CYCLES ?? 0) || size(200, 10_000), until = soakDeadline(0.1);
    const buf = allocDma(4096);
    try {
      for (let i = 0; i < WARMUP; i++) { kind.cycle(i, buf); if (i % LOOP_TURN_EVERY === 0) await turn(); }
      await turn();
      const base = holdings();
      const xs: number[] = [], rss: number[] = [], heap: number[] = [], maps: number[] = [];
      const t0 = Date.now();
      let n = 0;
      const changed: string[] = [];
      while (n < cycles || Date.now() < until) {
        kind.cycle(n, buf);
        n++;
        if (n % LOOP_TURN_EVERY === 0) await turn();
        if (n % SAMPLE_EVERY === 0) {
          const h = holdings();
          for (const k of FLAT) if (h[k] !== base[k] && changed.length < 10) changed.push(`after ${n} cycles ${k} ${base[k]} -> ${h[k]}`);
          progress(() => `${kind.name}: ${n} cycles, RSS ${h.rssKiB} KiB`);
          xs.push(n); rss.push(h.rssKiB); heap.push(h.heapKiB); maps.push(h.maps);
        }
      }
      const s = (Date.now() - t0) / 1000;
      if (process.env.VFIOKIT_LIFETIME_SERIES) console.log(`  series: cycles ${xs.join(' ')}\n  rss ${rss.join(' ')}\n  heap ${heap.join(' ')}\n  maps ${maps.join(' ')}`);
      const half = Math.floor(xs.length / 2), late = <T>(a: T[]): T[] => a.slice(half);
      const rssSlope = slope(late(xs), late(rss)) * 1000, heapSlope = slope(late(xs), late(heap)) * 1000, mapsSlope = slope(late(xs), late(maps)) * 1000;
      const last = holdings();
      console.log(`  ${kind.name}: ${n} cycles in ${s.toFixed(1)} s (${(s * 1000 / n).toFixed(2)} ms a cycle); ${xs.length} samples; fds ${base.fds}, maps ${base.maps} (vfio ${base.vfioMaps}), eventfds ${base.eventfds}, core ${base.coreBytes} bytes with ${base.freeMachines} free IRQ machines and ${base.freeRegionTables} free region tables, at every sample: ${changed.length === 0 ? 'unchanged' : changed.join('; ')}; RSS ${base.rssKiB} -> ${last.rssKiB} KiB, slope ${rssSlope.toFixed(1)} KiB per 1,000 cycles (bound ${MAX_RSS_KIB_PER_1000}); heap ${base.heapKiB} -> ${last.heapKiB} KiB, slope ${heapSlope.toFixed(1)} (bound ${MAX_HEAP_KIB_PER_1000}); all mappings ${base.maps} -> ${last.maps}, slope ${mapsSlope.toFixed(2)} (bound ${MAX_MAPS_PER_1000}); slopes over the second half of the samples`);
      report(`lifetime ${kind.name}`, {
        cycles: n, seconds: +s.toFixed(1), msPerCycle: +(s * 1000 / n).toFixed(2), samples: xs.length,
        fds: base.fds, maps: base.maps, eventfds: base.eventfds, coreBytes: base.coreBytes, freeMachines: base.freeMachines, freeRegionTables: base.freeRegionTables,
        rssKiB: last.rssKiB, rssSlopeKiBPer1000: +rssSlope.toFixed(1), heapSlopeKiBPer1000: +heapSlope.toFixed(1), mapsSlopePer1000: +mapsSlope.toFixed(2),
        ok: changed.length === 0 && rssSlope <= MAX_RSS_KIB_PER_1000 && heapSlope <= MAX_HEAP_KIB_PER_1000 && mapsSlope <= MAX_MAPS_PER_1000,
      });
      assert.equal(changed, [], 'fds, mappings, eventfds and the core\'s tables as before at every sample');
      assert.ok(rssSlope <= MAX_RSS_KIB_PER_1000, `RSS slope ${rssSlope.toFixed(1)} KiB per 1,000 cycles (bound ${MAX_RSS_KIB_PER_1000})`);
      assert.ok(heapSlope <= MAX_HEAP_KIB_PER_1000, `heap slope ${heapSlope.toFixed(1)} KiB per 1,000 cycles (bound ${MAX_HEAP_KIB_PER_1000})`);
      assert.ok(mapsSlope <= MAX_MAPS_PER_1000, `mappings slope ${mapsSlope.toFixed(2)} per 1,000 cycles (bound ${MAX_MAPS_PER_1000})`);
    } finally { buf.close(); }
  });
}

test.run();

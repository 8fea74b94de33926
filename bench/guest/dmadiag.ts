// lab-dma diagnostics, vfiokit side (not a benchmark pair; docs/BENCH.md "DMA, fourth round"): the
// physical layout of the DMA memory and the time per piece by layout, through the API and through
// bare koffi ioctls on the same memory, to tell the memory's share from the JS's.
//   layout: /proc/self/pagemap (root sees the PFNs): per piece, the physically contiguous runs
//     (type1 pins and iommu_map()s one run at a time) and the pieces that are one run starting on
//     a 2 MiB physical boundary (an SMMU block entry);
//   api: mapDma/unmapDma per piece (unmapDma of exactly one mapping: one lookup);
//   koffi: libc.ioctl(VFIO_IOMMU_MAP_DMA / UNMAP_DMA) with one reused struct, on the same memory.
// argv: total bytes, piece bytes, rounds, touch (fwd: allocDma + bytes.fill(0), as dma.ts; rev: one
// write per page, last page first; pop: mmap with MAP_POPULATE through the shim, no fill; a path:
// a shared mapping of that file, filled, as dma.ts with a memory file).
// Prints one line `@@VFIOKIT-DMADIAG@@ {json}`. Twin: bench/native/lab/dmadiag.c.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Koffi from 'koffi';
import { allocDma, openDevice } from '../../src/index';
import { realLibc, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../shim/libc';
import { VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA } from '../../shim/ioctl';
import { setU32, setU64 } from '../../shim/bytes';
import { EDU, arg, now } from './common';

const DIAG = '@@VFIOKIT-DMADIAG@@';
const MAP_POPULATE = 0x8000;
const PAGE = 4096;
const IOVA_BASE = 0x1000_0000n;
const total = arg(0, 256 << 20), piece = arg(1, 2 << 20), rounds = arg(2, 3);
const touch = process.argv[5] ?? 'fwd';
const n = total / piece, pages = total / PAGE, per = piece / PAGE;
const libc = realLibc();
const dev = openDevice(EDU);
const buddy = readFileSync('/proc/buddyinfo', 'utf8').trim().split('\n').join('|').replace(/"/g, "'");

let host: bigint, free: () => void;
if (touch.startsWith('/')) {
  const fd = openSync(touch, 'r+');
  host = libc.mmap(0n, BigInt(total), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (host < 0n) throw new Error(`mmap of ${touch}: ${host}`);
  new Uint8Array(libc.view(host, total)).fill(0);
  free = () => { libc.munmap(host, BigInt(total)); closeSync(fd); };
} else if (touch === 'pop') {
  host = libc.mmap(0n, BigInt(total), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0n);
  if (host < 0n) throw new Error(`mmap: ${host}`);
  free = () => { libc.munmap(host, BigInt(total)); };
} else {
  const buf = allocDma(total);
  if (touch === 'rev') for (let p = pages - 1; p >= 0; p--) buf.bytes[p * PAGE] = 0;
  else buf.bytes.fill(0);
  host = buf.hostAddress;
  free = () => { buf.close(); };
}

// The layout.
const pm = openSync('/proc/self/pagemap', 'r');
const pmBuf = new BigUint64Array(pages);
readSync(pm, new Uint8Array(pmBuf.buffer), 0, pages * 8, Number(host / BigInt(PAGE)) * 8);
closeSync(pm);
const PFN = (1n << 55n) - 1n;
const pfn = Array.from(pmBuf, (e) => Number(e & PFN));
const runs: number[] = [];
let runsAll = 0, blocks = 0;
for (let i = 0; i < n; i++) {
  let r = 1;
  for (let k = 1; k < per; k++) if (pfn[i * per + k] !== pfn[i * per + k - 1]! + 1) r++;
  runs.push(r); runsAll += r;
  if (r === 1 && per >= 512 && pfn[i * per]! % 512 === 0) blocks++;
}
const threads = /Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];

// The container fd openDevice made (not exposed by the API): the fd that links to /dev/vfio/vfio.
const cont = Number(readdirSync('/proc/self/fd').find((f) => { try { return readlinkSync(`/proc/self/fd/${f}`) === '/dev/vfio/vfio'; } catch { return false; } }));

/** CPU ticks (utime + stime, 1/100 s) of this process's threads: [main thread, all the others]. */
function cpuTicks(): [number, number] {
  let main = 0, others = 0;
  for (const t of readdirSync('/proc/self/task')) {
    let st: string;
    try { st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8'); } catch { continue; }
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // fields 14 and 15 (utime, stime), counted from 1
    if (Number(t) === process.pid) main += ticks; else others += ticks;
  }
  return [main, others];
}

const size = BigInt(piece);
function loop(label: string, map: (i: number) => void, unmap: (i: number) => void) {
  const rm: number[] = [], ru: number[] = [], pmNs: number[] = [], puNs: number[] = [];
  const c0 = cpuTicks(), w0 = now();
  for (let j = 0; j < rounds; j++) {
    const t0 = now();
    // Each piece timed only when there are few (the clock costs more than a 4 KiB map under TCG).
    if (n <= 4096) for (let i = 0; i < n; i++) { const a = now(); map(i); pmNs[i] = Number(now() - a); }
    else for (let i = 0; i < n; i++) map(i);
    const t1 = now();
    if (n <= 4096) for (let i = 0; i < n; i++) { const a = now(); unmap(i); puNs[i] = Number(now() - a); }
    else for (let i = 0; i < n; i++) unmap(i);
    const t2 = now();
    rm.push(Math.round(Number(t1 - t0) / n)); ru.push(Math.round(Number(t2 - t1) / n));
  }
  const c1 = cpuTicks(), wallMs = Math.round(Number(now() - w0) / 1e6);
  const edge = [1, 2, 9, 65, 2 ** 30], names = ['1', '2-8', '9-64', '65+'];
  const byRuns = names.map((name, b) => {
    const idx = runs.map((r, i) => (r >= edge[b]! && r < edge[b + 1]! ? i : -1)).filter((i) => i >= 0);
    const mean = (xs: number[]) => (idx.length ? Math.round(idx.reduce((s, i) => s + xs[i]!, 0) / idx.length) : 0);
    return { runs: name, pieces: idx.length, map: mean(pmNs), unmap: mean(puNs) };
  });
  process.stdout.write(`${DIAG} ${JSON.stringify({ impl: `js-${label}`, touch, threads: Number(threads), flags: process.execArgv.join(' '), wallMs, cpuMainMs: (c1[0] - c0[0]) * 10, cpuOthersMs: (c1[1] - c0[1]) * 10, total, piece, map: rm, unmap: ru, runs: runsAll, pieces: n, blocks, byRuns, buddy })}\n`);
}

const m = new Uint8Array(32), u = new Uint8Array(24);
setU32(m, 0, 32); setU32(m, 4, 3); setU64(m, 24, size);
setU32(u, 0, 24); setU32(u, 4, 0); setU64(u, 16, size);
const m64 = new BigUint64Array(m.buffer), u64 = new BigUint64Array(u.buffer);
const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
const ioctlAddr = koffi.load('libc.so.6').func('ioctl', 'int', ['int', 'unsigned long', 'uintptr_t']);
const mPtr = koffi.alloc('uint8_t', 32), uPtr = koffi.alloc('uint8_t', 24);
const am64 = new BigUint64Array(koffi.view(mPtr, 32)), au64 = new BigUint64Array(koffi.view(uPtr, 24));
new Uint8Array(koffi.view(mPtr, 32)).set(m); new Uint8Array(koffi.view(uPtr, 24)).set(u);
const mAddr = Number(koffi.address(mPtr)), uAddr = Number(koffi.address(uPtr));
// Twice each, alternating, so that neither way always runs first (JIT compilation, GC).
for (let k = 0; k < 2; k++) {
  loop('api', (i) => { const off = BigInt(i) * size; dev.mapDma({ iova: IOVA_BASE + off, hostAddress: host + off, size }); },
    (i) => { dev.unmapDma(IOVA_BASE + BigInt(i) * size, size); });
  // The floor: the structs written through 64-bit views (host order, which is the kernel's), no checks.
  loop('koffi', (i) => {
    const off = BigInt(i) * size; m64[1] = host + off; m64[2] = IOVA_BASE + off;
    if (libc.ioctl(cont, VFIO_IOMMU_MAP_DMA, m) < 0) throw new Error(`MAP_DMA ${i}`);
  }, (i) => {
    u64[1] = IOVA_BASE + BigInt(i) * size; u64[2] = size;
    if (libc.ioctl(cont, VFIO_IOMMU_UNMAP_DMA, u) < 0) throw new Error(`UNMAP_DMA ${i}`);
  });
  if (n <= 4096) continue;
  // koffi's own share: the same ioctl declared with the struct's address as an integer (uintptr_t,
  // a number) and the structs in memory from koffi.alloc, instead of a Uint8Array koffi must
  // resolve to a pointer on every call; no wrapper, no errno read.
  loop('koffi-addr', (i) => {
    const off = BigInt(i) * size; am64[1] = host + off; am64[2] = IOVA_BASE + off;
    if ((ioctlAddr(cont, VFIO_IOMMU_MAP_DMA, mAddr) as number) < 0) throw new Error(`MAP_DMA ${i}`);
  }, (i) => {
    au64[1] = IOVA_BASE + BigInt(i) * size; au64[2] = size;
    if ((ioctlAddr(cont, VFIO_IOMMU_UNMAP_DMA, uAddr) as number) < 0) throw new Error(`UNMAP_DMA ${i}`);
  });
}
dev.close();
free();

// Mapped register access on the host (issue 6, goal 3: <= 2.0 of C): Mapping.read32/write32 (Atomics
// on a Uint32Array), the real class from region.map() of a one-page memfd region built as a device's
// (there is no VFIO here; the lab twin, bench/guest/mmio.ts, maps the pl031), against a C loop of
// volatile 32-bit accesses on its own memfd mapping (bench/native/mmio_memfd.c) with the same loop
// count: ROUNDS rounds of PER accesses, ns per access per round. read32 at 0x00, write32 of 0 at
// 0x10, the lab's DR and IMSC offsets. PASSES passes alternate which side goes first; the rounds of
// all passes are pooled and the median taken (the lab's rule). Diagnostics, in the same passes: the
// floor, Atomics.load/store on a bare Uint32Array over the same mapping (no Mapping); C's
// sequentially consistent __atomic load/store, which is what Atomics are (on x86-64 such a store
// is an xchg where a volatile store is a mov); a plain element access on the same bare array,
// which the API does not use, to show what Atomics cost over it. Writes
// bench/results/mmio-memfd-read32.json and -write32.json. The page is RAM, so both sides measure
// the accessor alone; in the lab (TCG, a device page) QEMU's device model is in both figures.
//   node build/bench/mmio.mjs     (after npm run bench -- mmio; ROUNDS=21 PER=1000000 PASSES=3)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, pooled, writeResults } from './lib.mjs';
import { openMemfdRegion } from './host/memfd-region.mjs';
import { VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from '../src/device/region';

const ROUNDS = Number(process.env.ROUNDS ?? 21), PER = Number(process.env.PER ?? 1_000_000), PASSES = Number(process.env.PASSES ?? 3);
/** JS warm-up before each pass's rounds: the optimizing JIT is done long before this. */
const WARMUP = PER;
const DR = 0x00, IMSC = 0x10;

const exe = join(root, 'build', 'bench', 'mmio_memfd');
mkdirSync(join(root, 'build', 'bench'), { recursive: true });
execFileSync('cc', ['-O2', '-o', exe, join(root, 'bench', 'native', 'mmio_memfd.c')]);

const dev = openMemfdRegion('vfiokit-bench-mmio', VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP);
const m = dev.region.map();
// The floor's array: a second view of the same pages (the Mapping's own arrays are private).
const raw = new Uint32Array(dev.sys.view(m.hostAddress, m.size));
let sink = 0;

// The mapping is the memfd: what it writes, pread on the fd reads.
m.write32(DR, 0x1234_5678);
const back = new Uint8Array(4);
if (m.read32(DR) !== 0x1234_5678 || Atomics.load(raw, DR >>> 2) !== 0x1234_5678 || dev.sys.pread(dev.fd, back, 0) !== 4 || back[0] !== 0x78) {
  throw new Error('mmio: the mapping does not show what was written through it on the memfd');
}
m.write32(DR, 0);

// One function per way, each with its access written in the loop (as bench/guest/mmio.ts does),
// so that no way's JIT feedback is shared with another's.
function mappingRead() {
  for (let i = 0; i < WARMUP; i++) sink = (sink + m.read32(DR)) | 0;
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) sink = (sink + m.read32(DR)) | 0;
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
function mappingWrite() {
  for (let i = 0; i < WARMUP; i++) m.write32(IMSC, 0);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) m.write32(IMSC, 0);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
function atomicsRead() {
  const dr = DR >>> 2;
  for (let i = 0; i < WARMUP; i++) sink = (sink + Atomics.load(raw, dr)) | 0;
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) sink = (sink + Atomics.load(raw, dr)) | 0;
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
function atomicsWrite() {
  const imsc = IMSC >>> 2;
  for (let i = 0; i < WARMUP; i++) Atomics.store(raw, imsc, 0);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) Atomics.store(raw, imsc, 0);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
// Not the API's way (V8 gives a plain element access no width guarantee the project relies on;
// docs/NODE.md): what Atomics cost over it, for the figures' reading only.
function plainRead() {
  const dr = DR >>> 2;
  for (let i = 0; i < WARMUP; i++) sink = (sink + raw[dr]) | 0;
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) sink = (sink + raw[dr]) | 0;
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
function plainWrite() {
  const imsc = IMSC >>> 2;
  for (let i = 0; i < WARMUP; i++) raw[imsc] = 0;
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) raw[imsc] = 0;
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}

const ways = ['c', 'cSeqCst', 'js', 'floor', 'plain'];
const got = { read32: Object.fromEntries(ways.map((w) => [w, []])), write32: Object.fromEntries(ways.map((w) => [w, []])) };
const runC = () => {
  const out = JSON.parse(execFileSync(exe, [String(ROUNDS), String(PER)], { encoding: 'utf8' }));
  for (const cas of ['read32', 'write32']) { got[cas].c.push(out[cas]); got[cas].cSeqCst.push(out[`${cas}_seqcst`]); }
};
const runJs = () => {
  got.read32.js.push(mappingRead()); got.write32.js.push(mappingWrite());
  got.read32.floor.push(atomicsRead()); got.write32.floor.push(atomicsWrite());
  got.read32.plain.push(plainRead()); got.write32.plain.push(plainWrite());
};
for (let p = 0; p < PASSES; p++) {
  if (p % 2 === 0) { runC(); runJs(); } else { runJs(); runC(); }
}
dev.close();
if (!m.closed || !m.unmapped) throw new Error('mmio: the mapping was not released');

for (const [cas, call, atomic, off] of [['read32', 'read32', 'load', DR], ['write32', 'write32', 'store', IMSC]]) {
  const g = got[cas];
  const C = pooled('C volatile (cc -O2)', g.c), J = pooled(`vfiokit Mapping.${call}`, g.js);
  const F = pooled(`Atomics.${atomic} on a bare Uint32Array (the floor)`, g.floor);
  J.floor = F.name;
  const S = pooled(`C __atomic_${atomic}_n seq_cst`, g.cSeqCst);
  const P = pooled(`plain Uint32Array element ${cas === 'read32' ? 'read' : 'write'} (not the API's way)`, g.plain);
  writeResults(`mmio-memfd-${cas}`, {
    what: `${cas} at 0x${off.toString(16)}: mapped access to a memfd page (MAP_SHARED), ns each, host`,
    reference: C.name, goal: null, floorGoal: 1.1, results: [C, J], diagnostics: [F, S, P],
    note: `${PASSES} passes alternating which side goes first, ${C.rounds} C and ${J.rounds} vfiokit rounds of ${PER} pooled; ` +
      `floor ratio ${(F.median_ns / C.median_ns).toFixed(2)}; Mapping over the floor ${(J.median_ns / F.median_ns).toFixed(2)}x`,
  });
}
if (sink === -1) console.log(sink);
process.exit(0);

// Trapped register access on the host (issue 6, goal 2: <= 1.3 of C): DeviceRegion.read32/write32,
// the real class over a one-page memfd standing in for the device fd (there is no VFIO here; the
// lab twin, bench/guest/trap.ts, uses the pl031), against C pread/pwrite of 4 bytes on a memfd of
// its own (bench/native/trap_memfd.c) in the same loop form: ROUNDS rounds of PER accesses, ns per
// access per round, then the p99 of SAMPLES singly timed accesses. read32 at 0x00 and write32 of 0
// at 0x10, the lab's DR and IMSC offsets. PASSES passes alternate which side goes first; the
// rounds of all passes are pooled and the median taken (the lab's rule). As the floor, the bare
// koffi call the shim makes (sys.libc.pread/pwrite: no check, no context) in the same loop,
// written as a diagnostic. Writes bench/results/trap-memfd-read32.json and -write32.json.
// Absolute times on a shared machine mean little: the ratio to C within one run is the figure.
//   node build/bench/trap.mjs     (after npm run bench -- trap; ROUNDS=21 PER=1000 SAMPLES=5000 PASSES=3)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, percentile, pooled, writeResults } from './lib.mjs';
import { openMemfdRegion } from './host/memfd-region.mjs';
import { VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from '../src/device/region';

const ROUNDS = Number(process.env.ROUNDS ?? 21), PER = Number(process.env.PER ?? 1000);
const SAMPLES = Number(process.env.SAMPLES ?? 5000), PASSES = Number(process.env.PASSES ?? 3);
/** JS warm-up before each pass's rounds: enough calls for the optimizing JIT (the lab warms up
 *  with PER calls and its first rounds show the tiering; here the rounds should not). */
const WARMUP = 10 * PER;
const DR = 0x00, IMSC = 0x10;

const exe = join(root, 'build', 'bench', 'trap_memfd');
mkdirSync(join(root, 'build', 'bench'), { recursive: true });
execFileSync('cc', ['-O2', '-o', exe, join(root, 'bench', 'native', 'trap_memfd.c')]);

const dev = openMemfdRegion('vfiokit-bench-trap', VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
const r = dev.region, libc = dev.sys.libc, fd = dev.fd, buf = new Uint8Array(8);
let sink = 0;

// The region reads what it wrote, through the same fd as the floor's calls: the memfd is the region.
r.write32(DR, 0x1234_5678);
if (r.read32(DR) !== 0x1234_5678 || libc.pread(fd, buf, 4, DR) !== 4 || buf[0] !== 0x78) throw new Error('trap: the region does not read back what it wrote on the memfd');
r.write32(DR, 0);

// One function per way, each with its call written in the loop (as bench/guest/trap.ts does), so
// that no way's JIT feedback is shared with another's.
function regionRead() {
  for (let i = 0; i < WARMUP; i++) sink += r.read32(DR);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) sink += r.read32(DR);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  const s = [];
  for (let i = 0; i < SAMPLES; i++) { const t0 = process.hrtime.bigint(); sink += r.read32(DR); s.push(Number(process.hrtime.bigint() - t0)); }
  return { rounds: rs, p99: percentile(s, 0.99) };
}
function regionWrite() {
  for (let i = 0; i < WARMUP; i++) r.write32(IMSC, 0);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) r.write32(IMSC, 0);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  const s = [];
  for (let i = 0; i < SAMPLES; i++) { const t0 = process.hrtime.bigint(); r.write32(IMSC, 0); s.push(Number(process.hrtime.bigint() - t0)); }
  return { rounds: rs, p99: percentile(s, 0.99) };
}
// The floor: number offsets, as read32/write32 pass them to the shim.
function koffiRead() {
  for (let i = 0; i < WARMUP; i++) sink += libc.pread(fd, buf, 4, DR);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) sink += libc.pread(fd, buf, 4, DR);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}
function koffiWrite() {
  for (let i = 0; i < WARMUP; i++) libc.pwrite(fd, buf, 4, IMSC);
  const rs = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) libc.pwrite(fd, buf, 4, IMSC);
    rs.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return { rounds: rs };
}

const c = { read32: [], write32: [] }, js = { read32: [], write32: [] }, floor = { read32: [], write32: [] };
const runC = () => {
  const out = JSON.parse(execFileSync(exe, [String(ROUNDS), String(PER), String(SAMPLES)], { encoding: 'utf8' }));
  c.read32.push(out.read32); c.write32.push(out.write32);
};
const runJs = () => {
  js.read32.push(regionRead()); js.write32.push(regionWrite());
  floor.read32.push(koffiRead()); floor.write32.push(koffiWrite());
};
for (let p = 0; p < PASSES; p++) {
  if (p % 2 === 0) { runC(); runJs(); } else { runJs(); runC(); }
}
dev.close();

for (const [cas, call, syscall, off] of [['read32', 'read32', 'pread', DR], ['write32', 'write32', 'pwrite', IMSC]]) {
  const C = pooled(`C ${syscall} (cc -O2)`, c[cas]), J = pooled(`vfiokit DeviceRegion.${call}`, js[cas]);
  const F = pooled(`koffi libc.${syscall} (the floor)`, floor[cas]);
  J.floor = F.name;
  writeResults(`trap-memfd-${cas}`, {
    what: `${cas} at 0x${off.toString(16)}: trapped access on a memfd (pread/pwrite of 4 bytes), ns each, host`,
    reference: C.name, goal: null, floorGoal: 1.1, results: [C, J], diagnostics: [F],
    note: `${PASSES} passes alternating which side goes first, ${C.rounds} C and ${J.rounds} vfiokit rounds of ${PER} pooled; ` +
      `p99 of single accesses: C ${C.p99_ns} ns, vfiokit ${J.p99_ns} ns; floor ratio ${(F.median_ns / C.median_ns).toFixed(2)}, ` +
      `vfiokit over the floor ${(J.median_ns - F.median_ns).toFixed(0)} ns`,
  });
}
if (sink === -1) console.log(sink);
process.exit(0);

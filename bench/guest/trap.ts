// lab-trap, vfiokit: trapped register access to the pl031 (vfio-amba, no-IOMMU) through
// DeviceRegion.read32/write32: the core's region table checks the access, then pread/pwrite of
// 4 bytes through koffi. argv: rounds, accesses per round, single-timed samples.
// Twin: bench/native/lab/trap.c.
import { openDevice } from '../../src/index';
import { PL031, arg, emit, now, percentile } from './common';

const DR = 0x00, IMSC = 0x10;
const rounds = arg(0, 21), per = arg(1, 1000), samples = arg(2, 5000);
const dev = openDevice(PL031);
const r = dev.regions[0]!;
let sink = 0;
for (const k of [0, 1]) {
  const cas = k === 0 ? 'read32 DR' : 'write32 IMSC';
  const op = k === 0 ? () => { sink += r.read32(DR); } : () => { r.write32(IMSC, 0); };
  for (let i = 0; i < per; i++) op(); // warm-up (and JIT), not counted
  const rs: number[] = [];
  for (let j = 0; j < rounds; j++) {
    const t0 = now();
    if (k === 0) for (let i = 0; i < per; i++) sink += r.read32(DR);
    else for (let i = 0; i < per; i++) r.write32(IMSC, 0);
    rs.push(Number(now() - t0) / per);
  }
  const s: number[] = [];
  for (let i = 0; i < samples; i++) { const t0 = now(); op(); s.push(Number(now() - t0)); }
  emit('lab-trap', cas, 'ns', rs, percentile(s, 0.99), { per });
}
dev.close();
if (sink === -1) console.log(sink);

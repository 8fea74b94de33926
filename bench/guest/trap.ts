// lab-trap, vfiokit: trapped register access to the pl031 (vfio-amba, no-IOMMU) through
// DeviceRegion.read32/write32: the core's region table checks the access, then pread/pwrite of
// 4 bytes through koffi. argv: rounds, accesses per round, single-timed samples.
// Twin: bench/native/lab/trap.c.
import { openDevice } from '../../src/index';
import { realLibc } from '../../shim/libc';
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
// The floor under the API: the bare koffi call (realLibc, no check, no context) in the same loop
// form, listed with the diagnostics (impl 'diag'), so that the API's own share can be read off.
const libc = realLibc(), fd = dev.fd, buf = new Uint8Array(8), at = Number(r.fileOffset), atW = at + 0x10; // number offsets, as read32/write32 pass them
for (const k of [0, 1]) {
  const cas = k === 0 ? 'koffi pread 4 bytes, pl031 DR, lab-trap loop (the floor of read32)' : 'koffi pwrite 4 bytes, pl031 IMSC, lab-trap loop (the floor of write32)';
  for (let i = 0; i < per; i++) { if (k === 0) libc.pread(fd, buf, 4, at); else libc.pwrite(fd, buf, 4, atW); }
  const rs: number[] = [];
  for (let j = 0; j < rounds; j++) {
    const t0 = now();
    if (k === 0) for (let i = 0; i < per; i++) sink += libc.pread(fd, buf, 4, at);
    else for (let i = 0; i < per; i++) libc.pwrite(fd, buf, 4, atW);
    rs.push(Number(now() - t0) / per);
  }
  emit('diag', cas, 'ns', rs, undefined, { per, impl: 'diag' });
}
dev.close();
if (sink === -1) console.log(sink);

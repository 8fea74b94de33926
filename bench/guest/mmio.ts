// lab-mmio, vfiokit: mapped register access to the pl031 (vfio-amba, no-IOMMU) through the
// region's Mapping (Atomics.load/store on a Uint32Array over the mmap, never DataView).
// argv: rounds, accesses per round. Twin: bench/native/lab/mmio.c.
import { openDevice } from '../../src/index';
import { PL031, arg, emit, now } from './common';

const DR = 0x00, IMSC = 0x10;
const rounds = arg(0, 11), per = arg(1, 100000);
const dev = openDevice(PL031);
const m = dev.regions[0]!.map();
let sink = 0;
for (const k of [0, 1]) {
  const cas = k === 0 ? 'read32 DR' : 'write32 IMSC';
  for (let i = 0; i < per / 10; i++) { if (k === 0) sink += m.read32(DR); else m.write32(IMSC, 0); }
  const rs: number[] = [];
  for (let j = 0; j < rounds; j++) {
    const t0 = now();
    if (k === 0) for (let i = 0; i < per; i++) sink = (sink + m.read32(DR)) | 0;
    else for (let i = 0; i < per; i++) m.write32(IMSC, 0);
    rs.push(Number(now() - t0) / per);
  }
  emit('lab-mmio', cas, 'ns', rs, undefined, { per, sink });
}
dev.close();

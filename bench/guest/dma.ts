// lab-dma, vfiokit: mapDma of `total` bytes of anonymous memory (allocDma) in pieces of `piece`
// bytes at consecutive IOVAs from 256 MiB on the type1 container of edu's group, by host address
// (as a VMM maps its guest RAM), then unmapDma. The memory is touched first, as in the C twin.
// Unmapping: one unmapDma(base, total) call, which issues one VFIO_IOMMU_UNMAP_DMA per mapping
// (the same ioctls as the C loop); see docs/BENCH.md for why not one unmapDma per piece.
// argv: total bytes, piece bytes, rounds. Twin: bench/native/lab/dma.c.
import { allocDma, openDevice } from '../../src/index';
import { EDU, arg, emit, now } from './common';

const IOVA_BASE = 0x1000_0000n;
const total = arg(0, 64 << 20), piece = arg(1, 4096), rounds = arg(2, 3);
const n = total / piece;
const dev = openDevice(EDU);
const buf = allocDma(total);
buf.bytes.fill(0);
const size = BigInt(piece);
const rm: number[] = [], ru: number[] = [];
for (let j = 0; j < rounds; j++) {
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const off = BigInt(i) * size;
    dev.mapDma({ iova: IOVA_BASE + off, hostAddress: buf.hostAddress + off, size });
  }
  const t1 = now();
  const unmapped = dev.unmapDma(IOVA_BASE, BigInt(total));
  const t2 = now();
  if (unmapped !== BigInt(total)) throw new Error(`unmapped ${unmapped} of ${total} bytes`);
  rm.push(Number(t1 - t0) / n); ru.push(Number(t2 - t1) / n);
}
const extra = { total, piece, ops: n };
emit('lab-dma', `map ${piece >> 10} KiB pieces`, 'ns', rm, undefined, extra);
emit('lab-dma', `unmap ${piece >> 10} KiB pieces`, 'ns', ru, undefined, extra);
dev.close();
buf.close();

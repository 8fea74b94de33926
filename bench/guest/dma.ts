// lab-dma, vfiokit: mapDma of `total` bytes of memory in pieces of `piece` bytes at consecutive
// IOVAs from 256 MiB on the type1 container of edu's group, by host address (as a VMM maps its
// guest RAM), then unmapDma. The memory: with a file (run.sh passes one on the guest's tmpfs), a
// shared mapping of it, made here as a VMM makes its guest RAM (the library maps host addresses;
// it does not allocate guest RAM), so that both sides pin the very same physical pages (see the
// C twin and docs/BENCH.md, "DMA, fourth round"); without one, allocDma. Touched first, as in the twin.
// Unmapping: one unmapDma(base, total) call, which issues one VFIO_IOMMU_UNMAP_DMA per mapping
// (the same ioctls as the C loop); see docs/BENCH.md for why not one unmapDma per piece.
// argv: total bytes, piece bytes, rounds, [memory file]. Twin: bench/native/lab/dma.c.
import { closeSync, openSync } from 'node:fs';
import { allocDma, openDevice } from '../../src/index';
import { MAP_SHARED, PROT_READ, PROT_WRITE, realLibc } from '../../shim/libc';
import { EDU, arg, emit, layoutRuns, now } from './common';

const IOVA_BASE = 0x1000_0000n;
const total = arg(0, 64 << 20), piece = arg(1, 4096), rounds = arg(2, 3);
const file = process.argv[5];
const n = total / piece;
const dev = openDevice(EDU);
let host: bigint, bytes: Uint8Array, free: () => void;
if (file) {
  const libc = realLibc(), fd = openSync(file, 'r+');
  host = libc.mmap(0n, BigInt(total), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (host < 0n) throw new Error(`mmap of ${file}: errno ${-host}`);
  bytes = new Uint8Array(libc.view(host, total));
  free = () => { libc.munmap(host, BigInt(total)); closeSync(fd); };
} else {
  const buf = allocDma(total);
  host = buf.hostAddress; bytes = buf.bytes;
  free = () => { buf.close(); };
}
bytes.fill(0);
const runs = layoutRuns(host, total, piece);
const size = BigInt(piece);
const rm: number[] = [], ru: number[] = [];
for (let j = 0; j < rounds; j++) {
  const t0 = now();
  // The addresses advance by one addition each, as the C twin's pointer and IOVA do.
  for (let i = 0, iova = IOVA_BASE, addr = host; i < n; i++, iova += size, addr += size) {
    dev.mapDma({ iova, hostAddress: addr, size });
  }
  const t1 = now();
  const unmapped = dev.unmapDma(IOVA_BASE, BigInt(total));
  const t2 = now();
  if (unmapped !== BigInt(total)) throw new Error(`unmapped ${unmapped} of ${total} bytes`);
  rm.push(Number(t1 - t0) / n); ru.push(Number(t2 - t1) / n);
}
const extra = { total, piece, ops: n, memory: file ? 'shared file' : 'anonymous', runs };
emit('lab-dma', `map ${piece >> 10} KiB pieces`, 'ns', rm, undefined, extra);
emit('lab-dma', `unmap ${piece >> 10} KiB pieces`, 'ns', ru, undefined, extra);
dev.close();
free();

// lab-ram-map, vfiokit: DMA setup of a guest's RAM, as a VMM does it. All of `total` bytes (the
// L2's RAM size, 256 MiB) mapped for edu at IOVA 256 MiB with mapDma by host address, in one
// mapping or in pieces of `piece` bytes, on a device opened with { iommu: 'type1' } or
// { iommu: 'iommufd' }; then one unmapDma over the range (not timed). ns to map all of it, per round.
// The memory, as the C twin has it: 'anonymous' from allocDma (this process's own anonymous
// memory); 'memfd' and 'hugetlb' one shared file (tmpfs / hugetlbfs) that both sides map, created
// by whichever side runs first, so that both pin the same physical pages. Touched first.
// argv: iommu, backing, total bytes, piece bytes, rounds, [file]. Twin: bench/native/lab/ramdma.c.
import { closeSync, constants, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { allocDma, openDevice } from '../../src/index';
import { MAP_SHARED, PROT_READ, PROT_WRITE, realLibc } from '../../shim/libc';
import { EDU, arg, emit, layoutRuns, now } from './common';

const IOVA_BASE = 0x1000_0000n;
const iommu = process.argv[2], backing = process.argv[3];
if ((iommu !== 'type1' && iommu !== 'iommufd') || !['anonymous', 'memfd', 'hugetlb'].includes(backing ?? '')) throw new Error('usage: ramdma.mjs type1|iommufd anonymous|memfd|hugetlb total piece rounds [file]');
const total = arg(2, 256 << 20), piece = arg(3, 256 << 20), rounds = arg(4, 5);
const file = process.argv[7];
const n = total / piece;
const dev = openDevice(EDU, { iommu });
let host: bigint, bytes: Uint8Array, free: () => void;
if (backing === 'anonymous') {
  const buf = allocDma(total);
  host = buf.hostAddress; bytes = buf.bytes;
  free = () => { buf.close(); };
} else {
  if (!file) throw new Error(`${backing} needs a file`);
  const libc = realLibc(), fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  if (fstatSync(fd).size < total) ftruncateSync(fd, total);
  host = libc.mmap(0n, BigInt(total), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (host < 0n) throw new Error(`mmap of ${file}: errno ${-host}`);
  bytes = new Uint8Array(libc.view(host, total));
  free = () => { libc.munmap(host, BigInt(total)); closeSync(fd); };
}
bytes.fill(0);
const runs = layoutRuns(host, total, piece);
const size = BigInt(piece);
const rm: number[] = [];
for (let j = 0; j < rounds; j++) {
  const t0 = now();
  for (let i = 0, iova = IOVA_BASE, addr = host; i < n; i++, iova += size, addr += size) dev.mapDma({ iova, hostAddress: addr, size });
  const t1 = now();
  const unmapped = dev.unmapDma(IOVA_BASE, BigInt(total));
  if (unmapped !== BigInt(total)) throw new Error(`unmapped ${unmapped} of ${total} bytes`);
  rm.push(Number(t1 - t0));
}
emit(n === 1 ? 'lab-ram-map' : 'lab-ram-map-pieces', `${iommu} ${backing}`, 'ns', rm, undefined, { total, piece, ops: n, iommu, memory: backing, runs });
dev.close();
free();

// lab-ram-map, vfiokit: DMA setup of a guest's RAM, as a VMM does it. All of `total` bytes (the
// L2's RAM size, 256 MiB) mapped for edu at IOVA 256 MiB with mapDma by host address, in one
// mapping or in pieces of `piece` bytes, on a device opened with { iommu: 'type1' } or
// { iommu: 'iommufd' }; then one unmapDma over the range (not timed). ns to map all of it, per round.
// The memory, as the C twin has it: 'anonymous' from allocDma (this process's own anonymous
// memory); 'memfd' and 'hugetlb' one shared file (tmpfs / hugetlbfs) that both sides map, created
// by whichever side runs first, so that both pin the same physical pages. Touched first.
// Then the floor, as a diagnostic (impl 'diag'): the same rounds in the same process on the same
// memory with no vfiokit code, the C twin's ioctl sequence through bare koffi calls (the device
// closed first, so its group or cdev is free again): what a node process alone costs the kernel's
// work, against what the library adds.
// argv: iommu, backing, total bytes, piece bytes, rounds, [file]. Twin: bench/native/lab/ramdma.c.
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { allocDma, openDevice } from '../../src/index';
import { MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, realLibc } from '../../shim/libc';
import { VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT } from '../../shim/uapi/vfio';
import { IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP } from '../../shim/uapi/iommufd';
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
const bench = n === 1 ? 'lab-ram-map' : 'lab-ram-map-pieces';
emit(bench, `${iommu} ${backing}`, 'ns', rm, undefined, { total, piece, ops: n, iommu, memory: backing, runs });
dev.close();

// The floor: bare koffi, the C twin's calls, the same memory.
const libc = realLibc();
const ok = (r: number, what: string): number => { if (r < 0) throw new Error(`floor: ${what}: errno ${-r}`); return r; };
const struct = (bytes: number): { b: Uint8Array; v: DataView } => { const b = new Uint8Array(bytes); return { b, v: new DataView(b.buffer) }; };
let mapFd: number, mapOne: (iova: bigint, addr: bigint) => number, unmapOne: (iova: bigint) => number, closeAll: () => void;
if (iommu === 'type1') {
  const cont = ok(libc.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC, 0), 'open container');
  const group = ok(libc.open(`/dev/vfio/${basename(readlinkSync(`/sys/bus/pci/devices/${EDU}/iommu_group`))}`, O_RDWR | O_CLOEXEC, 0), 'open group');
  const c = struct(4); c.v.setInt32(0, cont, true);
  ok(libc.ioctl(group, VFIO_GROUP_SET_CONTAINER, c.b), 'SET_CONTAINER');
  ok(libc.ioctlValue(cont, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 'SET_IOMMU');
  const m = struct(32), u = struct(24);
  m.v.setUint32(0, 32, true); m.v.setUint32(4, 3, true); m.v.setBigUint64(24, size, true);
  u.v.setUint32(0, 24, true); u.v.setBigUint64(16, size, true);
  mapFd = cont;
  mapOne = (iova, addr) => { m.v.setBigUint64(8, addr, true); m.v.setBigUint64(16, iova, true); return libc.ioctl(cont, VFIO_IOMMU_MAP_DMA, m.b); };
  unmapOne = (iova) => { u.v.setBigUint64(8, iova, true); return libc.ioctl(cont, VFIO_IOMMU_UNMAP_DMA, u.b); };
  closeAll = () => { libc.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, null); libc.close(group); libc.close(cont); };
} else {
  const fd = ok(libc.open('/dev/iommu', O_RDWR | O_CLOEXEC, 0), 'open /dev/iommu');
  const a = struct(12); a.v.setUint32(0, 12, true);
  ok(libc.ioctl(fd, IOMMU_IOAS_ALLOC, a.b), 'IOAS_ALLOC');
  const ioas = a.v.getUint32(8, true);
  const cdev = readdirSync(`/sys/bus/pci/devices/${EDU}/vfio-dev`).find((e) => e.startsWith('vfio'));
  const dfd = ok(libc.open(`/dev/vfio/devices/${cdev}`, O_RDWR | O_CLOEXEC, 0), 'open cdev');
  const b = struct(16); b.v.setUint32(0, 16, true); b.v.setInt32(8, fd, true);
  ok(libc.ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, b.b), 'BIND_IOMMUFD');
  const at = struct(12); at.v.setUint32(0, 12, true); at.v.setUint32(8, ioas, true);
  ok(libc.ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, at.b), 'ATTACH_IOMMUFD_PT');
  const m = struct(40), u = struct(24);
  m.v.setUint32(0, 40, true); m.v.setUint32(4, 7, true); m.v.setUint32(8, ioas, true); m.v.setBigUint64(24, size, true);
  u.v.setUint32(0, 24, true); u.v.setUint32(4, ioas, true); u.v.setBigUint64(16, size, true);
  mapFd = fd;
  mapOne = (iova, addr) => { m.v.setBigUint64(16, addr, true); m.v.setBigUint64(32, iova, true); return libc.ioctl(fd, IOMMU_IOAS_MAP, m.b); };
  unmapOne = (iova) => { u.v.setBigUint64(8, iova, true); return libc.ioctl(fd, IOMMU_IOAS_UNMAP, u.b); };
  closeAll = () => { libc.close(dfd); libc.close(fd); };
}
const rf: number[] = [];
for (let j = 0; j < rounds; j++) {
  const t0 = now();
  for (let i = 0, iova = IOVA_BASE, addr = host; i < n; i++, iova += size, addr += size) ok(mapOne(iova, addr), `map ${i} on fd ${mapFd}`);
  const t1 = now();
  for (let i = 0, iova = IOVA_BASE; i < n; i++, iova += size) ok(unmapOne(iova), `unmap ${i}`);
  rf.push(Number(t1 - t0));
}
closeAll();
const line = { bench, case: `${bench} ${iommu} ${backing}: bare koffi, the same process and memory (floor)`, impl: 'diag', unit: 'ns', rounds: rf.map((x) => +x.toFixed(1)) };
process.stdout.write(`@@VFIOKIT-BENCH@@ ${JSON.stringify(line)}\n`);
free();

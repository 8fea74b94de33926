// lab-open, vfiokit: a device from nothing to ready and back: openDevice (sysfs checks,
// container, group, IOMMU, device fd, device info, every region's and IRQ's info decoded by the
// core), every mmappable region mapped (mapAll), then close() in its fixed order.
// argv: bus ('amba' | 'pci'), device, rounds. Twin: bench/native/lab/open.c.
// In the same process, as diagnostics of this case (bench/lab/parse.mjs files them with it):
//   the floor: the C twin's syscalls, in its order, through bare koffi (realLibc, no checks, no
//     core, no objects), so that the API's own share of the cycle can be read off (issue 13's
//     goal for JS paths: at most 1.1x the floor measured in the same run);
//   the sysfs lookups open makes (findDeviceForOpen: which bus has the device, its iommu_group
//     and driver links, the group's name) as openDevice makes them, the same lookups through
//     node's fs (existsSync, readlinkSync, readFileSync: how openDevice made them before) and
//     through bare koffi calls (readlink, open + read + close), per open.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openDevice } from '../../src/index';
import { findDeviceForOpen } from '../../src/sysfs';
import { realLibc } from '../../shim/libc';
import {
  VFIO_CHECK_EXTENSION, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, VFIO_NOIOMMU_IOMMU, VFIO_REGION_INFO_FLAG_MMAP, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU,
} from '../../shim/uapi/vfio';
import { arg, emit, now, percentile } from './common';

const bus = process.argv[2]!, name = process.argv[3]!;
const rounds = arg(2, 200);
const cas = bus === 'pci' ? 'edu (vfio-pci, type1)' : 'pl031 (vfio-amba, noiommu)';

function openReadyClose(): void {
  const dev = openDevice(name);
  try {
    for (const r of dev.regions) if (r.ok && r.mmappable) r.mapAll();
  } finally { dev.close(); }
}

function timed(op: () => void, n: number): number[] {
  for (let i = 0; i < 5; i++) op(); // warm-up: the core's instance, the JIT
  const rs: number[] = [];
  for (let j = 0; j < n; j++) { const t0 = now(); op(); rs.push(Number(now() - t0)); }
  return rs;
}

const rs = timed(openReadyClose, rounds);
emit('lab-open', cas, 'ns', rs, percentile(rs, 0.99));

// --- the floor: open.c's sequence through bare koffi ---
const libc = realLibc();
const koffi = createRequire(import.meta.url)('koffi');
const lib = koffi.load('libc.so.6');
const readlinkC = lib.func('intptr_t readlink(const char *path, void *buf, size_t size)');
const O_RDWR = 2, O_RDONLY = 0, O_CLOEXEC = 0o2000000, PROT_RW = 3, MAP_SHARED = 1;
const page = 4096;
const dec = new TextDecoder();
const linkBuf = new Uint8Array(256), nameBuf = new Uint8Array(64);
const basenameOf = (n: number): string => { const s = dec.decode(linkBuf.subarray(0, n)); return s.slice(s.lastIndexOf('/') + 1); };
/** common.h's group_of: the group's number from the iommu_group link, and its name file. */
function groupOf(): { path: string; type: number } {
  const n = Number(readlinkC(`/sys/bus/${bus}/devices/${name}/iommu_group`, linkBuf, linkBuf.length - 1));
  const g = basenameOf(n);
  const fd = libc.open(`/sys/kernel/iommu_groups/${g}/name`, O_RDONLY, 0);
  let groupName = '';
  if (fd >= 0) { const r = libc.read(fd, nameBuf, nameBuf.length - 1); if (r > 0) groupName = dec.decode(nameBuf.subarray(0, r)); libc.close(fd); }
  const noiommu = groupName.startsWith('vfio-noiommu');
  return { path: noiommu ? `/dev/vfio/noiommu-${g}` : `/dev/vfio/${g}`, type: noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU };
}
const must = (r: number | bigint, what: string): number => { if (r < 0) throw new Error(`floor: ${what} failed: ${r}`); return Number(r); };
const status = new Uint8Array(8), contArg = new Uint8Array(4), devName = new TextEncoder().encode(`${name}\0`);
const devInfo = new Uint8Array(24), irqInfo = new Uint8Array(16);
let regionBuf = new Uint8Array(4096);
const dv = new DataView(devInfo.buffer), sv = new DataView(status.buffer), iv = new DataView(irqInfo.buffer);
/** open.c's query(): argsz, then again with the size the kernel asked for. */
function regionInfo(fd: number, index: number): DataView | null {
  for (let tries = 0; tries < 3; tries++) {
    regionBuf.fill(0);
    const v = new DataView(regionBuf.buffer, regionBuf.byteOffset, regionBuf.byteLength);
    const size = tries ? regionBuf.length : 32;
    v.setUint32(0, size, true); v.setUint32(8, index, true);
    if (libc.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, regionBuf) < 0) return null;
    const want = v.getUint32(0, true);
    if (want <= size) return v;
    if (want > regionBuf.length) regionBuf = new Uint8Array(want);
  }
  return null;
}
function floorCycle(): void {
  const g = groupOf();
  const cont = must(libc.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC, 0), 'open container');
  if (libc.ioctl(cont, VFIO_GET_API_VERSION, null) !== 0) throw new Error('floor: VFIO API version');
  if (libc.ioctlValue(cont, VFIO_CHECK_EXTENSION, g.type) <= 0) throw new Error('floor: no IOMMU type');
  const group = must(libc.open(g.path, O_RDWR | O_CLOEXEC, 0), `open ${g.path}`);
  sv.setUint32(0, 8, true); sv.setUint32(4, 0, true);
  must(libc.ioctl(group, VFIO_GROUP_GET_STATUS, status), 'GROUP_GET_STATUS');
  new DataView(contArg.buffer).setInt32(0, cont, true);
  must(libc.ioctl(group, VFIO_GROUP_SET_CONTAINER, contArg), 'GROUP_SET_CONTAINER');
  must(libc.ioctlValue(cont, VFIO_SET_IOMMU, g.type), 'SET_IOMMU');
  const fd = must(libc.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, devName), 'GET_DEVICE_FD');
  devInfo.fill(0); dv.setUint32(0, 24, true);
  must(libc.ioctl(fd, VFIO_DEVICE_GET_INFO, devInfo), 'DEVICE_GET_INFO');
  const maps: [bigint, bigint][] = [];
  for (let i = 0, n = dv.getUint32(8, true); i < n; i++) {
    const ri = regionInfo(fd, i);
    if (!ri || !(ri.getUint32(4, true) & VFIO_REGION_INFO_FLAG_MMAP) || ri.getBigUint64(16, true) < BigInt(page)) continue;
    const len = ri.getBigUint64(16, true) & ~BigInt(page - 1);
    const p = libc.mmap(0n, len, PROT_RW, MAP_SHARED, fd, ri.getBigUint64(24, true));
    must(p, 'mmap');
    maps.push([p, len]);
  }
  for (let i = 0, n = dv.getUint32(12, true); i < n; i++) { irqInfo.fill(0); iv.setUint32(0, 16, true); iv.setUint32(8, i, true); libc.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, irqInfo); }
  for (const [p, len] of maps) libc.munmap(p, len);
  libc.close(fd);
  libc.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, null);
  libc.close(group);
  libc.close(cont);
}
const fl = timed(floorCycle, rounds);
emit('diag', `lab-open ${cas}: bare koffi, the C twin's syscalls in its order (the floor)`, 'ns', fl, undefined, { impl: 'diag' });

// --- open's sysfs lookups: node's fs (what openDevice runs) against bare koffi calls ---
const LOOKUPS = Math.max(20, rounds);
const viaApi = timed(() => { findDeviceForOpen(name); }, LOOKUPS);
emit('diag', `lab-open ${cas}: sysfs lookups as openDevice makes them (findDeviceForOpen), per open`, 'ns', viaApi, undefined, { impl: 'diag' });
const BUSES = ['amba', 'pci', 'platform'];
const fsLink = (p: string): string | null => { try { const t = readlinkSync(p); return t.slice(t.lastIndexOf('/') + 1); } catch { return null; } };
const viaFs = timed(() => {
  for (const b of BUSES) {
    const dir = `/sys/bus/${b}/devices/${name}`;
    if (!existsSync(dir)) continue;
    const g = fsLink(`${dir}/iommu_group`);
    if (g !== null) { try { readFileSync(`/sys/kernel/iommu_groups/${g}/name`, 'utf8'); } catch { /* as findDeviceForOpen: null */ } }
    fsLink(`${dir}/driver`);
    break;
  }
}, LOOKUPS);
emit('diag', `lab-open ${cas}: the same sysfs lookups through node's fs (existsSync, readlinkSync, readFileSync), per open`, 'ns', viaFs, undefined, { impl: 'diag' });
const viaKoffi = timed(() => {
  // The same answers as findDeviceForOpen: the first bus whose devices/<name> exists (readlink:
  // ENOENT when absent), the iommu_group and driver links, the group's name.
  for (const b of BUSES) {
    const dir = `/sys/bus/${b}/devices/${name}`;
    if (Number(readlinkC(dir, linkBuf, linkBuf.length - 1)) === -1 && koffi.errno() === 2) continue;
    const n = Number(readlinkC(`${dir}/iommu_group`, linkBuf, linkBuf.length - 1));
    const g = n > 0 ? basenameOf(n) : null;
    if (g !== null) { const fd = libc.open(`/sys/kernel/iommu_groups/${g}/name`, O_RDONLY | O_CLOEXEC, 0); if (fd >= 0) { libc.read(fd, nameBuf, nameBuf.length); libc.close(fd); } }
    const d = Number(readlinkC(`${dir}/driver`, linkBuf, linkBuf.length - 1));
    if (d > 0) basenameOf(d);
    break;
  }
}, LOOKUPS);
emit('diag', `lab-open ${cas}: the same sysfs lookups through bare koffi (readlink, open + read + close), per open`, 'ns', viaKoffi, undefined, { impl: 'diag' });

// Device open on the host, over the unit tests' fake kernel (test/unit/api/fake-vfio.ts: the
// shim's fake libc answering VFIO's ioctls, and a fake sysfs tree in a temporary directory): the
// JavaScript vfiokit runs per open, which the lab's lab-open (bench/guest/open.ts) measures under
// its syscalls. Per cycle, for the pl031 (AMBA, no-IOMMU) and the edu (PCI, type1):
//   vfiokit: openDevice + mapAll() of every mmappable region + close(), as bench/guest/open.ts;
//   the floor: the same calls to the same fake libc in the same order (the group from sysfs
//     through the C library's readlink, open + read + close, as the lab's floor reads it; then
//     container, group, IOMMU, device fd, device/region/IRQ infos, mmap, munmap, close) with no
//     vfiokit code: no checks, no core, no objects.
// The fake's calls cost next to nothing (no kernel), so the ratio here is vfiokit's JavaScript
// over the calls' JS cost: far larger than in the lab, where each call is a syscall under TCG. It
// is the figure to profile and cut (`node --cpu-prof build/bench/open.mjs`), not the goal's.
// PASSES passes of ROUNDS rounds of PER cycles, alternating which way goes first; the rounds of all
// passes pooled, the median taken. Writes bench/results/open-fake-pl031.json and -edu.json.
//   node build/bench/open.mjs    (after npm run bench -- open; ROUNDS=21 PER=200 PASSES=3)
import { createRequire } from 'node:module';
import { pooled, writeResults } from './lib.mjs';
import { fakeVfio } from '../test/unit/api/fake-vfio';
import { openDevice } from '../src/device/device';
import { realLibc } from '../shim/libc';
import {
  VFIO_CHECK_EXTENSION, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, VFIO_NOIOMMU_IOMMU, VFIO_REGION_INFO_FLAG_MMAP, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU,
} from '../shim/uapi/vfio';

const ROUNDS = Number(process.env.ROUNDS ?? 21), PER = Number(process.env.PER ?? 200), PASSES = Number(process.env.PASSES ?? 3);
const WARMUP = Number(process.env.WARMUP ?? 2000);
const CASES = [
  { file: 'open-fake-pl031', name: '9010000.pl031', bus: 'amba', iommu: 'noiommu', what: 'pl031 (AMBA, no-IOMMU)' },
  { file: 'open-fake-edu', name: '0000:00:02.0', bus: 'pci', iommu: 'type1', what: 'edu (PCI, type1)' },
];
const ONLY = process.env.OPEN_ONLY; // 'pl031' or 'edu': one case (for profiles)

// The fake kernel, made anew for each pass of each case: its fds count up from 100 and its device
// fds from FIRST_DEVICE_FD, and some 100,000 cycles on one fake would make the two ranges meet.
let f, libc, sys, sysfs, log;
function freshFake() {
  f?.dispose();
  f = fakeVfio();
  ({ libc, sys, sysfs } = f);
  log = libc.log;
}
const real = realLibc();
const koffi = createRequire(import.meta.url)('koffi');
const readlinkC = koffi.load('libc.so.6').func('intptr_t readlink(const char *path, void *buf, size_t size)');
const O_RDWR = 2, O_RDONLY = 0, O_CLOEXEC = 0o2000000, PROT_RW = 3, MAP_SHARED = 1, PAGE = 4096;

/** One way of one case: a cycle function over the fake. */
function vfiokitCycle(c) {
  const opts = { sys, sysfs, iommu: c.iommu };
  return () => {
    const dev = openDevice(c.name, opts);
    try {
      for (const r of dev.regions) if (r.ok && r.mmappable) r.mapAll();
    } finally { dev.close(); }
    log.length = 0; // the fake's call log would grow without bound
  };
}

function floorCycle(c) {
  const dec = new TextDecoder();
  const linkBuf = new Uint8Array(256), nameBuf = new Uint8Array(64);
  const status = new Uint8Array(8), contArg = new Uint8Array(4), devName = new TextEncoder().encode(`${c.name}\0`);
  const devInfo = new Uint8Array(24), irqInfo = new Uint8Array(16), regionBuf = new Uint8Array(256);
  const dv = new DataView(devInfo.buffer), sv = new DataView(status.buffer), iv = new DataView(irqInfo.buffer), cv = new DataView(contArg.buffer);
  const rv = new DataView(regionBuf.buffer);
  const must = (r, what) => { if (r < 0) throw new Error(`floor: ${what} failed: ${r}`); return Number(r); };
  const devDir = `${sysfs}/bus/${c.bus}/devices/${c.name}`;
  return () => {
    // sysfs as the lab's floor reads it (open.c's group_of): the group link, its name file.
    const n = Number(readlinkC(`${devDir}/iommu_group`, linkBuf, linkBuf.length - 1));
    const s = dec.decode(linkBuf.subarray(0, n)), g = s.slice(s.lastIndexOf('/') + 1);
    const nfd = real.open(`${sysfs}/kernel/iommu_groups/${g}/name`, O_RDONLY | O_CLOEXEC, 0);
    let groupName = '';
    if (nfd >= 0) { const r = real.read(nfd, nameBuf, nameBuf.length - 1); if (r > 0) groupName = dec.decode(nameBuf.subarray(0, r)); real.close(nfd); }
    const noiommu = groupName.startsWith('vfio-noiommu');
    const type = noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
    const cont = must(libc.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC, 0), 'open container');
    if (libc.ioctl(cont, VFIO_GET_API_VERSION, null) !== 0) throw new Error('floor: VFIO API version');
    if (libc.ioctlValue(cont, VFIO_CHECK_EXTENSION, type) <= 0) throw new Error('floor: no IOMMU type');
    const group = must(libc.open(noiommu ? `/dev/vfio/noiommu-${g}` : `/dev/vfio/${g}`, O_RDWR | O_CLOEXEC, 0), 'open group');
    sv.setUint32(0, 8, true); sv.setUint32(4, 0, true);
    must(libc.ioctl(group, VFIO_GROUP_GET_STATUS, status), 'GROUP_GET_STATUS');
    cv.setInt32(0, cont, true);
    must(libc.ioctl(group, VFIO_GROUP_SET_CONTAINER, contArg), 'GROUP_SET_CONTAINER');
    must(libc.ioctlValue(cont, VFIO_SET_IOMMU, type), 'SET_IOMMU');
    const fd = must(libc.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, devName), 'GET_DEVICE_FD');
    devInfo.fill(0); dv.setUint32(0, 24, true);
    must(libc.ioctl(fd, VFIO_DEVICE_GET_INFO, devInfo), 'DEVICE_GET_INFO');
    const maps = [];
    for (let i = 0, nr = dv.getUint32(8, true); i < nr; i++) {
      regionBuf.fill(0); rv.setUint32(0, 32, true); rv.setUint32(8, i, true);
      if (libc.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, regionBuf) < 0) continue;
      if (!(rv.getUint32(4, true) & VFIO_REGION_INFO_FLAG_MMAP) || rv.getBigUint64(16, true) < BigInt(PAGE)) continue;
      const len = rv.getBigUint64(16, true) & ~BigInt(PAGE - 1);
      const p = libc.mmap(0n, len, PROT_RW, MAP_SHARED, fd, rv.getBigUint64(24, true));
      must(p, 'mmap');
      maps.push([p, len]);
    }
    for (let i = 0, ni = dv.getUint32(12, true); i < ni; i++) { irqInfo.fill(0); iv.setUint32(0, 16, true); iv.setUint32(8, i, true); libc.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, irqInfo); }
    for (const [p, len] of maps) libc.munmap(p, len);
    libc.close(fd);
    libc.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, null);
    libc.close(group);
    libc.close(cont);
    log.length = 0;
  };
}

/** ns per cycle of each of ROUNDS rounds of PER cycles. */
function rounds(op) {
  const out = [];
  for (let j = 0; j < ROUNDS; j++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) op();
    out.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return out;
}

try {
  for (const c of CASES) {
    if (ONLY && !c.file.endsWith(ONLY)) continue;
    const passes = { floor: [], vfiokit: [] };
    for (let p = 0; p < PASSES; p++) {
      freshFake();
      const ways = { floor: floorCycle(c), vfiokit: vfiokitCycle(c) };
      if (p === 0) for (const op of Object.values(ways)) for (let i = 0; i < WARMUP; i++) op();
      const order = p % 2 ? ['vfiokit', 'floor'] : ['floor', 'vfiokit'];
      for (const w of order) passes[w].push({ rounds: rounds(ways[w]) });
      if (libc.openFds.size !== 0 || libc.mappings() !== 0) throw new Error(`open: ${libc.openFds.size} fds and ${libc.mappings()} mappings left open on the fake`);
    }
    writeResults(c.file, {
      what: `device open over the unit tests' fake kernel, ${c.what}: openDevice + mapAll + close against the same fake calls with no vfiokit code (the floor); ns per cycle`,
      reference: 'the floor: the same fake libc calls in the same order, bare', goal: null,
      results: [pooled('floor (bare fake libc calls)', passes.floor), pooled('openDevice + mapAll + close', passes.vfiokit)],
      note: 'no kernel behind the calls: the ratio is vfiokit\'s JavaScript over the bare calls\' JavaScript, the part of the lab\'s cycle that vfiokit adds',
    });
  }
} finally { f?.dispose(); }

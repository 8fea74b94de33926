// Not a benchmark pair: where vfiokit's time goes in the lab, for docs/BENCH.md. Each figure is
// ns per call, median of rounds, printed as impl 'diag' lines that the host lists apart.
//   koffi pread: the bare libc.pread through koffi on the pl031 device fd (what region.read32 adds
//     on top of it is the API: the access check, cached from the core's table, and the checked syscall layer);
//   the same for pwrite / region.write32;
//   koffi ioctl: VFIO_GET_API_VERSION on a fresh container fd (the bare cost of one ioctl from JS);
//   encodeDmaMapWords: one vfio_iommu_type1_dma_map through word views of a reused struct (what
//     mapDma does), and encodeDmaMap, the same into a new struct per call;
//   raw Atomics.load on a Uint32Array over libc.view of the mapped page, vs Mapping.read32, and
//     a plain indexed read of the same array (what Atomics costs under TCG); the same for stores;
//   openDevice + close alone (no region mapped), to split lab-open;
//   mapDma + unmapDma of one 4 KiB piece (set against lab-dma's C map and unmap).
import { allocDma, openDevice } from '../../src/index';
import { encodeDmaMap } from '../../src/core-api';
import { encodeDmaMapWords } from '../../src/vfio/encode';
import { structWords } from '../../shim/bytes';
import { realLibc } from '../../shim/libc';
import { EDU, PL031, emit, now } from './common';

const ROUNDS = 11;
function measure(cas: string, per: number, op: () => void): void {
  for (let i = 0; i < per; i++) op();
  const rs: number[] = [];
  for (let j = 0; j < ROUNDS; j++) { const t0 = now(); for (let i = 0; i < per; i++) op(); rs.push(Number(now() - t0) / per); }
  emit('diag', cas, 'ns', rs, undefined, { per, impl: 'diag' });
}

const libc = realLibc();
const dev = openDevice(PL031);
const r = dev.regions[0]!;
const buf = new Uint8Array(8), zero4 = new Uint8Array(4);
const fd = dev.fd, off = r.fileOffset;
let sink = 0;
measure('koffi pread 4 bytes, pl031 DR (libc.pread)', 1000, () => { libc.pread(fd, buf, 4, off); });
measure('region.read32 pl031 DR (the API)', 1000, () => { sink += r.read32(0); });
measure('koffi pwrite 4 bytes, pl031 IMSC (libc.pwrite)', 1000, () => { libc.pwrite(fd, zero4, 4, off + 0x10n); });
measure('region.write32 pl031 IMSC (the API)', 1000, () => { r.write32(0x10, 0); });
const cont = libc.open('/dev/vfio/vfio', 2, 0);
const VFIO_GET_API_VERSION = 15204;
measure('koffi ioctl VFIO_GET_API_VERSION (libc.ioctl)', 1000, () => { libc.ioctl(cont, VFIO_GET_API_VERSION, null); });
libc.close(cont);
measure('encodeDmaMap (a new struct per call)', 1000, () => { encodeDmaMap({ vaddr: 0x7f0000000000n, iova: 0x10000000n, size: 4096n, read: true, write: true }); });
const words = structWords(32);
measure('encodeDmaMapWords (word views of a reused struct: per mapDma)', 1000, () => { encodeDmaMapWords(words, 0x7f0000000000n, 0x10000000n, 4096n, true, true); });
const m = r.map();
const raw = new Uint32Array(libc.view(m.hostAddress, 4096));
measure('Atomics.load on a bare Uint32Array over the page', 100000, () => { sink += Atomics.load(raw, 0); });
measure('Mapping.read32 (the API)', 100000, () => { sink += m.read32(0); });
measure('plain raw[0] read of the same Uint32Array (not Atomics)', 100000, () => { sink += raw[0]!; });
measure('Atomics.store on a bare Uint32Array, IMSC', 100000, () => { Atomics.store(raw, 4, 0); });
measure('Mapping.write32 IMSC (the API)', 100000, () => { m.write32(0x10, 0); });
measure('plain raw[4] = 0 on the same Uint32Array (not Atomics)', 100000, () => { raw[4] = 0; });
dev.close();
measure('openDevice + close, pl031 (nothing mapped)', 20, () => { openDevice(PL031).close(); });
measure('openDevice + close, edu (nothing mapped)', 20, () => { openDevice(EDU).close(); });
// One DMA piece through the API, to set against lab-dma's C figures (map + unmap per piece).
const edu = openDevice(EDU), mem = allocDma(4096);
measure('mapDma + unmapDma of one 4 KiB piece, edu (the API), per pair', 1000, () => { edu.mapDma({ iova: 0x10000000n, hostAddress: mem.hostAddress, size: 4096n }); edu.unmapDma(0x10000000n, 4096n); });
edu.close(); mem.close();
if (sink === -1) console.log(sink);

// A one-page memfd dressed as region 0 of a device, for the host twins of the lab's trap and mmio
// benchmarks (bench/trap.mjs, bench/mmio.mjs): the real RegionTable and DeviceRegion over a
// RegionOwner whose fd is the memfd, built the way VfioDevice builds them (regionTable.add(index,
// info), then new DeviceRegion(owner, { ... }) with the same fields), so that read32/write32 take
// the cached-rule fast path and map() the core's split exactly as for a device.
// Not responsible for: timing (the benchmarks), anything VFIO (the lab benchmarks have a device).
import { createSys, realLibc } from '../../shim/index';
import { RegionTable } from '../../src/core/region';
import { DeviceRegion } from '../../src/device/region';
import { systemPageSize } from '../../src/device/context';
import { VfioError } from '../../src/errors';

/** One page: a platform device's register page, as the lab's pl031 has. */
export const MEMFD_BYTES = 4096;
const MFD_CLOEXEC = 0x1; // include/uapi/linux/memfd.h

/**
 * Opens a memfd of MEMFD_BYTES through the shim and returns { sys, fd, region, close }. `flags` are
 * the region's VFIO_REGION_INFO_FLAG_* bits. close() unmaps what region.map() mapped, frees the
 * region table and closes the memfd, in that order (a device closes its mappings first too).
 */
export function openMemfdRegion(name, flags) {
  const sys = createSys(realLibc());
  const fd = sys.memfdCreate(name, MFD_CLOEXEC);
  let table;
  try {
    sys.ftruncate(fd, BigInt(MEMFD_BYTES));
    table = new RegionTable();
    table.add(0, { index: 0, flags, size: BigInt(MEMFD_BYTES), offset: 0n });
  } catch (e) {
    table?.close();
    sys.close(fd);
    throw e;
  }
  const mappings = new Set();
  let liveFd = fd;
  const owner = {
    name: `memfd ${name}`, sys, regionTable: table, pageSize: systemPageSize(),
    // As VfioDevice.liveFd: one compare, then the fd.
    liveFd() {
      if (liveFd < 0) throw new VfioError({ kind: 'closed', device: owner.name, message: 'the memfd was closed', hint: 'open it again' });
      return liveFd;
    },
    adopt(m) { mappings.add(m); },
  };
  const region = new DeviceRegion(owner, { index: 0, name: 'reg0', ok: true, flags, size: BigInt(MEMFD_BYTES), fileOffset: 0n, sparse: null, capType: null, msixMappable: false });
  return {
    sys, fd, region,
    close() {
      if (liveFd < 0) return;
      for (const m of mappings) m.close();
      table.close();
      liveFd = -1;
      sys.close(fd);
    },
  };
}

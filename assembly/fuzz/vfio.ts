// Fuzz target: the decoders of the kernel's VFIO replies, and the region table fed with what they
// accept. Input: a selector byte, a page-size byte, then the reply bytes (the rest).
//   selector % 4: 0 device info, 1 region info, 2 IRQ info, 3 type1 IOMMU info
// Invariants: nothing traps and nothing returns INTERNAL; decode-and-record (region_add_info)
// answers exactly as the decoder does and records what region_add records from the decoded values
// (a region info the decoder accepts is accepted by the region table); the map/trap split covers
// [0, size) exactly, in order, with neighbours of different kinds and MAP ranges on page
// boundaries of the file; every guest access check of it returns OK or a documented refusal.
import { begin, u8, u16, u64_, violated, restPtr, restLen } from "./input";
import { vfio_device_info_decode, vfio_region_info_decode, vfio_irq_info_decode, vfio_iommu_type1_info_decode } from "../vfio/index";
import { region_table_create, region_table_free, region_add, region_add_info, region_get, region_area, region_split, region_check } from "../region/index";
import { getResult, scratchBase, SCRATCH_SIZE, ld64le, ld32le } from "../mem";
import { ERR_INTERNAL, ERR_OVERFLOW } from "../status";
import { MAX_REGIONS } from "../vfio/bounds";

/** Split output goes to the upper half of scratch, away from the input. */
const OUT_OFF: usize = SCRATCH_SIZE / 2;
const OUT_CAP: u32 = 64 * 24;
const ENTRY: usize = 24;
const KIND_MAP: u32 = 1;
/** Guest accesses checked per accepted region. */
const CHECKS: i32 = 32;

function checkSplit(h: i32, index: u32, size: u64, fileOffset: u64, page: u64): void {
  const out = scratchBase() + OUT_OFF;
  const n = region_split(h, index, page, 0, 0, out, OUT_CAP);
  if (n == ERR_INTERNAL) violated();
  if (n < 0) return;
  let at: u64 = 0;
  let prevKind: u32 = 0;
  for (let i = 0; i < n; i++) {
    const e = out + <usize>i * ENTRY;
    const off = ld64le(e), sz = ld64le(e + 8), kind = ld32le(e + 16);
    if (off != at || sz == 0 || kind == prevKind) violated();
    if (kind == KIND_MAP && (((fileOffset + off) & (page - 1)) != 0 || (sz & (page - 1)) != 0)) violated();
    at = off + sz;
    prevKind = kind;
  }
  if (at != size) violated();
}

/** Rows a and b of table h hold the same region and the same sparse areas. */
function sameEntry(h: i32, a: u32, b: u32): void {
  if (region_get(h, a) != 1) violated();
  const f = getResult(0), z = getResult(1), o = getResult(2), sp = getResult(3), n = getResult(4);
  if (region_get(h, b) != 1) violated();
  if (getResult(0) != f || getResult(1) != z || getResult(2) != o || getResult(3) != sp || getResult(4) != n) violated();
  for (let i: u32 = 0; i < <u32>n; i++) {
    if (region_area(h, a, i) != 0) violated();
    const ao = getResult(0), as = getResult(1);
    if (region_area(h, b, i) != 0) violated();
    if (getResult(0) != ao || getResult(1) != as) violated();
  }
}

export function fuzz_vfio(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const sel = u8() & 3;
  const page: u64 = (u8() & 1) != 0 ? 0x10000 : 0x1000;
  const p = restPtr();
  const n = <u32>restLen();
  let st: i32;
  if (sel == 0) st = vfio_device_info_decode(p, n);
  else if (sel == 2) st = vfio_irq_info_decode(p, n, -1);
  else if (sel == 3) st = vfio_iommu_type1_info_decode(p, n);
  else {
    st = vfio_region_info_decode(p, n, -1);
    // Decode-and-record, asked for the index the reply names (so that it can match).
    const index: u32 = n >= 12 ? ld32le(p + 8) : 0;
    const h = region_table_create();
    if (h <= 0) violated();
    const rec = region_add_info(h, index, p, n);
    if (rec == ERR_INTERNAL) violated();
    if (index < MAX_REGIONS && rec != st) violated();
    if (rec >= 0) {
      const flags = <u32>getResult(0), size = getResult(2), off = getResult(3);
      const sparse = <i32>getResult(5), nAreas = <u32>getResult(6), areas = p + <usize>getResult(7);
      // region_add of the decoded values, on a neighbouring index, records the same entry.
      const other = (index + 1) % MAX_REGIONS;
      const added = region_add(h, other, flags, size, off, sparse, sparse != 0 ? areas : 0, sparse != 0 ? nAreas : 0);
      // The decoder already refused what the table refuses, except a size the table cannot hold.
      if (added < 0 && added != ERR_OVERFLOW) violated();
      if (added >= 0) sameEntry(h, index, other);
      checkSplit(h, index, size, off, page);
      begin(ptr, len); // reuse the input as a stream of guest accesses
      // Offsets up to 16 past the end, without wrapping: a region of nearly 2^64 bytes is valid.
      const span = size + 16 < size ? 0 : size + 16;
      for (let i = 0; i < CHECKS; i++) {
        const raw = u64_();
        const c = region_check(h, index, span == 0 ? raw : raw % span, <u32>1 << (u16() & 3), <i32>(u8() & 1));
        if (c == ERR_INTERNAL) violated();
      }
    }
    if (region_table_free(h) != 0) violated();
  }
  if (st == ERR_INTERNAL) violated();
  return 0;
}

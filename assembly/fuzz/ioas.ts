// Fuzz target: iommufd's IOMMU_IOAS_IOVA_RANGES, its reply decoder and its request encoder.
// Input: a selector byte, then
//   selector even: the reply (the 32-byte struct then the array copy), its length cut down to
//                  32 + a multiple of 16 when it is at least 32 (shorter lengths run as they are);
//   selector odd:  encoder arguments: ioas_id u32, num_iovas u16, allowed_iovas u64, cap u8.
// Invariants: nothing traps and nothing returns INTERNAL. An accepted reply has num_iovas within
// MAX_IOVA_RANGES and the array passed, an alignment that is a power of two up to
// MAX_IOVA_ALIGNMENT, and ranges that read back with start <= last, increasing and disjoint.
// NO_SPACE names a count beyond the array and the len that holds it. An accepted request reads
// back as the arguments given, with size 32 and __reserved 0.
import { begin, u8, u16, u32_, u64_, violated, restPtr, restLen } from "./input";
import { vfio_ioas_iova_ranges_decode, vfio_ioas_iova_ranges_encode } from "../vfio/index";
import { MAX_IOVA_RANGES, MAX_IOVA_ALIGNMENT } from "../vfio/bounds";
import { getResult, scratchBase, SCRATCH_SIZE, ld32le, ld64le } from "../mem";
import { ERR_INTERNAL, ERR_NO_SPACE } from "../status";

/** Encoder output goes to the upper half of scratch, away from the input. */
const OUT_OFF: usize = SCRATCH_SIZE / 2;
const FIXED: u32 = 32;
const RANGE: u32 = 16;

function decode(p: usize, n: u32): void {
  const len = n >= FIXED ? FIXED + ((n - FIXED) & ~(RANGE - 1)) : n;
  const capacity = len >= FIXED ? (len - FIXED) / RANGE : 0;
  const st = vfio_ioas_iova_ranges_decode(p, len);
  if (st == ERR_INTERNAL) violated();
  if (st == ERR_NO_SPACE) {
    const need = getResult(1);
    if (need <= <u64>capacity || need > <u64>MAX_IOVA_RANGES || getResult(0) != <u64>FIXED + need * RANGE) violated();
    return;
  }
  if (st < 0) return;
  const count = <u32>st;
  const align = getResult(1);
  if (getResult(0) != <u64>count || count > capacity || count > MAX_IOVA_RANGES) violated();
  if (align == 0 || (align & (align - 1)) != 0 || align > MAX_IOVA_ALIGNMENT) violated();
  const at = p + <usize>getResult(3);
  let prevLast: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const a = ld64le(at + <usize>(i * RANGE)), b = ld64le(at + <usize>(i * RANGE) + 8);
    if (a > b) violated();
    if (i > 0 && a <= prevLast) violated();
    prevLast = b;
  }
}

function encode(): void {
  const ioasId = u32_(), num = u16() & 0x7ff, addr = u64_(), cap = u8();
  const out = scratchBase() + OUT_OFF;
  const st = vfio_ioas_iova_ranges_encode(out, cap, ioasId, num, addr);
  if (st == ERR_INTERNAL) violated();
  if (st < 0) return;
  if (st != <i32>FIXED || cap < FIXED) violated();
  if (ld32le(out) != FIXED || ld32le(out + 4) != ioasId || ld32le(out + 8) != num || ld32le(out + 12) != 0) violated();
  if (ld64le(out + 16) != addr || ld64le(out + 24) != 0 || num > MAX_IOVA_RANGES) violated();
  if (num > 0 && (addr == 0 || <u64>num * RANGE - 1 > 0xffff_ffff_ffff_ffff - addr)) violated();
}

export function fuzz_ioas(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  if ((u8() & 1) == 0) decode(restPtr(), <u32>restLen());
  else encode();
  return 0;
}

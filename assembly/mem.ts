// The one module of the core with raw memory access (load/store). Every other module reaches
// linear memory through these helpers, after checking its offsets with one unsigned compare.
// Not responsible for: deciding what a byte means; that is each decoder's job.
//
// Layout of linear memory (fixed: initialMemory == maximumMemory in asconfig.json, so the
// memory never grows; a test pins this):
//   static data of the modules | SCRATCH (SCRATCH_SIZE bytes) | RESULTS (RESULT_SLOTS x u64) | TEXT
// The host writes inputs anywhere in SCRATCH and names them by (ptr, len); outputs go to
// caller-owned (ptr, cap) ranges in SCRATCH too; extra return values go to RESULTS.

/** Bytes the host may use for inputs and outputs: 8 MiB. The host splits it (docs/ABI.md): the
 *  first half for a single call's inputs and outputs (4 MiB holds a QEMU virt DTB, 1 MiB padded,
 *  a merged copy of it and a subtree), the second half for buffers that live across calls (an
 *  open FDT writer's output). The core itself keeps nothing in scratch between calls. */
export const SCRATCH_SIZE: usize = 8 << 20;
/** Extra u64 return values of the last call (needed size, fault offset, decoded fields...). */
export const RESULT_SLOTS: i32 = 64;
/** Bytes for status_name() text. */
export const TEXT_SIZE: i32 = 256;

const SCRATCH: usize = memory.data(<i32>SCRATCH_SIZE, 16);
const RESULTS: usize = memory.data(RESULT_SLOTS * 8, 8);
const TEXT: usize = memory.data(TEXT_SIZE, 8);

export function scratchBase(): usize { return SCRATCH; }
export function resultsBase(): usize { return RESULTS; }
export function textBase(): usize { return TEXT; }

/** True when [ptr, ptr+len) lies inside SCRATCH. One compare per bound, no overflow. */
export function inScratch(ptr: usize, len: usize): bool {
  if (ptr < SCRATCH) return false;
  const off = ptr - SCRATCH;
  return off <= SCRATCH_SIZE && len <= SCRATCH_SIZE - off;
}

/** Sets result slot i (0 <= i < RESULT_SLOTS); out-of-range slots are a bug of the core. */
// The impossible is checked with assert(), never abort(): the portable target (use abort=) has no
// abort to call, and assert compiles to a trap there and to env.abort in the release target.
export function setResult(i: i32, v: u64): void {
  assert(<u32>i < <u32>RESULT_SLOTS, "result slot out of range");
  store<u64>(RESULTS + (<usize>i << 3), v);
}
export function getResult(i: i32): u64 {
  assert(<u32>i < <u32>RESULT_SLOTS, "result slot out of range");
  return load<u64>(RESULTS + (<usize>i << 3));
}
export function clearResults(): void { memory.fill(RESULTS, 0, RESULT_SLOTS * 8); }

/** Writes the ASCII characters [from, to) of s into TEXT (no allocation); returns the length
 *  (truncated to TEXT_SIZE). */
export function setTextSlice(s: string, from: i32, to: i32): i32 {
  let n = to - from;
  if (n > TEXT_SIZE) n = TEXT_SIZE;
  for (let i = 0; i < n; i++) store<u8>(TEXT + <usize>i, <u8>s.charCodeAt(from + i));
  return n;
}

// --- raw accessors. Callers have checked that [p, p+width) is inside their buffer. ---
// @ts-ignore: decorator
@inline export function ld8(p: usize): u32 { return load<u8>(p); }
// @ts-ignore: decorator
@inline export function st8(p: usize, v: u32): void { store<u8>(p, <u8>v); }
// @ts-ignore: decorator
@inline export function ld16le(p: usize): u32 { return load<u16>(p); }
// @ts-ignore: decorator
@inline export function ld32le(p: usize): u32 { return load<u32>(p); }
// @ts-ignore: decorator
@inline export function ld64le(p: usize): u64 { return load<u64>(p); }
// @ts-ignore: decorator
@inline export function st16le(p: usize, v: u32): void { store<u16>(p, <u16>v); }
// @ts-ignore: decorator
@inline export function st32le(p: usize, v: u32): void { store<u32>(p, v); }
// @ts-ignore: decorator
@inline export function st64le(p: usize, v: u64): void { store<u64>(p, v); }
// @ts-ignore: decorator
@inline export function ld16be(p: usize): u32 { return bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline export function st16be(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
// @ts-ignore: decorator
@inline export function ld32be(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline export function ld64be(p: usize): u64 { return bswap<u64>(load<u64>(p)); }
// @ts-ignore: decorator
@inline export function st32be(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }
// @ts-ignore: decorator
@inline export function st64be(p: usize, v: u64): void { store<u64>(p, bswap<u64>(v)); }
// @ts-ignore: decorator
@inline export function copy(dst: usize, src: usize, n: usize): void { memory.copy(dst, src, n); }
// @ts-ignore: decorator
@inline export function fill(dst: usize, v: u8, n: usize): void { memory.fill(dst, v, n); }
/** Byte-wise compare of n bytes; 0 when equal. */
export function cmp(a: usize, b: usize, n: usize): i32 { return memory.compare(a, b, n); }

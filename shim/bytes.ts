// Byte order of plain buffers (struct arguments, kernel replies, DTB cells, copies out of Wasm
// memory), shared by the shim and src. Not a syscall and not for device memory: registers are
// read and written only through src/mapping.ts (Atomics on naturally aligned typed arrays).
// src/ and shim/ use no data-view objects at all (test/unit/shim/bytes.test.ts checks), so that
// rule needs no judgment: their 32-bit accessors are split into byte accesses by V8's interpreter
// (docs/NODE.md).
// Offsets are relative to the Uint8Array given (its byteOffset is respected); out-of-range reads
// give undefined-as-0 like typed-array indexing, so callers check lengths first.

export const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
export const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
// 64-bit values pass through one 8-byte scratch word: a BigUint64Array element converts to and
// from a bigint modulo 2^64 in one step, where shifts and masks would make a bigint at each step
// (DMA requests encode three u64 per ioctl). Its bytes are copied in little-endian order.
const word = new BigUint64Array(1);
const wordBytes = new Uint8Array(word.buffer);
const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export function u64(b: Uint8Array, o: number): bigint {
  if (hostLE) for (let i = 0; i < 8; i++) wordBytes[i] = b[o + i]!;
  else for (let i = 0; i < 8; i++) wordBytes[7 - i] = b[o + i]!;
  return word[0]!;
}
/**
 * A struct for a hot ioctl, reused, with 32- and 64-bit views over the same bytes: a store through
 * a view is one access, where setU32/setU64 are four or eight byte stores and a loop (and V8's
 * interpreter, which runs a path's first calls, pays for every bytecode). Offsets in the views are
 * in words (u32[1] is bytes 4..7, u64[1] bytes 8..15). The views are in the host's byte order, the
 * order the kernel reads its structs in; `LITTLE_ENDIAN_HOST` says whether that is the order
 * setU32/setU64 write (the encoders use the views only then).
 */
export interface StructWords { readonly bytes: Uint8Array; readonly u32: Uint32Array; readonly u64: BigUint64Array }
/** A zeroed StructWords of `size` bytes (a multiple of 8). */
export function structWords(size: number): StructWords {
  const buf = new ArrayBuffer(size);
  return { bytes: new Uint8Array(buf), u32: new Uint32Array(buf), u64: new BigUint64Array(buf) };
}
export const LITTLE_ENDIAN_HOST = hostLE;
export const u32be = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
export const u64be = (b: Uint8Array, o: number): bigint => (BigInt(u32be(b, o)) << 32n) | BigInt(u32be(b, o + 4));

export function setU16(b: Uint8Array, o: number, v: number): void { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; }
/** Writes the low 32 bits of v (a negative number is written in two's complement, as for an s32). */
export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
/** Writes v modulo 2^64. */
export function setU64(b: Uint8Array, o: number, v: bigint): void {
  word[0] = v;
  if (hostLE) for (let i = 0; i < 8; i++) b[o + i] = wordBytes[i]!;
  else for (let i = 0; i < 8; i++) b[o + i] = wordBytes[7 - i]!;
}

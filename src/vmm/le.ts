// Little-endian fields of the VMM's own byte buffers (KVM structs it builds, the kvm_run page it
// decodes, an Image header), read and written byte by byte: the house bans DataView from src/
// (test/unit/shim/bytes.test.ts), and src/vmm may not import the shim's own helpers.
// Not for device memory (registers go through vfiokit's Mapping and its Atomics accessors).

/** The u32 at `off`. */
export const getU32 = (b: Uint8Array, off: number): number => (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
/** The u64 at `off`. */
export const getU64 = (b: Uint8Array, off: number): bigint => BigInt(getU32(b, off)) | (BigInt(getU32(b, off + 4)) << 32n);
/** Writes the u32 `v` (taken modulo 2^32) at `off`. */
export function setU32(b: Uint8Array, off: number, v: number): void {
  const x = v >>> 0;
  b[off] = x & 0xff; b[off + 1] = (x >>> 8) & 0xff; b[off + 2] = (x >>> 16) & 0xff; b[off + 3] = x >>> 24;
}
/** Writes the u64 `v` (taken modulo 2^64) at `off`. */
export function setU64(b: Uint8Array, off: number, v: bigint): void {
  const x = BigInt.asUintN(64, v);
  setU32(b, off, Number(x & 0xffff_ffffn));
  setU32(b, off + 4, Number(x >> 32n));
}

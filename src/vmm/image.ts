// The arm64 Linux boot protocol (Documentation/arch/arm64/booting.rst) as pure functions: the
// Image header, and where the Image, the initrd and the DTB go in guest RAM:
//   RAM + 2 MiB + text_offset   the Image (a 2 MiB-aligned base)
//   top of RAM - 2 MiB          the DTB (8-byte aligned, at most 2 MiB)
//   just below the DTB          the initrd (4 KiB aligned), which must not reach the Image's end
// Boot state: x0 = DTB, x1..x3 = 0, pc = the Image's first byte; KVM's vCPU reset gives EL1h with
// DAIF masked and the MMU off.
// Not responsible for: loading anything (run.ts).
import { VfioError } from '../index.js';
import { badArgument, checkBigU64, checkBytes, checkInt, checkObject, TWO_64 } from '../../shim/args.js';
import { getU32, getU64 } from './le.js';

/** Where the Image goes: the first 2 MiB-aligned address above RAM's start (plus text_offset). */
export const IMAGE_BASE_OFFSET = 0x20_0000n;
/** The DTB sits 2 MiB below the top of RAM (booting.rst: at most 2 MiB, 8-byte aligned). */
export const DTB_MAX = 0x20_0000n;
/** The arm64 Image header: text_offset @8, image_size @16, the magic "ARM\x64" @56. */
const IMAGE_MAGIC = 0x644d_5241, IMAGE_MAGIC_AT = 56, IMAGE_TEXT_OFFSET_AT = 8, IMAGE_SIZE_AT = 16, IMAGE_HEADER_BYTES = 64;

/** The arm64 Image header's fields the loader needs. */
export interface ImageHeader {
  /** text_offset: where the Image goes above a 2 MiB-aligned base. */
  textOffset: bigint;
  /** image_size: the kernel's footprint, its bss included. */
  imageSize: bigint;
}
/** Reads the arm64 Image header.
 *  @throws VfioError 'bad-argument' when the bytes are not an arm64 Image or its size is unknown. */
export function parseImageHeader(image: Uint8Array): ImageHeader {
  checkBytes('image', image);
  if (image.byteLength < IMAGE_HEADER_BYTES) throw new VfioError({ kind: 'bad-argument', message: `kernel image of ${image.byteLength} bytes is shorter than the 64-byte arm64 header`, hint: 'pass arch/arm64/boot/Image' });
  if (getU32(image, IMAGE_MAGIC_AT) !== IMAGE_MAGIC) throw new VfioError({ kind: 'bad-argument', message: 'kernel image has no arm64 magic "ARM\\x64" at offset 56', hint: 'pass arch/arm64/boot/Image (uncompressed)' });
  const imageSize = getU64(image, IMAGE_SIZE_AT);
  // image_size 0: a kernel older than 3.17, whose effective size is unknown; refuse it.
  if (imageSize === 0n) throw new VfioError({ kind: 'bad-argument', message: 'kernel image_size is 0 (pre-3.17 kernel): its memory footprint is unknown', hint: 'use a kernel of 3.17 or later' });
  return { textOffset: getU64(image, IMAGE_TEXT_OFFSET_AT), imageSize };
}

/** Where the boot protocol puts things in guest RAM (guest physical addresses). */
export interface BootLayout {
  /** The Image's first byte (pc at boot). */
  kernel: bigint;
  /** The end of the Image's footprint (image_size or the file, the larger). */
  kernelEnd: bigint;
  /** The initrd: start, and end (exclusive). */
  initrd: { start: bigint; end: bigint };
  /** The DTB (x0 at boot). */
  dtb: bigint;
}
/** Where the Image, the initrd and the DTB go in RAM (see the header).
 *  @throws VfioError 'bad-argument' (memBytes) when they do not fit. */
export function bootLayout(ram: { gpa: bigint; size: bigint }, header: ImageHeader, imageBytes: number, initrdBytes: number): BootLayout {
  checkObject('ram', ram);
  if (checkBigU64('ram.gpa', ram.gpa) + checkBigU64('ram.size', ram.size) > TWO_64) badArgument('ram.size', ram.size, `a size that ends RAM at or below 2^64 (gpa 0x${ram.gpa.toString(16)})`);
  checkObject('header', header);
  checkBigU64('header.textOffset', header.textOffset);
  checkBigU64('header.imageSize', header.imageSize);
  checkInt('imageBytes', imageBytes);
  checkInt('initrdBytes', initrdBytes);
  const kernel = ram.gpa + IMAGE_BASE_OFFSET + header.textOffset;
  const footprint = header.imageSize > BigInt(imageBytes) ? header.imageSize : BigInt(imageBytes);
  const kernelEnd = kernel + footprint;
  if (ram.size < DTB_MAX * 2n) throw new VfioError({ kind: 'bad-argument', message: `memBytes: RAM of ${ram.size} bytes has no room for the DTB`, hint: 'give more RAM' });
  const dtb = ram.gpa + ram.size - DTB_MAX;
  const start = (dtb - BigInt(initrdBytes)) & ~0xfffn;
  if (start < kernelEnd) throw new VfioError({ kind: 'bad-argument', message: `memBytes: RAM of ${ram.size} bytes is too small: the initrd (${initrdBytes} bytes) would overlap the kernel's ${footprint} bytes`, hint: 'give more RAM' });
  return { kernel, kernelEnd, initrd: { start, end: start + BigInt(initrdBytes) }, dtb };
}

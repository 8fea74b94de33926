// The _IOC helpers of include/uapi/asm-generic/ioctl.h, which both x86_64 (the build host) and
// arm64 (the lab guest) use: 8 bits nr, 8 bits type, 14 bits size, 2 bits direction (_IOC_WRITE
// = 1, _IOC_READ = 2). A number can still differ between the two only through the size of the
// struct it names: every struct vfiokit names has the same layout on both (fixed-width fields,
// natural alignment), and test/unit/shim/ioctl-numbers.test.ts pins every value against C.

import { checkInt } from '../args.js';

const IOC_NRBITS = 8, IOC_TYPEBITS = 8, IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;      // 8
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;  // 16
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;   // 30
export const IOC_NONE = 0, IOC_WRITE = 1, IOC_READ = 2;

/** _IOC(dir, type, nr, size). Computed with multiplication, not `<<`: dir << 30 overflows a JS
 *  int32 into a negative number, and the request is an unsigned long. Throws RangeError for a
 *  field that does not fit (a bug in this file, never input). */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (dir < 0 || dir > 3 || type < 0 || type > 0xff || nr < 0 || nr > 0xff || size < 0 || size >= 1 << IOC_SIZEBITS) {
    throw new RangeError(`_IOC(${dir}, ${type}, ${nr}, ${size}): a field does not fit`);
  }
  return dir * 2 ** IOC_DIRSHIFT + size * 2 ** IOC_SIZESHIFT + type * 2 ** IOC_TYPESHIFT + nr * 2 ** IOC_NRSHIFT;
}
/** The public helpers' argument checks: a type and an nr are a byte each, a size fits 14 bits. */
const ioc = (dir: number, type: unknown, nr: unknown, size: unknown): number =>
  _IOC(dir, checkInt('type', type, 0, 0xff), checkInt('nr', nr, 0, 0xff), checkInt('size', size, 0, (1 << IOC_SIZEBITS) - 1));
/** The kernel's _IO(type, nr): an ioctl number with no size and no direction (every VFIO ioctl is one: its struct carries argsz).
 *  Throws VfioError 'bad-argument' for a type or nr outside 0..255. */
export const _IO = (type: number, nr: number): number => ioc(IOC_NONE, type, nr, 0);
/** The kernel's _IOR(type, nr, size): the kernel writes `size` bytes back to userspace. Throws 'bad-argument' as _IO, and for a size outside 0..16383. */
export const _IOR = (type: number, nr: number, size: number): number => ioc(IOC_READ, type, nr, size);
/** The kernel's _IOW(type, nr, size): userspace passes `size` bytes in. Throws 'bad-argument' as _IOR. */
export const _IOW = (type: number, nr: number, size: number): number => ioc(IOC_WRITE, type, nr, size);
/** The kernel's _IOWR(type, nr, size): `size` bytes in and back out. Throws 'bad-argument' as _IOR. */
export const _IOWR = (type: number, nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, type, nr, size);

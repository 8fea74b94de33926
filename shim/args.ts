// The checkers of the public boundary: every public function of vfiokit tests its arguments with
// these before anything deeper sees them, so a wrong value answers with a VfioError of kind
// 'bad-argument' that names the argument and says what it must be, never a TypeError or
// RangeError from inside (a NaN reaching BigInt(), a number where a bigint is mixed in).
// They live in the shim, the bottom layer, so the shim's own public helpers (the _IOC encoders)
// use the same ones as src/. Each checker returns its value, typed, so a call site reads
// `const n = checkIndex('index', index)`. Hot paths (Mapping and DeviceRegion accessors) keep
// their own one-comparison fast checks and call badArgument() only on the failing branch.
// Not responsible for: the domain rules the core checks itself (a region's size, an FDT's
// structure): those stay where they are and keep their own kinds.
import { VfioError } from './error.js';

/** The largest integer a double holds exactly: the top of every number-typed count or offset. */
const MAX_INDEX = Number.MAX_SAFE_INTEGER;
/** 2^64: the bound of a u64 argument (addresses, sizes, IOVAs, clock readings). */
export const TWO_64 = 1n << 64n;

/** A short, safe rendering of a wrong value for a message. */
function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${v.byteLength} bytes`;
  if (v instanceof ArrayBuffer) return `an ArrayBuffer of ${v.byteLength} bytes`;
  return `a ${typeof v}`;
}

/** Throws the 'bad-argument' VfioError for argument `name`: `name: <value> is not <expected>`. */
export function badArgument(name: string, value: unknown, expected: string, hint?: string): never {
  throw new VfioError({ kind: 'bad-argument', message: `${name}: ${describeValue(value)} is not ${expected}`, ...(hint ? { hint } : {}) });
}

/** An integer number in min..max (both inclusive; default 0..2^53-1). */
export function checkInt(name: string, value: unknown, min = 0, max = MAX_INDEX): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) badArgument(name, value, `an integer in ${min}..${max}`);
  return value;
}

/** An optional integer (undefined passes through). */
export function checkOptInt(name: string, value: unknown, min = 0, max = MAX_INDEX): number | undefined {
  return value === undefined ? undefined : checkInt(name, value, min, max);
}

/** A file descriptor: an integer in 0..2^31-1. */
export function checkFd(name: string, value: unknown): number { return checkInt(name, value, 0, 0x7fff_ffff); }

/** A u64 as a bigint: 0..2^64-1 (a number is refused: no silent rounding above 2^53). */
export function checkBigU64(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= TWO_64) badArgument(name, value, 'a bigint in 0..2^64-1', Number.isSafeInteger(value) ? `pass ${name} as a bigint (e.g. ${String(value)}n)` : undefined);
  return value;
}

/** Any bigint (the callee documents taking it modulo 2^64). */
export function checkBigInt(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint') badArgument(name, value, 'a bigint', Number.isSafeInteger(value) ? `pass ${name} as a bigint (e.g. ${String(value)}n)` : undefined);
  return value;
}

/** A string. */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') badArgument(name, value, 'a string');
  return value;
}

/** A Uint8Array of at least minLength bytes. */
export function checkBytes(name: string, value: unknown, minLength = 0): Uint8Array {
  if (!(value instanceof Uint8Array)) badArgument(name, value, 'a Uint8Array');
  if (value.length < minLength) badArgument(name, value, `at least ${minLength} bytes long`);
  return value;
}

/** A plain object (an options bag or a request). */
export function checkObject<T extends object>(name: string, value: T | unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) badArgument(name, value, 'an object');
  return value as T;
}

/** An optional object (undefined passes through as {}). */
export function checkOptObject<T extends object>(name: string, value: T | undefined | unknown): T {
  return (value === undefined ? {} : checkObject<T>(name, value)) as T;
}

/** A function. */
export function checkFn<T extends (...a: never[]) => unknown>(name: string, value: T | unknown): T {
  if (typeof value !== 'function') badArgument(name, value, 'a function');
  return value as T;
}

/** One of the listed values (an access width, a mode name). */
export function checkOneOf<T>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) badArgument(name, value, `one of ${allowed.map(describeValue).join(', ')}`);
  return value as T;
}

/** An array of u64 bigints. */
export function checkBigU64s(name: string, value: unknown): readonly bigint[] {
  if (!Array.isArray(value)) badArgument(name, value, 'an array of bigints');
  value.forEach((v, i) => checkBigU64(`${name}[${i}]`, v));
  return value as bigint[];
}

/** An array of strings. */
export function checkStrings(name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value)) badArgument(name, value, 'an array of strings');
  value.forEach((v, i) => checkString(`${name}[${i}]`, v));
  return value as string[];
}

/** A boolean: true or false, nothing that merely converts to one (0, 'false' and {} would all
 *  mean something else than they say). */
export function checkBool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') badArgument(name, value, 'true or false');
  return value;
}

/** An optional boolean (undefined passes through). */
export function checkOptBool(name: string, value: unknown): boolean | undefined {
  return value === undefined ? undefined : checkBool(name, value);
}

/** An array of integers, each in min..max. */
export function checkInts(name: string, value: unknown, min = 0, max = MAX_INDEX): readonly number[] {
  if (!Array.isArray(value)) badArgument(name, value, `an array of integers in ${min}..${max}`);
  value.forEach((v, i) => checkInt(`${name}[${i}]`, v, min, max));
  return value as number[];
}

/** The smallest and largest page size of the map/trap split and the MSI-X holes: arm64's 4 KiB
 *  and 64 KiB granules, the range the core's page rule holds (assembly/page.ts). */
const MIN_PAGE_SIZE = 4096, MAX_PAGE_SIZE = 65536;
/** A page size: a power of two in 4096..65536. */
export function checkPageSize(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PAGE_SIZE || value > MAX_PAGE_SIZE || (value & (value - 1)) !== 0) {
    badArgument(name, value, `a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}`);
  }
  return value;
}

/** An array of booleans. */
export function checkBools(name: string, value: unknown): readonly boolean[] {
  if (!Array.isArray(value)) badArgument(name, value, 'an array of booleans');
  value.forEach((v, i) => checkBool(`${name}[${i}]`, v));
  return value as boolean[];
}

// Loads the Wasm core with plain WebAssembly APIs (no generated bindings) and gives typed access
// to its scratch area and result slots. One instance per process, created on first use.
// Binds a module's raw exports the one way all of src/core does (bind below).
// Not responsible for: any decoding; each wrapper (src/core/*.ts) calls its module's exports itself.

import coreBytes from '../../build/vfiokit-core.wasm';
import { VfioError } from '../errors.js';

/** Raw exports every module of the core provides; module-specific ones are looked up by name. */
export interface CoreExports {
  memory: WebAssembly.Memory;
  abi_version(): number;
  scratch_ptr(): number;
  scratch_size(): number;
  result_ptr(): number;
  result_slots(): number;
  text_ptr(): number;
  status_name(code: number): number;
  status_kind(code: number): number;
  [name: string]: unknown;
}

/** The ABI revision this package was built against (assembly/index.ts ABI_VERSION). */
export const EXPECTED_ABI = 1;
/** Scratch is split in two: [0, TRANSIENT_BYTES) for one call's inputs and outputs (anything may
 *  overwrite it between calls), the rest for buffers that live across calls, handed out by
 *  alloc()/free() (an open FdtBuilder's output). */
export const TRANSIENT_BYTES = 4 << 20;
/** Persistent buffers are aligned to this (u64 fields stay aligned). */
const ALLOC_ALIGN = 16;

export class Core {
  readonly exports: CoreExports;
  readonly scratchPtr: number;
  readonly scratchSize: number;
  private readonly resultPtr: number;
  /** Free list of the persistent half: sorted, non-adjacent [offset, size] holes. */
  private holes: [number, number][];
  private readonly live = new Map<number, number>();
  /** Views are created once: the memory never grows (fixed maximum), so they never detach. */
  readonly u8: Uint8Array;
  private readonly results: BigUint64Array;

  constructor(bytes: Uint8Array<ArrayBuffer> = coreBytes) {
    const module = new WebAssembly.Module(bytes);
    let memory: WebAssembly.Memory | undefined;
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          const text = (p: number) => (memory ? readAsString(memory, p) : '?');
          throw new VfioError({
            kind: 'core-bug',
            message: `the vfiokit core aborted: ${text(msg)} at ${text(file)}:${line}:${col}`,
            hint: 'this is a bug in vfiokit; please report it with the input that caused it',
          });
        },
      },
    });
    this.exports = instance.exports as unknown as CoreExports;
    memory = this.exports.memory;
    const abi = this.exports.abi_version();
    if (abi !== EXPECTED_ABI) {
      throw new VfioError({ kind: 'core-bug', message: `core ABI ${abi}, expected ${EXPECTED_ABI}`, hint: 'rebuild with npm run build' });
    }
    this.scratchPtr = this.exports.scratch_ptr() >>> 0;
    this.scratchSize = this.exports.scratch_size() >>> 0;
    this.resultPtr = this.exports.result_ptr() >>> 0;
    this.u8 = new Uint8Array(memory.buffer);
    this.results = new BigUint64Array(memory.buffer, this.resultPtr, this.exports.result_slots());
    this.holes = [[TRANSIENT_BYTES, this.scratchSize - TRANSIENT_BYTES]];
  }

  /** Absolute pointer of the transient area (the start of scratch). */
  get transientPtr(): number { return this.scratchPtr; }

  /** A buffer in the persistent half that stays valid until free(); 'no-space' when none fits. */
  alloc(size: number): number {
    const need = Math.ceil(Math.max(size, 1) / ALLOC_ALIGN) * ALLOC_ALIGN;
    const i = this.holes.findIndex(([, n]) => n >= need);
    if (i < 0) throw new VfioError({ kind: 'no-space', message: `the core's persistent scratch has no ${need} free bytes`, hint: 'close builders you no longer need, or build smaller trees' });
    const [off, n] = this.holes[i]!;
    if (n === need) this.holes.splice(i, 1); else this.holes[i] = [off + need, n - need];
    this.live.set(off, need);
    return this.scratchPtr + off;
  }

  /** Returns a buffer from alloc(); freeing twice or a foreign pointer is a core-bug error. */
  free(ptr: number): void {
    const off = ptr - this.scratchPtr;
    const size = this.live.get(off);
    if (size === undefined) throw new VfioError({ kind: 'core-bug', message: `free of a pointer that alloc did not hand out (${ptr})`, hint: 'this is a bug in vfiokit' });
    this.live.delete(off);
    this.holes.push([off, size]);
    this.holes.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const h of this.holes) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === h[0]) last[1] += h[1]; else merged.push([h[0], h[1]]);
    }
    this.holes = merged;
  }

  /** A raw export by name, typed by the caller; throws core-bug if the build lacks it. */
  fn<F extends (...args: never[]) => unknown>(name: string): F {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new VfioError({ kind: 'core-bug', message: `the core has no export ${name}`, hint: 'rebuild with npm run build' });
    return f as F;
  }

  /** Copies bytes into scratch at `offset` (bytes from the scratch start); returns the pointer. */
  put(bytes: Uint8Array, offset = 0): number {
    this.checkRange(offset, bytes.length);
    this.u8.set(bytes, this.scratchPtr + offset);
    return this.scratchPtr + offset;
  }

  /** A copy of len bytes at an absolute pointer inside scratch. */
  take(ptr: number, len: number): Uint8Array {
    this.checkRange(ptr - this.scratchPtr, len);
    return this.u8.slice(ptr, ptr + len);
  }

  /** Result slot i of the last call, as an unsigned 64-bit value. */
  result(i: number): bigint { return this.results[i]!; }

  /** Number(result(i)) without making a bigint when the slot is below 2^32 (the decoders read
   *  many u32 fields per reply; a bigint is an allocation and a conversion each). Wasm memory is
   *  little-endian whatever the host. */
  resultNumber(i: number): number {
    const p = this.resultPtr + 8 * i, b = this.u8;
    if ((b[p + 4]! | b[p + 5]! | b[p + 6]! | b[p + 7]!) !== 0) return Number(this.results[i]!);
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  /** "NAME: meaning" of a status code ("" when unknown). */
  statusName(code: number): string { return this.text(this.exports.status_name(code)); }

  /** The error kind the core gives a status code ("not-found", "input"...; "" when unknown):
   *  src/core/status.ts turns it into a VfioError kind. */
  statusKind(code: number): string { return this.text(this.exports.status_kind(code)); }

  private text(n: number): string {
    const p = this.exports.text_ptr() >>> 0;
    return new TextDecoder().decode(this.u8.subarray(p, p + n));
  }

  private checkRange(offset: number, len: number): void {
    if (!(offset >= 0 && len >= 0 && offset <= this.scratchSize && len <= this.scratchSize - offset)) {
      throw new VfioError({ kind: 'bad-argument', message: `${len} bytes at scratch offset ${offset} do not fit the core's ${this.scratchSize}-byte scratch area`, hint: 'pass a smaller input' });
    }
  }
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr-4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  const u8 = new Uint8Array(memory.buffer);
  if (ptr < 4 || ptr > u8.length) return '?';
  const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0]! >>> 1;
  if (ptr + len * 2 > u8.length) return '?';
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, len));
}

/** A raw export of the core: numbers and bigints in, an i32 (a status or a value) out. */
export type CoreFn = (...a: (number | bigint)[]) => number;

const bindings = new WeakMap<Core, Map<string, object>>();
/** The exports prefix + name of one module, looked up once per core and kept: the one way src/
 *  binds to the core (bindExports(c, 'region_', ['add', 'get']).add is region_add). Throws core-bug when
 *  the build lacks one. */
export function bindExports<N extends string>(c: Core, prefix: string, names: readonly N[]): Readonly<Record<N, CoreFn>> {
  let byKey = bindings.get(c);
  if (!byKey) bindings.set(c, (byKey = new Map()));
  const key = `${prefix}:${names.join(',')}`;
  let b = byKey.get(key) as Record<N, CoreFn> | undefined;
  if (!b) {
    b = {} as Record<N, CoreFn>;
    for (const n of names) b[n] = c.fn<CoreFn>(prefix + n);
    byKey.set(key, b);
  }
  return b;
}

let shared: Core | undefined;
/** The process-wide core instance. */
export function core(): Core {
  shared ??= new Core();
  return shared;
}

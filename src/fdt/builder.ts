// FdtBuilder: the TypeScript face of the core's sequential FDT writer (assembly/fdt/writer.ts,
// whose header holds the state table). The output buffer lives in the persistent half of the core's
// scratch (core().alloc) and grows on demand: when the core answers NO_SPACE with the size it
// needs, the builder moves the writer to a larger buffer (fdt_sw_resize) and repeats the call.
// Lifetime: finish() returns the blob and frees the writer; close() frees it without a blob; both
// are harmless to repeat. After close, every other call is VfioError 'closed'; after finish,
// 'bad-state' (the tree is complete).
// Not responsible for: what the properties mean (src/core/dtnode.ts and the VMM decide that).

import { bindExports, core, type Core, type CoreFn } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { check } from './status.js';
import { checkBigInt, checkBigU64, checkBytes, checkInt, checkOptInt, checkOptObject, checkString, checkStrings } from '../../shim/args.js';

/** Options of {@link FdtBuilder}. */
export interface FdtBuilderOptions {
  /** First buffer size in bytes (default 16 KiB); it grows as needed. */
  initialSize?: number;
  /** First phandle allocPhandle() hands out (default 1). For a subtree to merge, use the base
   *  tree's maxPhandle + 1. */
  firstPhandle?: number;
}

const DEFAULT_SIZE = 16 << 10;
const enc = new TextEncoder();
const NO_SPACE = -3;
const NAMES = ['create', 'close', 'add_reserve', 'begin_node', 'end_node', 'prop', 'prop_u32', 'prop_u64', 'prop_cells', 'prop_cells64', 'prop_string', 'prop_strings', 'alloc_phandle', 'resize', 'finish', 'info'] as const;
/** Where a call's inputs go in the transient half: the name, then the value. */
const NAME_OFF = 0;
const DATA_OFF = 64 << 10;
/** Longest name or value accepted (the value area runs to the end of the transient half). */
const MAX_INPUT = (4 << 20) - DATA_OFF;

/**
 * Writes a device tree blob node by node, through the core's sequential writer (libfdt's fdt_sw
 * order): reservations, then the root (`beginNode('')`), each node's properties before its
 * children, `endNode()` for each node, then `finish()`. Calls chain. A call out of that order
 * throws VfioError 'bad-state'; a bad name or value 'bad-argument'. The writer's buffer lives in
 * the core and grows as needed; finish() returns the blob and frees it, close() frees it without
 * one (at most 16 writers are open at once: close the ones you drop, or use `using`).
 *
 * @example
 * ```ts
 * import { FdtBuilder, parseFdt } from 'vfiokit';
 *
 * using b = new FdtBuilder();
 * b.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2).propString('model', 'mini-vmm');
 * b.beginNode('memory@40000000').propString('device_type', 'memory').propU64('reg', 0x4000_0000n, 256n << 20n).endNode();
 * const gic = b.allocPhandle();
 * b.beginNode('intc@8000000').propStrings('compatible', ['arm,gic-v3']).propEmpty('interrupt-controller').propU32('phandle', gic).endNode();
 * b.endNode();
 * const dtb = b.finish();
 * console.log(parseFdt(dtb).node('/memory').reg());
 * ```
 */
export class FdtBuilder {
  private readonly c: Core;
  private readonly f: Readonly<Record<(typeof NAMES)[number], CoreFn>>;
  private handle = 0;
  private ptr = 0;
  private cap = 0;
  private state: 'open' | 'finished' | 'closed' = 'open';
  private blob?: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;

  /**
   * Opens a writer in the core.
   * @throws VfioError 'bad-argument' (firstPhandle outside 1..0xfffffffe), 'no-space' (16 writers
   *   are open already).
   */
  constructor(opts: FdtBuilderOptions = {}) {
    opts = checkOptObject('opts', opts); checkOptInt('opts.initialSize', opts.initialSize); checkOptInt('opts.firstPhandle', opts.firstPhandle, 1, 0xffff_fffe);
    this.c = core();
    this.u32 = new Uint32Array(this.c.u8.buffer);
    this.u64 = new BigUint64Array(this.c.u8.buffer);
    this.f = bindExports(this.c, 'fdt_sw_', NAMES);
    const size = Math.max(opts.initialSize ?? DEFAULT_SIZE, 64);
    const first = opts.firstPhandle ?? 1;
    if (!Number.isInteger(first) || first < 1 || first > 0xffff_fffe) throw new VfioError({ kind: 'bad-argument', message: `firstPhandle ${first} is not in 1..0xfffffffe` });
    this.ptr = this.c.alloc(size);
    this.cap = size;
    try {
      this.handle = check(this.c, this.f.create!(this.ptr, size, first), 'cannot open an FDT writer');
    } catch (e) {
      this.c.free(this.ptr);
      this.state = 'closed';
      throw e;
    }
  }

  /** True once close() has run (finish() alone leaves it false). */
  get closed(): boolean { return this.state === 'closed'; }

  /** A /memreserve/ entry; only before the root node.
   * @throws VfioError 'bad-state' (after beginNode('')), 'closed'.
   */
  addReserve(address: bigint, size: bigint): this {
    checkBigU64('address', address); checkBigU64('size', size);
    return this.call(this.f.add_reserve!, 'add_reserve', 'add a reservation', BigInt.asUintN(64, address), BigInt.asUintN(64, size));
  }
  /** Opens a node: the root first (name ""), then "name" or "name@unit".
   * @throws VfioError 'bad-argument' (a name with "/", empty, or 256 bytes or more; a node 64
   *   levels deep), 'bad-state' (a second root, after the root closed), 'closed'.
   */
  beginNode(name: string): this {
    checkString('name', name);
    const len = this.putText(name, NAME_OFF);
    return this.call(this.f.begin_node!, 'begin_node', name, this.c.transientPtr + NAME_OFF, len);
  }
  /** Closes the node opened last; closing the root completes the tree (then only finish()). Throws 'bad-state' with no node open, 'closed'. */
  endNode(): this { return this.call(this.f.end_node!, 'end_node', 'end node'); }

  /** u32 cells: one value is a single cell, several are an array of cells.
   * Throws 'bad-argument' for a value that is not an integer in 0..2^32-1, 'bad-state' outside a node's properties (after a child node), 'closed'.
   */
  propU32(name: string, ...values: number[]): this {
    checkString('name', name);
    values.forEach((v, i) => checkInt(`property ${name}: values[${i}]`, v, 0, 0xffff_ffff));
    const t = this.c.transientPtr, nl = this.putText(name, NAME_OFF);
    if (values.length === 1) return this.call(this.f.prop_u32!, 'prop_u32', name, t + NAME_OFF, nl, values[0]!);
    const w = (t + DATA_OFF) >>> 2;
    for (let i = 0; i < values.length; i++) this.u32[w + i] = values[i]!;
    return this.call(this.f.prop_cells!, 'prop_cells', name, t + NAME_OFF, nl, t + DATA_OFF, values.length);
  }
  /** u64 values, each as two cells (high first).
   * Values are taken modulo 2^64. Throws 'bad-state' outside a node's properties, 'closed'.
   */
  propU64(name: string, ...values: bigint[]): this {
    checkString('name', name); values.forEach((v, i) => checkBigInt(`values[${i}]`, v));
    const t = this.c.transientPtr, nl = this.putText(name, NAME_OFF);
    if (values.length === 1) return this.call(this.f.prop_u64!, 'prop_u64', name, t + NAME_OFF, nl, BigInt.asUintN(64, values[0]!));
    const w = (t + DATA_OFF) >>> 3;
    for (let i = 0; i < values.length; i++) this.u64[w + i] = BigInt.asUintN(64, values[i]!);
    return this.call(this.f.prop_cells64!, 'prop_cells64', name, t + NAME_OFF, nl, t + DATA_OFF, values.length);
  }
  /** One NUL-terminated UTF-8 string. Throws 'bad-argument' (a value holding NUL), 'bad-state' outside a node's properties, 'closed'. */
  propString(name: string, value: string): this {
    checkString('name', name); checkString('value', value);
    const t = this.c.transientPtr, nl = this.putText(name, NAME_OFF), dl = this.putText(value, DATA_OFF);
    return this.call(this.f.prop_string!, 'prop_string', name, t + NAME_OFF, nl, t + DATA_OFF, dl);
  }
  /** A string list (each NUL-terminated), e.g. compatible. Throws 'bad-argument' (too long), 'bad-state' outside a node's properties, 'closed'. */
  propStrings(name: string, values: string[]): this {
    checkString('name', name); checkStrings('values', values);
    const t = this.c.transientPtr, nl = this.putText(name, NAME_OFF), dl = this.putText(values.map((s) => s + '\0').join(''), DATA_OFF);
    return this.call(this.f.prop_strings!, 'prop_strings', name, t + NAME_OFF, nl, t + DATA_OFF, dl);
  }
  /** A raw value, copied as is. Throws 'bad-argument' (too long), 'bad-state' outside a node's properties, 'closed'. */
  propBytes(name: string, value: Uint8Array): this {
    checkString('name', name); checkBytes('value', value);
    const t = this.c.transientPtr, nl = this.putText(name, NAME_OFF);
    this.c.put(value, DATA_OFF);
    return this.call(this.f.prop!, 'prop', name, t + NAME_OFF, nl, t + DATA_OFF, value.length);
  }
  /** A property without a value (e.g. "ranges;", "dma-coherent;"). */
  propEmpty(name: string): this { return this.propBytes(name, new Uint8Array(0)); }

  /** The next free phandle (a "phandle" property written with a higher value moves it past that).
   * Throws 'no-space' when phandles run out (0xfffffffe), 'bad-state' after finish(), 'closed'.
   */
  allocPhandle(): number {
    this.call(this.f.alloc_phandle!, 'alloc_phandle', 'phandle');
    return Number(this.c.result(0));
  }

  /** Completes the tree (the root must be closed) and returns the blob; frees the writer. A second
   *  call returns the same blob.
   * @throws VfioError 'bad-state' (a node is still open), 'closed'.
   */
  finish(): Uint8Array {
    if (this.state === 'finished') return this.blob!;
    this.live();
    const total = check(this.c, this.f.finish!(this.handle), 'cannot finish the device tree');
    this.blob = this.c.take(this.ptr, total);
    this.release();
    this.state = 'finished';
    return this.blob;
  }

  /** Frees the writer and its buffer; harmless to repeat, and after finish. */
  close(): void {
    if (this.state === 'open') this.release();
    this.state = 'closed';
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  private release(): void {
    this.f.close!(this.handle);
    this.c.free(this.ptr);
    this.handle = 0;
  }

  private live(): void {
    if (this.state === 'closed') throw new VfioError({ kind: 'closed', message: 'the FdtBuilder was closed', hint: 'create a new FdtBuilder' });
    if (this.state === 'finished') throw new VfioError({ kind: 'bad-state', message: 'the FdtBuilder has finished its tree', hint: 'create a new FdtBuilder for another tree' });
  }

  /** Calls fdt_sw_<fn>(handle, ...args); on NO_SPACE grows the buffer to at least the size the
   *  core asked for and repeats once. The inputs stay where they are: growing moves only the
   *  writer's buffer, in the persistent half. `what` names the node or property for errors. */
  // Fixed arity rather than a rest parameter (a Wasm export ignores extra arguments).
  private call(f: CoreFn, fn: string, what: string, a?: number | bigint, b?: number | bigint, c?: number | bigint, d?: number | bigint, e?: number | bigint): this {
    if (this.state !== 'open') this.live();
    let st = f(this.handle, a!, b!, c!, d!, e!);
    if (st === NO_SPACE) {
      this.grow(Number(this.c.result(0)));
      st = f(this.handle, a!, b!, c!, d!, e!);
    }
    if (st < 0) check(this.c, st, `FdtBuilder: cannot ${fn.replace('_', ' ')} ${JSON.stringify(what)}`);
    return this;
  }

  private grow(need: number): void {
    const cap = Math.max(need, this.cap * 2);
    const ptr = this.c.alloc(cap);
    const st = this.f.resize!(this.handle, ptr, cap);
    if (st < 0) { this.c.free(ptr); check(this.c, st, 'FdtBuilder: cannot grow its buffer'); }
    this.c.free(this.ptr);
    this.ptr = ptr; this.cap = cap;
  }

  /** Writes a string's UTF-8 bytes at a transient offset (ASCII directly, the rest encoded). */
  private putText(s: string, off: number): number {
    const u8 = this.c.u8, at = this.c.transientPtr + off;
    const max = off === NAME_OFF ? DATA_OFF : MAX_INPUT;
    if (s.length * 3 > max) throw new VfioError({ kind: 'bad-argument', message: `a ${s.length}-character string is longer than the builder accepts here (${Math.floor(max / 3)})` });
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch > 0x7f) { const b = enc.encode(s); this.c.put(b, off); return b.length; }
      u8[at + i] = ch;
    }
    return s.length;
  }
}

// FdtBuilder: the TypeScript face of the core's sequential FDT writer (assembly/fdt/writer.ts,
// whose header holds the state table). The output buffer lives in the persistent half of the core's
// scratch (core().alloc) and grows on demand: when the core answers NO_SPACE with the size it
// needs, the builder moves the writer to a larger buffer (fdt_sw_resize) and repeats the call.
// Lifetime: finish() returns the blob and frees the writer; close() frees it without a blob; both
// are harmless to repeat. After close, every other call is VfioError 'closed'; after finish,
// 'bad-state' (the tree is complete).
// Not responsible for: what the properties mean (src/dtnode.ts and the VMM decide that).

import { core, type Core } from '../core/loader';
import { VfioError } from '../errors';
import { check } from './status';

export interface FdtBuilderOptions {
  /** First buffer size in bytes (default 16 KiB); it grows as needed. */
  initialSize?: number;
  /** First phandle allocPhandle() hands out (default 1). For a subtree to merge, use the base
   *  tree's maxPhandle + 1. */
  firstPhandle?: number;
}

type F = (...a: (number | bigint)[]) => number;
const DEFAULT_SIZE = 16 << 10;
const enc = new TextEncoder();
const ALIGN = 8;

export class FdtBuilder {
  private readonly c: Core;
  private readonly f: Record<string, F>;
  private handle = 0;
  private ptr = 0;
  private cap = 0;
  private state: 'open' | 'finished' | 'closed' = 'open';
  private blob?: Uint8Array;

  constructor(opts: FdtBuilderOptions = {}) {
    this.c = core();
    const names = ['create', 'close', 'add_reserve', 'begin_node', 'end_node', 'prop', 'prop_u32', 'prop_u64', 'prop_cells', 'prop_cells64', 'prop_string', 'prop_strings', 'alloc_phandle', 'resize', 'finish', 'info'];
    this.f = Object.fromEntries(names.map((n) => [n, this.c.fn<F>(`fdt_sw_${n}`)]));
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

  get closed(): boolean { return this.state === 'closed'; }

  /** A /memreserve/ entry; only before the root node. */
  addReserve(address: bigint, size: bigint): this {
    return this.call('add_reserve', `add reservation ${address}+${size}`, () => [BigInt.asUintN(64, address), BigInt.asUintN(64, size)]);
  }
  /** Opens a node: the root first (name ""), then "name" or "name@unit". */
  beginNode(name: string): this {
    return this.call('begin_node', `begin node ${JSON.stringify(name)}`, () => { const n = this.putName(name); return [n.ptr, n.len]; });
  }
  endNode(): this { return this.call('end_node', 'end node', () => []); }

  /** u32 cells: one value is a single cell, several are an array of cells. */
  propU32(name: string, ...values: number[]): this {
    for (const v of values) if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new VfioError({ kind: 'bad-argument', message: `property ${name}: ${v} is not a u32` });
    if (values.length === 1) return this.call('prop_u32', `property ${name}`, () => { const n = this.putName(name); return [n.ptr, n.len, values[0]!]; });
    return this.call('prop_cells', `property ${name}`, () => {
      const n = this.putName(name);
      const b = new Uint8Array(values.length * 4);
      const v = new DataView(b.buffer);
      values.forEach((x, i) => v.setUint32(i * 4, x, true));
      return [n.ptr, n.len, this.putData(b, n.end), values.length];
    });
  }
  /** u64 values, each as two cells (high first). */
  propU64(name: string, ...values: bigint[]): this {
    if (values.length === 1) return this.call('prop_u64', `property ${name}`, () => { const n = this.putName(name); return [n.ptr, n.len, BigInt.asUintN(64, values[0]!)]; });
    return this.call('prop_cells64', `property ${name}`, () => {
      const n = this.putName(name);
      const b = new Uint8Array(values.length * 8);
      const v = new DataView(b.buffer);
      values.forEach((x, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, x), true));
      return [n.ptr, n.len, this.putData(b, n.end), values.length];
    });
  }
  propString(name: string, value: string): this {
    return this.call('prop_string', `property ${name}`, () => { const n = this.putName(name); const b = enc.encode(value); return [n.ptr, n.len, this.putData(b, n.end), b.length]; });
  }
  propStrings(name: string, values: string[]): this {
    return this.call('prop_strings', `property ${name}`, () => {
      const n = this.putName(name);
      const b = enc.encode(values.map((s) => s + '\0').join(''));
      return [n.ptr, n.len, this.putData(b, n.end), b.length];
    });
  }
  propBytes(name: string, value: Uint8Array): this {
    return this.call('prop', `property ${name}`, () => { const n = this.putName(name); return [n.ptr, n.len, this.putData(value, n.end), value.length]; });
  }
  /** A property without a value (e.g. "ranges;", "dma-coherent;"). */
  propEmpty(name: string): this { return this.propBytes(name, new Uint8Array(0)); }

  /** The next free phandle (a "phandle" property written with a higher value moves it past that). */
  allocPhandle(): number {
    this.call('alloc_phandle', 'allocate a phandle', () => []);
    return Number(this.c.result(0));
  }

  /** Completes the tree (the root must be closed) and returns the blob; frees the writer. A second
   *  call returns the same blob. */
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

  /** Calls fdt_sw_<fn>(handle, ...args()); on NO_SPACE grows the buffer to at least the size the
   *  core asked for and repeats once (args() re-puts the inputs: the transient area is shared). */
  private call(fn: string, what: string, args: () => (number | bigint)[]): this {
    this.live();
    let st = this.f[fn]!(this.handle, ...args());
    if (st === -3 /* NO_SPACE */) {
      this.grow(Number(this.c.result(0)));
      st = this.f[fn]!(this.handle, ...args());
    }
    check(this.c, st, `FdtBuilder: cannot ${what}`);
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

  private putName(name: string): { ptr: number; len: number; end: number } {
    const b = enc.encode(name);
    const ptr = this.c.put(b, 0);
    return { ptr, len: b.length, end: b.length };
  }
  private putData(b: Uint8Array, after: number): number {
    return this.c.put(b, Math.ceil(after / ALIGN) * ALIGN);
  }
}

// parseFdt: reads a flattened device tree through the core's validator (assembly/fdt/reader.ts).
// One core call (fdt_index) validates the whole blob and returns a table of every node and
// property (offsets into the blob); everything after that is a lookup in that table and in the
// Fdt's own copy of the blob, so queries cost no further core calls and no copies into scratch.
// The rules the table follows (libfdt's path matching, reg cells from the parent, defaults 2/1)
// are the core's; docs/fdt.md describes them.
// Not responsible for: writing (builder.ts), merging (merge.ts), interpreting bindings.

import { bindExports, core, TRANSIENT_BYTES } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { check } from './status.js';
import { u32be, u64be } from '../../shim/bytes.js';
import { badArgument, checkBytes, checkInt, checkString } from '../../shim/args.js';

/** One entry of a node's `reg`, decoded with the parent's #address-cells and #size-cells ({@link FdtNode.reg}). */
export interface FdtRegEntry {
  /** The address, in the parent's address space (not translated through `ranges`). */
  address: bigint;
  /** The length in bytes (0 when the parent's #size-cells is 0). */
  size: bigint;
}
/** One /memreserve/ entry of the blob's memory reservation block ({@link Fdt.reservations}). */
export interface FdtReservation {
  /** First physical address reserved. */
  address: bigint;
  /** Bytes reserved. */
  size: bigint;
}

// Index record layout (docs/fdt.md, fdt_index): node records of 9 words, property records of 4.
const N_OFF = 0, N_PARENT = 1, N_DEPTH = 2, N_NAME = 3, N_NAMELEN = 4, N_FIRSTPROP = 5, N_NPROPS = 6, N_CELLS = 7, N_PHANDLE = 8;
const P_NAME = 0, P_NAMELEN = 1, P_DATA = 2, P_DATALEN = 3;
const NO_PARENT = 0xffff_ffff;
/** Widest reg field: the core decodes address and size into u64 (two cells). */
const MAX_REG_CELLS = 2;
const utf8 = new TextDecoder();

/**
 * One property of a parsed tree: its name, its raw value (a view into the {@link Fdt}'s copy of
 * the blob) and typed readers. A reader that does not fit the value's shape throws VfioError
 * 'bad-fdt' with the property's offset. Made by {@link FdtNode}; not meant to be constructed.
 */
export class FdtProperty {
  /**
   * Made by {@link FdtNode}'s lookups; not for callers.
   * @param name - The property's name.
   * @param bytes - Its raw value: a view into the Fdt's copy of the blob (don't write to it).
   * @param offset - Byte offset of the property's FDT_PROP token in the blob (for error reports).
   */
  constructor(readonly name: string, readonly bytes: Uint8Array, readonly offset: number) {}
  /** The value's length in bytes. */
  get length(): number { return this.bytes.length; }
  /** The value as one u32 cell; 'bad-fdt' unless exactly 4 bytes. */
  u32(): number { this.need(this.bytes.length === 4, 'one u32 cell'); return u32be(this.bytes, 0); }
  /** The value as u32 cells; 'bad-fdt' unless a multiple of 4 bytes. */
  u32s(): number[] {
    this.need(this.bytes.length % 4 === 0, 'u32 cells');
    return Array.from({ length: this.bytes.length / 4 }, (_, i) => u32be(this.bytes, i * 4));
  }
  /** The value as one u64 (two cells); 'bad-fdt' unless exactly 8 bytes. */
  u64(): bigint { this.need(this.bytes.length === 8, 'one u64'); return u64be(this.bytes, 0); }
  /** The value as u64 values (two cells each, high first); 'bad-fdt' unless a multiple of 8 bytes. */
  u64s(): bigint[] {
    this.need(this.bytes.length % 8 === 0, 'u64 values');
    return Array.from({ length: this.bytes.length / 8 }, (_, i) => u64be(this.bytes, i * 8));
  }
  /** The value as one NUL-terminated string.
   * 'bad-fdt' unless the value is exactly one NUL-terminated string.
   */
  string(): string {
    const b = this.bytes;
    this.need(b.length > 0 && b[b.length - 1] === 0 && b.indexOf(0) === b.length - 1, 'one NUL-terminated string');
    return utf8.decode(b.subarray(0, b.length - 1));
  }
  /** The value as a list of NUL-terminated strings (empty value: empty list).
   * 'bad-fdt' unless the value ends with a NUL.
   */
  strings(): string[] {
    const b = this.bytes;
    if (b.length === 0) return [];
    this.need(b[b.length - 1] === 0, 'NUL-terminated strings');
    return utf8.decode(b.subarray(0, b.length - 1)).split('\0');
  }
  private need(ok: boolean, shape: string): void {
    if (!ok) throw new VfioError({ kind: 'bad-fdt', message: `property ${this.name} (${this.bytes.length} bytes) is not ${shape}`, offset: this.offset, hint: 'read it with bytes or another accessor' });
  }
}

/**
 * One node of a parsed tree ({@link Fdt}): its name, place in the tree, properties and decoded
 * `reg`. Lookups read the Fdt's index; nothing is copied. Made by the Fdt; not meant to be
 * constructed.
 */
export class FdtNode {
  private kids?: FdtNode[];
  /**
   * Made by the {@link Fdt}; not for callers.
   * @param index - The node's position in structure order (0: the root); {@link Fdt.nodes} has it there.
   */
  constructor(private readonly fdt: Fdt, readonly index: number) {}
  /** Byte offset of the node's BEGIN_NODE token in the blob (as the core's fdt_* exports use). */
  get offset(): number { return this.fdt.word(this.index, N_OFF); }
  /** Name with unit address ("uart@9000000"); "" for the root. */
  get name(): string { return this.fdt.text(this.fdt.word(this.index, N_NAME), this.fdt.word(this.index, N_NAMELEN)); }
  /** Depth in the tree: 0 for the root. */
  get depth(): number { return this.fdt.word(this.index, N_DEPTH); }
  /** The parent node; undefined for the root. */
  get parent(): FdtNode | undefined {
    const p = this.fdt.word(this.index, N_PARENT);
    return p === NO_PARENT ? undefined : this.fdt.nodeAt(p);
  }
  /** The absolute path ("/" for the root, "/soc/uart@1000"). */
  get path(): string {
    const parts: string[] = [];
    for (let n: FdtNode | undefined = this; n?.parent; n = n.parent) parts.unshift(n.name);
    return '/' + parts.join('/');
  }
  /** phandle or linux,phandle (one cell), or undefined. */
  get phandle(): number | undefined { const v = this.fdt.word(this.index, N_PHANDLE); return v === 0 ? undefined : v; }
  /** The direct children, in structure order. */
  children(): FdtNode[] { return (this.kids ??= this.fdt.childrenOf(this.index)); }
  /** A direct child by name, with libfdt's rule: "name" also matches "name@unit" (the first). */
  child(name: string): FdtNode | undefined {
    checkString('name', name);
    const hasAt = name.includes('@');
    return this.children().find((c) => { const n = c.name; return n === name || (!hasAt && n.startsWith(name) && n[name.length] === '@'); });
  }
  /** Every property of the node, in structure order. */
  properties(): FdtProperty[] {
    const first = this.fdt.word(this.index, N_FIRSTPROP), n = this.fdt.word(this.index, N_NPROPS);
    return Array.from({ length: n }, (_, i) => this.fdt.propAt(first + i));
  }
  /** The property called `name`, or undefined. */
  findProp(name: string): FdtProperty | undefined {
    checkString('name', name);
    const first = this.fdt.word(this.index, N_FIRSTPROP), n = this.fdt.word(this.index, N_NPROPS);
    for (let i = 0; i < n; i++) if (this.fdt.propName(first + i) === name) return this.fdt.propAt(first + i);
    return undefined;
  }
  /** The property, or VfioError 'not-found'. */
  prop(name: string): FdtProperty {
    const p = this.findProp(name);
    if (!p) throw new VfioError({ kind: 'not-found', message: `node ${this.path} has no property ${name}` });
    return p;
  }
  /** Whether the node has a property called `name`. */
  has(name: string): boolean { return this.findProp(name) !== undefined; }
  /** Compatible strings ([] without the property). */
  compatible(): string[] { return this.findProp('compatible')?.strings() ?? []; }
  /** reg decoded with the parent's #address-cells/#size-cells (defaults 2/1; the root uses the
   *  defaults); [] without reg. 'bad-fdt' (FDT_BAD_CELLS, FDT_BAD_REG) as the core's fdt_reg. */
  reg(): FdtRegEntry[] {
    const p = this.findProp('reg');
    if (!p) return [];
    const cells = this.fdt.word(this.index, N_CELLS);
    const ac = cells & 0xff, sc = (cells >>> 8) & 0xff;
    if (ac > MAX_REG_CELLS || sc > MAX_REG_CELLS || (ac + sc === 0 && p.length !== 0)) {
      throw new VfioError({ kind: 'bad-fdt', statusName: 'FDT_BAD_CELLS', status: -112, offset: p.offset, message: `${this.path}: the parent's #address-cells/#size-cells (${ac}/${sc}) are not 0..2 single cells` });
    }
    const entry = (ac + sc) * 4;
    if (entry === 0) return [];
    if (p.length % entry !== 0) {
      throw new VfioError({ kind: 'bad-fdt', statusName: 'FDT_BAD_REG', status: -113, offset: p.offset, message: `${this.path}: reg is ${p.length} bytes, not a multiple of ${entry}` });
    }
    const field = (at: number, n: number) => { let x = 0n; for (let k = 0; k < n; k++) x = (x << 32n) | BigInt(u32be(p.bytes, at + k * 4)); return x; };
    const out: FdtRegEntry[] = [];
    for (let at = 0; at < p.length; at += entry) out.push({ address: field(at, ac), size: field(at + ac * 4, sc) });
    return out;
  }
}

/**
 * A parsed, validated device tree ({@link parseFdt}): a copy of the blob and an index of every
 * node and property, so that queries cost no further core call. Immutable; holds no core memory
 * (nothing to close).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseFdt } from 'vfiokit';
 *
 * const fdt = parseFdt(readFileSync('/sys/firmware/fdt'));
 * const uart = fdt.findCompatible('arm,pl011');
 * if (uart) console.log(uart.path, uart.reg(), uart.prop('interrupts').u32s());
 * console.log(fdt.node('/chosen').findProp('bootargs')?.string());
 * ```
 */
export class Fdt {
  /** The blob (a copy of totalsize bytes of the input). */
  readonly bytes: Uint8Array;
  /** The blob's format version (16 or 17). */
  readonly version: number;
  /** The header's boot_cpuid_phys. */
  readonly bootCpuid: number;
  /** Largest phandle in the tree (0: none); a subtree to merge allocates above it. */
  readonly maxPhandle: number;
  /** How many nodes the tree has (the root included). */
  readonly nodeCount: number;
  /** The memory reservation block's entries, in order. */
  readonly reservations: FdtReservation[];
  private readonly ix: Uint32Array;
  private readonly propBase: number;
  private readonly cache: (FdtNode | undefined)[];
  private kidsOf?: number[][];

  /** @internal use parseFdt. */
  static of(bytes: Uint8Array, ix: Uint32Array, nodes: number, f: { version: number; bootCpuid: number; maxPhandle: number; rsvOffset: number; rsvCount: number }): Fdt { return new Fdt(bytes, ix, nodes, f); }
  private constructor(bytes: Uint8Array, ix: Uint32Array, nodes: number, f: { version: number; bootCpuid: number; maxPhandle: number; rsvOffset: number; rsvCount: number }) {
    this.bytes = bytes; this.ix = ix; this.nodeCount = nodes; this.propBase = nodes * 9;
    this.version = f.version; this.bootCpuid = f.bootCpuid; this.maxPhandle = f.maxPhandle;
    this.cache = new Array(nodes);
    this.reservations = Array.from({ length: f.rsvCount }, (_, i) => ({ address: u64be(bytes, f.rsvOffset + i * 16), size: u64be(bytes, f.rsvOffset + i * 16 + 8) }));
  }

  /** The root node (path "/"). */
  get root(): FdtNode { return this.nodeAt(0); }
  /** Every node in structure order (the root first). */
  nodes(): FdtNode[] { return Array.from({ length: this.nodeCount }, (_, i) => this.nodeAt(i)); }

  /** Node at an absolute path, or undefined ("/", "/soc/uart@1000", "/soc/uart" for the first uart@*).
   * Throws VfioError 'bad-argument' for a path that does not start with "/".
   */
  findNode(path: string): FdtNode | undefined {
    checkString('path', path);
    if (!path.startsWith('/')) throw new VfioError({ kind: 'bad-argument', message: `device-tree path ${JSON.stringify(path)} does not start with "/"` });
    let n: FdtNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      n = n.child(part);
      if (!n) return undefined;
    }
    return n;
  }
  /** Node at an absolute path, or VfioError 'not-found'. */
  node(path: string): FdtNode {
    const n = this.findNode(path);
    if (!n) throw new VfioError({ kind: 'not-found', message: `no device-tree node at ${path}` });
    return n;
  }
  /** The node whose phandle (or linux,phandle) is `phandle`, or undefined (also for 0). */
  nodeByPhandle(phandle: number): FdtNode | undefined {
    checkInt('phandle', phandle, 0, 0xffff_ffff);
    for (let i = 0; i < this.nodeCount; i++) if (this.word(i, N_PHANDLE) === phandle && phandle !== 0) return this.nodeAt(i);
    return undefined;
  }
  /** The first node after `after` (from the root when omitted), in structure order, whose
   *  compatible list holds `compat`. */
  findCompatible(compat: string, after?: FdtNode): FdtNode | undefined {
    checkString('compat', compat);
    if (after !== undefined && !(after instanceof FdtNode)) badArgument('after', after, 'an FdtNode');
    for (let i = after ? after.index + 1 : 0; i < this.nodeCount; i++) {
      const n = this.nodeAt(i);
      if (n.compatible().includes(compat)) return n;
    }
    return undefined;
  }
  /** Every node whose compatible list holds `compat`. */
  allCompatible(compat: string): FdtNode[] { checkString('compat', compat); return this.nodes().filter((n) => n.compatible().includes(compat)); }

  /** @internal */ word(node: number, w: number): number { return this.ix[node * 9 + w]!; }
  /** @internal */ nodeAt(i: number): FdtNode { return (this.cache[i] ??= new FdtNode(this, i)); }
  /** @internal */ text(off: number, len: number): string { return utf8.decode(this.bytes.subarray(off, off + len)); }
  /** @internal */ propName(p: number): string { const b = this.propBase + p * 4; return this.text(this.ix[b + P_NAME]!, this.ix[b + P_NAMELEN]!); }
  /** @internal */ propAt(p: number): FdtProperty {
    const b = this.propBase + p * 4;
    const d = this.ix[b + P_DATA]!, n = this.ix[b + P_DATALEN]!;
    return new FdtProperty(this.propName(p), this.bytes.subarray(d, d + n), d - 12);
  }
  /** @internal */ childrenOf(i: number): FdtNode[] {
    if (!this.kidsOf) {
      this.kidsOf = Array.from({ length: this.nodeCount }, () => []);
      for (let k = 1; k < this.nodeCount; k++) this.kidsOf[this.word(k, N_PARENT)]!.push(k);
    }
    return this.kidsOf[i]!.map((k) => this.nodeAt(k));
  }
}

const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Validates a DTB (version >= 16; padded blobs such as QEMU's 1 MiB dumpdtb are fine) and
 *  returns its tree. VfioError 'bad-fdt' (status, statusName, offset of the first fault) when it
 *  is malformed; 'bad-argument' when it does not fit the core's transient scratch (4 MiB with
 *  its index).
 * The whole blob is checked once by the Wasm core (header, structure, strings, nesting, names):
 * a hostile blob cannot make the reader go out of bounds. Pure: no syscall. The input is copied;
 * the caller may reuse it.
 * @throws VfioError 'bad-fdt', 'bad-argument' (as above).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseFdt } from 'vfiokit';
 *
 * const fdt = parseFdt(readFileSync('/sys/firmware/fdt'));
 * for (const n of fdt.allCompatible('arm,primecell')) console.log(n.path, n.compatible());
 * ```
 */
export function parseFdt(bytes: Uint8Array): Fdt {
  checkBytes('bytes', bytes);
  const c = core();
  const outOff = align(bytes.length);
  if (outOff >= TRANSIENT_BYTES) throw new VfioError({ kind: 'bad-argument', message: `a ${bytes.length}-byte blob does not fit the core's ${TRANSIENT_BYTES}-byte transient scratch` });
  const ptr = c.put(bytes, 0);
  const out = c.transientPtr + outOff;
  const st = bindExports(c, 'fdt_', ['index']).index(ptr, bytes.length, out, TRANSIENT_BYTES - outOff);
  check(c, st, 'cannot read the device tree');
  const need = Number(c.result(0));
  const ix = new Uint32Array(c.u8.buffer.slice(out, out + need));
  const total = Number(c.result(9));
  const blob = bytes.slice(0, total);
  return Fdt.of(blob, ix, st, {
    maxPhandle: Number(c.result(5)), version: Number(c.result(6)), rsvCount: Number(c.result(7)),
    bootCpuid: Number(c.result(8)), rsvOffset: u32be(blob, 16),
  });
}

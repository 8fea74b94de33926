// mergeFdt: grafts a subtree (a complete small DTB, e.g. from FdtBuilder, whose root's children are
// the nodes to add) under a node of a base DTB, through the core's fdt_merge (assembly/fdt/merge.ts
// holds the rules). Returns a new blob; the inputs are not changed.
// Not responsible for: phandle allocation (build the subtree with firstPhandle above
// fdtMaxPhandle(base)) or references between the trees.

import { bindExports, core, TRANSIENT_BYTES } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { check } from './status.js';
import { checkBytes, checkString } from '../../shim/args.js';

const FDT_MERGE_EXPORTS = ['merge', 'max_phandle'] as const;
const align = (n: number) => Math.ceil(n / 16) * 16;

/** The merged blob. VfioError 'bad-fdt' (a malformed input; `offset` is in the input named in the
 *  message), 'not-found' (no node at parentPath), 'bad-argument' (FDT_NAME_CLASH: the parent already
 *  has a child of that name; FDT_PHANDLE_CLASH: a subtree phandle is used in the base; a path not
 *  starting with "/"), 'no-space' (inputs and output exceed the core's 4 MiB transient scratch).
 * @param base - The tree to graft into (e.g. the VMM's board tree).
 * @param subtree - A complete DTB whose root's children are the nodes to add (from
 *   {@link guestNodeFor} or an {@link FdtBuilder}); its root's properties are not copied.
 * @param parentPath - Where to add them in `base` ("/" for the root).
 *
 * @example
 * ```ts
 * import { FdtBuilder, fdtMaxPhandle, mergeFdt } from 'vfiokit';
 *
 * declare const board: Uint8Array; // the VMM's tree
 * using b = new FdtBuilder({ firstPhandle: fdtMaxPhandle(board) + 1 });
 * b.beginNode('').beginNode('fw-cfg@9020000').propStrings('compatible', ['qemu,fw-cfg-mmio'])
 *   .propU64('reg', 0x902_0000n, 0x18n).endNode().endNode();
 * const merged = mergeFdt(board, b.finish(), '/');
 * ```
 */
export function mergeFdt(base: Uint8Array, subtree: Uint8Array, parentPath: string): Uint8Array {
  checkBytes('base', base); checkBytes('subtree', subtree); checkString('parentPath', parentPath);
  const c = core();
  const path = new TextEncoder().encode(parentPath);
  const subOff = align(base.length), pathOff = align(subOff + subtree.length), outOff = align(pathOff + path.length);
  if (outOff >= TRANSIENT_BYTES) throw new VfioError({ kind: 'no-space', message: `a ${base.length}-byte base and a ${subtree.length}-byte subtree do not fit the core's ${TRANSIENT_BYTES}-byte transient scratch` });
  const bp = c.put(base, 0), sp = c.put(subtree, subOff), pp = c.put(path, pathOff);
  const out = c.transientPtr + outOff;
  const st = bindExports(c, 'fdt_', FDT_MERGE_EXPORTS).merge(bp, base.length, sp, subtree.length, pp, path.length, out, TRANSIENT_BYTES - outOff);
  if (st <= -100 && st > -150) check(c, st, `cannot merge: the ${c.result(1) === 1n ? 'subtree' : 'base'} blob is malformed`);
  check(c, st, `cannot merge the subtree under ${parentPath}`);
  return c.take(out, st);
}

/** Largest phandle of a DTB (0 when it has none); VfioError 'bad-fdt' when it is malformed.
 * Build a subtree to merge with `firstPhandle` above it. Also 'bad-argument' for a blob over 4 MiB.
 */
export function fdtMaxPhandle(blob: Uint8Array): number {
  checkBytes('blob', blob);
  const c = core();
  if (blob.length > TRANSIENT_BYTES) throw new VfioError({ kind: 'bad-argument', message: `a ${blob.length}-byte blob does not fit the core's transient scratch` });
  const st = bindExports(c, 'fdt_', FDT_MERGE_EXPORTS).max_phandle(c.put(blob, 0), blob.length);
  check(c, st, 'cannot read the device tree');
  return Number(c.result(0));
}

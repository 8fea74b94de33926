// Fuzz targets: the FDT reader and merge.
// fuzz_fdt: input = 1 byte of query parameters, then the blob. The blob is validated; whether or
//   not it passes, every query export is called on it (a host may query bytes that changed since
//   validation: each access must still stay inside the input). A valid blob is walked whole:
//   every node's name, parent, properties, a lookup by name, reg entries, phandles, compatible.
// fuzz_fdt_merge: input = u16 split point, 1 byte parent choice, then base | subtree. When merge
//   succeeds, its output must itself be a valid blob (fdt_check), with room to spare never needed.
// Invariants: nothing traps or returns INTERNAL; a successful merge's output validates.
import { begin, u8, u16, violated, restPtr, restLen } from "./input";
import {
  fdt_check, fdt_max_phandle, fdt_rsv_entry, fdt_path_offset, fdt_node_by_phandle, fdt_node_by_compatible,
  fdt_first_subnode, fdt_next_subnode, fdt_parent, fdt_node_name, fdt_first_prop, fdt_next_prop, fdt_get_prop, fdt_reg,
} from "../fdt/read-exports";
import { fdt_merge } from "../fdt/write-exports";
import { scratchBase, SCRATCH_SIZE, st8 } from "../mem";
import { ERR_INTERNAL } from "../status";

/** Nodes and properties a walk visits at most (a fuzz input is small; this bounds a bad walk). */
const WALK_LIMIT: i32 = 4096;
/** ASCII strings the queries use live in the upper half of scratch, away from the input. */
const STR_OFF: usize = SCRATCH_SIZE / 2;
const OUT_OFF: usize = STR_OFF + 4096;
const OUT_CAP: usize = 1 << 20;

/** Writes an ASCII string at `off` in the upper scratch half; returns its pointer. */
function ascii(off: usize, s: string): usize {
  const p = scratchBase() + STR_OFF + off;
  for (let i = 0; i < s.length; i++) st8(p + <usize>i, s.charCodeAt(i));
  return p;
}

function ok(st: i32): void { if (st == ERR_INTERNAL) violated(); }

function queries(p: usize, n: usize, node: i32, param: u32): void {
  ok(fdt_node_name(p, n, node));
  ok(fdt_parent(p, n, node));
  const name = ascii(0, "reg");
  ok(fdt_get_prop(p, n, node, name, 3));
  for (let i = 0; i < 4; i++) ok(fdt_reg(p, n, node, i));
  let prop = fdt_first_prop(p, n, node);
  for (let k = 0; prop >= 0 && k < WALK_LIMIT; k++) prop = fdt_next_prop(p, n, prop);
  ok(prop);
  ok(fdt_node_by_phandle(p, n, param));
}

export function fuzz_fdt(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const param = u8();
  const p = restPtr(), n = restLen();
  const valid = fdt_check(p, n) >= 0;
  ok(fdt_max_phandle(p, n));
  ok(fdt_rsv_entry(p, n, <i32>(param & 3)));
  const root = fdt_path_offset(p, n, ascii(16, "/"), 1);
  ok(root);
  ok(fdt_path_offset(p, n, ascii(32, "/platform-bus@c000000/x"), 23));
  ok(fdt_node_by_compatible(p, n, -1, ascii(64, "arm,pl031"), 9));
  if (!valid) {
    // Unvalidated bytes: queries at arbitrary offsets must refuse, never read outside.
    queries(p, n, <i32>(param * 4), param);
    queries(p, n, 40, param);
    return 0;
  }
  if (root < 0) violated(); // a valid blob has a root
  // Walk the whole tree depth-first without recursion: first child, else next sibling of the
  // nearest ancestor that has one.
  let node = root;
  for (let k = 0; k < WALK_LIMIT && node >= 0; k++) {
    queries(p, n, node, param);
    let next = fdt_first_subnode(p, n, node);
    let up = node;
    while (next < 0 && up >= 0 && up != root) {
      next = fdt_next_subnode(p, n, up);
      if (next < 0) up = fdt_parent(p, n, up);
    }
    ok(next);
    node = next;
  }
  return 0;
}

export function fuzz_fdt_merge(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const split = <usize>u16();
  const which = u8() & 1;
  const p = restPtr(), n = restLen();
  if (split > n) return 0;
  const parent = which != 0 ? ascii(128, "/platform-bus@c000000") : ascii(128, "/");
  const plen: usize = which != 0 ? 21 : 1;
  const out = scratchBase() + OUT_OFF;
  const st = fdt_merge(p, split, p + split, n - split, parent, plen, out, OUT_CAP);
  ok(st);
  if (st >= 0 && fdt_check(out, <usize>st) < 0) violated();
  return 0;
}

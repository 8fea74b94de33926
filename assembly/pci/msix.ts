// MSI-X emulation of a passed-through function: its table (per vector message address, data and
// vector control) and its Pending Bit Array, as the guest reads and writes them, and what happens
// when a vector fires. One per shadow config (the same slot d as shadow.ts), in static tables.
// The capability's Message Control (MSI-X Enable, Function Mask) lives in the shadow config and is
// written through it; after each config write, controlChanged() turns a change of the two bits into
// per-vector actions.
// Not responsible for: where the table is in a BAR or in the guest (the host routes a trapped
// access here with an offset relative to the table or the PBA; relocate.ts decides placement),
// programming VFIO or KVM (the host does, on the actions), or MSI (shadow.ts: MSI_UPDATE).
//
// ============================================================================================
// STATE (per device d and vector v < entries; enforced in tableWrite(), fire(), controlChanged())
//
// address, data   the entry's Message Address (64 bits, bits 1:0 read as 0) and Message Data
// masked          the entry's Vector Control mask bit (set at create: the spec's reset state)
// pending         the PBA bit: set when v fires while MSI-X is enabled and v is masked (its own
//                 bit or the Function Mask); cleared when it is delivered
// live            the host has v effectively unmasked: enabled && !function mask && !masked, as
//                 last announced by an UNMASK (set) or MASK (cleared) action
// stale           the host's route for v (address, data) is absent or older than the table: set
//                 at create and by an address/data write while v is not live
//
// THE RULE: after every call, live(v) == enabled && !functionMask && !masked(v), and the host has
// heard it, as the actions of that call, in this order:
//   v stops being live   MASK v (before the MSIX_UPDATE of the control write that caused it)
//   v becomes live       ROUTE v (address, data) when stale, then UNMASK v, then DELIVER v
//                        (address, data) when pending, clearing pending
//                        (after the control write's MSIX_UPDATE)
//   address/data write   live: ROUTE v at once when the value changed (the spec leaves the effect
//                        of writing an unmasked entry undefined; taking the new value at once keeps
//                        what the guest reads back and what is delivered the same); not live:
//                        only marks v stale, so a guest that masks, rewrites and unmasks causes one
//                        ROUTE at the unmask, and one that masks and unmasks causes none
//   fire v               live: DELIVER v; enabled but masked: pending (several fires while masked
//                        are one pending bit, as in the PBA); MSI-X disabled: dropped and counted
// So a vector is delivered once per fire, either at the fire or, coalesced with the other fires
// of the same masked period, at the unmask, and never while masked.
//
// Guest accesses never fail. The spec allows only aligned DWORD and QWORD accesses to the table
// and the PBA; any other width or alignment, and any offset past the table (entries x 16) or the
// PBA (whole qwords), reads all-ones and drops the write, and both are counted. Vector Control bits
// 31:1 are reserved: they read 0 and writes to them are ignored. The PBA is read-only: a write is
// dropped and counted.
// ============================================================================================

import { MAX_CONFIGS } from "./shadow";
import { PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_ENTRY_SIZE } from "./regs";
import { st32le, st64le } from "../mem";

/** Vectors one function may have: the Table Size field is 11 bits (Table Size + 1 <= 2048). */
export const MAX_MSIX_VECTORS: i32 = 2048;
/** The most actions one table access yields: a QWORD write of data and vector control to a masked
 *  entry that unmasks it: ROUTE, UNMASK, DELIVER. */
export const MAX_ACTIONS_PER_MSIX_ACCESS: i32 = 3;
/** The most actions one config write yields: the shadow's own (shadow.ts MAX_ACTIONS_PER_WRITE)
 *  plus, when it turns MSI-X on (Enable set, Function Mask clear), ROUTE, UNMASK and DELIVER for
 *  every vector. */
export const MSIX_ACTIONS_PER_CONTROL_WRITE: i32 = 3 * MAX_MSIX_VECTORS;

// Action kinds (continuing shadow.ts's 1..6; the record layout is the same)
export const ACT_MSIX_ROUTE: u32 = 7;    // vector `bar`: route to address `from`, data `to`
export const ACT_MSIX_MASK: u32 = 8;     // vector `bar` stops being live (fires must set pending)
export const ACT_MSIX_UNMASK: u32 = 9;   // vector `bar` becomes live with its current route
export const ACT_MSIX_DELIVER: u32 = 10; // inject vector `bar` now: address `from`, data `to`

/** Which structure a trapped access is relative to (pci_msix_read/write `part`). */
export const PART_TABLE: u32 = 0;
export const PART_PBA: u32 = 1;

const F_MASKED: u8 = 1;
const F_PENDING: u8 = 2;
const F_LIVE: u8 = 4;
const F_STALE: u8 = 8;

/** Table entry dwords (PCI spec, MSI-X Table Structure). */
const ENTRY_ADDR_LO: u32 = 0;   // Message Address
const ENTRY_ADDR_HI: u32 = 4;   // Message Upper Address
const ENTRY_DATA: u32 = 8;      // Message Data
const ENTRY_CTRL: u32 = 12;     // Vector Control
const VECTOR_CTRL_MASKBIT: u32 = 1;
/** Message Address bits 1:0 keep DWORD alignment; they read 0 here (the spec allows read-only). */
const ADDR_LO_MASK: u32 = 0xfffffffc;

const ALL_ONES: u64 = 0xffff_ffff_ffff_ffff;

// --- per device ---
const N = new StaticArray<i32>(MAX_CONFIGS);        // 0: the function has no MSI-X
const CTRL = new StaticArray<u32>(MAX_CONFIGS);     // Enable | Function Mask as last taken over
const BAD_ACCESSES = new StaticArray<u64>(MAX_CONFIGS);
const PBA_WRITES = new StaticArray<u64>(MAX_CONFIGS);
const FIRES_DROPPED = new StaticArray<u64>(MAX_CONFIGS);
// --- per device and vector: [d * MAX_MSIX_VECTORS + v] ---
const V_ADDR = new StaticArray<u64>(MAX_CONFIGS * MAX_MSIX_VECTORS);
const V_DATA = new StaticArray<u32>(MAX_CONFIGS * MAX_MSIX_VECTORS);
const V_FLAGS = new StaticArray<u8>(MAX_CONFIGS * MAX_MSIX_VECTORS);

// --- the actions of the current table access or fire (at most MAX_ACTIONS_PER_MSIX_ACCESS) ---
const A_KIND = new StaticArray<u32>(MAX_ACTIONS_PER_MSIX_ACCESS);
const A_VEC = new StaticArray<u32>(MAX_ACTIONS_PER_MSIX_ACCESS);
const A_FROM = new StaticArray<u64>(MAX_ACTIONS_PER_MSIX_ACCESS);
const A_TO = new StaticArray<u64>(MAX_ACTIONS_PER_MSIX_ACCESS);
let acts: i32 = 0;

export function actionCount(): i32 { return acts; }
export function resetActions(): void { acts = 0; }

function act(kind: u32, v: i32, from: u64, to: u64): void {
  // A QWORD write of both address dwords is one route change, not two.
  if (kind == ACT_MSIX_ROUTE && acts > 0 && A_KIND[acts - 1] == ACT_MSIX_ROUTE && A_VEC[acts - 1] == <u32>v) {
    A_FROM[acts - 1] = from; A_TO[acts - 1] = to;
    return;
  }
  if (acts >= MAX_ACTIONS_PER_MSIX_ACCESS) throw new Error("pci: an MSI-X access produced more actions than its bound");
  A_KIND[acts] = kind; A_VEC[acts] = <u32>v; A_FROM[acts] = from; A_TO[acts] = to;
  acts++;
}

/** Writes action record i of the current access at p (32 bytes, shadow.ts's layout). */
export function writeAction(i: i32, p: usize): void {
  record(p, A_KIND[i], A_VEC[i], A_FROM[i], A_TO[i]);
}

function record(p: usize, kind: u32, v: u32, from: u64, to: u64): void {
  st32le(p, kind); st32le(p + 4, v); st64le(p + 8, from); st64le(p + 16, to); st64le(p + 24, 0);
}

/** Sets up device d's MSI-X state at create: `entries` vectors (0: none), all masked, address
 *  and data 0, nothing pending, MSI-X disabled (the shadow clears Enable and Function Mask). */
export function msixInit(d: i32, entries: u32): void {
  const n = <i32>entries;
  N[d] = n; CTRL[d] = 0;
  BAD_ACCESSES[d] = 0; PBA_WRITES[d] = 0; FIRES_DROPPED[d] = 0;
  const base = d * MAX_MSIX_VECTORS;
  for (let v = 0; v < n; v++) {
    V_ADDR[base + v] = 0; V_DATA[base + v] = 0; V_FLAGS[base + v] = F_MASKED | F_STALE;
  }
}

export function msixEntries(d: i32): i32 { return N[d]; }

/** MASK records a reset of device d yields: one per live vector (the host stops its direct
 *  delivery before the guest's MSI-X state goes back to masked, address/data 0, nothing pending). */
export function resetMaskCount(d: i32): i32 {
  const base = d * MAX_MSIX_VECTORS;
  let n = 0;
  for (let v = 0; v < N[d]; v++) if ((V_FLAGS[base + v] & F_LIVE) != 0) n++;
  return n;
}

/** Writes the resetMaskCount(d) MASK records at p; returns the bytes written. Changes nothing
 *  (msixInit puts the vectors back). */
export function resetMaskRecords(d: i32, p: usize): usize {
  const base = d * MAX_MSIX_VECTORS;
  let q = p;
  for (let v = 0; v < N[d]; v++) if ((V_FLAGS[base + v] & F_LIVE) != 0) { record(q, ACT_MSIX_MASK, <u32>v, 0, 0); q += 32; }
  return q - p;
}

function on(ctrl: u32): bool { return (ctrl & PCI_MSIX_FLAGS_ENABLE) != 0 && (ctrl & PCI_MSIX_FLAGS_MASKALL) == 0; }

// --- control writes (through the shadow config) ---

/** Actions a change of Message Control from what was taken over to `ctrl` yields: returns
 *  [masks, after] packed as masks | after << 16 (each at most 3 * 2048 < 2^16). Changes nothing. */
export function controlPlan(d: i32, ctrl: u32): u32 {
  const n = N[d];
  if (n == 0) return 0;
  const was = on(CTRL[d]), now = on(ctrl);
  if (was == now) return 0;
  const base = d * MAX_MSIX_VECTORS;
  let masks: u32 = 0, after: u32 = 0;
  for (let v = 0; v < n; v++) {
    const f = V_FLAGS[base + v];
    if (was && (f & F_LIVE) != 0) masks++;
    if (now && (f & F_MASKED) == 0) {
      after++;
      if ((f & F_STALE) != 0) after++;
      if ((f & F_PENDING) != 0) after++;
    }
  }
  return masks | (after << 16);
}

/** Writes the MASK records (before = true) or the ROUTE/UNMASK/DELIVER records (before = false)
 *  of the change to `ctrl` at p; returns the bytes written. Changes nothing. */
export function controlRecords(d: i32, ctrl: u32, before: bool, p: usize): usize {
  const n = N[d];
  if (n == 0) return 0;
  const was = on(CTRL[d]), now = on(ctrl);
  if (was == now) return 0;
  const base = d * MAX_MSIX_VECTORS;
  let q = p;
  for (let v = 0; v < n; v++) {
    const f = V_FLAGS[base + v];
    if (before) {
      if (was && (f & F_LIVE) != 0) { record(q, ACT_MSIX_MASK, <u32>v, 0, 0); q += 32; }
    } else if (now && (f & F_MASKED) == 0) {
      const a = V_ADDR[base + v], dt = <u64>V_DATA[base + v];
      if ((f & F_STALE) != 0) { record(q, ACT_MSIX_ROUTE, <u32>v, a, dt); q += 32; }
      record(q, ACT_MSIX_UNMASK, <u32>v, 0, 0); q += 32;
      if ((f & F_PENDING) != 0) { record(q, ACT_MSIX_DELIVER, <u32>v, a, dt); q += 32; }
    }
  }
  return q - p;
}

/** Takes over Message Control `ctrl` after its records were written: live, stale and pending
 *  follow THE RULE. */
export function controlCommit(d: i32, ctrl: u32): void {
  const n = N[d];
  if (n == 0) return;
  const keep = ctrl & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  const was = on(CTRL[d]), now = on(keep);
  CTRL[d] = keep;
  if (was == now) return;
  const base = d * MAX_MSIX_VECTORS;
  for (let v = 0; v < n; v++) {
    const f = V_FLAGS[base + v];
    if (!now) V_FLAGS[base + v] = f & ~F_LIVE;
    else if ((f & F_MASKED) == 0) V_FLAGS[base + v] = (f | F_LIVE) & ~(F_STALE | F_PENDING);
  }
}

// --- table and PBA accesses ---

function enabled(d: i32): bool { return (CTRL[d] & PCI_MSIX_FLAGS_ENABLE) != 0; }

function partBytes(d: i32, part: u32): u32 {
  const n = <u32>N[d];
  return part == PART_TABLE ? n * PCI_MSIX_ENTRY_SIZE : ((n + 63) >> 6) << 3;
}

/** An access the spec leaves undefined or that lies outside the structure. */
function badAccess(d: i32, part: u32, off: u32, width: u32): bool {
  if (width != 4 && width != 8) return true;
  if ((off & (width - 1)) != 0) return true;
  const size = partBytes(d, part);
  return off >= size || width > size - off;
}

function readDword(d: i32, part: u32, off: u32): u32 {
  const base = d * MAX_MSIX_VECTORS;
  if (part == PART_PBA) {
    const first = <i32>((off >> 2) << 5); // 32 vectors per dword
    let bits: u32 = 0;
    for (let k = 0; k < 32; k++) {
      const v = first + k;
      if (v < N[d] && (V_FLAGS[base + v] & F_PENDING) != 0) bits |= <u32>1 << <u32>k;
    }
    return bits;
  }
  const i = base + <i32>(off >> 4);
  const reg = off & 15;
  if (reg == ENTRY_ADDR_LO) return <u32>V_ADDR[i];
  if (reg == ENTRY_ADDR_HI) return <u32>(V_ADDR[i] >> 32);
  if (reg == ENTRY_DATA) return V_DATA[i];
  return (V_FLAGS[i] & F_MASKED) != 0 ? VECTOR_CTRL_MASKBIT : 0;
}

/** A guest read of the table or PBA (`part`) at `off` (relative to its start), `width` 4 or 8.
 *  Bad accesses read all-ones of 64 bits and are counted. */
export function msixRead(d: i32, part: u32, off: u32, width: u32): u64 {
  if (badAccess(d, part, off, width)) { BAD_ACCESSES[d] += 1; return ALL_ONES; }
  const lo = <u64>readDword(d, part, off);
  if (width == 4) return lo;
  return lo | (<u64>readDword(d, part, off + 4) << 32);
}

/** A guest write of one table dword (off 4-aligned, inside the table): stages its actions into
 *  the locals below rather than the tables, so a caller whose buffer is too small changes nothing. */
let wAddr: u64 = 0;
let wData: u32 = 0;
let wFlags: u8 = 0;

function writeDword(d: i32, v: i32, reg: u32, value: u32): void {
  const live = (wFlags & F_LIVE) != 0;
  if (reg == ENTRY_CTRL) {
    const masked = (value & VECTOR_CTRL_MASKBIT) != 0;
    if (masked == ((wFlags & F_MASKED) != 0)) return;
    if (masked) {
      wFlags |= F_MASKED;
      if (live) { wFlags &= ~F_LIVE; act(ACT_MSIX_MASK, v, 0, 0); }
      return;
    }
    wFlags &= ~F_MASKED;
    if (!on(CTRL[d])) return;
    if ((wFlags & F_STALE) != 0) act(ACT_MSIX_ROUTE, v, wAddr, <u64>wData);
    act(ACT_MSIX_UNMASK, v, 0, 0);
    if ((wFlags & F_PENDING) != 0) act(ACT_MSIX_DELIVER, v, wAddr, <u64>wData);
    wFlags = (wFlags | F_LIVE) & ~(F_STALE | F_PENDING);
    return;
  }
  const oldAddr = wAddr, oldData = wData;
  if (reg == ENTRY_ADDR_LO) wAddr = (wAddr & 0xffff_ffff_0000_0000) | <u64>(value & ADDR_LO_MASK);
  else if (reg == ENTRY_ADDR_HI) wAddr = (wAddr & 0xffff_ffff) | (<u64>value << 32);
  else wData = value;
  if (wAddr == oldAddr && wData == oldData) return;
  if (live) act(ACT_MSIX_ROUTE, v, wAddr, <u64>wData);
  else wFlags |= F_STALE;
}

/** What msixWrite staged: a table write, an access the spec leaves undefined, a PBA write. */
export const WRITE_OK: i32 = 0;
export const WRITE_BAD: i32 = 1;
export const WRITE_PBA: i32 = 2;

/** Stages a guest write of the table or PBA; returns WRITE_*, for msixWriteCommit. Call
 *  resetActions() first. */
export function msixWrite(d: i32, part: u32, off: u32, width: u32, value: u64): i32 {
  if (badAccess(d, part, off, width)) return WRITE_BAD;
  if (part == PART_PBA) return WRITE_PBA;
  const v = <i32>(off >> 4);
  const i = d * MAX_MSIX_VECTORS + v;
  wAddr = V_ADDR[i]; wData = V_DATA[i]; wFlags = V_FLAGS[i];
  // A QWORD covers two dwords of one entry (8-aligned: address, or data and vector control); the
  // lower dword first, so data written with an unmask is routed before the unmask.
  writeDword(d, v, off & 15, <u32>value);
  if (width == 8) writeDword(d, v, (off & 15) + 4, <u32>(value >> 32));
  return WRITE_OK;
}

/** Takes over a staged write (what: msixWrite's answer): the entry, or the count of a dropped one. */
export function msixWriteCommit(d: i32, off: u32, what: i32): void {
  if (what == WRITE_BAD) { BAD_ACCESSES[d] += 1; return; }
  if (what == WRITE_PBA) { PBA_WRITES[d] += 1; return; }
  const i = d * MAX_MSIX_VECTORS + <i32>(off >> 4);
  V_ADDR[i] = wAddr; V_DATA[i] = wData; V_FLAGS[i] = wFlags;
}

// --- the host's side ---

/** Vector v fired (its host eventfd signalled): stages DELIVER when v is live; sets pending when
 *  MSI-X is enabled and v is masked; drops and counts it when MSI-X is disabled. v < entries. */
export function msixFire(d: i32, v: i32): void {
  const i = d * MAX_MSIX_VECTORS + v;
  if (!enabled(d)) { FIRES_DROPPED[d] += 1; return; }
  const f = V_FLAGS[i];
  if ((f & F_LIVE) != 0) act(ACT_MSIX_DELIVER, v, V_ADDR[i], <u64>V_DATA[i]);
  else V_FLAGS[i] = f | F_PENDING;
}

/** Fills out with vector v's state: 0 address, 1 data, 2 masked, 3 pending, 4 live, 5 stale. */
export function vectorInfo(d: i32, v: i32, out: StaticArray<u64>): void {
  const i = d * MAX_MSIX_VECTORS + v;
  const f = V_FLAGS[i];
  out[0] = V_ADDR[i]; out[1] = <u64>V_DATA[i];
  out[2] = (f & F_MASKED) != 0 ? 1 : 0; out[3] = (f & F_PENDING) != 0 ? 1 : 0;
  out[4] = (f & F_LIVE) != 0 ? 1 : 0; out[5] = (f & F_STALE) != 0 ? 1 : 0;
}

/** Fills out with the device's MSI-X counters: 0 entries, 1 enabled, 2 function masked, 3 bad
 *  accesses, 4 PBA writes, 5 fires dropped while disabled, 6 live vectors, 7 pending vectors. */
export function msixInfo(d: i32, out: StaticArray<u64>): void {
  const n = N[d];
  const base = d * MAX_MSIX_VECTORS;
  let live: u64 = 0, pending: u64 = 0;
  for (let v = 0; v < n; v++) {
    const f = V_FLAGS[base + v];
    if ((f & F_LIVE) != 0) live++;
    if ((f & F_PENDING) != 0) pending++;
  }
  out[0] = <u64>n;
  out[1] = (CTRL[d] & PCI_MSIX_FLAGS_ENABLE) != 0 ? 1 : 0;
  out[2] = (CTRL[d] & PCI_MSIX_FLAGS_MASKALL) != 0 ? 1 : 0;
  out[3] = BAD_ACCESSES[d]; out[4] = PBA_WRITES[d]; out[5] = FIRES_DROPPED[d];
  out[6] = live; out[7] = pending;
}

// The shadow configuration space of a passed-through PCI function: what the guest reads and
// writes instead of the device's real config space. One per device, in a static table.
// Not responsible for: touching the device (the host does, when an action says FORWARD_*),
// mapping BARs (the host does, on MAP/UNMAP), MSI routing (the IRQ machine and the host, on
// MSI_UPDATE/MSIX_UPDATE), or where the guest may put a BAR (the guest's firmware decides).
//
// ============================================================================================
// STATE (per device; enforced in write() and placeable(), tested in test/unit/pci/)
//
// shadow bytes  a copy of the device's config (256 or 4096 bytes), with, at create:
//               BARs and ROM BAR: address bits 0 (unassigned), type bits kept; unimplemented
//                 BARs read 0. COMMAND: IO, MEMORY, MASTER cleared (the guest sees a function
//                 fresh from reset; its firmware turns them on). MSI: enable, MME, address,
//                 data and mask cleared. MSI-X: enable and function mask cleared.
// wmask         per byte of the first 256, the bits a guest write may change (QEMU's wmask):
//                 COMMAND          IO | MEMORY | MASTER | INTX_DISABLE
//                 BAR n            address bits: ~(size-1) & 0xfffffff0 (memory), & 0xfffffffc (I/O);
//                                  a 64-bit BAR's upper slot: the upper half of ~(size-1)
//                 ROM BAR          ~(size-1) & 0xfffff800, and ENABLE
//                 INTERRUPT_LINE   all 8 bits (a scratch register software writes and reads back)
//                 MSI              control ENABLE and QSIZE (MME); address (lo & ~3, hi when 64-bit);
//                                  data (16 bits); mask bits (one per capable vector) when MASKBIT
//                 MSI-X            control ENABLE and MASKALL
//               Everything else (and all of 0x100..0xfff) is read-only: its writes are dropped.
// per BAR (slots 0..5, ROM 6):
//   sizing      one bit per dword (low, high): set by a write that sets every writable bit of
//               that dword (the all-ones sizing write), cleared by any other write to it. So a
//               BAR placed at the very top of its space (all address bits set) counts as sized
//               and is never mapped: indistinguishable from sizing, and no firmware puts one there.
//   pending     64-bit BARs only: set by a write to the low dword, cleared by a write to the
//               upper dword or by COMMAND turning MEMORY decoding on (as QEMU takes the address
//               when decoding is re-enabled). Linux and EDK2 write low, then high.
//   mapped, at  where the host has the BAR mapped in the guest (after the actions returned).
//
// THE RULE: after every write, for each implemented BAR b,
//   mapped(b) == placeable(b), at(b) == address(b), where placeable(b) is
//   decoding on   (COMMAND.MEMORY for memory BARs and the ROM, COMMAND.IO for I/O BARs;
//                  the ROM also needs its own ENABLE bit)
//   and not sizing (no sizing bit set), and not pending (a 64-bit address is complete),
//   and address(b) != 0 (0 means unassigned, as in QEMU and Linux).
// The write's actions are the difference, in this order: UNMAP of every BAR that was mapped and
// is no longer placeable or moved (from its old address), then FORWARD_WRITE of COMMAND when its
// IO/MEMORY/MASTER/INTX_DISABLE bits changed (so the device stops decoding after the guest's
// mappings are gone and starts before they appear), then MAP of every BAR that became
// placeable or moved (to its new address), then MSI_UPDATE / MSIX_UPDATE when the MSI or MSI-X
// capability's writable contents changed. So a move is UNMAP(old) then MAP(new); sizing never
// maps; a half-programmed 64-bit BAR is never mapped; turning decoding off unmaps.
//
// Guest accesses never fail: width not 1/2/4, offset not a multiple of the width, or past the
// config length: a read returns all-ones of the width, a write is dropped; both are counted.
// Ranges the host declared with forward() are not shadowed: reads and writes there return a
// FORWARD_READ / FORWARD_WRITE action for the host to carry out on the device.
// ============================================================================================

import { ld32le, st32le, st64le, copy, fill } from "../mem";
import { ERR_LIMIT } from "../status";
import {
  PCI_CFG_SPACE_SIZE, PCI_STD_HEADER_SIZEOF, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY,
  PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_IO_MASK, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_ENABLE, PCI_ROM_ADDRESS_MASK,
  PCI_INTERRUPT_LINE, PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QSIZE, PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT, PCI_MSI_ADDRESS_LO, PCI_MSI_ADDRESS_HI,
  PCI_MSI_DATA_32, PCI_MSI_DATA_64, PCI_MSI_MASK_32, PCI_MSI_MASK_64, PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_CAP_MSIX_SIZEOF,
} from "./regs";
import {
  BAR_SLOTS, ROM_SLOT, BAR_NONE, BAR_MEM32, BAR_MEM64, BAR_IO, BAR_MEM64_UPPER, BAR_ROM,
  D_KIND, D_FLAGS, D_SIZE, msiOff, msiControl, msiBytes, msixOff,
} from "./decode";
import { PCI_ERR_FORWARD_RANGE, PCI_ERR_FORWARD_VIRTUALIZED } from "./status";

/** Shadow configs at once: one per passed-through PCI function, the same bound as the IRQ
 *  machines (assembly/irq/machine.ts MAX_MACHINES), since each such device has one of each. */
export const MAX_CONFIGS: i32 = 64;
/** Bytes of shadow per device: the PCIe extended config space. */
const SHADOW_BYTES: i32 = 4096;
/** Ranges one device may forward: a few vendor-specific capabilities; each is checked against
 *  the others on every access, so the bound also bounds that loop. */
export const MAX_FORWARD_RANGES: i32 = 8;
/** The most actions one write yields: a COMMAND write that turns MEMORY on and IO off can map or
 *  unmap each of the 7 BARs once, plus its FORWARD_WRITE; a BAR write yields UNMAP and MAP; an
 *  MSI/MSI-X write one update. A buffer of this many records always fits. */
export const MAX_ACTIONS_PER_WRITE: i32 = 8;
/** Bytes of one action record (docs/pci.md):
 *  +0 u32 kind  +4 u32 bar (ALL_ONES when none)  +8 u64 from  +16 u64 to  +24 u64 size */
export const ACTION_SIZE: i32 = 32;

// Action kinds
export const ACT_MAP: u32 = 1;            // map BAR `bar` at guest address `to`, `size` bytes
export const ACT_UNMAP: u32 = 2;          // unmap BAR `bar` from guest address `from`, `size` bytes
export const ACT_FORWARD_WRITE: u32 = 3;  // write the device's config: offset `from`, value `to`, width `size`
export const ACT_FORWARD_READ: u32 = 4;   // read the device's config: offset `from`, width `size`
export const ACT_MSI_UPDATE: u32 = 5;     // the MSI capability at `from` changed; `to` = its control
export const ACT_MSIX_UPDATE: u32 = 6;    // the MSI-X capability at `from` changed; `to` = its control
const NO_BAR: u32 = 0xffff_ffff;

const SLOT_BITS: i32 = 7;                 // 1 << 7 > MAX_CONFIGS
const GEN_MASK: u32 = (1 << (31 - SLOT_BITS)) - 1;
const SIZING_LO: u8 = 1;
const SIZING_HI: u8 = 2;

// --- per device ---
const USED = new StaticArray<bool>(MAX_CONFIGS);
const GEN = new StaticArray<u32>(MAX_CONFIGS);
const LEN = new StaticArray<u32>(MAX_CONFIGS);
const SHADOW = new StaticArray<u8>(MAX_CONFIGS * SHADOW_BYTES);
const WMASK = new StaticArray<u8>(MAX_CONFIGS * <i32>PCI_CFG_SPACE_SIZE);
const MSI_OFF = new StaticArray<u32>(MAX_CONFIGS);
const MSI_BYTES = new StaticArray<u32>(MAX_CONFIGS);
const MSIX_OFF = new StaticArray<u32>(MAX_CONFIGS);
const BAD_WRITES = new StaticArray<u64>(MAX_CONFIGS);
const BAD_READS = new StaticArray<u64>(MAX_CONFIGS);
const RO_WRITES = new StaticArray<u64>(MAX_CONFIGS);
const FWD_N = new StaticArray<i32>(MAX_CONFIGS);
const FWD_OFF = new StaticArray<u32>(MAX_CONFIGS * MAX_FORWARD_RANGES);
const FWD_LEN = new StaticArray<u32>(MAX_CONFIGS * MAX_FORWARD_RANGES);
// --- per device and BAR slot: [dev * BAR_SLOTS + b] ---
const B_KIND = new StaticArray<u32>(MAX_CONFIGS * BAR_SLOTS);
const B_FLAGS = new StaticArray<u32>(MAX_CONFIGS * BAR_SLOTS);
const B_SIZE = new StaticArray<u64>(MAX_CONFIGS * BAR_SLOTS);
const B_SIZING = new StaticArray<u8>(MAX_CONFIGS * BAR_SLOTS);
const B_PENDING = new StaticArray<bool>(MAX_CONFIGS * BAR_SLOTS);
const B_MAPPED = new StaticArray<bool>(MAX_CONFIGS * BAR_SLOTS);
const B_AT = new StaticArray<u64>(MAX_CONFIGS * BAR_SLOTS);

// --- staged actions of the current call ---
const S_KIND = new StaticArray<u32>(MAX_ACTIONS_PER_WRITE);
const S_BAR = new StaticArray<u32>(MAX_ACTIONS_PER_WRITE);
const S_FROM = new StaticArray<u64>(MAX_ACTIONS_PER_WRITE);
const S_TO = new StaticArray<u64>(MAX_ACTIONS_PER_WRITE);
const S_SIZE = new StaticArray<u64>(MAX_ACTIONS_PER_WRITE);
let staged: i32 = 0;

export function stagedCount(): i32 { return staged; }
export function stagedKind(i: i32): u32 { return S_KIND[i]; }
export function stagedBar(i: i32): u32 { return S_BAR[i]; }
export function stagedFrom(i: i32): u64 { return S_FROM[i]; }
export function stagedTo(i: i32): u64 { return S_TO[i]; }
export function stagedSize(i: i32): u64 { return S_SIZE[i]; }
export function resetStaging(): void { staged = 0; }

function stage(kind: u32, bar: u32, from: u64, to: u64, size: u64): void {
  // More than MAX_ACTIONS_PER_WRITE is a bug of this module (the bound is derived above).
  if (staged >= MAX_ACTIONS_PER_WRITE) throw new Error("pci: a write produced more actions than its bound");
  S_KIND[staged] = kind; S_BAR[staged] = bar; S_FROM[staged] = from; S_TO[staged] = to; S_SIZE[staged] = size;
  staged++;
}

function shadowPtr(d: i32): usize { return changetype<usize>(SHADOW) + <usize>(d * SHADOW_BYTES); }
function wmaskPtr(d: i32): usize { return changetype<usize>(WMASK) + <usize>(d * <i32>PCI_CFG_SPACE_SIZE); }
function setWmask32(d: i32, off: u32, m: u32): void { st32le(wmaskPtr(d) + off, m); }

// --- handles ---

/** Device slot of a handle, or -1. */
export function slotOf(h: i32): i32 {
  if (h <= 0) return -1;
  const s = (h & ((1 << SLOT_BITS) - 1)) - 1;
  if (s < 0 || s >= MAX_CONFIGS || !USED[s]) return -1;
  if (GEN[s] != (<u32>h >> <u32>SLOT_BITS)) return -1;
  return s;
}

export function release(d: i32): void {
  USED[d] = false;
  GEN[d] = (GEN[d] + 1) & GEN_MASK;
}

/** Takes a free slot and fills it from `cfg` (len bytes) and the decode in D_* / msi* / msix*
 *  (decodeAll succeeded). Returns a handle, or -1 when all MAX_CONFIGS are in use. */
export function create(cfg: usize, len: usize): i32 {
  let d = -1;
  for (let i = 0; i < MAX_CONFIGS; i++) if (!USED[i]) { d = i; break; }
  if (d < 0) return -1;
  USED[d] = true;
  FWD_N[d] = 0;
  fillSlot(d, cfg, len);
  return <i32>((GEN[d] << <u32>SLOT_BITS) | <u32>(d + 1));
}

/** Fills slot d from `cfg` and the decode, as the guest sees a function out of reset: BARs
 *  unassigned, decoding and MSI/MSI-X off, nothing mapped, counters 0. Forward ranges stay. */
function fillSlot(d: i32, cfg: usize, len: usize): void {
  LEN[d] = <u32>len;
  const sh = shadowPtr(d);
  copy(sh, cfg, len);
  fill(wmaskPtr(d), 0, <usize>PCI_CFG_SPACE_SIZE);
  BAD_WRITES[d] = 0; BAD_READS[d] = 0; RO_WRITES[d] = 0;

  // COMMAND: the low 16 bits of the dword at 0x04 (STATUS above it stays read-only).
  const cmd = ld32le(sh + PCI_COMMAND);
  st32le(sh + PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
  setWmask32(d, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);

  for (let b = 0; b < BAR_SLOTS; b++) {
    const i = d * BAR_SLOTS + b;
    const kind = D_KIND[b];
    const size = D_SIZE[b];
    B_KIND[i] = kind; B_FLAGS[i] = D_FLAGS[b]; B_SIZE[i] = size;
    B_SIZING[i] = 0; B_PENDING[i] = false; B_MAPPED[i] = false; B_AT[i] = 0;
    const reg = b == ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + <u32>(b * 4);
    const raw = ld32le(sh + reg);
    const mask: u64 = ~(size - 1);
    if (kind == BAR_MEM32 || kind == BAR_MEM64) {
      st32le(sh + reg, raw & ~PCI_BASE_ADDRESS_MEM_MASK);
      setWmask32(d, reg, <u32>mask & PCI_BASE_ADDRESS_MEM_MASK);
    } else if (kind == BAR_IO) {
      st32le(sh + reg, raw & ~PCI_BASE_ADDRESS_IO_MASK);
      setWmask32(d, reg, <u32>mask & PCI_BASE_ADDRESS_IO_MASK);
    } else if (kind == BAR_MEM64_UPPER) {
      st32le(sh + reg, 0);
      setWmask32(d, reg, <u32>(~(B_SIZE[i - 1] - 1) >> 32));
    } else if (kind == BAR_ROM) {
      st32le(sh + reg, 0);
      setWmask32(d, reg, (<u32>mask & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE);
    } else {
      st32le(sh + reg, 0); // BAR_NONE: reads 0, as vfio-pci shows an unimplemented BAR
    }
  }
  st32le(wmaskPtr(d) + PCI_INTERRUPT_LINE, 0xff);

  MSI_OFF[d] = msiOff; MSI_BYTES[d] = msiBytes; MSIX_OFF[d] = msixOff;
  if (msiOff != 0) {
    const c = msiControl;
    const is64 = (c & PCI_MSI_FLAGS_64BIT) != 0;
    // Control: enable and MME cleared; address, data, mask zeroed (the pending bits are the
    // device's and stay as read, read-only).
    const hdr = ld32le(sh + msiOff) & ~((PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE) << 16);
    st32le(sh + msiOff, hdr);
    setWmask32(d, msiOff, (PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE) << 16);
    st32le(sh + msiOff + PCI_MSI_ADDRESS_LO, 0);
    setWmask32(d, msiOff + PCI_MSI_ADDRESS_LO, 0xfffffffc);
    if (is64) { st32le(sh + msiOff + PCI_MSI_ADDRESS_HI, 0); setWmask32(d, msiOff + PCI_MSI_ADDRESS_HI, 0xffffffff); }
    const dataOff = msiOff + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
    st32le(sh + dataOff, 0);
    setWmask32(d, dataOff, 0xffff);
    if ((c & PCI_MSI_FLAGS_MASKBIT) != 0) {
      const maskOff = msiOff + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
      const vectors: u32 = 1 << ((c & PCI_MSI_FLAGS_QMASK) >> 1); // 1..32 (MMC <= 5 checked)
      st32le(sh + maskOff, 0);
      setWmask32(d, maskOff, vectors == 32 ? 0xffffffff : (<u32>1 << vectors) - 1);
    }
  }
  if (msixOff != 0) {
    const hdr = ld32le(sh + msixOff) & ~((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) << 16);
    st32le(sh + msixOff, hdr);
    setWmask32(d, msixOff, (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) << 16);
  }
}

// --- reset ---

/** Whether the decode in D_* / msi* / msix* has device d's layout: the same config length, BAR
 *  kinds and sizes, MSI and MSI-X offsets. A device reset keeps its layout; anything else is
 *  another function, which needs a shadow of its own. */
export function sameLayout(d: i32, len: usize): bool {
  if (LEN[d] != <u32>len || MSI_OFF[d] != msiOff || MSIX_OFF[d] != msixOff) return false;
  for (let b = 0; b < BAR_SLOTS; b++) {
    const i = d * BAR_SLOTS + b;
    if (B_KIND[i] != D_KIND[b] || B_SIZE[i] != D_SIZE[b]) return false;
  }
  return true;
}

/** Records a reset of device d yields from the shadow (THE RULE of a reset, after msix.ts's
 *  MASKs): an UNMAP per mapped BAR, then MSI_UPDATE / MSIX_UPDATE when the guest had MSI / MSI-X
 *  enabled (their control as it is after the reset: disabled). */
export function resetRecordCount(d: i32): i32 {
  let n = 0;
  for (let b = 0; b < BAR_SLOTS; b++) if (B_MAPPED[d * BAR_SLOTS + b]) n++;
  if (msiEnabled(d)) n++;
  if ((msixControlOf(d) & PCI_MSIX_FLAGS_ENABLE) != 0) n++;
  return n;
}

function msiEnabled(d: i32): bool {
  const mo = MSI_OFF[d];
  return mo != 0 && ((ld32le(shadowPtr(d) + mo) >> 16) & PCI_MSI_FLAGS_ENABLE) != 0;
}

function putRecord(p: usize, kind: u32, bar: u32, from: u64, to: u64, size: u64): void {
  st32le(p, kind); st32le(p + 4, bar); st64le(p + 8, from); st64le(p + 16, to); st64le(p + 24, size);
}

/** Refills device d from `cfg` (the device's config after its reset; sameLayout holds) and writes
 *  the resetRecordCount(d) records at p first. Forward ranges stay; counters restart at 0. */
export function resetSlot(d: i32, cfg: usize, len: usize, p: usize): void {
  const msi = msiEnabled(d), msix = (msixControlOf(d) & PCI_MSIX_FLAGS_ENABLE) != 0;
  let q = p;
  for (let b = 0; b < BAR_SLOTS; b++) {
    const i = d * BAR_SLOTS + b;
    if (B_MAPPED[i]) { putRecord(q, ACT_UNMAP, <u32>b, B_AT[i], 0, B_SIZE[i]); q += <usize>ACTION_SIZE; }
  }
  fillSlot(d, cfg, len);
  const sh = shadowPtr(d);
  if (msi) { putRecord(q, ACT_MSI_UPDATE, NO_BAR, <u64>MSI_OFF[d], <u64>(ld32le(sh + MSI_OFF[d]) >> 16), 0); q += <usize>ACTION_SIZE; }
  if (msix) { putRecord(q, ACT_MSIX_UPDATE, NO_BAR, <u64>MSIX_OFF[d], <u64>(ld32le(sh + MSIX_OFF[d]) >> 16), 0); }
}

// --- forward ranges ---

function overlaps(a: u32, alen: u32, b: u32, blen: u32): bool { return a < b + blen && b < a + alen; }

/** Declares [off, off+len) as passed through to the device. */
export function addForward(d: i32, off: u32, len: u32): i32 {
  if (len == 0 || (off & 3) != 0 || (len & 3) != 0 || off >= LEN[d] || len > LEN[d] - off) return PCI_ERR_FORWARD_RANGE;
  if (overlaps(off, len, 0, PCI_STD_HEADER_SIZEOF)) return PCI_ERR_FORWARD_VIRTUALIZED;
  if (MSI_OFF[d] != 0 && overlaps(off, len, MSI_OFF[d], MSI_BYTES[d])) return PCI_ERR_FORWARD_VIRTUALIZED;
  if (MSIX_OFF[d] != 0 && overlaps(off, len, MSIX_OFF[d], PCI_CAP_MSIX_SIZEOF)) return PCI_ERR_FORWARD_VIRTUALIZED;
  const n = FWD_N[d];
  for (let i = 0; i < n; i++) {
    const j = d * MAX_FORWARD_RANGES + i;
    if (overlaps(off, len, FWD_OFF[j], FWD_LEN[j])) return PCI_ERR_FORWARD_VIRTUALIZED;
  }
  if (n >= MAX_FORWARD_RANGES) return ERR_LIMIT;
  FWD_OFF[d * MAX_FORWARD_RANGES + n] = off;
  FWD_LEN[d * MAX_FORWARD_RANGES + n] = len;
  FWD_N[d] = n + 1;
  return 0;
}

function forwarded(d: i32, off: u32): bool {
  const n = FWD_N[d];
  for (let i = 0; i < n; i++) {
    const j = d * MAX_FORWARD_RANGES + i;
    if (off >= FWD_OFF[j] && off - FWD_OFF[j] < FWD_LEN[j]) return true;
  }
  return false;
}

// --- guest accesses ---

/** A guest access the shadow refuses: width not 1/2/4, misaligned, or past the config. */
function badAccess(d: i32, off: u32, width: u32): bool {
  if (width != 1 && width != 2 && width != 4) return true;
  if ((off & (width - 1)) != 0) return true;
  return off >= LEN[d] || width > LEN[d] - off;
}

function widthMask(width: u32): u32 { return width == 4 ? 0xffffffff : ((<u32>1 << (width * 8)) - 1); }

/** A guest read: returns the value, or stages a FORWARD_READ (and returns 0) inside a forwarded
 *  range. Bad reads give all-ones of the width (all 32 bits for a bad width) and are counted. */
export function read(d: i32, off: u32, width: u32): u64 {
  if (badAccess(d, off, width)) {
    BAD_READS[d] += 1;
    return <u64>((width == 1 || width == 2) ? widthMask(width) : 0xffffffff);
  }
  if (forwarded(d, off)) {
    stage(ACT_FORWARD_READ, NO_BAR, <u64>off, 0, <u64>width);
    return 0;
  }
  const v = ld32le(shadowPtr(d) + (off & ~3)) >> ((off & 3) * 8);
  return <u64>(v & widthMask(width));
}

// Undo record of the current write (for NO_SPACE): the dword written and the BAR flags.
let undoDword: u32 = 0;
let undoOff: u32 = 0;
let undoBar: i32 = -1;
let undoSizing: u8 = 0;
const UNDO_PENDING = new StaticArray<bool>(BAR_SLOTS);
let undoRo: bool = false;

/** The BAR slot (0..6) whose register holds config dword `dw`, or -1. */
function barOfDword(d: i32, dw: u32): i32 {
  if (dw == PCI_ROM_ADDRESS) return ROM_SLOT;
  if (dw < PCI_BASE_ADDRESS_0 || dw > PCI_BASE_ADDRESS_0 + 20) return -1;
  const b = <i32>((dw - PCI_BASE_ADDRESS_0) >> 2);
  return B_KIND[d * BAR_SLOTS + b] == BAR_MEM64_UPPER ? b - 1 : b;
}

/** The guest address programmed into BAR slot b (its address bits; both halves for 64-bit). */
export function barAddress(d: i32, b: i32): u64 {
  const sh = shadowPtr(d);
  const kind = B_KIND[d * BAR_SLOTS + b];
  if (b == ROM_SLOT) return <u64>(ld32le(sh + PCI_ROM_ADDRESS) & PCI_ROM_ADDRESS_MASK);
  const reg = PCI_BASE_ADDRESS_0 + <u32>(b * 4);
  const lo = ld32le(sh + reg);
  if (kind == BAR_IO) return <u64>(lo & PCI_BASE_ADDRESS_IO_MASK);
  if (kind == BAR_MEM64) return (<u64>ld32le(sh + reg + 4) << 32) | <u64>(lo & PCI_BASE_ADDRESS_MEM_MASK);
  return <u64>(lo & PCI_BASE_ADDRESS_MEM_MASK);
}

/** THE RULE's predicate (header of this file). */
export function placeable(d: i32, b: i32): bool {
  const i = d * BAR_SLOTS + b;
  const kind = B_KIND[i];
  if (kind == BAR_NONE || kind == BAR_MEM64_UPPER) return false;
  const sh = shadowPtr(d);
  const cmd = ld32le(sh + PCI_COMMAND);
  if (kind == BAR_IO) { if ((cmd & PCI_COMMAND_IO) == 0) return false; }
  else if ((cmd & PCI_COMMAND_MEMORY) == 0) return false;
  if (kind == BAR_ROM && (ld32le(sh + PCI_ROM_ADDRESS) & PCI_ROM_ADDRESS_ENABLE) == 0) return false;
  if (B_SIZING[i] != 0 || B_PENDING[i]) return false;
  return barAddress(d, b) != 0;
}

/** The four COMMAND bits that reach the device. */
const COMMAND_FORWARDED: u32 = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

/** A guest write; stages its actions (THE RULE). Bad writes are counted and stage nothing.
 *  The staged mapping changes are only taken over by commitWrite(); undoWrite() restores the
 *  state if the caller's buffer is too small. */
export function write(d: i32, off: u32, width: u32, value: u32): void {
  undoBar = -1; undoRo = false; undoOff = 0xffffffff;
  if (badAccess(d, off, width)) { BAD_WRITES[d] += 1; return; }
  if (forwarded(d, off)) {
    stage(ACT_FORWARD_WRITE, NO_BAR, <u64>off, <u64>(value & widthMask(width)), <u64>width);
    return;
  }
  if (off >= PCI_CFG_SPACE_SIZE) { undoRo = true; return; } // extended space: read-only
  const sh = shadowPtr(d);
  const dw = off & ~3;
  const shift = (off & 3) * 8;
  const m = widthMask(width) << shift;
  const v = (value << shift) & m;
  const old = ld32le(sh + dw);
  const wm = ld32le(wmaskPtr(d) + dw);
  const nw = (old & ~(wm & m)) | (v & wm & m);
  undoOff = dw; undoDword = old;
  if (((v ^ old) & m & ~wm) != 0) undoRo = true;
  for (let b = 0; b < BAR_SLOTS; b++) UNDO_PENDING[b] = B_PENDING[d * BAR_SLOTS + b];
  st32le(sh + dw, nw);

  // Per-register semantics beyond the mask.
  const b = barOfDword(d, dw);
  if (b >= 0 && B_KIND[d * BAR_SLOTS + b] != BAR_NONE) {
    const i = d * BAR_SLOTS + b;
    undoBar = b; undoSizing = B_SIZING[i];
    const upperHalf = b != ROM_SLOT && dw != PCI_BASE_ADDRESS_0 + <u32>(b * 4);
    const bit = upperHalf ? SIZING_HI : SIZING_LO;
    const addrBits = b == ROM_SLOT ? wm & ~PCI_ROM_ADDRESS_ENABLE : wm;
    if (addrBits != 0 && (nw & addrBits) == addrBits) B_SIZING[i] |= bit;
    else B_SIZING[i] &= ~bit;
    if (B_KIND[i] == BAR_MEM64) B_PENDING[i] = !upperHalf;
  }
  const oldCmd = dw == PCI_COMMAND ? old & 0xffff : ld32le(sh + PCI_COMMAND) & 0xffff;
  const newCmd = ld32le(sh + PCI_COMMAND) & 0xffff;
  if (dw == PCI_COMMAND && (oldCmd & PCI_COMMAND_MEMORY) == 0 && (newCmd & PCI_COMMAND_MEMORY) != 0) {
    // Decoding turned on: a 64-bit address is taken as it stands (QEMU's rule).
    for (let j = 0; j < BAR_SLOTS; j++) B_PENDING[d * BAR_SLOTS + j] = false;
  }

  // Actions: unmaps, forward of COMMAND, maps, MSI updates (header of this file).
  for (let j = 0; j < BAR_SLOTS; j++) {
    const i = d * BAR_SLOTS + j;
    if (!B_MAPPED[i]) continue;
    if (!placeable(d, j) || barAddress(d, j) != B_AT[i]) stage(ACT_UNMAP, <u32>j, B_AT[i], 0, B_SIZE[i]);
  }
  if (((oldCmd ^ newCmd) & COMMAND_FORWARDED) != 0) stage(ACT_FORWARD_WRITE, NO_BAR, <u64>PCI_COMMAND, <u64>newCmd, 2);
  for (let j = 0; j < BAR_SLOTS; j++) {
    const i = d * BAR_SLOTS + j;
    if (!placeable(d, j)) continue;
    const a = barAddress(d, j);
    if (!B_MAPPED[i] || a != B_AT[i]) stage(ACT_MAP, <u32>j, 0, a, B_SIZE[i]);
  }
  if (nw != old) {
    const mo = MSI_OFF[d];
    if (mo != 0 && dw >= mo && dw < mo + MSI_BYTES[d]) {
      stage(ACT_MSI_UPDATE, NO_BAR, <u64>mo, <u64>(ld32le(sh + mo) >> 16), 0);
    }
    const xo = MSIX_OFF[d];
    if (xo != 0 && dw == xo) stage(ACT_MSIX_UPDATE, NO_BAR, <u64>xo, <u64>(ld32le(sh + xo) >> 16), 0);
  }
}

/** Takes over the staged mapping changes and counts a dropped read-only change. */
export function commitWrite(d: i32): void {
  for (let k = 0; k < staged; k++) {
    const kind = S_KIND[k];
    if (kind == ACT_UNMAP) B_MAPPED[d * BAR_SLOTS + <i32>S_BAR[k]] = false;
    else if (kind == ACT_MAP) { const i = d * BAR_SLOTS + <i32>S_BAR[k]; B_MAPPED[i] = true; B_AT[i] = S_TO[k]; }
  }
  if (undoRo) RO_WRITES[d] += 1;
}

/** Puts the device back as it was before write() (the caller's buffer was too small). */
export function undoWrite(d: i32): void {
  if (undoOff == 0xffffffff) return;
  st32le(shadowPtr(d) + undoOff, undoDword);
  for (let b = 0; b < BAR_SLOTS; b++) B_PENDING[d * BAR_SLOTS + b] = UNDO_PENDING[b];
  if (undoBar >= 0) {
    const i = d * BAR_SLOTS + undoBar;
    B_SIZING[i] = undoSizing;
  }
}

// --- inspection ---

/** The guest's MSI-X Message Control as the shadow holds it (0 when the function has no MSI-X):
 *  msix.ts takes Enable and Function Mask from it after every write. */
export function msixControlOf(d: i32): u32 {
  const xo = MSIX_OFF[d];
  return xo == 0 ? 0 : ld32le(shadowPtr(d) + xo) >> 16;
}

/** Fills `out` with BAR slot b's state: 0 programmed address, 1 size, 2 mapped, 3 mapped at,
 *  4 sizing bits, 5 pending, 6 flags. Returns its kind. */
export function barInfo(d: i32, b: i32, out: StaticArray<u64>): u32 {
  const i = d * BAR_SLOTS + b;
  out[0] = B_KIND[i] == BAR_NONE || B_KIND[i] == BAR_MEM64_UPPER ? 0 : barAddress(d, b);
  out[1] = B_SIZE[i];
  out[2] = B_MAPPED[i] ? 1 : 0;
  out[3] = B_MAPPED[i] ? B_AT[i] : 0;
  out[4] = <u64>B_SIZING[i];
  out[5] = B_PENDING[i] ? 1 : 0;
  out[6] = <u64>B_FLAGS[i];
  return B_KIND[i];
}

/** Fills `out` with the device's counters and layout: 0 bad writes, 1 bad reads, 2 writes that
 *  tried to change read-only bits, 3 COMMAND, 4 config length, 5 MSI offset, 6 MSI-X offset,
 *  7 forwarded ranges. */
export function deviceInfo(d: i32, out: StaticArray<u64>): void {
  out[0] = BAD_WRITES[d]; out[1] = BAD_READS[d]; out[2] = RO_WRITES[d];
  out[3] = <u64>(ld32le(shadowPtr(d) + PCI_COMMAND) & 0xffff);
  out[4] = <u64>LEN[d]; out[5] = <u64>MSI_OFF[d]; out[6] = <u64>MSIX_OFF[d]; out[7] = <u64>FWD_N[d];
}

// Exports of the pci module (prefix "pci_"), re-exported by assembly/index.ts: BAR decoding, the
// guest's BAR sizing protocol, relocation actions, MSI-X carve-outs, shadow config space.
// docs/pci.md describes the ABI. decode.ts decodes, shadow.ts holds the shadow and its state
// (THE RULE of BAR mappings is written above its code), msix.ts the MSI-X table and PBA of each
// shadow (its rule above its code), relocate.ts the MSI-X relocation decision.
//
// Inputs in scratch, each checked with inScratch:
//   cfg, len    the device's config space as read through VFIO region 7: 256 or 4096 bytes
//   sizes       7 u64 little-endian: the VFIO region sizes of regions 0..6 (BAR0..BAR5, ROM);
//               0 = unimplemented, and 0 for the upper slot of a 64-bit BAR
//   out, cap    a caller-owned output buffer; too small: ERR_NO_SPACE with result slot 0 = the
//               bytes needed, and nothing changed (a write can be repeated with a bigger buffer)
// Malformed config bytes: a PCI_ERR_* status (-700..-739) with result slot 0 = the config offset
// of the register at fault.
// Records (little-endian):
//   BAR     32 bytes: +0 u32 slot (0..5, 6 = ROM) +4 u32 kind +8 u32 flags +12 u32 register offset
//                     +16 u64 address (as the device's config holds it) +24 u64 size
//   cap      4 bytes: +0 u8 id +1 u8 0 +2 u16 offset
//   hole    24 bytes: +0 u32 bar +4 u32 what (1 table, 2 PBA, 3 both) +8 u64 offset +16 u64 size
//   action  32 bytes: +0 u32 kind +4 u32 bar (0xffffffff: none) +8 u64 from +16 u64 to +24 u64 size

import { validPageSize } from "../page";
import { ERR_BAD_ARG, ERR_BAD_HANDLE, ERR_LIMIT, ERR_NO_SPACE } from "../status";
import { inScratch, clearResults, setResult, st8, st16le, st32le, st64le, copy } from "../mem";
import { PCI_BASE_ADDRESS_0, PCI_ROM_ADDRESS } from "./regs";
import {
  BAR_SLOTS, ROM_SLOT, MAX_CAPS, D_KIND, D_FLAGS, D_ADDR, D_SIZE, C_ID, C_OFF, capCount,
  checkHeader, decodeBars, walkCaps, decodeAll, msiOff, msiControl, msixOff, msixControl,
  msixTableBir, msixTableOffset, msixPbaBir, msixPbaOffset, msixEntries, msixTableBytes,
  msixPbaBytes,
} from "./decode";
import {
  MAX_CONFIGS, MAX_FORWARD_RANGES, MAX_ACTIONS_PER_WRITE, ACTION_SIZE, slotOf, release, create,
  addForward, read, write, commitWrite, undoWrite, resetStaging, stagedCount, stagedKind,
  stagedBar, stagedFrom, stagedTo, stagedSize, barInfo, deviceInfo, msixControlOf, sameLayout,
  resetRecordCount, resetSlot,
} from "./shadow";
import {
  MAX_MSIX_VECTORS, MAX_ACTIONS_PER_MSIX_ACCESS, MSIX_ACTIONS_PER_CONTROL_WRITE, PART_TABLE, PART_PBA,
  msixInit, msixEntries as msixVectors, controlPlan, controlRecords, controlCommit, msixRead,
  msixWrite, msixWriteCommit, msixFire, resetActions, actionCount, writeAction, vectorInfo, msixInfo,
  resetMaskCount, resetMaskRecords,
} from "./msix";
import { relocation, applyView, RELOC_EXTEND, RELOC_NEW_BAR, RELOC_IMPOSSIBLE, rBar, rSize, rTable, rPba, rFlags, rNeed, rShared } from "./relocate";
import { PCI_ERR_NO_MSIX, PCI_ERR_RESET_LAYOUT } from "./status";

const BAR_RECORD: i32 = 32;
const CAP_RECORD: i32 = 4;
const HOLE_RECORD: i32 = 24;
/** At most two holes: the table and the PBA (merged when they share pages of one BAR). */
const MAX_HOLES: i32 = 2;
const SIZES_BYTES: usize = <usize>(BAR_SLOTS * 8);

const INFO = new StaticArray<u64>(8);
/** The most actions one config write yields: the shadow's own plus the MSI-X per-vector ones. */
const MAX_ACTIONS_PER_CONFIG_WRITE: i32 = MAX_ACTIONS_PER_WRITE + MSIX_ACTIONS_PER_CONTROL_WRITE;

function noSpace(need: i32): i32 { setResult(0, <u64>need); return ERR_NO_SPACE; }

/** Decodes BAR0..BAR5 and the ROM BAR into 7 BAR records (one per slot, kind 0 when
 *  unimplemented, 4 for the upper half of a 64-bit BAR); returns 7. Statuses: ERR_BAD_ARG
 *  (buffers), PCI_ERR_CONFIG_LENGTH, PCI_ERR_HEADER_TYPE, PCI_ERR_BAR64_LAST_SLOT,
 *  PCI_ERR_BAR64_UPPER_SIZED, PCI_ERR_BAR_TYPE, PCI_ERR_BAR_SIZE, PCI_ERR_BAR_TOO_SMALL,
 *  PCI_ERR_BAR_TOO_LARGE, ERR_NO_SPACE (224 bytes). */
export function pci_decode_bars(cfg: usize, len: usize, sizes: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES) || !inScratch(out, cap)) return ERR_BAD_ARG;
  let st = checkHeader(cfg, len);
  if (st < 0) return st;
  st = decodeBars(cfg, sizes);
  if (st < 0) return st;
  const need = BAR_SLOTS * BAR_RECORD;
  if (cap < <usize>need) return noSpace(need);
  for (let b = 0; b < BAR_SLOTS; b++) {
    const p = out + <usize>(b * BAR_RECORD);
    st32le(p, <u32>b);
    st32le(p + 4, D_KIND[b]);
    st32le(p + 8, D_FLAGS[b]);
    st32le(p + 12, b == ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + <u32>(b * 4));
    st64le(p + 16, D_ADDR[b]);
    st64le(p + 24, D_SIZE[b]);
  }
  return BAR_SLOTS;
}

/** Walks the capability list: writes one cap record per capability (at most MAX_CAPS) and
 *  returns how many. Results: 0 MSI offset (0: none), 1 MSI control, 2 MSI-X offset (0: none),
 *  3 MSI-X control, 4 table BIR, 5 table offset, 6 PBA BIR, 7 PBA offset, 8 MSI-X table entries.
 *  Statuses: ERR_BAD_ARG, PCI_ERR_CONFIG_LENGTH, PCI_ERR_HEADER_TYPE, PCI_ERR_CAP_POINTER,
 *  PCI_ERR_CAP_LOOP, PCI_ERR_CAP_TRUNCATED, PCI_ERR_MSI_MMC, PCI_ERR_MSIX_BIR (6, 7),
 *  ERR_NO_SPACE (4 bytes per capability). */
export function pci_find_caps(cfg: usize, len: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(out, cap)) return ERR_BAD_ARG;
  let st = checkHeader(cfg, len);
  if (st < 0) return st;
  st = walkCaps(cfg);
  if (st < 0) return st;
  const need = capCount * CAP_RECORD;
  if (cap < <usize>need) return noSpace(need);
  for (let i = 0; i < capCount; i++) {
    const p = out + <usize>(i * CAP_RECORD);
    st8(p, C_ID[i]); st8(p + 1, 0); st16le(p + 2, C_OFF[i]);
  }
  setResult(0, <u64>msiOff); setResult(1, <u64>msiControl);
  setResult(2, <u64>msixOff); setResult(3, <u64>msixControl);
  setResult(4, <u64>msixTableBir); setResult(5, <u64>msixTableOffset);
  setResult(6, <u64>msixPbaBir); setResult(7, <u64>msixPbaOffset);
  setResult(8, <u64>msixEntries);
  return capCount;
}

/** The MSI-X table and PBA holes that must stay trapped in their BARs' mappable ranges, rounded
 *  out to `pageSize` (a power of two, 4096..65536) and clipped to the BAR's size; a table and PBA
 *  in one BAR whose rounded ranges touch or overlap make one hole. `mappable`: bit n set when
 *  region n has VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (no hole needed there). Returns the number of
 *  hole records (0..2), sorted by bar then offset. Statuses: those of pci_decode_bars and
 *  pci_find_caps, PCI_ERR_MSIX_BIR, PCI_ERR_MSIX_RANGE, ERR_BAD_ARG (page size), ERR_NO_SPACE. */
export function pci_msix_holes(cfg: usize, len: usize, sizes: usize, mappable: u32, pageSize: u64, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES) || !inScratch(out, cap)) return ERR_BAD_ARG;
  if (!validPageSize(pageSize)) return ERR_BAD_ARG;
  const st = decodeAll(cfg, len, sizes);
  if (st < 0) return st;
  if (msixOff == 0) return 0;
  const pm = pageSize - 1;
  // Two candidate holes [first, end): the table and the PBA; offsets and sizes were checked to
  // lie inside their BARs (sizes <= 2^63), so no sum below can overflow.
  const tb = msixTableBir, pb = msixPbaBir;
  const tFirst = <u64>msixTableOffset & ~pm;
  let tEnd = (<u64>msixTableOffset + msixTableBytes() + pm) & ~pm;
  if (tEnd > D_SIZE[<i32>tb]) tEnd = D_SIZE[<i32>tb];
  const pFirst = <u64>msixPbaOffset & ~pm;
  let pEnd = (<u64>msixPbaOffset + msixPbaBytes() + pm) & ~pm;
  if (pEnd > D_SIZE[<i32>pb]) pEnd = D_SIZE[<i32>pb];
  const tOn = (mappable & (<u32>1 << tb)) == 0;
  const pOn = (mappable & (<u32>1 << pb)) == 0;
  let n = 0;
  let b0: u32 = 0, w0: u32 = 0, f0: u64 = 0, e0: u64 = 0;
  let b1: u32 = 0, w1: u32 = 0, f1: u64 = 0, e1: u64 = 0;
  if (tOn && pOn && tb == pb && tFirst <= pEnd && pFirst <= tEnd) {
    n = 1; b0 = tb; w0 = 3;
    f0 = tFirst < pFirst ? tFirst : pFirst; e0 = tEnd > pEnd ? tEnd : pEnd;
  } else {
    if (tOn) { b0 = tb; w0 = 1; f0 = tFirst; e0 = tEnd; n = 1; }
    if (pOn) {
      if (n == 0) { b0 = pb; w0 = 2; f0 = pFirst; e0 = pEnd; n = 1; }
      else { b1 = pb; w1 = 2; f1 = pFirst; e1 = pEnd; n = 2; }
    }
    if (n == 2 && (b1 < b0 || (b1 == b0 && f1 < f0))) {
      const tb2 = b0, tw = w0, tf = f0, te = e0;
      b0 = b1; w0 = w1; f0 = f1; e0 = e1; b1 = tb2; w1 = tw; f1 = tf; e1 = te;
    }
  }
  const need = n * HOLE_RECORD;
  if (cap < <usize>need) return noSpace(need);
  if (n >= 1) { st32le(out, b0); st32le(out + 4, w0); st64le(out + 8, f0); st64le(out + 16, e0 - f0); }
  if (n == 2) { const p = out + <usize>HOLE_RECORD; st32le(p, b1); st32le(p + 4, w1); st64le(p + 8, f1); st64le(p + 16, e1 - f1); }
  return n;
}

/** Creates a shadow config from the device's config bytes and region sizes (validated as by
 *  pci_msix_holes). Returns a handle > 0; the statuses of the decoders; ERR_BAD_ARG;
 *  ERR_LIMIT when MAX_CONFIGS are in use. */
export function pci_config_create(cfg: usize, len: usize, sizes: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES)) return ERR_BAD_ARG;
  const st = decodeAll(cfg, len, sizes);
  if (st < 0) return st;
  const h = create(cfg, len);
  if (h < 0) return ERR_LIMIT;
  msixInit(slotOf(h), msixOff == 0 ? 0 : msixEntries);
  return h;
}

/** Frees a shadow config; its handle becomes invalid. ERR_BAD_HANDLE. */
export function pci_config_free(h: i32): i32 {
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  release(d);
  return 0;
}

/** The device was reset (VFIO_DEVICE_RESET): puts the shadow back to what the guest sees of a
 *  function out of reset, from the device's config bytes read after the reset (the same layout:
 *  length, BARs, MSI and MSI-X offsets). Returns the number of action records written to out, in
 *  order: MSIX_MASK per live vector, UNMAP per mapped BAR, MSI_UPDATE / MSIX_UPDATE for an enabled
 *  capability (control now disabled); at most MAX_MSIX_VECTORS + BAR_SLOTS + 2. Every vector is
 *  masked again with address and data 0 and nothing pending; BARs unassigned; forward ranges
 *  stay; counters restart. Statuses of the decoders, PCI_ERR_RESET_LAYOUT (nothing changed),
 *  ERR_BAD_ARG, ERR_BAD_HANDLE, ERR_NO_SPACE (nothing changed). */
export function pci_config_reset(h: i32, cfg: usize, len: usize, sizes: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES) || !inScratch(out, cap)) return ERR_BAD_ARG;
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  const st = decodeAll(cfg, len, sizes);
  if (st < 0) return st;
  if (!sameLayout(d, len) || msixVectors(d) != (msixOff == 0 ? 0 : <i32>msixEntries)) return PCI_ERR_RESET_LAYOUT;
  const masks = resetMaskCount(d);
  const n = masks + resetRecordCount(d);
  const need = n * ACTION_SIZE;
  if (cap < <usize>need) return noSpace(need);
  const q = out + resetMaskRecords(d, out);
  resetSlot(d, cfg, len, q);
  msixInit(d, msixVectors(d));
  return n;
}

/** Passes [off, off+len) through to the device: guest accesses there become FORWARD_READ /
 *  FORWARD_WRITE actions. Dword-aligned, inside the config, not over the header, the MSI or
 *  MSI-X capability or another range. PCI_ERR_FORWARD_RANGE, PCI_ERR_FORWARD_VIRTUALIZED,
 *  ERR_LIMIT (MAX_FORWARD_RANGES), ERR_BAD_HANDLE. */
export function pci_config_forward(h: i32, off: u32, len: u32): i32 {
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  return addForward(d, off, len);
}

function emit(out: usize, cap: usize): i32 {
  const n = stagedCount();
  const need = n * ACTION_SIZE;
  if (cap < <usize>need) return noSpace(need);
  for (let k = 0; k < n; k++) {
    const p = out + <usize>(k * ACTION_SIZE);
    st32le(p, stagedKind(k)); st32le(p + 4, stagedBar(k));
    st64le(p + 8, stagedFrom(k)); st64le(p + 16, stagedTo(k)); st64le(p + 24, stagedSize(k));
  }
  return n;
}

/** A guest config read of `width` (1, 2, 4) bytes at `off`. Returns 0 with the value in result
 *  slot 0, or 1 with a FORWARD_READ record in out (the host reads the device). A bad access
 *  returns 0 with all-ones and is counted. ERR_BAD_ARG (out), ERR_BAD_HANDLE, ERR_NO_SPACE. */
export function pci_config_read(h: i32, off: u32, width: u32, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(out, cap)) return ERR_BAD_ARG;
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  resetStaging();
  const v = read(d, off, width);
  const n = emit(out, cap);
  resetStaging();
  if (n == 0) setResult(0, v);
  return n;
}

/** A guest config write. Returns the number of action records written to out (THE RULE in
 *  shadow.ts: UNMAPs, FORWARD_WRITE of COMMAND, MAPs, MSI/MSI-X updates; and msix.ts's: MASKs of
 *  vectors that stop before them, ROUTE/UNMASK/DELIVERs of vectors that start after them). A bad
 *  access writes nothing and is counted. ERR_BAD_ARG (out), ERR_BAD_HANDLE, ERR_NO_SPACE (the
 *  shadow is left as it was; MAX_ACTIONS_PER_CONFIG_WRITE * 32 bytes always fit, and 256 bytes
 *  do for a function without MSI-X). */
export function pci_config_write(h: i32, off: u32, width: u32, value: u32, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(out, cap)) return ERR_BAD_ARG;
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  resetStaging();
  write(d, off, width, value);
  // MSI-X Enable / Function Mask: per-vector MASKs before the shadow's records (so vectors stop
  // before MSIX_UPDATE turns MSI-X off), ROUTE/UNMASK/DELIVERs after them (docs/pci.md).
  const ctrl = msixControlOf(d);
  const plan = controlPlan(d, ctrl);
  const before = <i32>(plan & 0xffff), after = <i32>(plan >> 16);
  const need = (before + stagedCount() + after) * ACTION_SIZE;
  if (cap < <usize>need) { undoWrite(d); resetStaging(); return noSpace(need); }
  const q = out + controlRecords(d, ctrl, true, out);
  const n = emit(q, cap - (q - out));
  controlRecords(d, ctrl, false, q + <usize>(n * ACTION_SIZE));
  commitWrite(d);
  controlCommit(d, ctrl);
  resetStaging();
  return before + n + after;
}

/** BAR slot `bar` (0..5, 6 = ROM) of a shadow config: returns its kind; results 0 programmed
 *  guest address, 1 size, 2 mapped (0/1), 3 mapped at, 4 sizing bits (1 low, 2 high dword),
 *  5 pending (64-bit low half written, upper not yet), 6 flags. ERR_BAD_ARG, ERR_BAD_HANDLE. */
export function pci_config_bar(h: i32, bar: i32): i32 {
  clearResults();
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  if (<u32>bar >= <u32>BAR_SLOTS) return ERR_BAD_ARG;
  const k = barInfo(d, bar, INFO);
  for (let i = 0; i < 7; i++) setResult(i, INFO[i]);
  return <i32>k;
}

/** Counters and layout of a shadow config: results 0 bad writes, 1 bad reads, 2 writes that
 *  tried to change read-only bits, 3 COMMAND, 4 config length, 5 MSI offset, 6 MSI-X offset,
 *  7 forwarded ranges. Returns 0; ERR_BAD_HANDLE. */
export function pci_config_info(h: i32): i32 {
  clearResults();
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  deviceInfo(d, INFO);
  for (let i = 0; i < 8; i++) setResult(i, INFO[i]);
  return 0;
}

/** Bounds and record sizes, for hosts: results 0 MAX_CONFIGS, 1 MAX_CAPS,
 *  2 MAX_ACTIONS_PER_WRITE, 3 MAX_FORWARD_RANGES, 4 BAR record, 5 cap record, 6 hole record,
 *  7 MAX_HOLES, 8 MAX_MSIX_VECTORS, 9 MAX_ACTIONS_PER_CONFIG_WRITE (a config write's bound with
 *  MSI-X), 10 MAX_ACTIONS_PER_MSIX_ACCESS; returns the action record size. */
export function pci_limits(): i32 {
  clearResults();
  setResult(0, <u64>MAX_CONFIGS); setResult(1, <u64>MAX_CAPS);
  setResult(2, <u64>MAX_ACTIONS_PER_WRITE); setResult(3, <u64>MAX_FORWARD_RANGES);
  setResult(4, <u64>BAR_RECORD); setResult(5, <u64>CAP_RECORD); setResult(6, <u64>HOLE_RECORD);
  setResult(7, <u64>MAX_HOLES); setResult(8, <u64>MAX_MSIX_VECTORS);
  setResult(9, <u64>MAX_ACTIONS_PER_CONFIG_WRITE); setResult(10, <u64>MAX_ACTIONS_PER_MSIX_ACCESS);
  return ACTION_SIZE;
}

// --- MSI-X emulation (msix.ts holds the state and its rule) and relocation (relocate.ts) ---

/** Whether to relocate the MSI-X table and PBA in the guest's view (THE RULE in relocate.ts).
 *  Inputs as pci_msix_holes. Returns 0 NONE, 1 EXTEND, 2 NEW_BAR, 3 IMPOSSIBLE; results 0 BAR,
 *  1 its size after (EXTEND: doubled; NEW_BAR: its size), 2 table offset, 3 PBA offset (both in
 *  that BAR), 4 flags (NEW_BAR: 1 64-bit, 2 prefetchable), 5 bytes the structures need (page- and
 *  power-of-two-rounded), 6 shared parts (1 table, 2 PBA). Statuses: those of pci_msix_holes. */
export function pci_msix_relocation(cfg: usize, len: usize, sizes: usize, mappable: u32, pageSize: u64): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES)) return ERR_BAD_ARG;
  if (!validPageSize(pageSize)) return ERR_BAD_ARG;
  const st = decodeAll(cfg, len, sizes);
  if (st < 0) return st;
  const k = relocation(pageSize, mappable);
  setResult(0, <u64>rBar); setResult(1, rSize); setResult(2, rTable); setResult(3, rPba);
  setResult(4, <u64>rFlags); setResult(5, rNeed); setResult(6, <u64>rShared);
  return <i32>k;
}

/** The guest's view of the function under the relocation decision (pci_msix_relocation's, same
 *  inputs): the config copied to `outCfg` (`len` bytes) and the sizes to `outSizes` (7 u64), with
 *  the relocation applied (relocate.ts applyView): make the shadow config from them. Returns the
 *  RELOC_* kind with the results of pci_msix_relocation; IMPOSSIBLE (nothing moved, results 0..4
 *  zero) when the moved view would not decode (a capability overlapping the MSI-X registers).
 *  Statuses: those of pci_msix_holes, and ERR_BAD_ARG for output buffers outside scratch. */
export function pci_msix_guest_view(cfg: usize, len: usize, sizes: usize, mappable: u32, pageSize: u64, outCfg: usize, outSizes: usize): i32 {
  clearResults();
  if (!inScratch(cfg, len) || !inScratch(sizes, SIZES_BYTES) || !inScratch(outCfg, len) || !inScratch(outSizes, SIZES_BYTES)) return ERR_BAD_ARG;
  const k = pci_msix_relocation(cfg, len, sizes, mappable, pageSize);
  if (k < 0) return k;
  copy(outCfg, cfg, len);
  copy(outSizes, sizes, SIZES_BYTES);
  if (k != <i32>RELOC_EXTEND && k != <i32>RELOC_NEW_BAR) return k;
  applyView(<u32>k, outCfg, outSizes);
  // The view must decode as the device did. Capabilities that overlap the MSI-X registers (no real
  // device has them, a malformed config can) would be rewritten with them: then nothing is moved.
  if (decodeAll(outCfg, len, outSizes) >= 0) return k;
  copy(outCfg, cfg, len);
  copy(outSizes, sizes, SIZES_BYTES);
  for (let i = 0; i < 5; i++) setResult(i, 0);
  return <i32>RELOC_IMPOSSIBLE;
}

function msixSlot(h: i32): i32 {
  const d = slotOf(h);
  if (d < 0) return ERR_BAD_HANDLE;
  return msixVectors(d) == 0 ? PCI_ERR_NO_MSIX : d;
}

function emitMsix(out: usize, cap: usize): i32 {
  const n = actionCount();
  const need = n * ACTION_SIZE;
  if (cap < <usize>need) return noSpace(need);
  for (let k = 0; k < n; k++) writeAction(k, out + <usize>(k * ACTION_SIZE));
  return n;
}

/** A guest read of the MSI-X table (`part` 0) or PBA (`part` 1) at `off` bytes from its start,
 *  `width` 4 or 8. Returns 0 with the value in result 0 (a bad access: all-ones, counted).
 *  ERR_BAD_ARG (part), ERR_BAD_HANDLE, PCI_ERR_NO_MSIX. */
export function pci_msix_read(h: i32, part: u32, off: u32, width: u32): i32 {
  clearResults();
  const d = msixSlot(h);
  if (d < 0) return d;
  if (part != PART_TABLE && part != PART_PBA) return ERR_BAD_ARG;
  setResult(0, msixRead(d, part, off, width));
  return 0;
}

/** A guest write of the MSI-X table or PBA (as pci_msix_read). Returns the number of action
 *  records written to out (at most MAX_ACTIONS_PER_MSIX_ACCESS: ROUTE, MASK, UNMASK, DELIVER,
 *  in msix.ts's order). A bad access or a PBA write changes nothing and is counted.
 *  ERR_BAD_ARG (out, part), ERR_BAD_HANDLE, PCI_ERR_NO_MSIX, ERR_NO_SPACE (nothing changed). */
export function pci_msix_write(h: i32, part: u32, off: u32, width: u32, value: u64, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(out, cap)) return ERR_BAD_ARG;
  const d = msixSlot(h);
  if (d < 0) return d;
  if (part != PART_TABLE && part != PART_PBA) return ERR_BAD_ARG;
  resetActions();
  const what = msixWrite(d, part, off, width, value);
  const n = emitMsix(out, cap);
  if (n >= 0) msixWriteCommit(d, off, what);
  resetActions();
  return n;
}

/** Vector `vector` fired on the host (its eventfd, on the userspace path). Returns 1 with a
 *  DELIVER record in out when the vector is live, 0 when it was made pending (masked) or dropped
 *  (MSI-X disabled). ERR_BAD_ARG (out; vector >= entries), ERR_BAD_HANDLE, PCI_ERR_NO_MSIX,
 *  ERR_NO_SPACE (nothing changed). */
export function pci_msix_fire(h: i32, vector: u32, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(out, cap)) return ERR_BAD_ARG;
  const d = msixSlot(h);
  if (d < 0) return d;
  if (vector >= <u32>msixVectors(d)) return ERR_BAD_ARG;
  if (cap < <usize>ACTION_SIZE) return noSpace(ACTION_SIZE);
  resetActions();
  msixFire(d, <i32>vector);
  const n = emitMsix(out, cap);
  resetActions();
  return n;
}

/** Vector `vector`'s state: returns 0; results 0 address, 1 data, 2 masked, 3 pending, 4 live
 *  (the host has it unmasked), 5 stale (the host's route is absent or older than the table).
 *  ERR_BAD_ARG (vector >= entries), ERR_BAD_HANDLE, PCI_ERR_NO_MSIX. */
export function pci_msix_vector(h: i32, vector: u32): i32 {
  clearResults();
  const d = msixSlot(h);
  if (d < 0) return d;
  if (vector >= <u32>msixVectors(d)) return ERR_BAD_ARG;
  vectorInfo(d, <i32>vector, INFO);
  for (let i = 0; i < 6; i++) setResult(i, INFO[i]);
  return 0;
}

/** The MSI-X emulation's state: returns the entries; results 0 entries, 1 enabled, 2 function
 *  masked, 3 bad accesses, 4 PBA writes, 5 fires dropped while disabled, 6 live vectors,
 *  7 pending vectors. ERR_BAD_HANDLE, PCI_ERR_NO_MSIX. */
export function pci_msix_info(h: i32): i32 {
  clearResults();
  const d = msixSlot(h);
  if (d < 0) return d;
  msixInfo(d, INFO);
  for (let i = 0; i < 8; i++) setResult(i, INFO[i]);
  return msixVectors(d);
}

// Decoding of a PCI function's configuration space as read through the VFIO config region
// (region 7): the six BARs and the expansion ROM BAR, sized by the VFIO region info of regions
// 0..6; the capability list (MSI, MSI-X); and the MSI-X table/PBA holes that must stay trapped.
// Results go to the static tables below (one decode at a time; the core is single-threaded) and
// are copied out by index.ts or taken over by shadow.ts.
// Not responsible for: extended capabilities at 0x100.. (not walked: MSI and MSI-X, the only
// ones this module interprets, must be in the first 256 bytes; PCIe extended ones such as AER or
// SR-IOV are not virtualized here), bridges (header type 1), or where a BAR goes in the guest.
//
// Every offset read here is checked against the config length first (256 or 4096, so the header
// and a capability pointer <= 0xfc with its 24 bytes of body are checked once, by the length and
// PCI_ERR_CAP_TRUNCATED). Faults set result slot 0 to the config offset of the bad register.

import { ld8, ld16le, ld32le, ld64le, setResult } from "../mem";
import {
  PCI_CFG_SPACE_SIZE, PCI_CFG_SPACE_EXP_SIZE, PCI_STD_HEADER_SIZEOF, PCI_STATUS, PCI_STATUS_CAP_LIST,
  PCI_HEADER_TYPE, PCI_HEADER_TYPE_MASK, PCI_HEADER_TYPE_NORMAL, PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_SPACE_IO, PCI_BASE_ADDRESS_MEM_TYPE_MASK, PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_32, PCI_BASE_ADDRESS_MEM_TYPE_1M, PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_MASK, PCI_BASE_ADDRESS_IO_MASK, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK, PCI_CAPABILITY_LIST, PCI_CAP_LIST_ID, PCI_CAP_LIST_NEXT, PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX, PCI_MSI_FLAGS, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT,
  PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_TABLE, PCI_MSIX_TABLE_BIR, PCI_MSIX_TABLE_OFFSET,
  PCI_MSIX_PBA, PCI_MSIX_PBA_BIR, PCI_MSIX_PBA_OFFSET, PCI_MSIX_ENTRY_SIZE, PCI_CAP_MSIX_SIZEOF,
} from "./regs";
import {
  PCI_ERR_CONFIG_LENGTH, PCI_ERR_HEADER_TYPE, PCI_ERR_BAR64_LAST_SLOT, PCI_ERR_BAR_SIZE,
  PCI_ERR_BAR_TOO_SMALL, PCI_ERR_BAR_TOO_LARGE, PCI_ERR_BAR64_UPPER_SIZED, PCI_ERR_BAR_TYPE,
  PCI_ERR_CAP_POINTER, PCI_ERR_CAP_LOOP, PCI_ERR_CAP_TRUNCATED, PCI_ERR_MSI_MMC, PCI_ERR_MSIX_BIR,
  PCI_ERR_MSIX_RANGE,
} from "./status";

/** BAR slots of a type 0 header (BAR0..BAR5) plus the ROM, which is slot ROM_SLOT here as in
 *  VFIO's region numbering (VFIO_PCI_ROM_REGION_INDEX). */
export const BAR_SLOTS: i32 = 7;
export const ROM_SLOT: i32 = 6;
/** Capabilities in one list: (256 - 64) / 4 = 48 dword-aligned places exist above the header, so
 *  a list with more entries visits one twice: it loops. Linux's PCI_FIND_CAP_TTL is 48 for the
 *  same reason. */
export const MAX_CAPS: i32 = 48;

// BAR kinds (the u32 at +4 of a BAR record; pci_config_bar's return value)
export const BAR_NONE: u32 = 0;     // unimplemented: region size 0
export const BAR_MEM32: u32 = 1;    // 32-bit memory (also the legacy "below 1M" type 01b, as Linux does)
export const BAR_MEM64: u32 = 2;    // 64-bit memory; the next slot is its upper half
export const BAR_IO: u32 = 3;       // I/O space
export const BAR_MEM64_UPPER: u32 = 4; // the upper dword of the 64-bit BAR in the slot below
export const BAR_ROM: u32 = 5;      // expansion ROM (slot 6)
// BAR flags (the u32 at +8 of a BAR record)
export const BAR_FLAG_PREFETCH: u32 = 1;    // prefetchable memory
export const BAR_FLAG_ROM_ENABLED: u32 = 2; // the ROM BAR's enable bit is set in the device's config

/** Bounds on a BAR's size, from what its register can decode. */
const MIN_MEM_BAR_SIZE: u64 = 16;        // memory BAR bits 3:0 are type bits
const MIN_IO_BAR_SIZE: u64 = 4;          // I/O BAR bits 1:0 are type bits
const MIN_ROM_BAR_SIZE: u64 = 2048;      // ROM BAR address bits are 31:11
/** A 32-bit BAR of 4 GiB would have no writable address bit: 2 GiB is the largest placeable. */
const MAX_MEM32_BAR_SIZE: u64 = 1 << 31;
/** Bit 63 is the highest writable address bit of a 64-bit BAR. */
const MAX_MEM64_BAR_SIZE: u64 = 1 << 63;
/** Port I/O spaces are 64 KiB (x86 in/out take a 16-bit port): a larger I/O BAR cannot be placed. */
const MAX_IO_BAR_SIZE: u64 = 1 << 16;
/** PCI 3.0 6.2.5.2: a device must not request more than 16 MiB of expansion ROM space. */
const MAX_ROM_BAR_SIZE: u64 = 16 << 20;
/** Bytes of each MSI capability layout: header+control, address (lo[, hi]), data (16 bits,
 *  padded to a dword), then mask and pending dwords when per-vector masking is capable. */
function msiCapBytes(control: u32): u32 {
  let n: u32 = (control & PCI_MSI_FLAGS_64BIT) != 0 ? 16 : 12;
  if ((control & PCI_MSI_FLAGS_MASKBIT) != 0) n += 8;
  return n;
}

// --- decoded BARs (slot 0..6) ---
export const D_KIND = new StaticArray<u32>(BAR_SLOTS);
export const D_FLAGS = new StaticArray<u32>(BAR_SLOTS);
export const D_ADDR = new StaticArray<u64>(BAR_SLOTS);   // as in the device's config (host view)
export const D_SIZE = new StaticArray<u64>(BAR_SLOTS);
export const D_RAW = new StaticArray<u32>(BAR_SLOTS);    // the register as read
// --- decoded capabilities ---
export const C_ID = new StaticArray<u32>(MAX_CAPS);
export const C_OFF = new StaticArray<u32>(MAX_CAPS);
export let capCount: i32 = 0;
export let msiOff: u32 = 0;       // 0: none (0 can never be a capability offset)
export let msiControl: u32 = 0;
export let msiBytes: u32 = 0;
export let msixOff: u32 = 0;
export let msixControl: u32 = 0;
export let msixTableBir: u32 = 0;
export let msixTableOffset: u32 = 0;
export let msixPbaBir: u32 = 0;
export let msixPbaOffset: u32 = 0;
/** MSI-X table entries: Table Size field + 1 (1..2048). */
export let msixEntries: u32 = 0;

function isPow2(x: u64): bool { return x != 0 && (x & (x - 1)) == 0; }

/** Checks the config length and header type. */
export function checkHeader(cfg: usize, len: usize): i32 {
  if (len != <usize>PCI_CFG_SPACE_SIZE && len != <usize>PCI_CFG_SPACE_EXP_SIZE) return PCI_ERR_CONFIG_LENGTH;
  if ((ld8(cfg + PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) != PCI_HEADER_TYPE_NORMAL) {
    setResult(0, <u64>PCI_HEADER_TYPE);
    return PCI_ERR_HEADER_TYPE;
  }
  return 0;
}

function fault(off: u32, st: i32): i32 { setResult(0, <u64>off); return st; }

function checkSize(size: u64, min: u64, max: u64, reg: u32): i32 {
  if (!isPow2(size)) return fault(reg, PCI_ERR_BAR_SIZE);
  if (size < min) return fault(reg, PCI_ERR_BAR_TOO_SMALL);
  if (size > max) return fault(reg, PCI_ERR_BAR_TOO_LARGE);
  return 0;
}

/** Decodes BAR0..BAR5 and the ROM BAR of `cfg` (length checked by checkHeader) with the region
 *  sizes at `sizes` (7 u64: VFIO regions 0..6) into D_*. Region size 0 means unimplemented: the
 *  register's type bits are not looked at (vfio-pci reads such a BAR as 0). */
export function decodeBars(cfg: usize, sizes: usize): i32 {
  let upper = false;
  for (let i = 0; i < 6; i++) {
    const reg = PCI_BASE_ADDRESS_0 + <u32>(i * 4);
    const raw = ld32le(cfg + reg);
    const size = ld64le(sizes + <usize>(i * 8));
    D_RAW[i] = raw; D_FLAGS[i] = 0; D_ADDR[i] = 0; D_SIZE[i] = 0;
    if (upper) {
      upper = false;
      if (size != 0) return fault(reg, PCI_ERR_BAR64_UPPER_SIZED);
      D_KIND[i] = BAR_MEM64_UPPER;
      continue;
    }
    if (size == 0) { D_KIND[i] = BAR_NONE; continue; }
    if ((raw & PCI_BASE_ADDRESS_SPACE_IO) != 0) {
      const st = checkSize(size, MIN_IO_BAR_SIZE, MAX_IO_BAR_SIZE, reg);
      if (st < 0) return st;
      D_KIND[i] = BAR_IO;
      D_ADDR[i] = <u64>(raw & PCI_BASE_ADDRESS_IO_MASK);
    } else {
      const type = raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK;
      if (type == PCI_BASE_ADDRESS_MEM_TYPE_64) {
        if (i == 5) return fault(reg, PCI_ERR_BAR64_LAST_SLOT);
        const st = checkSize(size, MIN_MEM_BAR_SIZE, MAX_MEM64_BAR_SIZE, reg);
        if (st < 0) return st;
        D_KIND[i] = BAR_MEM64;
        D_ADDR[i] = (<u64>ld32le(cfg + reg + 4) << 32) | <u64>(raw & PCI_BASE_ADDRESS_MEM_MASK);
        upper = true;
      } else if (type == PCI_BASE_ADDRESS_MEM_TYPE_32 || type == PCI_BASE_ADDRESS_MEM_TYPE_1M) {
        const st = checkSize(size, MIN_MEM_BAR_SIZE, MAX_MEM32_BAR_SIZE, reg);
        if (st < 0) return st;
        D_KIND[i] = BAR_MEM32;
        D_ADDR[i] = <u64>(raw & PCI_BASE_ADDRESS_MEM_MASK);
      } else {
        return fault(reg, PCI_ERR_BAR_TYPE);
      }
      if ((raw & PCI_BASE_ADDRESS_MEM_PREFETCH) != 0) D_FLAGS[i] = BAR_FLAG_PREFETCH;
    }
    D_SIZE[i] = size;
  }
  const raw = ld32le(cfg + PCI_ROM_ADDRESS);
  const size = ld64le(sizes + <usize>(ROM_SLOT * 8));
  D_RAW[ROM_SLOT] = raw; D_FLAGS[ROM_SLOT] = 0; D_ADDR[ROM_SLOT] = 0; D_SIZE[ROM_SLOT] = 0;
  if (size == 0) {
    D_KIND[ROM_SLOT] = BAR_NONE;
  } else {
    const st = checkSize(size, MIN_ROM_BAR_SIZE, MAX_ROM_BAR_SIZE, PCI_ROM_ADDRESS);
    if (st < 0) return st;
    D_KIND[ROM_SLOT] = BAR_ROM;
    D_ADDR[ROM_SLOT] = <u64>(raw & PCI_ROM_ADDRESS_MASK);
    D_SIZE[ROM_SLOT] = size;
    if ((raw & PCI_ROM_ADDRESS_ENABLE) != 0) D_FLAGS[ROM_SLOT] = BAR_FLAG_ROM_ENABLED;
  }
  return 0;
}

/** Walks the capability list of `cfg` (length checked) into C_*, msi*, msix*. The first MSI and
 *  the first MSI-X capability count (Linux's pci_find_capability does the same); others are
 *  listed only. The pointer's two low bits are reserved and masked off, as the PCI spec (6.7)
 *  tells software to, so every pointer is dword-aligned; one below 0x40 points into the header. */
export function walkCaps(cfg: usize): i32 {
  capCount = 0;
  msiOff = 0; msiControl = 0; msiBytes = 0;
  msixOff = 0; msixControl = 0; msixTableBir = 0; msixTableOffset = 0; msixPbaBir = 0;
  msixPbaOffset = 0; msixEntries = 0;
  if ((ld16le(cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST) == 0) return 0;
  let from: u32 = PCI_CAPABILITY_LIST;
  let p: u32 = ld8(cfg + PCI_CAPABILITY_LIST) & 0xfc;
  while (p != 0) {
    if (p < PCI_STD_HEADER_SIZEOF) return fault(from, PCI_ERR_CAP_POINTER);
    if (capCount == MAX_CAPS) return fault(from, PCI_ERR_CAP_LOOP);
    // p <= 0xfc: the 4-byte header (id, next, 16-bit control) is inside the first 256 bytes.
    const id = ld8(cfg + p + PCI_CAP_LIST_ID);
    C_ID[capCount] = id;
    C_OFF[capCount] = p;
    capCount++;
    if (id == PCI_CAP_ID_MSI && msiOff == 0) {
      const control = ld16le(cfg + p + PCI_MSI_FLAGS);
      const bytes = msiCapBytes(control);
      if (p + bytes > PCI_CFG_SPACE_SIZE) return fault(p, PCI_ERR_CAP_TRUNCATED);
      if (((control & PCI_MSI_FLAGS_QMASK) >> 1) > 5) return fault(p + PCI_MSI_FLAGS, PCI_ERR_MSI_MMC);
      msiOff = p; msiControl = control; msiBytes = bytes;
    } else if (id == PCI_CAP_ID_MSIX && msixOff == 0) {
      if (p + PCI_CAP_MSIX_SIZEOF > PCI_CFG_SPACE_SIZE) return fault(p, PCI_ERR_CAP_TRUNCATED);
      const control = ld16le(cfg + p + PCI_MSIX_FLAGS);
      const table = ld32le(cfg + p + PCI_MSIX_TABLE);
      const pba = ld32le(cfg + p + PCI_MSIX_PBA);
      msixOff = p; msixControl = control;
      msixEntries = (control & PCI_MSIX_FLAGS_QSIZE) + 1;
      msixTableBir = table & PCI_MSIX_TABLE_BIR; msixTableOffset = table & PCI_MSIX_TABLE_OFFSET;
      msixPbaBir = pba & PCI_MSIX_PBA_BIR; msixPbaOffset = pba & PCI_MSIX_PBA_OFFSET;
      if (msixTableBir > 5) return fault(p + PCI_MSIX_TABLE, PCI_ERR_MSIX_BIR);
      if (msixPbaBir > 5) return fault(p + PCI_MSIX_PBA, PCI_ERR_MSIX_BIR);
    }
    from = p + PCI_CAP_LIST_NEXT;
    p = ld8(cfg + p + PCI_CAP_LIST_NEXT) & 0xfc;
  }
  return 0;
}

/** Bytes of the MSI-X table and of the PBA (one bit per entry, in whole qwords). */
export function msixTableBytes(): u64 { return <u64>msixEntries * <u64>PCI_MSIX_ENTRY_SIZE; }
export function msixPbaBytes(): u64 { return ((<u64>msixEntries + 63) >> 6) << 3; }

/** With D_* and msix* decoded: the table and PBA each lie inside an implemented memory BAR. */
export function checkMsix(): i32 {
  if (msixOff == 0) return 0;
  let st = checkMsixPart(msixTableBir, msixTableOffset, msixTableBytes(), msixOff + PCI_MSIX_TABLE);
  if (st < 0) return st;
  return checkMsixPart(msixPbaBir, msixPbaOffset, msixPbaBytes(), msixOff + PCI_MSIX_PBA);
}

function checkMsixPart(bir: u32, offset: u32, bytes: u64, reg: u32): i32 {
  const k = D_KIND[<i32>bir];
  if (k != BAR_MEM32 && k != BAR_MEM64) return fault(reg, PCI_ERR_MSIX_BIR);
  // offset < 2^32 and bytes <= 2048 * 16: the sum cannot overflow.
  if (<u64>offset + bytes > D_SIZE[<i32>bir]) return fault(reg, PCI_ERR_MSIX_RANGE);
  return 0;
}

/** Decodes everything a shadow config or a hole computation needs, in one fixed order so the
 *  status of a config with several faults is predictable: length, header, BARs, capabilities,
 *  MSI-X placement. */
export function decodeAll(cfg: usize, len: usize, sizes: usize): i32 {
  let st = checkHeader(cfg, len);
  if (st < 0) return st;
  st = decodeBars(cfg, sizes);
  if (st < 0) return st;
  st = walkCaps(cfg);
  if (st < 0) return st;
  return checkMsix();
}

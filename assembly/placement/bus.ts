// The placement module: the platform-bus allocator. Its exports (prefixed "place_") are listed by ./index.ts.
// docs/placement-dtnode.md describes the ABI.
//
// A placement allocator for a guest platform bus (dynamic sysbus devices), in the spirit of QEMU's
// hw/core/platform-bus.c but without its exit(1): every failure is a status. The VMM gives each
// bus an MMIO window [base, base+size) and a range of GIC SPIs; devices get MMIO ranges in the
// window and SPIs from the range, and give them all back on unplug (place_device_free).
//
// Ranges are kept as inclusive [first, last] pairs so that a window ending at 2^64-1 works and no
// end is ever computed as first+size (which would wrap to 0). Every sum is checked.
//
// Placement modes of place_region:
//   MODE_FIRST_FIT (0): the lowest free address aligned to `align` (0: natural alignment, the
//                       reserved size rounded up to a power of two) that fits.
//   MODE_FIXED     (1): exactly `addr` (a multiple of the page size and of `align` when given).
//   MODE_IDENTITY  (2): exactly `addr`, which is the region's host physical address (page aligned;
//                       `align` is ignored). Recorded as identity, otherwise as FIXED.
// Every range reserves whole pages: the size is rounded up to the bus's page size, so that a
// sub-page region never shares a guest page with another device's mapping.
//
// Not responsible for: deciding where the window is, mapping anything, or describing the bus in
// the device tree (assembly/dtnode does that from the addresses this module hands out).

import { MIN_PAGE_SIZE, MAX_PAGE_SIZE, validPageSize } from "../page";
import { ERR_BAD_ARG, ERR_BAD_HANDLE, ERR_LIMIT, ERR_OVERFLOW } from "../status";
import { clearResults, setResult } from "../mem";
import {
  PLACE_ERR_WINDOW_FULL, PLACE_ERR_NO_SPI, PLACE_ERR_TAKEN, PLACE_ERR_OUTSIDE_WINDOW,
  PLACE_ERR_SPI_TAKEN, PLACE_ERR_SPI_OUTSIDE, PLACE_ERR_MISALIGNED, PLACE_ERR_BAD_WINDOW,
  PLACE_ERR_BAD_SPI_RANGE,
} from "./status";

/** Buses open at once: one per platform bus of a VM, with room for several VMs in one process. */
const MAX_BUSES: i32 = 8;
/** Devices per bus: QEMU's virt platform bus takes 32 MiB and 64 SPIs; 64 devices cover it. */
const MAX_DEVICES_PER_BUS: i32 = 64;
/** Ranges per bus: vfio-platform devices expose a handful of regions each (xgbe has 5). */
const MAX_PLACED_REGIONS: i32 = 256;
/** SPIs a GIC can have: INTIDs 32..1019, so SPI numbers 0..987 (GICv3 spec, 2.2.1). */
const MAX_SPIS: i32 = 988;

const MODE_FIRST_FIT: i32 = 0;
const MODE_FIXED: i32 = 1;
const MODE_IDENTITY: i32 = 2;

const U64_MAX: u64 = 0xffff_ffff_ffff_ffff;
/** Handle generations keep a freed handle from naming a new occupant of its slot. */
const BUS_SLOT_BITS: i32 = 4;   // 1 << 4 > MAX_BUSES
const DEV_SLOT_BITS: i32 = 8;   // 1 << 8 > MAX_DEVICES_PER_BUS
const BUS_GEN_MASK: u32 = (1 << (31 - BUS_SLOT_BITS)) - 1;
const DEV_GEN_MASK: u32 = (1 << (31 - DEV_SLOT_BITS)) - 1;

// --- bus table ---
const BUS_USED = new StaticArray<bool>(MAX_BUSES);
const BUS_GEN = new StaticArray<u32>(MAX_BUSES);
const BUS_FIRST = new StaticArray<u64>(MAX_BUSES);
const BUS_LAST = new StaticArray<u64>(MAX_BUSES);
const BUS_PAGE = new StaticArray<u64>(MAX_BUSES);
const BUS_SPI_FIRST = new StaticArray<i32>(MAX_BUSES);
const BUS_SPI_COUNT = new StaticArray<i32>(MAX_BUSES);
const BUS_NREG = new StaticArray<i32>(MAX_BUSES);
// --- devices: [bus * MAX_DEVICES_PER_BUS + slot] ---
const DEV_USED = new StaticArray<bool>(MAX_BUSES * MAX_DEVICES_PER_BUS);
const DEV_GEN = new StaticArray<u32>(MAX_BUSES * MAX_DEVICES_PER_BUS);
// --- ranges: [bus * MAX_PLACED_REGIONS + i], i < BUS_NREG[bus], sorted by first ---
const REG_FIRST = new StaticArray<u64>(MAX_BUSES * MAX_PLACED_REGIONS);
const REG_LAST = new StaticArray<u64>(MAX_BUSES * MAX_PLACED_REGIONS);
const REG_DEV = new StaticArray<i32>(MAX_BUSES * MAX_PLACED_REGIONS);  // device slot
const REG_MODE = new StaticArray<i32>(MAX_BUSES * MAX_PLACED_REGIONS);
// --- SPIs: [bus * MAX_SPIS + (spi - first)] = device slot + 1, 0 when free ---
const SPI_OWNER = new StaticArray<i32>(MAX_BUSES * MAX_SPIS);

function isPow2(x: u64): bool { return x != 0 && (x & (x - 1)) == 0; }

/** Bus slot of a handle, or -1. */
function busSlot(h: i32): i32 {
  if (h <= 0) return -1;
  const slot = (h & ((1 << BUS_SLOT_BITS) - 1)) - 1;
  if (slot < 0 || slot >= MAX_BUSES || !BUS_USED[slot]) return -1;
  if (BUS_GEN[slot] != (<u32>h >> <u32>BUS_SLOT_BITS)) return -1;
  return slot;
}

/** Device slot of a handle on bus slot b, or -1. */
function devSlot(b: i32, h: i32): i32 {
  if (h <= 0) return -1;
  const slot = (h & ((1 << DEV_SLOT_BITS) - 1)) - 1;
  if (slot < 0 || slot >= MAX_DEVICES_PER_BUS) return -1;
  const i = b * MAX_DEVICES_PER_BUS + slot;
  if (!DEV_USED[i] || DEV_GEN[i] != (<u32>h >> <u32>DEV_SLOT_BITS)) return -1;
  return slot;
}

/** Creates a bus with MMIO window [base, base+size-1] and SPIs [spiFirst, spiFirst+spiCount-1]
 *  (SPI numbers: INTID - 32). pageSize: a power of two in [MIN_PAGE_SIZE, MAX_PAGE_SIZE].
 *  Returns a bus handle > 0; ERR_BAD_ARG (page size), PLACE_ERR_BAD_WINDOW, PLACE_ERR_BAD_SPI_RANGE,
 *  ERR_LIMIT (MAX_BUSES open). */
export function place_bus_create(base: u64, size: u64, spiFirst: i32, spiCount: i32, pageSize: u64): i32 {
  clearResults();
  if (!validPageSize(pageSize)) return ERR_BAD_ARG;
  const pm = pageSize - 1;
  if (size == 0 || (base & pm) != 0 || (size & pm) != 0) return PLACE_ERR_BAD_WINDOW;
  if (size - 1 > U64_MAX - base) return PLACE_ERR_BAD_WINDOW;
  if (spiFirst < 0 || spiCount <= 0 || spiFirst >= MAX_SPIS || spiCount > MAX_SPIS - spiFirst) return PLACE_ERR_BAD_SPI_RANGE;
  let b = -1;
  for (let i = 0; i < MAX_BUSES; i++) if (!BUS_USED[i]) { b = i; break; }
  if (b < 0) return ERR_LIMIT;
  BUS_USED[b] = true;
  BUS_FIRST[b] = base;
  BUS_LAST[b] = base + (size - 1);
  BUS_PAGE[b] = pageSize;
  BUS_SPI_FIRST[b] = spiFirst;
  BUS_SPI_COUNT[b] = spiCount;
  BUS_NREG[b] = 0;
  for (let d = 0; d < MAX_DEVICES_PER_BUS; d++) DEV_USED[b * MAX_DEVICES_PER_BUS + d] = false;
  for (let s = 0; s < MAX_SPIS; s++) SPI_OWNER[b * MAX_SPIS + s] = 0;
  return <i32>((BUS_GEN[b] << <u32>BUS_SLOT_BITS) | <u32>(b + 1));
}

/** Frees a bus and everything placed on it. ERR_BAD_HANDLE for an unknown or freed handle. */
export function place_bus_free(bus: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  BUS_USED[b] = false;
  BUS_NREG[b] = 0;
  BUS_GEN[b] = (BUS_GEN[b] + 1) & BUS_GEN_MASK;
  for (let d = 0; d < MAX_DEVICES_PER_BUS; d++) {
    const i = b * MAX_DEVICES_PER_BUS + d;
    if (DEV_USED[i]) { DEV_USED[i] = false; DEV_GEN[i] = (DEV_GEN[i] + 1) & DEV_GEN_MASK; }
  }
  for (let s = 0; s < MAX_SPIS; s++) SPI_OWNER[b * MAX_SPIS + s] = 0;
  return 0;
}

/** A new device on the bus; returns its handle > 0 (valid on this bus only). ERR_BAD_HANDLE,
 *  ERR_LIMIT (MAX_DEVICES_PER_BUS). */
export function place_device_create(bus: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  for (let d = 0; d < MAX_DEVICES_PER_BUS; d++) {
    const i = b * MAX_DEVICES_PER_BUS + d;
    if (!DEV_USED[i]) {
      DEV_USED[i] = true;
      return <i32>((DEV_GEN[i] << <u32>DEV_SLOT_BITS) | <u32>(d + 1));
    }
  }
  return ERR_LIMIT;
}

/** Unplug: frees every range and SPI the device got, and the device handle.
 *  Result slots: 0 = ranges freed, 1 = SPIs freed. ERR_BAD_HANDLE. */
export function place_device_free(bus: i32, dev: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  const d = devSlot(b, dev);
  if (d < 0) return ERR_BAD_HANDLE;
  const base = b * MAX_PLACED_REGIONS;
  const n = BUS_NREG[b];
  let w = 0;
  for (let r = 0; r < n; r++) {
    if (REG_DEV[base + r] == d) continue;
    if (w != r) {
      REG_FIRST[base + w] = REG_FIRST[base + r];
      REG_LAST[base + w] = REG_LAST[base + r];
      REG_DEV[base + w] = REG_DEV[base + r];
      REG_MODE[base + w] = REG_MODE[base + r];
    }
    w++;
  }
  BUS_NREG[b] = w;
  let spis = 0;
  for (let s = 0; s < MAX_SPIS; s++) {
    if (SPI_OWNER[b * MAX_SPIS + s] == d + 1) { SPI_OWNER[b * MAX_SPIS + s] = 0; spis++; }
  }
  const i = b * MAX_DEVICES_PER_BUS + d;
  DEV_USED[i] = false;
  DEV_GEN[i] = (DEV_GEN[i] + 1) & DEV_GEN_MASK;
  setResult(0, <u64>(n - w));
  setResult(1, <u64>spis);
  return 0;
}

/** Index in the sorted range table where a range starting at `first` goes. */
function insertAt(b: i32, first: u64): i32 {
  const base = b * MAX_PLACED_REGIONS;
  const n = BUS_NREG[b];
  let i = 0;
  while (i < n && REG_FIRST[base + i] < first) i++;
  return i;
}

/** True when [first, last] overlaps a placed range of bus b. */
function overlaps(b: i32, first: u64, last: u64): bool {
  const base = b * MAX_PLACED_REGIONS;
  const n = BUS_NREG[b];
  for (let i = 0; i < n; i++) {
    if (REG_FIRST[base + i] <= last && first <= REG_LAST[base + i]) return true;
  }
  return false;
}

// First-fit search result (module state instead of a tuple: no allocation).
let foundFirst: u64 = 0;

/** Lowest address a (multiple of align) with [a, a+size-1] free inside bus b's window. */
function firstFit(b: i32, size: u64, align: u64): bool {
  const am = align - 1;
  const wlast = BUS_LAST[b];
  let cand = BUS_FIRST[b];
  if (cand > U64_MAX - am) return false;
  cand = (cand + am) & ~am;
  const base = b * MAX_PLACED_REGIONS;
  const n = BUS_NREG[b];
  for (let i = 0; i < n; i++) {
    const rf = REG_FIRST[base + i];
    const rl = REG_LAST[base + i];
    if (rl < cand) continue;
    // cand <= rl: it fits before this range only if it ends below rf.
    if (cand < rf && size <= rf - cand) break;
    if (rl == U64_MAX) return false;
    const next = rl + 1;
    if (next > U64_MAX - am) return false;
    cand = (next + am) & ~am;
  }
  if (cand > wlast || size - 1 > wlast - cand) return false;
  foundFirst = cand;
  return true;
}

/** Places a range of `size` bytes for a device (see the modes in the header). align: 0 for natural
 *  alignment, else a power of two (raised to the page size). Returns the range's index in the
 *  bus's sorted table (place_region_at), and result slots 0 = guest address, 1 = reserved size
 *  (size rounded up to the page size), 2 = alignment used.
 *  ERR_BAD_HANDLE, ERR_BAD_ARG (size 0, align not a power of two, unknown mode), ERR_OVERFLOW
 *  (rounded size or natural alignment beyond 2^64), ERR_LIMIT (MAX_PLACED_REGIONS),
 *  PLACE_ERR_WINDOW_FULL (first fit), PLACE_ERR_MISALIGNED, PLACE_ERR_OUTSIDE_WINDOW,
 *  PLACE_ERR_TAKEN (fixed, identity). Nothing changes on error. */
export function place_region(bus: i32, dev: i32, size: u64, align: u64, mode: i32, addr: u64): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  const d = devSlot(b, dev);
  if (d < 0) return ERR_BAD_HANDLE;
  if (mode != MODE_FIRST_FIT && mode != MODE_FIXED && mode != MODE_IDENTITY) return ERR_BAD_ARG;
  if (size == 0) return ERR_BAD_ARG;
  if (align != 0 && !isPow2(align)) return ERR_BAD_ARG;
  const page = BUS_PAGE[b];
  const pm = page - 1;
  if (size > U64_MAX - pm) return ERR_OVERFLOW;
  const rsize = (size + pm) & ~pm;
  let a: u64 = page;
  if (mode == MODE_IDENTITY) {
    a = page;
  } else if (align != 0) {
    if (align > a) a = align;
  } else {
    // Natural alignment: rsize rounded up to a power of two (at least the page size).
    if (rsize > (<u64>1 << 63)) return ERR_OVERFLOW;
    const p2: u64 = isPow2(rsize) ? rsize : (<u64>1 << (64 - clz<u64>(rsize)));
    if (p2 > a) a = p2;
  }
  if (BUS_NREG[b] >= MAX_PLACED_REGIONS) return ERR_LIMIT;
  let first: u64 = 0;
  if (mode == MODE_FIRST_FIT) {
    if (!firstFit(b, rsize, a)) return PLACE_ERR_WINDOW_FULL;
    first = foundFirst;
  } else {
    // Fixed and identity: only the page (or an explicitly asked alignment) is required.
    const need: u64 = mode == MODE_FIXED && align > page ? align : page;
    if ((addr & (need - 1)) != 0) return PLACE_ERR_MISALIGNED;
    if (rsize - 1 > U64_MAX - addr) return PLACE_ERR_OUTSIDE_WINDOW;
    const last = addr + (rsize - 1);
    if (addr < BUS_FIRST[b] || last > BUS_LAST[b]) return PLACE_ERR_OUTSIDE_WINDOW;
    if (overlaps(b, addr, last)) return PLACE_ERR_TAKEN;
    first = addr;
    a = need;
  }
  const at = insertAt(b, first);
  const base = b * MAX_PLACED_REGIONS;
  for (let i = BUS_NREG[b]; i > at; i--) {
    REG_FIRST[base + i] = REG_FIRST[base + i - 1];
    REG_LAST[base + i] = REG_LAST[base + i - 1];
    REG_DEV[base + i] = REG_DEV[base + i - 1];
    REG_MODE[base + i] = REG_MODE[base + i - 1];
  }
  REG_FIRST[base + at] = first;
  REG_LAST[base + at] = first + (rsize - 1);
  REG_DEV[base + at] = d;
  REG_MODE[base + at] = mode;
  BUS_NREG[b] = BUS_NREG[b] + 1;
  setResult(0, first);
  setResult(1, rsize);
  setResult(2, a);
  return at;
}

/** Gives the device an SPI: the lowest free one of the bus's range when fixed < 0, else exactly
 *  `fixed` (an SPI number, INTID - 32). Returns the SPI number; result slot 0 = its INTID.
 *  ERR_BAD_HANDLE, PLACE_ERR_NO_SPI, PLACE_ERR_SPI_OUTSIDE, PLACE_ERR_SPI_TAKEN. */
export function place_irq(bus: i32, dev: i32, fixed: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  const d = devSlot(b, dev);
  if (d < 0) return ERR_BAD_HANDLE;
  const first = BUS_SPI_FIRST[b];
  const count = BUS_SPI_COUNT[b];
  let k = -1;
  if (fixed < 0) {
    for (let i = 0; i < count; i++) if (SPI_OWNER[b * MAX_SPIS + i] == 0) { k = i; break; }
    if (k < 0) return PLACE_ERR_NO_SPI;
  } else {
    if (fixed < first || fixed - first >= count) return PLACE_ERR_SPI_OUTSIDE;
    k = fixed - first;
    if (SPI_OWNER[b * MAX_SPIS + k] != 0) return PLACE_ERR_SPI_TAKEN;
  }
  SPI_OWNER[b * MAX_SPIS + k] = d + 1;
  setResult(0, <u64>(first + k + 32));
  return first + k;
}

/** Range i (0 <= i < count) of the bus's table, sorted by address. Returns the owning device
 *  handle; result slots 0 = first address, 1 = last address (inclusive), 2 = mode.
 *  ERR_BAD_HANDLE, ERR_BAD_ARG (i out of range). */
export function place_region_at(bus: i32, i: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  if (i < 0 || i >= BUS_NREG[b]) return ERR_BAD_ARG;
  const r = b * MAX_PLACED_REGIONS + i;
  const d = REG_DEV[r];
  setResult(0, REG_FIRST[r]);
  setResult(1, REG_LAST[r]);
  setResult(2, <u64>REG_MODE[r]);
  return <i32>((DEV_GEN[b * MAX_DEVICES_PER_BUS + d] << <u32>DEV_SLOT_BITS) | <u32>(d + 1));
}

/** Owner of SPI `spi`: the device handle, 0 when free. ERR_BAD_HANDLE, PLACE_ERR_SPI_OUTSIDE. */
export function place_spi_owner(bus: i32, spi: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  const first = BUS_SPI_FIRST[b];
  if (spi < first || spi - first >= BUS_SPI_COUNT[b]) return PLACE_ERR_SPI_OUTSIDE;
  const o = SPI_OWNER[b * MAX_SPIS + (spi - first)];
  if (o == 0) return 0;
  return <i32>((DEV_GEN[b * MAX_DEVICES_PER_BUS + o - 1] << <u32>DEV_SLOT_BITS) | <u32>o);
}

/** The bus: returns the number of placed ranges; result slots 0 = window first, 1 = window last
 *  (inclusive), 2 = page size, 3 = SPI first, 4 = SPI count, 5 = SPIs taken, 6 = devices.
 *  ERR_BAD_HANDLE. */
export function place_bus_info(bus: i32): i32 {
  clearResults();
  const b = busSlot(bus);
  if (b < 0) return ERR_BAD_HANDLE;
  let spis = 0;
  for (let s = 0; s < MAX_SPIS; s++) if (SPI_OWNER[b * MAX_SPIS + s] != 0) spis++;
  let devs = 0;
  for (let d = 0; d < MAX_DEVICES_PER_BUS; d++) if (DEV_USED[b * MAX_DEVICES_PER_BUS + d]) devs++;
  setResult(0, BUS_FIRST[b]);
  setResult(1, BUS_LAST[b]);
  setResult(2, BUS_PAGE[b]);
  setResult(3, <u64>BUS_SPI_FIRST[b]);
  setResult(4, <u64>BUS_SPI_COUNT[b]);
  setResult(5, <u64>spis);
  setResult(6, <u64>devs);
  return BUS_NREG[b];
}

/** The named bounds: result slots 0 = MAX_BUSES, 1 = MAX_DEVICES_PER_BUS, 2 = MAX_PLACED_REGIONS,
 *  3 = MAX_SPIS, 4 = MIN_PAGE_SIZE, 5 = MAX_PAGE_SIZE. Returns 0. */
export function place_limits(): i32 {
  clearResults();
  setResult(0, <u64>MAX_BUSES);
  setResult(1, <u64>MAX_DEVICES_PER_BUS);
  setResult(2, <u64>MAX_PLACED_REGIONS);
  setResult(3, <u64>MAX_SPIS);
  setResult(4, MIN_PAGE_SIZE);
  setResult(5, MAX_PAGE_SIZE);
  return 0;
}

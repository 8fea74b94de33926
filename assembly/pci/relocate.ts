// Whether and where to relocate a function's MSI-X table and PBA in the guest's view, so that
// trapping them for emulation (msix.ts) does not trap device registers that share their pages.
// Decided from the decode in decode.ts (decodeAll succeeded), the host's page size and which BARs
// the kernel lets the host map over the MSI-X structures (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE).
// applyView() applies the decision to a copy of the config and sizes: the guest's view, from which
// the host makes its shadow config (pci_msix_guest_view).
// Not responsible for: mapping anything, or emulating the moved structures (the host and msix.ts do).
//
// THE RULE (docs/pci.md "MSI-X relocation"):
//   trapped part   the table (or the PBA) rounded out to whole pages and clipped to its BAR: what
//                  must be trapped to emulate it where the device put it
//   shared         a trapped part holds a byte that is neither table nor PBA, in a BAR the kernel
//                  lets the host map (mappable bit set): carving the part out would trap device
//                  registers the guest could otherwise reach directly. Without the mappable bit
//                  the kernel refuses to map those pages anyway, so moving the table gains nothing.
//   not shared     NONE: trap the parts where they are
//   shared         1. EXTEND the table's BAR when the doubled size still fits its register (2 GiB
//                     for a 32-bit BAR, 2^63 for a 64-bit one) and its upper half starts where the
//                     32-bit Table Offset field reaches (size and need at most 2 GiB): new size
//                     max(2 x size, 2 x need), table at half of it, PBA right after the table; the
//                     lower half is the device's BAR unchanged and the upper half is the emulation's alone
//                  2. else a NEW_BAR of `need` bytes in the lowest unimplemented slot (64-bit when
//                     the slot above is unimplemented too; prefetchable, as the emulation's reads
//                     have no side effects): table at 0, PBA right after it
//                  3. else IMPOSSIBLE: trap the parts where they are (correct, only slower)
//   need           table + PBA bytes rounded up to a page, then to a power of two (a BAR's size)
// The moved structures start on a page boundary and fill pages no device byte shares.

import {
  D_KIND, D_SIZE, BAR_NONE, BAR_MEM64, msixOff, msixTableBir, msixTableOffset, msixPbaBir,
  msixPbaOffset, msixTableBytes, msixPbaBytes,
} from "./decode";
import { st32le, st64le } from "../mem";
import {
  PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_MSIX_TABLE, PCI_MSIX_PBA,
} from "./regs";

export const RELOC_NONE: u32 = 0;       // nothing to move
export const RELOC_EXTEND: u32 = 1;     // double BAR `bar`; the structures go in its upper half
export const RELOC_NEW_BAR: u32 = 2;    // a BAR of the emulation's own in unused slot `bar`
export const RELOC_IMPOSSIBLE: u32 = 3; // shared, but no BAR can take them: trap in place

export const RELOC_FLAG_64: u32 = 1;        // NEW_BAR: a 64-bit memory BAR (takes slot bar+1)
export const RELOC_FLAG_PREFETCH: u32 = 2;  // NEW_BAR: prefetchable

/** A 32-bit BAR of 4 GiB would have no writable address bit (decode.ts MAX_MEM32_BAR_SIZE). */
const MAX_MEM32: u64 = 1 << 31;
/** Bit 63 is the highest writable address bit of a 64-bit BAR (decode.ts MAX_MEM64_BAR_SIZE). */
const MAX_MEM64: u64 = 1 << 63;
/** The Table and PBA Offset fields are 32 bits (8-byte aligned): an extended BAR's upper half must
 *  start below 4 GiB with the structures inside it, so size and need are at most 2 GiB. */
const MAX_EXTEND_HALF: u64 = 1 << 31;

// The decision (valid after relocation() returned something other than NONE).
export let rBar: u32 = 0;
export let rSize: u64 = 0;
export let rTable: u64 = 0;
export let rPba: u64 = 0;
export let rFlags: u32 = 0;
export let rNeed: u64 = 0;
/** Bit 0: the table's pages are shared; bit 1: the PBA's. */
export let rShared: u32 = 0;

function min(a: u64, b: u64): u64 { return a < b ? a : b; }
function max(a: u64, b: u64): u64 { return a > b ? a : b; }
/** Bytes of [a0, a1) inside [w0, w1). */
function inside(a0: u64, a1: u64, w0: u64, w1: u64): u64 {
  const lo = max(a0, w0), hi = min(a1, w1);
  return hi > lo ? hi - lo : 0;
}

/** True when the page-rounded window of one part, in BAR `bar`, holds a byte that is neither the
 *  table nor the PBA. All values < 2^34 (offsets < 2^32, structures <= 32 KiB + 256, pages <= 64
 *  KiB), so no sum overflows. */
function shared(bar: u32, off: u64, bytes: u64, pm: u64): bool {
  const w0 = off & ~pm;
  const w1 = min((off + bytes + pm) & ~pm, D_SIZE[<i32>bar]);
  const t0 = <u64>msixTableOffset, t1 = t0 + msixTableBytes();
  const p0 = <u64>msixPbaOffset, p1 = p0 + msixPbaBytes();
  let covered: u64 = 0;
  const tIn = msixTableBir == bar, pIn = msixPbaBir == bar;
  if (tIn) covered += inside(t0, t1, w0, w1);
  if (pIn) covered += inside(p0, p1, w0, w1);
  if (tIn && pIn) covered -= inside(max(t0, p0), min(t1, p1), w0, w1);
  return covered < w1 - w0;
}

function pow2ceil(x: u64): u64 {
  let p: u64 = 1;
  while (p < x) p <<= 1;
  return p;
}

/** The decision for the decoded function, `pageSize` a power of two, `mappable` bit n = region n
 *  has VFIO_REGION_INFO_CAP_MSIX_MAPPABLE. Returns RELOC_*; fills r*. */
export function relocation(pageSize: u64, mappable: u32): u32 {
  rBar = 0; rSize = 0; rTable = 0; rPba = 0; rFlags = 0; rNeed = 0; rShared = 0;
  if (msixOff == 0) return RELOC_NONE;
  const pm = pageSize - 1;
  if ((mappable & (<u32>1 << msixTableBir)) != 0 && shared(msixTableBir, <u64>msixTableOffset, msixTableBytes(), pm)) rShared |= 1;
  if ((mappable & (<u32>1 << msixPbaBir)) != 0 && shared(msixPbaBir, <u64>msixPbaOffset, msixPbaBytes(), pm)) rShared |= 2;
  rNeed = pow2ceil((msixTableBytes() + msixPbaBytes() + pm) & ~pm);
  if (rShared == 0) return RELOC_NONE;

  const b = <i32>msixTableBir;
  const size = D_SIZE[b];
  const limit = min(D_KIND[b] == BAR_MEM64 ? MAX_MEM64 : MAX_MEM32, MAX_EXTEND_HALF << 1);
  if (size <= limit >> 1 && rNeed <= limit >> 1) {
    rBar = <u32>b;
    rSize = max(size << 1, rNeed << 1);
    rTable = rSize >> 1;
    rPba = rTable + msixTableBytes();
    return RELOC_EXTEND;
  }
  for (let s = 0; s < 6; s++) {
    if (D_KIND[s] != BAR_NONE) continue;
    rBar = <u32>s;
    rSize = rNeed;
    rTable = 0;
    rPba = msixTableBytes();
    rFlags = RELOC_FLAG_PREFETCH;
    if (s < 5 && D_KIND[s + 1] == BAR_NONE) rFlags |= RELOC_FLAG_64;
    return RELOC_NEW_BAR;
  }
  rBar = 0; rSize = 0; rTable = 0; rPba = 0;
  return RELOC_IMPOSSIBLE;
}

/** The guest's view of a decoded function under decision `kind` (relocation()'s, r* filled): `out`
 *  (a copy of the config, `len` bytes) and `outSizes` (7 u64) rewritten so that the moved table
 *  and PBA are where the guest finds them. EXTEND: BAR rBar's size doubled. NEW_BAR: slot rBar
 *  becomes a memory BAR (type bits: prefetchable, 64-bit when RELOC_FLAG_64, its upper slot 0) of
 *  rSize bytes. Both: the MSI-X Table and PBA Offset/BIR registers name rBar at rTable and rPba.
 *  NONE and IMPOSSIBLE leave the copy as it is. The caller copied the config and sizes first. */
export function applyView(kind: u32, out: usize, outSizes: usize): void {
  if (kind != RELOC_EXTEND && kind != RELOC_NEW_BAR) return;
  const bar = <usize>rBar;
  st64le(outSizes + bar * 8, rSize);
  if (kind == RELOC_NEW_BAR) {
    const reg = out + <usize>PCI_BASE_ADDRESS_0 + bar * 4;
    let type: u32 = (rFlags & RELOC_FLAG_PREFETCH) != 0 ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
    if ((rFlags & RELOC_FLAG_64) != 0) {
      type |= PCI_BASE_ADDRESS_MEM_TYPE_64;
      st32le(reg + 4, 0);
      st64le(outSizes + (bar + 1) * 8, 0);
    }
    st32le(reg, type);
  }
  // rTable, rPba < 2^32 (MAX_EXTEND_HALF; a NEW_BAR's are below need <= 64 KiB x 2): they fit the fields.
  st32le(out + <usize>msixOff + <usize>PCI_MSIX_TABLE, <u32>rTable | rBar);
  st32le(out + <usize>msixOff + <usize>PCI_MSIX_PBA, <u32>rPba | rBar);
}

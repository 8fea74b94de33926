// Fuzz target: PCI config-space decoding and emulation, with the MSI-X table. The input gives the
// config space (256 bytes), the seven region sizes, then a stream of guest accesses and host fires.
//   op & 7: 0 read, 1 write, 2 write all-ones (BAR sizing), 3 write COMMAND with decoding bits,
//           4 MSI-X table/PBA read, 5 MSI-X table/PBA write, 6 vector fired on the host,
//           7 MSI-X Message Control write (Enable, Function Mask)
// Invariants: nothing traps; every export returns OK or a documented status (never INTERNAL);
// a config space the decoder accepts can be emulated (create succeeds or hits only LIMIT) and
// its handle is freed at the end, so the table never fills up across inputs. The relocation
// decision is consistent (a relocated table fits its BAR, past the device's bytes), and the guest
// view that applies it makes the same decision (or none) and a config the shadow accepts. MSI-X (THE
// RULE in assembly/pci/msix.ts): after every step the vector touched is live exactly when MSI-X
// is enabled, the function unmasked and the vector unmasked, and a live vector is never pending;
// a DELIVER names a live vector; a fire yields a DELIVER exactly when its vector is live; table
// reads of a function without MSI-X answer PCI_ERR_NO_MSIX.
import { begin, done, u8, u16, u32_, u64_, violated } from "./input";
import {
  pci_decode_bars, pci_find_caps, pci_msix_holes, pci_config_create, pci_config_free, pci_config_read,
  pci_config_write, pci_config_info, pci_msix_relocation, pci_msix_guest_view, pci_msix_read, pci_msix_write,
  pci_msix_fire, pci_msix_vector, pci_msix_info,
} from "../pci/index";
import { scratchBase, SCRATCH_SIZE, st64le, ld32le, getResult } from "../mem";
import { ERR_INTERNAL, ERR_BAD_ARG, ERR_LIMIT } from "../status";
import { PCI_ERR_NO_MSIX } from "../pci/status";
import { ACT_MSIX_DELIVER } from "../pci/msix";

/** Checks THE RULE of msix.ts for vector v after a call. */
function checkVector(h: i32, v: u32): void {
  if (pci_msix_info(h) < 0) violated();
  const enabled = getResult(1) == 1, fmask = getResult(2) == 1;
  if (pci_msix_vector(h, v) != 0) violated();
  const masked = getResult(2) == 1, pending = getResult(3) == 1, live = getResult(4) == 1;
  if (live != (enabled && !fmask && !masked)) violated();
  if (live && pending) violated();
}

/** Every DELIVER among n records at out names a vector that is live now. */
function checkDelivers(h: i32, out: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const p = out + <usize>(k * 32);
    if (ld32le(p) != ACT_MSIX_DELIVER) continue;
    if (pci_msix_vector(h, ld32le(p + 4)) != 0 || getResult(4) != 1) violated();
  }
}

const CFG_LEN: usize = 256;
/** Outputs go to the upper half of scratch, far from the input (the host's persistent half). */
const OUT_OFF: usize = SCRATCH_SIZE / 2;
/** Room for a config write that brings 2048 MSI-X vectors live (pci_limits result 9 x 32). */
const OUT_CAP: usize = 256 << 10;

export function fuzz_pci(ptr: usize, len: usize): i32 {
  if (len < CFG_LEN) return 0;
  const cfg = ptr;
  begin(ptr + CFG_LEN, len - CFG_LEN);
  const sizes = scratchBase() + OUT_OFF - 64;
  for (let i = 0; i < 7; i++) st64le(sizes + (<usize>i << 3), (u8() & 1) != 0 ? <u64>1 << (u8() & 40) : u64_());
  const out = scratchBase() + OUT_OFF;
  if (pci_decode_bars(cfg, CFG_LEN, sizes, out, OUT_CAP) == ERR_INTERNAL) violated();
  if (pci_find_caps(cfg, CFG_LEN, out, OUT_CAP) == ERR_INTERNAL) violated();
  if (pci_msix_holes(cfg, CFG_LEN, sizes, u8(), <u64>0x1000 << (u8() & 4), out, OUT_CAP) == ERR_INTERNAL) violated();
  const mappable = u8(), pageSize = <u64>0x1000 << (u8() & 4);
  const reloc = pci_msix_relocation(cfg, CFG_LEN, sizes, mappable, pageSize);
  if (reloc == ERR_INTERNAL) violated();
  if (reloc == 1 && (getResult(2) < getResult(1) >> 1 || getResult(3) > getResult(1))) violated();
  // The guest's view makes the same decision (or moves nothing when the moved config would not
  // decode: overlapping capabilities), and a moved layout is a function the shadow takes.
  const view = out, viewSizes = out + CFG_LEN;
  const gv = pci_msix_guest_view(cfg, CFG_LEN, sizes, mappable, pageSize, view, viewSizes);
  if (gv != reloc && !(gv == 3 && (reloc == 1 || reloc == 2))) violated();
  if (gv == 1 || gv == 2) {
    const vh = pci_config_create(view, CFG_LEN, viewSizes);
    if (vh < 0 && vh != ERR_LIMIT) violated();
    if (vh > 0 && pci_config_free(vh) != 0) violated();
  }
  const h = pci_config_create(cfg, CFG_LEN, sizes);
  if (h == ERR_INTERNAL) violated();
  if (h <= 0) return 0;
  pci_config_info(h);
  const msixCap = <u32>getResult(6);
  const entries = pci_msix_info(h);
  if (entries == ERR_INTERNAL || (msixCap == 0) != (entries == PCI_ERR_NO_MSIX)) violated();
  while (!done()) {
    const op = u8() & 7;
    const off = u16() & 0xfff;
    const width = <u32>1 << (u8() % 4);
    let st: i32 = 0;
    if (op == 0) st = pci_config_read(h, off, width, out, OUT_CAP);
    else if (op == 1) st = pci_config_write(h, off, width, u32_(), out, OUT_CAP);
    else if (op == 2) st = pci_config_write(h, 0x10 + (off & 0x1c), 4, 0xffffffff, out, OUT_CAP);
    else if (op == 3) st = pci_config_write(h, 0x04, 2, u8() & 7, out, <usize>(u8()));
    else if (entries <= 0) {
      // No MSI-X: every table call is refused the same way.
      if (pci_msix_read(h, 0, off, width) != PCI_ERR_NO_MSIX) violated();
      continue;
    } else if (op == 4) {
      st = pci_msix_read(h, u8() & 1, off, width);
      if (st != 0) violated();
    } else if (op == 5) {
      const part = (u8() & 3) == 0 ? <u32>1 : 0; // mostly the table
      const o = off << (u8() & 3);                // reach the end of a 2048-entry table
      st = pci_msix_write(h, part, o, width, u64_(), out, <usize>(u8() & 0x7f));
      if (st >= 0) checkDelivers(h, out, st);
      if (part == 0 && (o >> 4) < <u32>entries) checkVector(h, o >> 4);
    } else if (op == 6) {
      const v = <u32>off % <u32>entries;
      st = pci_msix_fire(h, v, out, OUT_CAP);
      if (st < 0) violated();
      const live = pci_msix_vector(h, v) == 0 && getResult(4) == 1;
      if ((st == 1) != live) violated();
      checkVector(h, v);
    } else {
      // Message Control: Enable and Function Mask from two bits of the op.
      st = pci_config_write(h, msixCap + 2, 2, (off & 3) << 14, out, OUT_CAP);
      if (st >= 0) checkDelivers(h, out, st);
      checkVector(h, <u32>(u16() % <u32>entries));
    }
    if (st == ERR_INTERNAL || st == ERR_BAD_ARG) violated();
  }
  if (pci_config_free(h) != 0) violated();
  return 0;
}

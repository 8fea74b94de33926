// Fuzz target: PCI config-space decoding and emulation. The input gives the config space (256
// bytes), the seven region sizes, then a stream of guest accesses.
//   op & 3: 0 read, 1 write, 2 write all-ones (BAR sizing), 3 write COMMAND with decoding bits
// Invariants: nothing traps; every export returns OK or a documented status (never INTERNAL);
// a config space the decoder accepts can be emulated (create succeeds or hits only LIMIT) and
// its handle is freed at the end, so the table never fills up across inputs.
import { begin, done, u8, u16, u32_, u64_, violated } from "./input";
import { pci_decode_bars, pci_find_caps, pci_msix_holes, pci_config_create, pci_config_free, pci_config_read, pci_config_write } from "../pci/index";
import { scratchBase, SCRATCH_SIZE, st64le } from "../mem";
import { ERR_INTERNAL } from "../status";

const CFG_LEN: usize = 256;
/** Outputs go to the upper half of scratch, far from the input (the host's persistent half). */
const OUT_OFF: usize = SCRATCH_SIZE / 2;
const OUT_CAP: usize = 4096;

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
  const h = pci_config_create(cfg, CFG_LEN, sizes);
  if (h == ERR_INTERNAL) violated();
  if (h <= 0) return 0;
  while (!done()) {
    const op = u8() & 3;
    const off = u16() & 0xfff;
    const width = <u32>1 << (u8() % 3);
    let st: i32 = 0;
    if (op == 0) st = pci_config_read(h, off, width, out, OUT_CAP);
    else if (op == 1) st = pci_config_write(h, off, width, u32_(), out, OUT_CAP);
    else if (op == 2) st = pci_config_write(h, 0x10 + (off & 0x1c), 4, 0xffffffff, out, OUT_CAP);
    else st = pci_config_write(h, 0x04, 2, u8() & 7, out, <usize>(u8()));
    if (st == ERR_INTERNAL) violated();
  }
  if (pci_config_free(h) != 0) violated();
  return 0;
}

// Fuzz target: the guest device-tree node generator (dtnode_generate, dtnode_find_device).
//   input: 13 bytes of request, then the host DTB (the rest):
//     u8  shape: bit 0 generated bus, bits 1/2 guest #address-cells/#size-cells (1 + bit),
//         bit 3 interrupt-parent, bits 4-6 which host node (PATHS; 7: by device name),
//         bit 7 small output buffer
//     u8  regions given (0..8), u8 IRQ lines (0..8), u8 IRQ flags (bit i: AUTOMASKED on line i)
//     u8  small buffer size / 8 (bit 7 of shape; small buffers reach NO_SPACE and the measuring
//         pass), u16 first SPI, u16 first phandle (+1), u32 guest base >> 12 (regions 64 KiB apart)
//   then the host DTB.
// Seeds (test/fuzz/corpus/dtnode/seed-*): a request, then test/fuzz/dtnode-host.dts compiled with
// `dtc -I dts -O dtb` (QEMU virt's pl031/pl011 with apb-pclk, and the xgbe/xgmac builder nodes).
// Invariants: nothing traps or returns ERR_INTERNAL; a success is a DTB the fdt reader validates,
// of the size returned (slot 0 too); NO_SPACE's size needed is more than the capacity and, given
// as the capacity, gives the same DTB size; DTNODE_BAD_DTB's reader fault, when set, is a reader
// status at an offset inside the blob; no call leaves an fdt writer open (all MAX_WRITERS can be
// opened after it).
import { begin, u8, u16, u32_, violated, restPtr, restLen } from "./input";
import { dtnode_generate, dtnode_find_device } from "../dtnode/index";
import { fdt_check } from "../fdt/read-exports";
import { fdt_sw_create, fdt_sw_close } from "../fdt/write-exports";
import { MAX_WRITERS } from "../fdt/writer";
import { scratchBase, SCRATCH_SIZE, st8, st32le, st64le, getResult } from "../mem";
import { ERR_INTERNAL, ERR_NO_SPACE } from "../status";
import { DTNODE_ERR_BAD_DTB } from "../dtnode/status";
import { VFIO_IRQ_INFO_AUTOMASKED } from "../vfio/uapi";

/** Regions and IRQ lines a request gives at most (the generator allows 32 and 64). */
const FUZZ_REGS: u32 = 8;
const FUZZ_IRQS: u32 = 8;
/** Everything but the input lives in the upper half of scratch (the input is in the lower). */
const ARGS_OFF: usize = SCRATCH_SIZE / 2;
const PATH_OFF: usize = ARGS_OFF;            // 256 bytes
const REGS_OFF: usize = ARGS_OFF + 256;      // FUZZ_REGS u64
const SPIS_OFF: usize = REGS_OFF + 64;       // FUZZ_IRQS u32
const FLAGS_OFF: usize = SPIS_OFF + 32;      // FUZZ_IRQS u32
const WRITERS_OFF: usize = ARGS_OFF + 1024;  // MAX_WRITERS x 64 bytes for the leak check
const OUT_OFF: usize = ARGS_OFF + 4096;
const OUT_CAP: usize = 64 * 1024;
const PATHS: StaticArray<string> = [
  "/pl031@9010000", "/pl011@9000000", "/ethernet@e0700000", "/ethernet@fff50000", "/apb-pclk", "/",
  "/platform-bus@c000000/x",
];
const DEVICE_NAME = "9010000.pl031";

function ascii(off: usize, s: string): usize {
  const p = scratchBase() + off;
  for (let i = 0; i < s.length; i++) st8(p + <usize>i, s.charCodeAt(i));
  return p;
}
function ok(st: i32, dtbLen: usize): void {
  if (st == ERR_INTERNAL) violated();
  if (st == DTNODE_ERR_BAD_DTB) {
    const off = getResult(1), fst = <i64>getResult(2);
    if (fst != 0 && (fst > -100 || fst <= -150 || off > <u64>dtbLen)) violated();
  }
}

const HANDLES = new StaticArray<i32>(MAX_WRITERS);

/** Every fdt writer slot can be opened (a dtnode call that leaked one would fill the table). */
function writersFree(): void {
  const base = scratchBase() + WRITERS_OFF;
  for (let i = 0; i < MAX_WRITERS; i++) {
    const h = fdt_sw_create(base + <usize>i * 64, 64, 1);
    if (h <= 0) violated();
    HANDLES[i] = h;
  }
  for (let i = 0; i < MAX_WRITERS; i++) if (fdt_sw_close(HANDLES[i]) != 0) violated();
}

export function fuzz_dtnode(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const shape = u8();
  const nRegs = <i32>(u8() % (FUZZ_REGS + 1));
  const nIrqs = <i32>(u8() % (FUZZ_IRQS + 1));
  const irqFlags = u8();
  const small = <usize>u8() * 8;
  const spi0 = u16();
  const ph = u16() + 1;
  const base = <u64>u32_() << 12;
  const dtb = restPtr(), dtbLen = restLen();

  const s = scratchBase();
  for (let i = 0; i < nRegs; i++) st64le(s + REGS_OFF + <usize>i * 8, base + (<u64>i << 16));
  for (let i = 0; i < nIrqs; i++) {
    st32le(s + SPIS_OFF + <usize>i * 4, spi0 + <u32>i);
    st32le(s + FLAGS_OFF + <usize>i * 4, (irqFlags >> <u32>i) & 1 ? 1 | VFIO_IRQ_INFO_AUTOMASKED : 1);
  }
  const which = (shape >> 4) & 7;
  let path: usize = 0, pathLen: usize = 0;
  if (which < <u32>PATHS.length) {
    path = ascii(PATH_OFF, PATHS[which]); pathLen = <usize>PATHS[which].length;
  } else {
    // By device name, as src/core/dtnode.ts does: the path found becomes the request's path.
    const name = ascii(PATH_OFF, DEVICE_NAME);
    const out = s + PATH_OFF + 32;
    const st = dtnode_find_device(dtb, dtbLen, name, DEVICE_NAME.length, out, 224);
    ok(st, dtbLen);
    if (st >= 0 && <u64>st != getResult(0)) violated();
    writersFree();
    if (st < 0) return 0;
    path = out; pathLen = <usize>st;
  }

  const bus = (shape & 1) != 0;
  const gac: u32 = 1 + ((shape >> 1) & 1), gsc: u32 = 1 + ((shape >> 2) & 1);
  const intc: u32 = (shape & 8) != 0 ? 0x8002 : 0;
  const cap: usize = (shape & 0x80) != 0 ? small : OUT_CAP;
  const out = s + OUT_OFF;
  const st = dtnode_generate(dtb, dtbLen, path, pathLen, s + REGS_OFF, nRegs, s + SPIS_OFF, s + FLAGS_OFF, nIrqs,
    bus ? base : 0, bus ? 0x0200_0000 : 0, gac, gsc, base, intc, ph, out, cap);
  ok(st, dtbLen);
  const slot0 = getResult(0);   // before writersFree, whose calls clear the slots
  writersFree();
  if (st >= 0) {
    if (<u64>st != slot0 || fdt_check(out, <usize>st) != 0) violated();
  } else if (st == ERR_NO_SPACE) {
    const need = slot0;
    if (need <= <u64>cap || need > <u64>OUT_CAP) violated();
    const again = dtnode_generate(dtb, dtbLen, path, pathLen, s + REGS_OFF, nRegs, s + SPIS_OFF, s + FLAGS_OFF, nIrqs,
      bus ? base : 0, bus ? 0x0200_0000 : 0, gac, gsc, base, intc, ph, out, <usize>need);
    if (<u64>again != need || fdt_check(out, <usize>again) != 0) violated();
    writersFree();
  }
  return 0;
}

// Fuzz target: the IRQ state machine fed a stream of events, its invariants checked after each.
//   input: kind, timeout, line count and flags, then ops until the input ends:
//   op % 7: 0 fire(line), 1 trapped access, 2 timer, 3 wire(line), 4 unwire(line),
//           5 PCI mode switch, 6 time jumps backwards (must be refused, machine unchanged)
// Invariants: no event traps; mapping is never enabled while a line is ACTIVE; per line,
// delivered <= fires and EOIs <= delivered; a refused event changes nothing observable.
import { begin, done, u8, u16, u32_, violated } from "./input";
import {
  irq_create, irq_free, irq_set_timeout, irq_declare_line, irq_start, irq_fire, irq_trapped_access,
  irq_timer, irq_wire, irq_unwire, irq_pci_set_mode, irq_line_info, irq_machine_info,
} from "../irq/index";
import { getResult, scratchBase } from "../mem";

/** Lines a fuzz run declares at most (the machine allows 64; 8 reach every state quickly). */
const FUZZ_LINES: i32 = 8;
const NO_LINE: u64 = 0xffff_ffff_ffff_ffff;
/** Action buffer: the most any event yields (16 records of 16 bytes). */
const OUT_CAP: usize = 256;

function checkMachine(h: i32, lines: i32): void {
  if (irq_machine_info(h) < 0) violated();
  const mapped = getResult(0);
  const active = getResult(3);
  if (active != NO_LINE && mapped != 0) violated();
  for (let i = 0; i < lines; i++) {
    if (irq_line_info(h, i) < 0) continue;
    const fires = getResult(0), delivered = getResult(1), eois = getResult(3);
    if (delivered > fires || eois > delivered) violated();
  }
}

export function fuzz_irq(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const kind = <i32>(u8() & 1);
  const h = irq_create(kind);
  if (h <= 0) violated();
  irq_set_timeout(h, <u64>(u16()) * 1000);
  const lines = <i32>(u8() % <u32>(FUZZ_LINES + 1));
  for (let i = 0; i < lines; i++) irq_declare_line(h, i, u8() & 0xf, 1 + (u8() & 3));
  irq_start(h);
  const out = scratchBase();
  let now: u64 = 1;
  while (!done()) {
    const op = u8() % 7;
    const line = <i32>(u8() % <u32>(FUZZ_LINES + 1));
    now += <u64>u16();
    let st: i32 = 0;
    if (op == 0) st = irq_fire(h, line, now, out, OUT_CAP);
    else if (op == 1) st = irq_trapped_access(h, now, out, OUT_CAP);
    else if (op == 2) st = irq_timer(h, now, out, OUT_CAP);
    else if (op == 3) st = irq_wire(h, line, out, OUT_CAP);
    else if (op == 4) st = irq_unwire(h, line, out, OUT_CAP);
    else if (op == 5) st = irq_pci_set_mode(h, <i32>(u8() & 3), u8() & 7, out, OUT_CAP);
    else {
      irq_machine_info(h);
      const before = getResult(8);
      if (now > 2 && before > 1) {
        st = irq_fire(h, line, before - 1, out, OUT_CAP);
        if (st >= 0) violated(); // time went backwards: must be refused
        irq_machine_info(h);
        if (getResult(8) != before) violated();
      }
    }
    if (st == -1000) violated();
    checkMachine(h, lines);
  }
  if (irq_free(h) != 0) violated();
  return 0;
}

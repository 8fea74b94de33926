// Exports of the irq module, re-exported by assembly/index.ts. Names are prefixed "irq_".
// The machine and its state table are in ./machine.ts; docs/irq-machine.md describes the ABI.
//
// Event exports write ACTION records into a caller-owned buffer (out, cap) in scratch and return
// how many they wrote. A record is ACTION_SIZE (16) bytes, little-endian:
//   +0 u32 kind (ACT_*)   +4 u32 IRQ index   +8 u64 argument
// Too small a buffer: ERR_NO_SPACE, result slot 0 = bytes needed, and the machine is left exactly
// as it was (the event can be repeated with a bigger buffer). A buffer of
// MAX_ACTIONS_PER_EVENT * ACTION_SIZE (256) bytes always fits; one that holds the most actions
// the event can produce (mostActions) spares the rollback copy.
// Every status an event returns below is from the state table in machine.ts; on any error the
// machine is unchanged.

import { ERR_BAD_ARG, ERR_BAD_HANDLE, ERR_LIMIT, ERR_NO_SPACE } from "../status";
import { inScratch, clearResults, setResult, st32le, st64le } from "../mem";

import {
  MAX_MACHINES, MAX_IRQS_PER_DEVICE, MAX_ACTIONS_PER_EVENT, ACTION_SIZE, STAT_COUNT,
  DEVICE_PLATFORM, DEVICE_PCI,
  lookup, allocate, release, snapshot, rollback, resetStaging, stagedCount, stagedKind,
  stagedIndex, stagedArg, setTimeout, declareLine, start, fire, trappedAccess, timer, wire,
  unwire, pciSetMode, lineInfo, machineInfo, queueAt,
} from "./machine";

/** Slots machineInfo/lineInfo fill; copied to result slots. */
const INFO = new StaticArray<u64>(16);

/** The most actions each event can produce (from the state table in machine.ts); a buffer that
 *  holds that many needs no rollback copy. Exceeding it is a bug of the core (checked below). */
function mostActions(ev: i32): i32 {
  if (ev == EV_FIRE) return 2;      // MMAP_DISABLE, ASSERT_LINE
  if (ev == EV_ACCESS) return 4;    // DEASSERT, UNMASK, then MMAP_DISABLE?, ASSERT or ARM_TIMER
  if (ev == EV_TIMER) return 1;     // ARM_TIMER or MMAP_ENABLE
  if (ev == EV_WIRE || ev == EV_UNWIRE) return 5; // level: five steps
  return 5;                         // PCI: DEASSERT, DISABLE, CANCEL, MMAP_ENABLE, ENABLE
}

// Which event an export runs (one dispatcher keeps the buffer/rollback protocol in one place).
const EV_FIRE: i32 = 1;
const EV_ACCESS: i32 = 2;
const EV_TIMER: i32 = 3;
const EV_WIRE: i32 = 4;
const EV_UNWIRE: i32 = 5;
const EV_PCI_MODE: i32 = 6;

function runEvent(h: i32, ev: i32, a: i32, b: u64, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(out, cap)) return ERR_BAD_ARG;
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  // Handlers return errors before changing anything; the copy is only for NO_SPACE, and only
  // taken when the buffer could be too small for this event.
  const most = mostActions(ev);
  const mayNotFit = cap < <usize>(most * ACTION_SIZE);
  if (mayNotFit) snapshot(m);
  resetStaging();
  let st: i32 = 0;
  if (ev == EV_FIRE) st = fire(m, a, b);
  else if (ev == EV_ACCESS) st = trappedAccess(m, b);
  else if (ev == EV_TIMER) st = timer(m, b);
  else if (ev == EV_WIRE) st = wire(m, a);
  else if (ev == EV_UNWIRE) st = unwire(m, a);
  else st = pciSetMode(m, a, <u32>b);
  const n = stagedCount();
  if (n > most) throw new Error("irq: an event produced more actions than its bound");
  if (st < 0) {
    if (mayNotFit) rollback(m);
    resetStaging();
    return st;
  }
  const need = <usize>n * <usize>ACTION_SIZE;
  if (need > cap) {
    rollback(m);
    resetStaging();
    setResult(0, <u64>need);
    return ERR_NO_SPACE;
  }
  for (let i = 0; i < n; i++) {
    const p = out + <usize>i * <usize>ACTION_SIZE;
    st32le(p, stagedKind(i));
    st32le(p + 4, stagedIndex(i));
    st64le(p + 8, stagedArg(i));
  }
  resetStaging();
  return n;
}

/** Creates a machine in CONFIG phase for a device kind (0 platform, 1 PCI). Returns a handle > 0,
 *  ERR_BAD_ARG for another kind, ERR_LIMIT when MAX_MACHINES are in use. */
export function irq_create(kind: i32): i32 {
  if (kind != DEVICE_PLATFORM && kind != DEVICE_PCI) return ERR_BAD_ARG;
  const h = allocate(kind);
  return h < 0 ? ERR_LIMIT : h;
}

/** Frees a machine; its handle becomes invalid (ERR_BAD_HANDLE afterwards). */
export function irq_free(h: i32): i32 {
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  release(m);
  return 0;
}

/** CONFIG: the mmap re-enable timeout in ns (default 1_100_000_000). ERR_BAD_STATE when RUNNING. */
export function irq_set_timeout(h: i32, ns: u64): i32 {
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  return setTimeout(m, ns);
}

/** CONFIG: declares IRQ index `index` with its vfio_irq_info flags and count.
 *  ERR_BAD_STATE, ERR_BAD_ARG (index >= MAX_IRQS_PER_DEVICE), IRQ_ERR_DECLARED, IRQ_ERR_FLAGS,
 *  IRQ_ERR_COUNT, IRQ_ERR_WRONG_KIND (PCI index >= 5). */
export function irq_declare_line(h: i32, index: i32, flags: u32, count: u32): i32 {
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  return declareLine(m, index, flags, count);
}

/** CONFIG -> RUNNING (idle, mapping enabled). ERR_BAD_STATE when already RUNNING. */
export function irq_start(h: i32): i32 {
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  return start(m);
}

/** The userspace eventfd of IRQ `index` fired at `now` (ns). Returns the number of actions. */
export function irq_fire(h: i32, index: i32, now: u64, out: usize, cap: usize): i32 {
  return runEvent(h, EV_FIRE, index, now, out, cap);
}

/** The guest accessed trapped MMIO of the device at `now`: the EOI when a line is ACTIVE. */
export function irq_trapped_access(h: i32, now: u64, out: usize, cap: usize): i32 {
  return runEvent(h, EV_ACCESS, 0, now, out, cap);
}

/** The timer armed by ARM_TIMER expired; `now` is the host's clock at the callback. */
export function irq_timer(h: i32, now: u64, out: usize, cap: usize): i32 {
  return runEvent(h, EV_TIMER, 0, now, out, cap);
}

/** Routes IRQ `index` to KVM irqfd; returns the ordered steps. */
export function irq_wire(h: i32, index: i32, out: usize, cap: usize): i32 {
  return runEvent(h, EV_WIRE, index, 0, out, cap);
}

/** Routes IRQ `index` back to userspace; returns the ordered steps. */
export function irq_unwire(h: i32, index: i32, out: usize, cap: usize): i32 {
  return runEvent(h, EV_UNWIRE, index, 0, out, cap);
}

/** PCI: switches to mode (0 none, 1 INTx, 2 MSI, 3 MSI-X) with `count` vectors (0 for none, 1 for
 *  INTx); returns the ordered steps, the old mode switched off first. */
export function irq_pci_set_mode(h: i32, mode: i32, count: u32, out: usize, cap: usize): i32 {
  return runEvent(h, EV_PCI_MODE, mode, <u64>count, out, cap);
}

/** Line state (LINE_*) of `index`; results 0 fires, 1 delivered, 2 coalesced, 3 EOIs, 4 unmasks,
 *  5 dropped, 6 flags, 7 count. IRQ_ERR_UNDECLARED, ERR_BAD_ARG. */
export function irq_line_info(h: i32, index: i32): i32 {
  clearResults();
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  const st = lineInfo(m, index, INFO);
  if (st < 0) return st;
  for (let i = 0; i < STAT_COUNT + 2; i++) setResult(i, INFO[i]);
  return st;
}

/** Device state (1 CONFIG, 2 IDLE_MAPPED, 3 IDLE_TRAPPED, 4 BUSY); results 0 mapped, 1 timer armed,
 *  2 deadline, 3 active line (all-ones: none), 4 queue length, 5 PCI mode, 6 PCI count,
 *  7 timeout ns, 8 last now, 9 kind. */
export function irq_machine_info(h: i32): i32 {
  clearResults();
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  const st = machineInfo(m, INFO);
  for (let i = 0; i < 10; i++) setResult(i, INFO[i]);
  return st;
}

/** The i-th line in the pending queue (0 = next to inject); ERR_NOT_FOUND past its end. */
export function irq_queue_at(h: i32, i: i32): i32 {
  const m = lookup(h);
  if (m == null) return ERR_BAD_HANDLE;
  return queueAt(m, i);
}

/** Bounds and sizes, for hosts: results 0 MAX_MACHINES, 1 MAX_IRQS_PER_DEVICE,
 *  2 MAX_ACTIONS_PER_EVENT; returns ACTION_SIZE. */
export function irq_limits(): i32 {
  clearResults();
  setResult(0, <u64>MAX_MACHINES);
  setResult(1, <u64>MAX_IRQS_PER_DEVICE);
  setResult(2, <u64>MAX_ACTIONS_PER_EVENT);
  return ACTION_SIZE;
}

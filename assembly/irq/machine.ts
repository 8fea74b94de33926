// The IRQ state machine: one per passed-through device, fed events (an eventfd fired, the guest
// touched trapped MMIO, a timer expired, wire/unwire a line to KVM, switch PCI INTx/MSI/MSI-X) and
// answering with ACTIONS the host carries out (assert the guest line, stop direct MMIO mapping,
// unmask in VFIO, arm a timer...). Like cloud-hypervisor's InterruptUpdateAction and crosvm's
// VfioMsiChange: the core decides, the host acts.
// Not responsible for: eventfds, ioctls, timers or the guest's interrupt controller (the host
// owns them); which GSI/SPI a line maps to (placement); MSI message contents (config space).
//
// Time is an input: every event that needs it carries `now`, u64 NANOSECONDS on a monotonic
// clock of the host's choice (CLOCK_MONOTONIC; process.hrtime.bigint() in Node). The machine
// never reads a clock; it answers ARM_TIMER(deadline) with an absolute deadline on that clock.
//
// ============================================================================================
// STATE TABLE (enforced at the top of every entry point; test/unit/irq/states.test.ts tests
// every event in every wrong state)
//
// Device phase
//   CONFIG    after create. Allows: declare_line, set_timeout, start, free.
//             Everything else -> ERR_BAD_STATE.
//   RUNNING   after start. declare_line, set_timeout, start -> ERR_BAD_STATE.
//             fire, trapped_access, timer, wire, unwire, pci_set_mode allowed as below;
//             free in any phase. A freed or never-issued handle: ERR_BAD_HANDLE everywhere.
//   Checks run in this order, so one status is predictable: output buffer (BAD_ARG), handle,
//   phase, index range, declared, device kind / PCI mode, time, line state.
//
// Device states while RUNNING (userspace delivery, QEMU vfio-platform semantics)
//   IDLE_MAPPED   nothing ACTIVE or PENDING, direct MMIO mapping enabled, no timer armed.
//   IDLE_TRAPPED  nothing ACTIVE or PENDING, mapping disabled (every MMIO access trapped),
//                 timer armed for the re-enable deadline.
//   BUSY          exactly one line ACTIVE (asserted in the guest, not yet EOI'd), mapping
//                 disabled, 0..n lines in a FIFO pending queue; a timer may be armed.
//   Invariants: at most one ACTIVE line; the queue is non-empty only in BUSY; mapping is
//   disabled whenever a line is ACTIVE; a timer is armed in IDLE_TRAPPED.
//
// Line states (one per declared VFIO IRQ index; level == VFIO_IRQ_INFO_AUTOMASKED)
//   UNDECLARED      -> every event naming it: IRQ_ERR_UNDECLARED.
//   INACTIVE        userspace route, nothing outstanding.
//   PENDING         fired while another line was ACTIVE; in the queue once.
//   ACTIVE          asserted in the guest, waiting for the EOI (the first trapped access).
//   ACTIVE_PENDING  edge line that fired again while ACTIVE; ACTIVE and in the queue once.
//   WIRED           routed to KVM through irqfd; the kernel delivers and resamples.
//
// Events (RUNNING)
//   fire(line, now)        the line's userspace eventfd was signalled.
//     INACTIVE, device not BUSY -> ACTIVE: [MMAP_DISABLE if mapped], ASSERT_LINE(line).
//                                  MMAP_DISABLE comes first so the guest's handler traps.
//     INACTIVE, device BUSY     -> PENDING, appended to the queue. No action.
//     PENDING, ACTIVE_PENDING   -> unchanged; counted as coalesced (QEMU queues it twice).
//     ACTIVE, edge              -> ACTIVE_PENDING, appended to the queue (a new edge after the
//                                  guest took the first one must be delivered again).
//     ACTIVE, level             -> unchanged; coalesced (the line is automasked; the kernel
//                                  signals again after the UNMASK if the level is still high).
//     WIRED                     -> IRQ_ERR_WIRED.
//   trapped_access(now)    the guest touched trapped MMIO of the device.
//     BUSY          -> EOI of the ACTIVE line: DEASSERT_LINE, [UNMASK if level]; the line goes to
//                      INACTIVE (PENDING if it was ACTIVE_PENDING); then the queue head, if any,
//                      becomes ACTIVE: ASSERT_LINE(head); else ARM_TIMER(now + timeout) and the
//                      device is IDLE_TRAPPED.
//     IDLE_*        -> no action (an ordinary access to a trapped or sub-page region).
//   timer(now)             the timer armed by ARM_TIMER expired.
//     no timer armed            -> IRQ_ERR_NO_TIMER.
//     BUSY                      -> ARM_TIMER(now + timeout) (re-arm; mapping stays off).
//     IDLE_TRAPPED, now < deadline -> ARM_TIMER(deadline) (the host woke early).
//     IDLE_TRAPPED              -> MMAP_ENABLE; IDLE_MAPPED.
//   wire(line)             route the line to KVM irqfd.
//     INACTIVE  -> WIRED. level: MASK, KVM_IRQFD_ASSIGN(resample=1), SET_TRIGGER(KVM),
//                  SET_UNMASK_FD(1), UNMASK.  edge: KVM_IRQFD_ASSIGN(0), SET_TRIGGER(KVM).
//                  Any index may take a resample fd (rust-vmm allows only index 0).
//     PENDING, ACTIVE, ACTIVE_PENDING -> IRQ_ERR_LINE_BUSY.   WIRED -> IRQ_ERR_WIRED.
//   unwire(line)           route it back to userspace: the reverse of wire, each step undone.
//     WIRED     -> INACTIVE. level: MASK, SET_UNMASK_FD(0), SET_TRIGGER(USER),
//                  KVM_IRQFD_DEASSIGN, UNMASK.  edge: SET_TRIGGER(USER), KVM_IRQFD_DEASSIGN.
//     other     -> IRQ_ERR_NOT_WIRED.
//   pci_set_mode(mode, count)  PCI only (platform: IRQ_ERR_WRONG_KIND). Modes NONE, INTX, MSI,
//     MSIX; the current mode is switched off first: INTx off = [DEASSERT_LINE if ACTIVE],
//     pending INTx dropped (counted), DISABLE_INDEX(0), [KVM_IRQFD_DEASSIGN if WIRED],
//     [CANCEL_TIMER if armed], [MMAP_ENABLE if disabled]; MSI/MSI-X off = DISABLE_INDEX(i).
//     Then ENABLE_INDEX(i, count). Same mode and count: no action. Same MSI/MSI-X mode with a
//     larger count and no NORESIZE flag: ENABLE_INDEX only (resize in place).
//     PCI fire/wire/unwire are for INTx (index 0) only (else IRQ_ERR_WRONG_KIND) and only in
//     INTX mode (else IRQ_ERR_INTX_OFF).
// ============================================================================================

import { ERR_BAD_STATE, ERR_BAD_ARG, ERR_OVERFLOW, ERR_INTERNAL, ERR_NOT_FOUND } from "../status";
import {
  IRQ_ERR_DECLARED, IRQ_ERR_UNDECLARED, IRQ_ERR_FLAGS, IRQ_ERR_COUNT, IRQ_ERR_TIME_BACKWARDS,
  IRQ_ERR_WIRED, IRQ_ERR_NOT_WIRED, IRQ_ERR_LINE_BUSY, IRQ_ERR_NO_TIMER, IRQ_ERR_WRONG_KIND,
  IRQ_ERR_INTX_OFF,
} from "./status";
import { VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE } from "../vfio/uapi";

/** Machines that can exist at once. One per passed-through device; QEMU's virt board gives its
 *  platform bus 64 SPIs (PLATFORM_BUS_NUM_IRQS), so at most 64 IRQ-using platform devices, and a
 *  VMM passing through more than 64 PCI functions is not a target. Bounds the static table. */
export const MAX_MACHINES: i32 = 64;
/** VFIO IRQ indexes per device. A platform device's IRQs are all on that same 64-SPI bus window
 *  (above), so one device cannot have more; PCI uses 5 (VFIO_PCI_NUM_IRQS). */
export const MAX_IRQS_PER_DEVICE: i32 = 64;
/** Room for the actions of one event; the longest answer is 5 (wire/unwire a level line, or PCI
 *  INTx active -> MSI). index.ts bounds each event and checks it; staging is this big. */
export const MAX_ACTIONS_PER_EVENT: i32 = 16;
/** Bytes of one action record: u32 kind, u32 irq index, u64 argument (little-endian). */
export const ACTION_SIZE: i32 = 16;
/** QEMU's vfio-platform default mmap re-enable timeout, 1100 ms, in nanoseconds. */
export const DEFAULT_TIMEOUT_NS: u64 = 1_100_000_000;
/** PCI spec bounds on vectors: MSI Multiple Message Capable is at most 32, MSI-X Table Size 2048. */
export const PCI_MSI_MAX_VECTORS: u32 = 32;
export const PCI_MSIX_MAX_VECTORS: u32 = 2048;

// VFIO PCI IRQ indexes
export const VFIO_PCI_INTX_IRQ_INDEX: i32 = 0;
export const VFIO_PCI_MSI_IRQ_INDEX: i32 = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX: i32 = 2;
export const VFIO_PCI_NUM_IRQS: i32 = 5;

// Device kinds (irq_create)
export const DEVICE_PLATFORM: i32 = 0;
export const DEVICE_PCI: i32 = 1;

// Phases and device states (irq_machine_info)
export const PHASE_CONFIG: i32 = 1;
export const STATE_CONFIG: i32 = 1;
export const STATE_IDLE_MAPPED: i32 = 2;
export const STATE_IDLE_TRAPPED: i32 = 3;
export const STATE_BUSY: i32 = 4;
const PHASE_RUNNING: i32 = 2;

// Line states (irq_line_info)
export const LINE_UNDECLARED: u8 = 0;
export const LINE_INACTIVE: u8 = 1;
export const LINE_PENDING: u8 = 2;
export const LINE_ACTIVE: u8 = 3;
export const LINE_ACTIVE_PENDING: u8 = 4;
export const LINE_WIRED: u8 = 5;

// PCI modes (irq_pci_set_mode)
export const PCI_MODE_NONE: i32 = 0;
export const PCI_MODE_INTX: i32 = 1;
export const PCI_MODE_MSI: i32 = 2;
export const PCI_MODE_MSIX: i32 = 3;

// Action kinds (the u32 at offset 0 of a record)
export const ACT_ASSERT_LINE: u32 = 1;        // raise the guest's line for index
export const ACT_DEASSERT_LINE: u32 = 2;      // lower it
export const ACT_MMAP_DISABLE: u32 = 3;       // unmap direct MMIO: trap every access (index 0)
export const ACT_MMAP_ENABLE: u32 = 4;        // map direct MMIO again (index 0)
export const ACT_ARM_TIMER: u32 = 5;          // the device's one timer: fire at arg (ns); replaces
export const ACT_CANCEL_TIMER: u32 = 6;       // cancel the device's timer
export const ACT_MASK: u32 = 7;               // VFIO_DEVICE_SET_IRQS DATA_NONE|ACTION_MASK
export const ACT_UNMASK: u32 = 8;             // VFIO_DEVICE_SET_IRQS DATA_NONE|ACTION_UNMASK
export const ACT_KVM_IRQFD_ASSIGN: u32 = 9;   // KVM_IRQFD on the line's irqfd eventfd; arg 1: with resamplefd
export const ACT_KVM_IRQFD_DEASSIGN: u32 = 10; // KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN
export const ACT_SET_TRIGGER: u32 = 11;       // DATA_EVENTFD|ACTION_TRIGGER; arg ROUTE_USER or ROUTE_KVM
export const ACT_SET_UNMASK_FD: u32 = 12;     // DATA_EVENTFD|ACTION_UNMASK; arg 1: the resamplefd, 0: -1 (clear)
export const ACT_DISABLE_INDEX: u32 = 13;     // DATA_NONE|ACTION_TRIGGER, count 0: the whole index off
export const ACT_ENABLE_INDEX: u32 = 14;      // DATA_EVENTFD|ACTION_TRIGGER for vectors [0, arg)
/** SET_TRIGGER argument: the host's userspace eventfd for the line. */
export const ROUTE_USER: u64 = 0;
/** SET_TRIGGER argument: the eventfd registered with KVM_IRQFD for the line. */
export const ROUTE_KVM: u64 = 1;

// Per-line counters (irq_line_info result slots 1..6)
const STAT_FIRES: i32 = 0;      // fire events accepted
const STAT_DELIVERED: i32 = 1;  // ASSERT_LINE emitted
const STAT_COALESCED: i32 = 2;  // fires merged into an outstanding one
const STAT_EOIS: i32 = 3;       // EOIs taken
const STAT_UNMASKS: i32 = 4;    // UNMASK emitted at EOI
const STAT_DROPPED: i32 = 5;    // pending fires dropped because INTx was switched off
export const STAT_COUNT: i32 = 6;

const NO_LINE: i32 = -1;
/** Arrays a Machine may own (Machine.own): room for the five it has and a few more. */
const MAX_PARTS: i32 = 8;
const U64_MAX: u64 = 0xffff_ffff_ffff_ffff;

// A machine's state is its fields, each written once with its initial value: a new field is that
// one line. clear() and copyFrom() copy every field without naming any: the scalars are one
// memory.copy of the bytes before `parts`, and each array registers itself in `parts` (own())
// where it is declared.
class Machine {
  // --- scalars (declared before `parts`; plain values, no references) ---
  inUse: bool = false;
  generation: u32 = 0;
  kind: i32 = DEVICE_PLATFORM;
  phase: i32 = PHASE_CONFIG;
  timeoutNs: u64 = DEFAULT_TIMEOUT_NS;
  lastNow: u64 = 0;
  mapped: bool = true;
  timerArmed: bool = false;
  deadline: u64 = 0;
  active: i32 = NO_LINE;
  qHead: i32 = 0;
  qLen: i32 = 0;
  pciMode: i32 = PCI_MODE_NONE;
  pciCount: u32 = 0;
  // --- arrays: (pointer, bytes) of each, in declaration order ---
  parts: StaticArray<usize> = new StaticArray<usize>(2 * MAX_PARTS);
  nParts: i32 = 0;
  queue: StaticArray<i32> = this.own(new StaticArray<i32>(MAX_IRQS_PER_DEVICE));
  state: StaticArray<u8> = this.own(new StaticArray<u8>(MAX_IRQS_PER_DEVICE));
  flags: StaticArray<u32> = this.own(new StaticArray<u32>(MAX_IRQS_PER_DEVICE));
  count: StaticArray<u32> = this.own(new StaticArray<u32>(MAX_IRQS_PER_DEVICE));
  stats: StaticArray<u64> = this.own(new StaticArray<u64>(MAX_IRQS_PER_DEVICE * STAT_COUNT));

  /** Registers an array of this machine's state, so that clear and copyFrom copy it. */
  own<T>(a: StaticArray<T>): StaticArray<T> {
    assert(this.nParts < MAX_PARTS, "irq: more state arrays than MAX_PARTS");
    this.parts[2 * this.nParts] = changetype<usize>(a);
    this.parts[2 * this.nParts + 1] = <usize>a.length << alignof<T>();
    this.nParts++;
    return a;
  }

  /** Back to a fresh CONFIG machine (slot ownership and generation kept): every field as its
   *  initializer gives it. */
  clear(kind: i32): void {
    const inUse = this.inUse, generation = this.generation;
    this.copyFrom(FRESH);
    this.inUse = inUse;
    this.generation = generation;
    this.kind = kind;
  }

  /** Copies every field of o (used to roll back an event whose actions did not fit). */
  copyFrom(o: Machine): void {
    memory.copy(changetype<usize>(this), changetype<usize>(o), offsetof<Machine>("parts"));
    for (let i = 0; i < this.nParts; i++) memory.copy(this.parts[2 * i], o.parts[2 * i], this.parts[2 * i + 1]);
  }

  bump(line: i32, stat: i32): void {
    const k = line * STAT_COUNT + stat;
    this.stats[k] = this.stats[k] + 1;
  }
  stat(line: i32, stat: i32): u64 { return this.stats[line * STAT_COUNT + stat]; }

  isLevel(line: i32): bool { return (this.flags[line] & VFIO_IRQ_INFO_AUTOMASKED) != 0; }

  /** Appends a line to the FIFO; each line is queued at most once, so the ring cannot fill. */
  push(line: i32): bool {
    if (this.qLen >= MAX_IRQS_PER_DEVICE) return false;
    this.queue[(this.qHead + this.qLen) % MAX_IRQS_PER_DEVICE] = line;
    this.qLen++;
    return true;
  }
  pop(): i32 {
    const line = this.queue[this.qHead];
    this.qHead = (this.qHead + 1) % MAX_IRQS_PER_DEVICE;
    this.qLen--;
    return line;
  }

  deviceState(): i32 {
    if (this.phase == PHASE_CONFIG) return STATE_CONFIG;
    if (this.active != NO_LINE) return STATE_BUSY;
    return this.mapped ? STATE_IDLE_MAPPED : STATE_IDLE_TRAPPED;
  }
}

// ---- the table, the rollback copy and the action staging area: allocated once at start ----
const machines = new StaticArray<Machine>(MAX_MACHINES);
for (let i = 0; i < MAX_MACHINES; i++) machines[i] = new Machine();
const backup = new Machine();
/** Never changed: what clear() copies. */
const FRESH = new Machine();
const actKind = new StaticArray<u32>(MAX_ACTIONS_PER_EVENT);
const actIndex = new StaticArray<u32>(MAX_ACTIONS_PER_EVENT);
const actArg = new StaticArray<u64>(MAX_ACTIONS_PER_EVENT);
let actCount: i32 = 0;

/** Generation counter occupies handle bits 8..30, so handles stay positive i32. */
const SLOT_BITS: i32 = 8;
const GENERATION_MASK: u32 = 0x7f_ffff;

export function stagedCount(): i32 { return actCount; }
export function stagedKind(i: i32): u32 { return actKind[i]; }
export function stagedIndex(i: i32): u32 { return actIndex[i]; }
export function stagedArg(i: i32): u64 { return actArg[i]; }
export function resetStaging(): void { actCount = 0; }

function emit(kind: u32, index: i32, arg: u64): void {
  // MAX_ACTIONS_PER_EVENT is above the longest sequence any event produces: a bug if exceeded.
  if (actCount >= MAX_ACTIONS_PER_EVENT) throw new Error("irq: action staging overflow");
  actKind[actCount] = kind;
  actIndex[actCount] = <u32>index;
  actArg[actCount] = arg;
  actCount++;
}

// ---- handles ----

/** The machine for a handle, or null when the handle is unknown or freed. */
export function lookup(h: i32): Machine | null {
  if (h <= 0) return null;
  const slot = h & ((1 << SLOT_BITS) - 1);
  if (slot >= MAX_MACHINES) return null;
  const m = machines[slot];
  if (!m.inUse || m.generation != (<u32>h >>> SLOT_BITS)) return null;
  return m;
}

/** Takes a free slot; returns the handle, or -1 when the table is full. */
export function allocate(kind: i32): i32 {
  for (let i = 0; i < MAX_MACHINES; i++) {
    const m = machines[i];
    if (m.inUse) continue;
    m.generation = (m.generation & GENERATION_MASK) + 1;
    if (m.generation > GENERATION_MASK) m.generation = 1;
    m.inUse = true;
    m.clear(kind);
    return (<i32>m.generation << SLOT_BITS) | i;
  }
  return -1;
}

export function release(m: Machine): void { m.inUse = false; }

export function snapshot(m: Machine): void { backup.copyFrom(m); }
export function rollback(m: Machine): void { m.copyFrom(backup); }

// ---- CONFIG phase ----

export function setTimeout(m: Machine, ns: u64): i32 {
  if (m.phase != PHASE_CONFIG) return ERR_BAD_STATE;
  m.timeoutNs = ns;
  return 0;
}

export function declareLine(m: Machine, index: i32, flags: u32, count: u32): i32 {
  if (m.phase != PHASE_CONFIG) return ERR_BAD_STATE;
  if (<u32>index >= <u32>MAX_IRQS_PER_DEVICE) return ERR_BAD_ARG;
  if (m.kind == DEVICE_PCI && index >= VFIO_PCI_NUM_IRQS) return IRQ_ERR_WRONG_KIND;
  if (m.state[index] != LINE_UNDECLARED) return IRQ_ERR_DECLARED;
  if ((flags & VFIO_IRQ_INFO_EVENTFD) == 0) return IRQ_ERR_FLAGS;
  if ((flags & VFIO_IRQ_INFO_AUTOMASKED) != 0 && (flags & VFIO_IRQ_INFO_MASKABLE) == 0) return IRQ_ERR_FLAGS;
  if (m.kind == DEVICE_PLATFORM) {
    if (count != 1) return IRQ_ERR_COUNT; // vfio-platform gives every index exactly one IRQ
  } else if (index == VFIO_PCI_INTX_IRQ_INDEX) {
    if (count > 1) return IRQ_ERR_COUNT; // 0: the function has no interrupt pin
  } else if (index == VFIO_PCI_MSI_IRQ_INDEX) {
    if (count > PCI_MSI_MAX_VECTORS) return IRQ_ERR_COUNT;
  } else if (index == VFIO_PCI_MSIX_IRQ_INDEX) {
    if (count > PCI_MSIX_MAX_VECTORS) return IRQ_ERR_COUNT;
  } else if (count > 1) {
    return IRQ_ERR_COUNT; // ERR and REQ indexes carry one eventfd
  }
  m.state[index] = LINE_INACTIVE;
  m.flags[index] = flags;
  m.count[index] = count;
  return 0;
}

export function start(m: Machine): i32 {
  if (m.phase != PHASE_CONFIG) return ERR_BAD_STATE;
  m.phase = PHASE_RUNNING;
  return 0;
}

// ---- RUNNING phase: shared checks ----

function checkTime(m: Machine, now: u64): i32 {
  if (now < m.lastNow) return IRQ_ERR_TIME_BACKWARDS;
  return 0;
}

/** The checks every line event shares: phase, index, declared, PCI INTx rules. */
function checkLine(m: Machine, index: i32): i32 {
  if (m.phase != PHASE_RUNNING) return ERR_BAD_STATE;
  if (<u32>index >= <u32>MAX_IRQS_PER_DEVICE) return ERR_BAD_ARG;
  if (m.state[index] == LINE_UNDECLARED) return IRQ_ERR_UNDECLARED;
  if (m.kind == DEVICE_PCI) {
    if (index != VFIO_PCI_INTX_IRQ_INDEX) return IRQ_ERR_WRONG_KIND;
    if (m.pciMode != PCI_MODE_INTX) return IRQ_ERR_INTX_OFF;
  }
  return 0;
}

function deadlineFrom(m: Machine, now: u64): u64 {
  // Callers check overflow first with timeoutFits().
  return now + m.timeoutNs;
}
function timeoutFits(m: Machine, now: u64): bool { return now <= U64_MAX - m.timeoutNs; }

// ---- events ----

export function fire(m: Machine, line: i32, now: u64): i32 {
  let st = checkLine(m, line);
  if (st < 0) return st;
  st = checkTime(m, now);
  if (st < 0) return st;
  const s = m.state[line];
  if (s == LINE_WIRED) return IRQ_ERR_WIRED;
  m.lastNow = now;
  m.bump(line, STAT_FIRES);
  if (s == LINE_INACTIVE) {
    if (m.active == NO_LINE) {
      inject(m, line);
    } else {
      m.state[line] = LINE_PENDING;
      if (!m.push(line)) return ERR_INTERNAL;
    }
  } else if (s == LINE_ACTIVE && !m.isLevel(line)) {
    m.state[line] = LINE_ACTIVE_PENDING;
    if (!m.push(line)) return ERR_INTERNAL;
  } else {
    // PENDING, ACTIVE_PENDING, or ACTIVE level: one delivery is already outstanding.
    m.bump(line, STAT_COALESCED);
  }
  return 0;
}

/** Makes `line` the ACTIVE one: trap MMIO first so the guest's EOI access is seen, then assert. */
function inject(m: Machine, line: i32): void {
  if (m.mapped) {
    emit(ACT_MMAP_DISABLE, 0, 0);
    m.mapped = false;
  }
  m.state[line] = LINE_ACTIVE;
  m.active = line;
  emit(ACT_ASSERT_LINE, line, 0);
  m.bump(line, STAT_DELIVERED);
}

export function trappedAccess(m: Machine, now: u64): i32 {
  if (m.phase != PHASE_RUNNING) return ERR_BAD_STATE;
  const st = checkTime(m, now);
  if (st < 0) return st;
  const line = m.active;
  if (line != NO_LINE && m.qLen == 0 && !timeoutFits(m, now)) return ERR_OVERFLOW;
  m.lastNow = now;
  if (line == NO_LINE) return 0;
  // EOI of the ACTIVE line.
  emit(ACT_DEASSERT_LINE, line, 0);
  m.bump(line, STAT_EOIS);
  if (m.isLevel(line)) {
    emit(ACT_UNMASK, line, 0);
    m.bump(line, STAT_UNMASKS);
  }
  m.state[line] = m.state[line] == LINE_ACTIVE_PENDING ? LINE_PENDING : LINE_INACTIVE;
  m.active = NO_LINE;
  if (m.qLen > 0) {
    inject(m, m.pop());
  } else {
    m.deadline = deadlineFrom(m, now);
    m.timerArmed = true;
    emit(ACT_ARM_TIMER, 0, m.deadline);
  }
  return 0;
}

export function timer(m: Machine, now: u64): i32 {
  if (m.phase != PHASE_RUNNING) return ERR_BAD_STATE;
  let st = checkTime(m, now);
  if (st < 0) return st;
  if (!m.timerArmed) return IRQ_ERR_NO_TIMER;
  if (m.active != NO_LINE && !timeoutFits(m, now)) return ERR_OVERFLOW;
  m.lastNow = now;
  if (m.active != NO_LINE) {
    m.deadline = deadlineFrom(m, now);
    emit(ACT_ARM_TIMER, 0, m.deadline);
  } else if (now < m.deadline) {
    emit(ACT_ARM_TIMER, 0, m.deadline);
  } else {
    m.timerArmed = false;
    if (!m.mapped) {
      m.mapped = true;
      emit(ACT_MMAP_ENABLE, 0, 0);
    }
  }
  return 0;
}

export function wire(m: Machine, line: i32): i32 {
  const st = checkLine(m, line);
  if (st < 0) return st;
  const s = m.state[line];
  if (s == LINE_WIRED) return IRQ_ERR_WIRED;
  if (s != LINE_INACTIVE) return IRQ_ERR_LINE_BUSY;
  if (m.isLevel(line)) {
    emit(ACT_MASK, line, 0);
    emit(ACT_KVM_IRQFD_ASSIGN, line, 1);
    emit(ACT_SET_TRIGGER, line, ROUTE_KVM);
    emit(ACT_SET_UNMASK_FD, line, 1);
    emit(ACT_UNMASK, line, 0);
  } else {
    emit(ACT_KVM_IRQFD_ASSIGN, line, 0);
    emit(ACT_SET_TRIGGER, line, ROUTE_KVM);
  }
  m.state[line] = LINE_WIRED;
  return 0;
}

export function unwire(m: Machine, line: i32): i32 {
  const st = checkLine(m, line);
  if (st < 0) return st;
  if (m.state[line] != LINE_WIRED) return IRQ_ERR_NOT_WIRED;
  unwireSteps(m, line);
  return 0;
}

function unwireSteps(m: Machine, line: i32): void {
  if (m.isLevel(line)) {
    emit(ACT_MASK, line, 0);
    emit(ACT_SET_UNMASK_FD, line, 0);
    emit(ACT_SET_TRIGGER, line, ROUTE_USER);
    emit(ACT_KVM_IRQFD_DEASSIGN, line, 0);
    emit(ACT_UNMASK, line, 0);
  } else {
    emit(ACT_SET_TRIGGER, line, ROUTE_USER);
    emit(ACT_KVM_IRQFD_DEASSIGN, line, 0);
  }
  m.state[line] = LINE_INACTIVE;
}

function modeIndex(mode: i32): i32 {
  if (mode == PCI_MODE_INTX) return VFIO_PCI_INTX_IRQ_INDEX;
  if (mode == PCI_MODE_MSI) return VFIO_PCI_MSI_IRQ_INDEX;
  return VFIO_PCI_MSIX_IRQ_INDEX;
}

export function pciSetMode(m: Machine, mode: i32, count: u32): i32 {
  if (m.phase != PHASE_RUNNING) return ERR_BAD_STATE;
  if (m.kind != DEVICE_PCI) return IRQ_ERR_WRONG_KIND;
  if (mode < PCI_MODE_NONE || mode > PCI_MODE_MSIX) return ERR_BAD_ARG;
  if (mode == PCI_MODE_NONE) {
    if (count != 0) return IRQ_ERR_COUNT;
  } else {
    const idx = modeIndex(mode);
    if (m.state[idx] == LINE_UNDECLARED) return ERR_NOT_FOUND;
    if (mode == PCI_MODE_INTX && count != 1) return IRQ_ERR_COUNT;
    if (count == 0 || count > m.count[idx]) return IRQ_ERR_COUNT;
  }
  const cur = m.pciMode;
  if (cur == mode && m.pciCount == count) return 0;
  if (cur == mode && cur != PCI_MODE_NONE) {
    // Same MSI/MSI-X mode, another count: grow in place when the kernel allows resizing.
    const idx = modeIndex(mode);
    const resizable = (m.flags[idx] & VFIO_IRQ_INFO_NORESIZE) == 0;
    if (!(resizable && count > m.pciCount)) emit(ACT_DISABLE_INDEX, idx, 0);
    emit(ACT_ENABLE_INDEX, idx, <u64>count);
    m.pciCount = count;
    return 0;
  }
  if (cur == PCI_MODE_INTX) intxOff(m);
  else if (cur != PCI_MODE_NONE) emit(ACT_DISABLE_INDEX, modeIndex(cur), 0);
  if (mode != PCI_MODE_NONE) emit(ACT_ENABLE_INDEX, modeIndex(mode), <u64>count);
  m.pciMode = mode;
  m.pciCount = count;
  return 0;
}

/** Switches INTx off: the guest line down, pending INTx dropped, the index disabled, the irqfd
 *  removed when wired, the mapping back at once (nothing can be ACTIVE any more). */
function intxOff(m: Machine): void {
  const line = VFIO_PCI_INTX_IRQ_INDEX;
  const s = m.state[line];
  if (s == LINE_WIRED) {
    emit(ACT_DISABLE_INDEX, line, 0);
    emit(ACT_KVM_IRQFD_DEASSIGN, line, 0);
  } else {
    if (s == LINE_ACTIVE || s == LINE_ACTIVE_PENDING) emit(ACT_DEASSERT_LINE, line, 0);
    if (s == LINE_PENDING || s == LINE_ACTIVE_PENDING) m.bump(line, STAT_DROPPED);
    emit(ACT_DISABLE_INDEX, line, 0);
  }
  m.state[line] = LINE_INACTIVE;
  m.active = NO_LINE;
  m.qHead = 0;
  m.qLen = 0;
  if (m.timerArmed) {
    emit(ACT_CANCEL_TIMER, 0, 0);
    m.timerArmed = false;
  }
  if (!m.mapped) {
    emit(ACT_MMAP_ENABLE, 0, 0);
    m.mapped = true;
  }
}

// ---- introspection ----

export function lineInfo(m: Machine, index: i32, out: StaticArray<u64>): i32 {
  if (<u32>index >= <u32>MAX_IRQS_PER_DEVICE) return ERR_BAD_ARG;
  const s = m.state[index];
  if (s == LINE_UNDECLARED) return IRQ_ERR_UNDECLARED;
  for (let i = 0; i < STAT_COUNT; i++) out[i] = m.stat(index, i);
  out[STAT_COUNT] = <u64>m.flags[index];
  out[STAT_COUNT + 1] = <u64>m.count[index];
  return <i32>s;
}

export function machineInfo(m: Machine, out: StaticArray<u64>): i32 {
  out[0] = m.mapped ? 1 : 0;
  out[1] = m.timerArmed ? 1 : 0;
  out[2] = m.deadline;
  out[3] = m.active == NO_LINE ? U64_MAX : <u64>m.active;
  out[4] = <u64>m.qLen;
  out[5] = <u64>m.pciMode;
  out[6] = <u64>m.pciCount;
  out[7] = m.timeoutNs;
  out[8] = m.lastNow;
  out[9] = <u64>m.kind;
  return m.deviceState();
}

/** The i-th queued line (0 = head), for tests and diagnostics. */
export function queueAt(m: Machine, i: i32): i32 {
  if (i < 0 || i >= m.qLen) return ERR_NOT_FOUND;
  return m.queue[(m.qHead + i) % MAX_IRQS_PER_DEVICE];
}

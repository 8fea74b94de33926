// Status codes of the irq module: -500 .. -599, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in irqStatusRow(): "<error kind> <NAME>: <meaning>".
// Calls in the wrong phase (CONFIG vs RUNNING) return the generic ERR_BAD_STATE; the codes below
// name a wrong state of one line, or an input the machine refuses.

/** declare_line named an index that is already declared. */
export const IRQ_ERR_DECLARED: i32 = -500;
/** The event names an IRQ index that was never declared. */
export const IRQ_ERR_UNDECLARED: i32 = -501;
/** The line's VFIO flags lack EVENTFD, or say AUTOMASKED without MASKABLE (we could never unmask). */
export const IRQ_ERR_FLAGS: i32 = -502;
/** A vector count outside its bound: 1 for a platform line and INTx, the declared count (and the
 *  PCI spec's 32 for MSI, 2048 for MSI-X) for MSI/MSI-X, at least 1 when enabling. */
export const IRQ_ERR_COUNT: i32 = -503;
/** `now` is earlier than the `now` of an earlier event: the host's clock must be monotonic. */
export const IRQ_ERR_TIME_BACKWARDS: i32 = -504;
/** The line is wired to KVM through irqfd: the kernel delivers it, userspace events are refused. */
export const IRQ_ERR_WIRED: i32 = -505;
/** unwire of a line that is not wired. */
export const IRQ_ERR_NOT_WIRED: i32 = -506;
/** wire of a line that is PENDING or ACTIVE in userspace: wait for its EOI. */
export const IRQ_ERR_LINE_BUSY: i32 = -507;
/** A timer event while no timer is armed (a stale callback the host failed to cancel). */
export const IRQ_ERR_NO_TIMER: i32 = -508;
/** A call that does not fit the device kind: PCI mode switch on a platform device, or a PCI
 *  event on an index other than INTx (0). */
export const IRQ_ERR_WRONG_KIND: i32 = -509;
/** A PCI INTx event (fire, wire, unwire) while the device is not in INTx mode. */
export const IRQ_ERR_INTX_OFF: i32 = -510;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function irqStatusRow(code: i32): string {
  switch (code) {
    case IRQ_ERR_DECLARED: return "bad-argument IRQ_DECLARED: the IRQ index is already declared";
    case IRQ_ERR_UNDECLARED: return "not-found IRQ_UNDECLARED: the IRQ index was never declared";
    case IRQ_ERR_FLAGS: return "bad-argument IRQ_FLAGS: IRQ flags lack EVENTFD, or AUTOMASKED without MASKABLE";
    case IRQ_ERR_COUNT: return "bad-argument IRQ_COUNT: vector count outside its bound (declared count, 32 MSI, 2048 MSI-X)";
    case IRQ_ERR_TIME_BACKWARDS: return "bad-argument IRQ_TIME_BACKWARDS: now is earlier than a previous event's now";
    case IRQ_ERR_WIRED: return "bad-state IRQ_WIRED: the line is wired to KVM irqfd; userspace events refused";
    case IRQ_ERR_NOT_WIRED: return "bad-state IRQ_NOT_WIRED: unwire of a line that is not wired";
    case IRQ_ERR_LINE_BUSY: return "bad-state IRQ_LINE_BUSY: the line is PENDING or ACTIVE; wire it after its EOI";
    case IRQ_ERR_NO_TIMER: return "bad-state IRQ_NO_TIMER: timer event while no timer is armed";
    case IRQ_ERR_WRONG_KIND: return "not-supported IRQ_WRONG_KIND: call does not fit the device kind (platform/PCI) or index";
    case IRQ_ERR_INTX_OFF: return "bad-state IRQ_INTX_OFF: PCI INTx event while the device is not in INTx mode";
  }
  return "";
}

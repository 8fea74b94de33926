// Reports a guest can cause, thinned: a report per guest action (a garbage MSI KVM refuses, an
// access nothing decodes) would let a guest fill the VMM's log at the rate of its accesses. One
// rule for every default reporter of the library and for vfiokit's own VMM: the first
// REPORT_BURST reports of a source pass, then only the 16th, 32nd, 64th... (the powers of two), each
// with its number, so a million reports print 10 + 16 lines and every count is still kept.
// Not responsible for: where a report goes (console.error, an event, the caller's onError).
import { checkFn, checkInt } from '../shim/args.js';

/** Reports of one source passed on in full before thinning starts. */
export const REPORT_BURST = 10;

/** Whether the `n`th report (counting from 1) of one source is passed on: the first
 *  {@link REPORT_BURST}, then each power of two. */
export function reportShown(n: number): boolean {
  checkInt('n', n, 1, Number.MAX_SAFE_INTEGER);
  return n <= REPORT_BURST || 2 ** Math.round(Math.log2(n)) === n;
}

/** What to add to the `n`th report's text: nothing within the burst, else its number and the rule. */
export function reportNote(n: number): string {
  checkInt('n', n, 1, Number.MAX_SAFE_INTEGER);
  return n <= REPORT_BURST ? '' : ` (report ${n}; after the first ${REPORT_BURST}, only each power of two is printed)`;
}

/**
 * One source of reports: counts every report and passes on those {@link reportShown} allows,
 * with their number.
 *
 * @example
 * ```ts
 * import { KvmIrqRoutes, openDevice, ReportThinner, reportNote } from 'vfiokit';
 *
 * declare const vmFd: number, routes: KvmIrqRoutes;
 * declare function warn(line: string): void;   // the VMM's own log
 * const refused = new ReportThinner<unknown>((e, n) => warn(`nvme: ${String(e)}${reportNote(n)}`));
 * const dev = openDevice('0000:00:03.0');
 * const pt = dev.pci({ kvm: { vmFd, routes, devid: 0x18 }, mapMemory: () => {}, unmapMemory: () => {}, onError: (e) => refused.report(e) });
 * // later: refused.count is every report, printed or not
 * ```
 */
export class ReportThinner<T> {
  /** Every report so far, passed on or not. */
  count = 0;
  readonly #pass: (report: T, n: number) => void;
  /** `pass` gets each report that is shown and its number (from 1). */
  constructor(pass: (report: T, n: number) => void) { this.#pass = checkFn('pass', pass); }
  /** Counts `report` and passes it on if its number is shown; returns whether it was. */
  report(report: T): boolean {
    const n = ++this.count;
    if (!reportShown(n)) return false;
    this.#pass(report, n);
    return true;
  }
}

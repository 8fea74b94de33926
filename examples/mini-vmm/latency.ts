// IRQ latency of the three IRQ paths, measured by the guest itself (guest/latency.S) on its
// virtual counter: for each pl031 alarm, delivery (the device raises its line -> the guest's IRQ
// handler runs) and acknowledge (the handler's ICR write and EOI). The VMM only parses what the
// guest printed, so the figures do not depend on the VMM's clock or on when it is woken.
// Not responsible for: running the guest (vmm.ts), statistics beyond the median and the spread.
import { runGuest, runGuestMachine, runGuestRelay, type IrqMode, type RunOptions, type RunReport } from './vmm';

export interface LatencyRound { deliveryNs: number; ackNs: number; roundTripNs: number }
export interface LatencyRun { mode: IrqMode; freqHz: number; rounds: LatencyRound[]; report: RunReport }

/** Reads "F <hex>" and the "L <hex> <hex>" lines of guest/latency.S; throws on anything else
 *  that looks like a result line but does not parse, and when the frequency line is missing. */
export function parseLatency(text: string): { freqHz: number; rounds: LatencyRound[] } {
  const f = /^F ([0-9a-f]{8})$/m.exec(text);
  if (!f) throw new Error(`latency guest: no "F <frequency>" line in its console:\n${text}`);
  const freqHz = parseInt(f[1]!, 16);
  if (freqHz === 0) throw new Error('latency guest: CNTFRQ_EL0 is 0; the counter cannot be converted to time');
  const ns = (ticks: number): number => (ticks * 1e9) / freqHz;
  const rounds: LatencyRound[] = [];
  for (const line of text.split('\n').filter((l) => l.startsWith('L '))) {
    const m = /^L ([0-9a-f]{8}) ([0-9a-f]{8})$/.exec(line);
    if (!m) throw new Error(`latency guest: malformed line ${JSON.stringify(line)}`);
    const d = ns(parseInt(m[1]!, 16)), a = ns(parseInt(m[2]!, 16));
    rounds.push({ deliveryNs: d, ackNs: a, roundTripNs: d + a });
  }
  return { freqHz, rounds };
}

/** Runs guest/latency.S once with the given IRQ path. */
export async function measureLatency(mode: IrqMode, opts: RunOptions): Promise<LatencyRun> {
  const report = mode === 'irqfd' ? runGuest(opts) : mode === 'relay' ? await runGuestRelay(opts) : await runGuestMachine(opts);
  if (report.end !== 'shutdown') throw new Error(`latency guest (${mode}) ended with ${report.end}; console:\n${report.console}`);
  return { mode, report, ...parseLatency(report.console) };
}

/** The median of a non-empty list. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

// The lab's console protocol: what the guest prints on its serial console and how the host
// reads it. Pure (no processes, no timers), so that host-side unit tests can feed it lines.
//
// The guest writes one marker line per event: MARKER + ' ' + JSON, at the start of a line.
//   {"ev":"init"}                                   /init is running (boot reached userland)
//   {"ev":"bound","dev":"9010000.pl031","driver":"vfio-amba"}
//   {"ev":"cmd","argv":"..."}                       the requested command starts
//   {"ev":"file-start","file":"devices.test.mjs"}   the lab suite starts one test file
//   {"ev":"file-end","file":"...","code":0}         ... and it ended with this exit code
//   {"ev":"exit","code":N}                          the requested command ended with status N
// Everything else is console output: it is kept, and a kernel panic in it is recognised.

/** The prefix of every marker line; long and odd so that no program prints it by accident. */
export const MARKER = '@@VFIOKIT-LAB@@';

/** Host exit statuses for outcomes the guest could not report itself (after `timeout`'s 124). */
export const EXIT = Object.freeze({
  /** The watchdog ended the guest: no output for too long, or over the total limit. */
  HUNG: 124,
  /** The guest kernel panicked. */
  PANIC: 125,
  /** QEMU ended without the guest reporting the command's exit status. */
  NO_STATUS: 126,
});

const PANIC_RE = /Kernel panic - not syncing[^\r\n]*/;
const ANSI_RE = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Reads uvu's summary (Total/Passed/Skipped) out of one test file's output; undefined parts stay undefined. */
export function uvuSummary(text) {
  const clean = text.replace(ANSI_RE, '');
  const num = (k) => { const m = clean.match(new RegExp(`^\\s*${k}:\\s+(\\d+)`, 'm')); return m ? Number(m[1]) : undefined; };
  return { total: num('Total'), passed: num('Passed'), skipped: num('Skipped') };
}

/**
 * Follows one guest's console. feed() takes raw chunks (any split, \r\n or \n); finish() gives the
 * outcome once the console is closed or the watchdog fired.
 */
export class ConsoleMonitor {
  constructor() {
    this.partial = '';
    this.events = [];
    this.panic = undefined;
    this.exitCode = undefined;
    this.files = [];          // { file, code, output, total, passed, skipped }
    this.current = undefined; // the test file running now
    this.sawInit = false;
  }

  /** Feeds console bytes; returns the marker events completed by this chunk. */
  feed(chunk) {
    this.partial += String(chunk);
    const lines = this.partial.split('\n');
    this.partial = lines.pop();
    const out = [];
    for (const raw of lines) { const ev = this.line(raw.replace(/\r$/, '')); if (ev) out.push(ev); }
    return out;
  }

  /** Reads one complete console line; returns its marker event if it is one. */
  line(text) {
    if (this.panic === undefined) { const p = text.match(PANIC_RE); if (p) this.panic = p[0].trim(); }
    const at = text.indexOf(MARKER);
    if (at < 0) { if (this.current) this.current.output += text + '\n'; return undefined; }
    let ev;
    try { ev = JSON.parse(text.slice(at + MARKER.length)); } catch { return undefined; }
    if (!ev || typeof ev.ev !== 'string') return undefined;
    this.events.push(ev);
    if (ev.ev === 'init') this.sawInit = true;
    else if (ev.ev === 'file-start') this.current = { file: String(ev.file), output: '' };
    else if (ev.ev === 'file-end' && this.current) {
      const f = { ...this.current, code: Number(ev.code), ...uvuSummary(this.current.output) };
      this.files.push(f); this.current = undefined; ev.result = f;
    } else if (ev.ev === 'exit' && Number.isInteger(ev.code)) this.exitCode = ev.code;
    return ev;
  }

  /**
   * The outcome: { status, message, panic?, files }. `hung` is the watchdog's reason when it fired.
   * A reported exit status wins over a later panic (poweroff) but a panic before it wins over a hang.
   */
  finish(hung) {
    if (this.partial) { this.line(this.partial); this.partial = ''; }
    if (this.current) { this.files.push({ ...this.current, code: undefined, ...uvuSummary(this.current.output), unfinished: true }); this.current = undefined; }
    const files = this.files;
    if (this.exitCode !== undefined) return { status: this.exitCode, message: `guest command exited with status ${this.exitCode}`, files };
    if (this.panic) return { status: EXIT.PANIC, message: `guest kernel panic: ${this.panic}`, panic: this.panic, files };
    if (hung) return { status: EXIT.HUNG, message: `guest hung: ${hung}`, files };
    return { status: EXIT.NO_STATUS, message: this.sawInit ? 'guest ended without reporting the command\'s exit status' : 'guest ended before /init ran', files };
  }
}

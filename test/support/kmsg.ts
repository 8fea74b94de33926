// The host kernel's log as the lab tests read it: the records written from a point on, through
// /dev/kmsg (non-blocking: one record per read, EAGAIN at the end), and the arm-smmu-v3 fault
// events among them.
// Not responsible for: provoking the faults (each test does).
import { closeSync, constants, openSync, readSync } from 'node:fs';

/** The kernel log records from now on: call the returned function once, at the end. */
export function kmsgFrom(): () => string[] {
  let fd = -1;
  try { fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK); } catch { return () => []; }
  const drain = (): string[] => {
    const out: string[] = [];
    const buf = Buffer.alloc(8192);
    for (;;) {
      try { const n = readSync(fd, buf, 0, buf.length, null); if (n <= 0) break; out.push(buf.subarray(0, n).toString()); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;   // records overwritten while we read
        break;
      }
    }
    // A record is "prio,seq,usec,flags;message\n" plus " KEY=value" lines: keep the message
    // (kmsg escapes a tab as \x09).
    return out.map((r) => r.slice(r.indexOf(';') + 1).split('\n')[0]!.replace(/\\x09/g, ' '));
  };
  drain();
  return () => { const r = drain(); closeSync(fd); return r; };
}

/** The arm-smmu-v3 lines of a log, and the input address (IOVA) of each translation fault: the
 *  driver prints "event 0x10 received:" (F_TRANSLATION) and the event's four dwords, the third of
 *  which is the faulting input address. `suppressed` sums the ratelimit's "N callbacks suppressed". */
export function smmuFaults(log: string[]): { lines: string[]; iovas: bigint[]; suppressed: number } {
  const lines = log.filter((l) => l.startsWith('arm-smmu-v3'));
  const iovas = lines.flatMap((l, i) => (/event 0x10 received/.test(l) && lines[i + 3] ? [BigInt(/0x[0-9a-f]+$/.exec(lines[i + 3]!)?.[0] ?? '-1')] : []));
  const suppressed = lines.reduce((n, l) => n + Number(/(\d+) callbacks suppressed/.exec(l)?.[1] ?? 0), 0);
  return { lines, iovas, suppressed };
}

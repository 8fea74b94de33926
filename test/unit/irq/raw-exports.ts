// The core's irq_ exports, called raw (no wrapper), for tests that check statuses and the
// output-buffer protocol directly. Not a test file itself.
import { core } from '../../../src/core/loader';

type F = (...a: (number | bigint)[]) => number;

export function rawIrq() {
  const c = core();
  const f = (name: string): F => c.fn<F>(`irq_${name}`);
  return {
    c,
    create: f('create'), free: f('free'), setTimeout: f('set_timeout'), declare: f('declare_line'),
    start: f('start'), fire: f('fire'), access: f('trapped_access'), timer: f('timer'), wire: f('wire'),
    unwire: f('unwire'), pciMode: f('pci_set_mode'), lineInfo: f('line_info'), machineInfo: f('machine_info'),
    queueAt: f('queue_at'), limits: f('limits'),
    /** Status name of a code ("OK" for success). */
    nameOf: (st: number) => (st >= 0 ? 'OK' : c.statusName(st).split(':')[0]!),
    /** Everything observable about a machine: device info and the info of lines [0, lines). */
    observe(h: number, lines: number): string {
      const parts: string[] = [];
      const st = this.machineInfo(h);
      parts.push(`m${st}:${[...Array(10).keys()].map((i) => c.result(i)).join(',')}`);
      for (let l = 0; l < lines; l++) {
        const ls = this.lineInfo(h, l);
        parts.push(`l${l}=${ls}:${ls >= 0 ? [...Array(8).keys()].map((i) => c.result(i)).join(',') : ''}`);
      }
      for (let q = 0; ; q++) { const v = this.queueAt(h, q); if (v < 0) break; parts.push(`q${q}=${v}`); }
      return parts.join(' ');
    },
  };
}

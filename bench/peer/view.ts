// The guest's view of the passed-through PCI functions under two VMMs, compared (docs/BENCH.md,
// "The guest's view of the NVMe" and "... of the edu"): the L2 init's `pci-view` lines of one run
// under QEMU and one under the mini-VMM, function by function and item by item, and each
// difference judged against the documented set. Pure: the lab test (test/lab/peer-nvme.test.ts)
// and the benchmark (bench/peer/run.ts) feed it parsed reports.
// Not responsible for: the disk checks (the callers assert the hashes), or the host's view
// (test/lab/vmm-nvme.test.ts compares the mini-VMM's view with L1's).
import type { L2Report, PciView } from '../../test/support/l2-lines';

/** One passed-through function to compare: a short name for the log, and where each L2 sees it. */
export interface ViewPair { name: string; qemuBdf: string; miniBdf: string }

/** One item of the view that differs: the function (a ViewPair's name; '' for the list of
 *  functions), the item's name, QEMU's value, the mini-VMM's, and, when the difference is one of
 *  the documented ones, which (`why` undefined: not documented). */
export interface ViewDifference { device: string; item: string; qemu: string; mini: string; why?: string }

/** The documented differences, by name (docs/BENCH.md lists each with its explanation). */
export const DOCUMENTED = Object.freeze({
  bdf: 'the function\'s address: each VMM chooses its slot (QEMU the `addr=` given, the mini-VMM 00:01.0, its first slot)',
  'host-bridge': 'QEMU\'s virt machine shows its host bridge (gpex, 1b36:0008) as function 00:00.0; the mini-VMM\'s ECAM host bridge has no function of its own',
  'msix-relocated': 'the mini-VMM moves the MSI-X table and PBA past the end of the table\'s BAR and doubles the BAR (PciPassthrough relocation \'extend\'), so the table is in pages of its own that trap while the rest of the BAR is a memslot; QEMU leaves them where the device has them',
} as const);
export type Documented = keyof typeof DOCUMENTED;

const hex = (n: number | bigint | undefined): string => (n === undefined ? 'none' : `0x${n.toString(16)}`);
/** The view's items that both VMMs should show alike, as strings (addresses left out: each L2
 *  places the BARs in its own host bridge's window; the raw BAR registers keep their flag bits). */
function items(v: PciView | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!v) return m;
  m.set('id', v.id ? `${v.id.id} class ${v.id.class} rev ${v.id.rev}` : 'none');
  m.set('caps', v.caps.map((c) => `${hex(c.offset)}:${hex(c.id)}`).join(' ') || 'none');
  m.set('ecaps', v.ecaps.map((c) => `${hex(c.offset)}:${hex(c.id)}v${c.ver}`).join(' ') || 'none');
  const barIdx = new Set([...v.bars.keys(), ...v.barRegs.keys()]);
  for (const i of [...barIdx].sort()) {
    const b = v.bars.get(i);
    if (b) { m.set(`bar ${i} size`, hex(b.size)); m.set(`bar ${i} flags`, hex(b.flags)); }
    const reg = v.barRegs.get(i);
    if (reg !== undefined) m.set(`bar-reg ${i} flag bits`, hex(reg & 0xf));
  }
  m.set('rom size', hex(v.rom?.size));
  if (v.msix) {
    m.set('msix cap', hex(v.msix.cap)); m.set('msix table-size', String(v.msix.tableSize));
    m.set('msix table-bar', String(v.msix.tableBar)); m.set('msix table-offset', hex(v.msix.tableOffset));
    m.set('msix pba-bar', String(v.msix.pbaBar)); m.set('msix pba-offset', hex(v.msix.pbaOffset));
    m.set('msix enabled', String(v.msix.enabled)); m.set('msix function-mask', String(v.msix.functionMask));
  } else m.set('msix', 'none');
  m.set('msi', v.msi ? Object.entries(v.msi).map(([k, x]) => `${k} ${x}`).join(' ') : 'none');
  m.set('command', hex(v.command?.value));
  m.set('status', hex(v.status));
  m.set('intx pin', String(v.intx?.pin ?? 'none'));
  m.set('driver', v.driver ?? 'none');
  // The interrupt mode the config says is on, as the L2 init judges it (nvme-irq-mode): MSI-X
  // enabled, else MSI enabled, else INTx.
  m.set('irq mode', v.msix?.enabled ? 'msix' : v.msi?.enabled === '1' ? 'msi' : 'intx');
  return m;
}

/** Whether a difference of the MSI-X table's BAR or offsets is the mini-VMM's relocation: the
 *  mini-VMM's BAR is twice QEMU's, and the table and PBA sit in its upper half. */
function relocated(q: PciView, mv: PciView): boolean {
  if (!q.msix || !mv.msix || q.msix.tableBar !== mv.msix.tableBar) return false;
  const qs = q.bars.get(q.msix.tableBar)?.size, ms = mv.bars.get(mv.msix.tableBar)?.size;
  return qs !== undefined && ms === 2n * qs && BigInt(mv.msix.tableOffset) >= qs && BigInt(mv.msix.pbaOffset) >= qs;
}

/**
 * Every difference between QEMU's and the mini-VMM's view of each function in `pairs`, each with
 * `why` set when it is one of DOCUMENTED. The list of the other functions each L2 enumerated (those
 * in no pair) is compared too: QEMU's host bridge.
 */
export function compareViews(qemu: L2Report, mini: L2Report, pairs: readonly ViewPair[]): ViewDifference[] {
  const out: ViewDifference[] = [];
  const others = (r: L2Report, bdfs: string[]): string[] => r.pci.filter((p) => !bdfs.includes(p.bdf)).map((p) => `${p.bdf} ${p.id}`);
  const qo = others(qemu, pairs.map((p) => p.qemuBdf)), mo = others(mini, pairs.map((p) => p.miniBdf));
  if (qo.join() !== mo.join()) {
    const bridgeOnly = mo.length === 0 && qo.length === 1 && / 1b36:0008$/.test(qo[0]!);
    out.push({ device: '', item: 'other functions', qemu: qo.join(', ') || 'none', mini: mo.join(', ') || 'none', ...(bridgeOnly ? { why: 'host-bridge' } : {}) });
  }
  for (const { name, qemuBdf, miniBdf } of pairs) {
    const q = qemu.views.get(qemuBdf), mv = mini.views.get(miniBdf);
    if (qemuBdf !== miniBdf) out.push({ device: name, item: 'bdf', qemu: qemuBdf, mini: miniBdf, why: 'bdf' });
    const qi = items(q), mi = items(mv);
    const reloc = q && mv ? relocated(q, mv) : false;
    const tableBar = q?.msix?.tableBar;
    const byRelocation = new Set([`bar ${tableBar} size`, 'msix table-offset', 'msix pba-offset']);
    for (const k of new Set([...qi.keys(), ...mi.keys()])) {
      const a = qi.get(k) ?? 'none', b = mi.get(k) ?? 'none';
      if (a === b) continue;
      out.push({ device: name, item: k, qemu: a, mini: b, ...(reloc && byRelocation.has(k) ? { why: 'msix-relocated' as const } : {}) });
    }
  }
  return out;
}

/** The differences as lines for a log: `device item: QEMU x, mini-VMM y (documented: ...)`. */
export const describe = (d: ViewDifference[]): string[] =>
  d.map((x) => `${x.device ? `${x.device} ` : ''}${x.item}: QEMU ${x.qemu}, mini-VMM ${x.mini} (${x.why ? `documented: ${x.why}` : 'NOT DOCUMENTED'})`);

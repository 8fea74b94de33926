// Reads the report lines of the L2 /init (examples/mini-vmm/linux/init.c and nvme.c; the formats
// are listed in docs/mini-vmm.md): from a guest console (after printk's "[    t] " stamp) or from
// the program's stdout when it runs in L1. One parser for every test that reads them.

/** Key/value pairs of the words after a line's keyword ("a 1 b 0x2" -> { a: '1', b: '0x2' }). */
function pairs(words: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < words.length; i += 2) o[words[i]!] = words[i + 1]!;
  return o;
}

export interface PciView {
  id?: Record<string, string>;
  /** Standard capabilities in list order: offset and id. */
  caps: { offset: number; id: number }[];
  ecaps: { offset: number; id: number; ver: number }[];
  /** BARs by index: address as placed, size, resource flags. */
  bars: Map<number, { addr: bigint; size: bigint; flags: number }>;
  rom?: { addr: bigint; size: bigint };
  barRegs: Map<number, number>;
  msix?: { cap: number; tableSize: number; tableBar: number; tableOffset: number; pbaBar: number; pbaOffset: number; enabled: boolean; functionMask: boolean };
  msi?: Record<string, string>;
  command?: { value: number; memory: boolean; busMaster: boolean; intxDisable: boolean };
  status?: number;
  intx?: { pin: number; irq: number };
  driver?: string;
}

export interface L2Report {
  /** Every `l2: ` line's text after the prefix, in order. */
  lines: string[];
  /** `pci <bdf> <vendor>:<device>` lines. */
  pci: { bdf: string; id: string }[];
  /** `pci-view <bdf> ...` lines by BDF. */
  views: Map<string, PciView>;
  skip?: string;
  disk?: { name: string; bytes: number; logicalBlock: number; seenMs: number };
  pattern?: { read: string; expected: string };
  write?: { wrote: string; read: string };
  irqMode?: string;
  /** The /proc/interrupts lines naming nvme, with their summed counts. */
  irqLines: { line: string; total: number }[];
  figures?: { readMbs: number; writeMbs: number; ios: number; irqs: number; probeMs: number; seenMs: number };
  /** The random-read workload (`nvme-randread iops ...`): 4 KiB reads at QD1, O_DIRECT; the I/Os
   *  and nvme interrupts counted over them. */
  randread?: { iops: number; reads: number; block: number; ms: number; ios: number; irqs: number };
  nvmeVerdict?: string;
  /** The RTC part: the name and time read, the rtc-pl031 line's count before and after the alarms,
   *  each alarm read (its flags), or why it was skipped. */
  rtc: { name?: string; time?: string; irqBefore?: number; irqAfter?: number; irqLine?: string; alarms: { n: number; flags: number }[]; skip?: string };
  /** `bar <bdf> index 2 ...` lines (bar.c): each ivshmem function's BAR 2 as the guest placed it,
   *  the markers written at its first and last 8 bytes and read back, ok or why not. */
  bars: { bdf: string; index: number; addr: bigint; size: bigint; first: bigint; last: bigint; readFirst: bigint; readLast: bigint; ok: boolean; text: string }[];
  /** `bar <bdf> index 0 ldr ... ldp-signal ...` lines (bar.c): a trapped load from BAR 0, then the
   *  signal that ended a child's load pair there (0: none). */
  ldps: { bdf: string; ldr: number; signal: number; ok: boolean; text: string }[];
  /** The last line: PASS or FAIL. */
  verdict?: string;
  fails: string[];
}

const num = (s: string | undefined): number => Number(s);

export function parseL2(text: string): L2Report {
  const lines = [...text.matchAll(/(?:^|\] )l2: (.*?)\r?$/gm)].map((m) => m[1]!);
  const r: L2Report = { lines, pci: [], views: new Map(), irqLines: [], rtc: { alarms: [] }, bars: [], ldps: [], fails: [] };
  const view = (bdf: string): PciView => {
    let v = r.views.get(bdf);
    if (!v) { v = { caps: [], ecaps: [], bars: new Map(), barRegs: new Map() }; r.views.set(bdf, v); }
    return v;
  };
  for (const l of lines) {
    const w = l.split(/\s+/);
    const [key] = w;
    if (key === 'pci' && w.length === 3) r.pci.push({ bdf: w[1]!, id: w[2]! });
    else if (key === 'bar' && w[2] === 'index' && w[4] === 'ldr') {
      const q = pairs(w.slice(4));
      r.ldps.push({ bdf: w[1]!, ldr: num(q.ldr), signal: q['ldp-signal'] === 'none' ? 0 : num(q['ldp-signal']), ok: w.at(-1) === 'ok', text: l });
    } else if (key === 'bar' && w[2] === 'index') {
      const q = pairs(w.slice(4));
      const big = (x: string | undefined): bigint => (x === undefined ? -1n : BigInt(x));
      r.bars.push({ bdf: w[1]!, index: num(w[3]), addr: big(q.addr), size: big(q.size), first: big(q.first), last: big(q.last), readFirst: big(q['read-first']), readLast: big(q['read-last']), ok: w.at(-1) === 'ok', text: l });
    }
    else if (key === 'pci-view') {
      const v = view(w[1]!);
      const item = w[2];
      const p = pairs(w.slice(3));
      if (item === 'id') v.id = { id: w[3]!, ...pairs(w.slice(4)) };
      else if (item === 'cap') v.caps.push({ offset: num(w[3]), id: num(w[5]) });
      else if (item === 'ecap') v.ecaps.push({ offset: num(w[3]), id: num(w[5]), ver: num(w[7]) });
      else if (item === 'bar') { const q = pairs(w.slice(4)); v.bars.set(num(w[3]), { addr: BigInt(q.addr!), size: BigInt(q.size!), flags: num(q.flags) }); }
      else if (item === 'rom') v.rom = { addr: BigInt(p.addr!), size: BigInt(p.size!) };
      else if (item === 'bar-reg') v.barRegs.set(num(w[3]), num(w[4]));
      else if (item === 'msix') v.msix = { cap: num(p.cap), tableSize: num(p['table-size']), tableBar: num(p['table-bar']), tableOffset: num(p['table-offset']), pbaBar: num(p['pba-bar']), pbaOffset: num(p['pba-offset']), enabled: p.enabled === '1', functionMask: p['function-mask'] === '1' };
      else if (item === 'msi') v.msi = p;
      else if (item === 'command') { const q = pairs(w.slice(4)); v.command = { value: num(w[3]), memory: q.memory === '1', busMaster: q['bus-master'] === '1', intxDisable: q['intx-disable'] === '1' }; }
      else if (item === 'status') v.status = num(w[3]);
      else if (item === 'intx') v.intx = { pin: num(p.pin), irq: num(p.irq) };
      else if (item === 'driver') v.driver = w[3];
    } else if (key === 'nvme-skip') r.skip = w.slice(1).join(' ');
    else if (key === 'nvme-disk') { const p = pairs(w.slice(2)); r.disk = { name: w[1]!, bytes: num(p.bytes), logicalBlock: num(p['logical-block']), seenMs: num(p['seen-ms']) }; }
    else if (key === 'sha256' && w[1] === 'pattern') r.pattern = { read: w[2]!, expected: w[4]! };
    else if (key === 'sha256' && w[1] === 'write') r.write = { wrote: w[2]!, read: w[4]! };
    else if (key === 'nvme-irq-mode') r.irqMode = w[1];
    else if (key === 'nvme-irq') {
      const line = l.slice('nvme-irq '.length);
      let total = 0;
      for (const c of line.slice(line.indexOf(':') + 1).trim().split(/\s+/)) { if (!/^\d+$/.test(c)) break; total += Number(c); }
      r.irqLines.push({ line, total });
    } else if (key === 'nvme-figures') {
      const p = pairs(w.slice(1));
      r.figures = { readMbs: num(p['read-mbs']), writeMbs: num(p['write-mbs']), ios: num(p.ios), irqs: num(p.irqs), probeMs: num(p['probe-ms']), seenMs: num(p['seen-ms']) };
    } else if (key === 'nvme-randread' && w[1] === 'iops') {
      const p = pairs(w.slice(1));
      r.randread = { iops: num(p.iops), reads: num(p.reads), block: num(p.block), ms: num(p.ms), ios: num(p.ios), irqs: num(p.irqs) };
    } else if (key === 'nvme-verdict') r.nvmeVerdict = w[1];
    else if (key === 'rtc0-name') r.rtc.name = w.slice(1).join(' ');
    else if (key === 'rtc-time') r.rtc.time = `${w[1]} ${w[2]}`;
    else if (key === 'irq-before') r.rtc.irqBefore = num(w[1]);
    else if (key === 'irq-after') r.rtc.irqAfter = num(w[1]);
    else if (key === 'irq-line') r.rtc.irqLine = w.slice(1).join(' ');
    else if (key === 'alarm-read') r.rtc.alarms.push({ n: num(w[1]), flags: num(w[3]) });
    else if (key === 'rtc-skip') r.rtc.skip = w.slice(1).join(' ');
    else if (key === 'PASS' && w.length === 1) r.verdict = 'PASS';
    else if (key === 'FAIL') { r.fails.push(l); if (w.length === 1) r.verdict = 'FAIL'; }
  }
  return r;
}

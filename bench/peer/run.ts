// The side-by-side benchmark's L1 half (bench/peer.mjs boots the lab with it): the same L2 guest
// on QEMU and on the mini-VMM, one after the other in one boot, PASSES times (the order turned
// around on every pass, so neither VMM always runs on a fresher machine). Five ways:
//   qemu-nvme      QEMU, the lab's NVMe (L1's 0000:00:03.0) passed through by its vfio-pci  } the reference
//   mini-vmm-nvme  the mini-VMM's --linux mode with --pci 0000:00:03.0 (vfiokit)             } pair
//   qemu-edu   QEMU, the edu passed through by QEMU's vfio-pci (the peer as the issue sets it up)
//   qemu-none  QEMU, nothing passed through (what QEMU's passthrough itself costs: it maps and
//              pins all guest RAM for the device's DMA at start)
//   mini-vmm   the mini-VMM's --linux mode, the pl031 passed through (vfio-amba, no IOMMU)
// The NVMe ways have the disk's expected hash (L1's vfiokit.disk_sha256=) on the L2's command line,
// and a run counts only when the L2 init's NVMe checks pass.
// Each run prints one line: PEER_MARK {way, pass, code, verdict, firstLineMs, verdictMs, wallMs,
// peakRssBytes, rssSamples, l2ConsoleLines}, the NVMe ways also {probeMs, l2ProbeMs, guestProbeMs,
// readMbs, writeMbs, ios, irqs, irqsPerIo, randIops, randIrqsPerIo, wakeupsPerIo, topWakeupsPerIo,
// topThread}; a run that fails prints PEER_MARK {error}.
// Wake-ups per I/O: the VMM process's context switches over its threads (threadSwitches in vmm.ts)
// between the L2's two random-read marker lines, read when each line reaches this process while
// the L2 is quiet (the L2 init waits 0.3 s after each), divided by the reads.
// Not responsible for: ratios and medians (the host, bench/peer.mjs).
import { diskSha256 } from '../../test/support/nvme';
import { parseL2, type L2Report } from '../../test/support/l2-lines';
import { compareViews, describe } from './view';
import { EDU, miniVmmL2Argv, miniVmmNvmeArgv, NVME_VIEW, peerMissing, qemuL2Argv, qemuNvmeArgv, runVmm, setupFigures, switchesBetween, threadSwitches } from './vmm';
// @ts-ignore: a plain ESM module of the bench scripts
import { NVME_WAYS, PEER_MARK, WAYS } from './parse.mjs';

/** A run of the L2 takes 12 to 20 s here; a run over this is a hang. */
const RUN_LIMIT_MS = 300_000;
const passes = Number(process.env.PASSES ?? '2');
const echo = process.env.ECHO === '1';
const emit = (o: Record<string, unknown>): void => { process.stdout.write(`${PEER_MARK} ${JSON.stringify(o)}\n`); };

const hash = diskSha256() ?? '';
const ARGV: Record<string, () => string[]> = {
  'qemu-nvme': () => qemuNvmeArgv(hash),
  'mini-vmm-nvme': () => miniVmmNvmeArgv(hash),
  'qemu-edu': () => qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: EDU, addr: '02.0' }] }),
  'qemu-none': () => qemuL2Argv(),
  'mini-vmm': () => miniVmmL2Argv(),
};

/** The L2 init's random-read marker lines (examples/mini-vmm/linux/nvme.c). */
const RANDREAD_BEGIN = /l2: nvme-randread begin\b/, RANDREAD_END = /l2: nvme-randread iops\b/;
type Switches = ReturnType<typeof threadSwitches>;

/** The NVMe figures of a run (the L2 init's nvme-figures and nvme-randread, the probe line's time,
 *  the VMM's switches at the random-read markers), or why it failed. */
function nvmeFigures(l: L2Report, probeMs: number | undefined, firstLineMs: number, marks: { begin?: Switches; end?: Switches }): Record<string, number | string> | string {
  if (l.nvmeVerdict !== 'PASS' || l.pattern?.read !== hash || !l.write || l.write.wrote !== l.write.read) return `NVMe checks: verdict ${l.nvmeVerdict ?? 'none'}, ${l.fails.join(' / ') || 'pattern or write mismatch'}`;
  const f = l.figures;
  if (!f || !(f.ios > 0) || probeMs === undefined || !(f.probeMs >= 0)) return `no nvme-figures or no probe line (${JSON.stringify(f)}, probe ${probeMs})`;
  // The L2's own clock at its probe line, added to the first line's arrival (the L2's clock starts
  // at its first line, which arrives while the console is idle): the probe without the console's
  // backlog, which under QEMU reaches the pipe many seconds after the kernel logged it.
  const rr = l.randread;
  if (!rr || !(rr.reads > 0) || !(rr.ios > 0)) return `no nvme-randread figures (${JSON.stringify(rr)})`;
  if (!marks.begin || !marks.end) return 'the VMM\'s threads could not be read at the random-read markers';
  const w = switchesBetween(marks.begin, marks.end);
  return { probeMs: +probeMs.toFixed(1), l2ProbeMs: f.probeMs, guestProbeMs: +(firstLineMs + f.probeMs).toFixed(1), readMbs: f.readMbs, writeMbs: f.writeMbs, ios: f.ios, irqs: f.irqs, irqsPerIo: +(f.irqs / f.ios).toFixed(3),
    randIops: rr.iops, randReads: rr.reads, randIos: rr.ios, randIrqs: rr.irqs, randIrqsPerIo: +(rr.irqs / rr.ios).toFixed(3),
    wakeupsPerIo: +(w.total / rr.reads).toFixed(3), topWakeupsPerIo: +(w.top / rr.reads).toFixed(3), topThread: w.topName, threadSwitches: JSON.stringify(w.byName) };
}

const missing = peerMissing();
if (!missing && !hash) { emit({ error: 'L1\'s command line has no vfiokit.disk_sha256=: the lab made no disk for the NVMe' }); process.exit(1); }
if (missing) { emit({ error: `the peer cannot run: ${missing}` }); process.exit(1); }
let failed = 0;
for (let pass = 1; pass <= passes; pass++) {
  const reports: Record<string, L2Report> = {};
  const order = pass % 2 === 1 ? Object.keys(WAYS) : Object.keys(WAYS).reverse();
  for (const way of order) {
    const argv = ARGV[way]!();
    console.log(`peer: pass ${pass} ${way}: ${argv.join(' ')}`);
    const marks: { begin?: Switches; end?: Switches } = {};
    const r = await runVmm(argv, {
      limitMs: RUN_LIMIT_MS,
      onLine: (l, pid) => {
        if (pid !== undefined && l.stream === 'out' && RANDREAD_BEGIN.test(l.text)) marks.begin = threadSwitches(pid);
        if (pid !== undefined && l.stream === 'out' && RANDREAD_END.test(l.text)) marks.end = threadSwitches(pid);
        if (echo || l.stream === 'err') console.log(`peer: ${way} | ${l.text}`);
      },
    });
    const f = setupFigures(r);
    if (r.code !== 0 || f.verdict !== 'PASS' || f.firstLineMs === undefined) {
      failed++;
      emit({ error: `${way} pass ${pass}: exit ${r.code}${r.killed ? ` (${r.killed})` : ''}, verdict ${f.verdict ?? 'none'}; last lines: ${r.lines.slice(-3).map((l) => l.text).join(' / ')}` });
      continue;
    }
    const l2 = parseL2(r.lines.filter((x) => x.stream === 'out').map((x) => x.text).join('\n'));
    if (NVME_WAYS.includes(way)) reports[way] = l2;
    const nvme = NVME_WAYS.includes(way) ? nvmeFigures(l2, f.probeMs, f.firstLineMs, marks) : {};
    if (typeof nvme === 'string') { failed++; emit({ error: `${way} pass ${pass}: ${nvme}` }); continue; }
    emit({ way, pass, code: r.code, verdict: f.verdict, firstLineMs: +f.firstLineMs.toFixed(1), verdictMs: +f.verdictMs!.toFixed(1),
      wallMs: +r.wallMs.toFixed(1), peakRssBytes: f.peakRssBytes, rssSamples: r.rssSamples, l2ConsoleLines: f.l2ConsoleLines, ...nvme });
  }
  // The guest's view of the NVMe under both VMMs in this pass (the lab test peer-nvme asserts it).
  const q = reports['qemu-nvme'], m = reports['mini-vmm-nvme'];
  if (q && m) for (const d of describe(compareViews(q, m, [NVME_VIEW]))) console.log(`peer: pass ${pass} view | ${d}`);
}
process.exit(failed ? 1 : 0);

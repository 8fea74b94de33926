// The side-by-side benchmark's L1 half (bench/peer.mjs boots the lab with it): the same L2 guest
// on QEMU and on the mini-VMM, one after the other in one boot, PASSES times (the order turned
// around on every pass, so neither VMM always runs on a fresher machine). Three ways:
//   qemu-edu   QEMU, the edu passed through by QEMU's vfio-pci (the peer as the issue sets it up)
//   qemu-none  QEMU, nothing passed through (what QEMU's passthrough itself costs: it maps and
//              pins all guest RAM for the device's DMA at start)
//   mini-vmm   the mini-VMM's --linux mode, the pl031 passed through (vfio-amba, no IOMMU)
// Each run prints one line: PEER_MARK {way, pass, code, verdict, firstLineMs, verdictMs, wallMs,
// peakRssBytes, rssSamples, l2ConsoleLines}; a run that fails prints PEER_MARK {error}.
// Not responsible for: ratios and medians (the host, bench/peer.mjs).
import { EDU, miniVmmL2Argv, peerMissing, qemuL2Argv, runVmm, setupFigures } from './vmm';
// @ts-ignore: a plain ESM module of the bench scripts
import { PEER_MARK, WAYS } from './parse.mjs';

/** A run of the L2 takes 12 to 20 s here; a run over this is a hang. */
const RUN_LIMIT_MS = 300_000;
const passes = Number(process.env.PASSES ?? '2');
const echo = process.env.ECHO === '1';
const emit = (o: Record<string, unknown>): void => { process.stdout.write(`${PEER_MARK} ${JSON.stringify(o)}\n`); };

const ARGV: Record<string, () => string[]> = {
  'qemu-edu': () => qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: EDU, addr: '02.0' }] }),
  'qemu-none': () => qemuL2Argv(),
  'mini-vmm': miniVmmL2Argv,
};

const missing = peerMissing();
if (missing) { emit({ error: `the peer cannot run: ${missing}` }); process.exit(1); }
let failed = 0;
for (let pass = 1; pass <= passes; pass++) {
  const order = pass % 2 === 1 ? Object.keys(WAYS) : Object.keys(WAYS).reverse();
  for (const way of order) {
    const argv = ARGV[way]!();
    console.log(`peer: pass ${pass} ${way}: ${argv.join(' ')}`);
    const r = await runVmm(argv, { limitMs: RUN_LIMIT_MS, onLine: (l) => { if (echo || l.stream === 'err') console.log(`peer: ${way} | ${l.text}`); } });
    const f = setupFigures(r);
    if (r.code !== 0 || f.verdict !== 'PASS' || f.firstLineMs === undefined) {
      failed++;
      emit({ error: `${way} pass ${pass}: exit ${r.code}${r.killed ? ` (${r.killed})` : ''}, verdict ${f.verdict ?? 'none'}; last lines: ${r.lines.slice(-3).map((l) => l.text).join(' / ')}` });
      continue;
    }
    emit({ way, pass, code: r.code, verdict: f.verdict, firstLineMs: +f.firstLineMs.toFixed(1), verdictMs: +f.verdictMs!.toFixed(1),
      wallMs: +r.wallMs.toFixed(1), peakRssBytes: f.peakRssBytes, rssSamples: r.rssSamples, l2ConsoleLines: f.l2ConsoleLines });
  }
}
process.exit(failed ? 1 : 0);

// Runs INSIDE the lab guest (L1): the guest's view of the lab's NVMe (0000:00:03.0) and edu
// (0000:00:02.0), both bound to vfio-pci at boot, under QEMU and under the mini-VMM, in the same
// boot (docs/BENCH.md, "The guest's view of the NVMe" and "... of the edu"). The same L2 Image and
// initramfs boot first on Debian's QEMU with `-device vfio-pci,host=...` for each, then on the
// mini-VMM with `--pci` for each, each with the disk's expected hash on the L2's command line; both
// must pass the L2 init's NVMe checks, and their `pci-view` lines of both functions are compared
// item by item: every difference is listed and must be one of the documented ones
// (bench/peer/view.ts DOCUMENTED).
// Without QEMU in the image, the L2 payload or the NVMe, the test is uvu's skip and says why.
import { test } from 'uvu';
import { existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import * as assert from 'uvu/assert';
import { compareViews, describe } from '../../bench/peer/view';
import { EDU, EDU_VIEW, MINI_VMM_NVME_BDF, miniVmmNvmeArgv, NVME_VIEW, peerMissing, QEMU_NVME_BDF, qemuNvmeArgv, runVmm, setupFigures, type VmmRun } from '../../bench/peer/vmm';
import { parseL2, type L2Report } from '../support/l2-lines';
import { diskSha256, NVME, NVME_ID, nvmeDriver } from '../support/nvme';

/** A whole L2 run with the NVMe's I/O under nested KVM on TCG: 20 to 40 s measured; room for a busy
 *  machine, and both runs inside the suite's limit per file (lab/lab-suite.sh, 300 s), so that a
 *  hang is reported by the test rather than cut off by the suite. */
const L2_LIMIT_MS = 140_000;

/** edu's ID, and its BAR 0 (QEMU's hw/misc/edu.c: 1 MiB of MMIO). */
const EDU_ID = '1234:11e8';
const EDU_BAR0_BYTES = 0x10_0000n;
const eduDriver = (): string => { const p = `/sys/bus/pci/devices/${EDU}/driver`; return existsSync(p) ? basename(readlinkSync(p)) : ''; };

function skipReason(): string | undefined {
  const missing = peerMissing();
  if (missing) return missing;
  if (nvmeDriver() !== 'vfio-pci') return `${NVME} is not on vfio-pci in L1 (driver ${nvmeDriver() ?? 'none'}): the lab has no NVMe for passthrough`;
  if (eduDriver() !== 'vfio-pci') return `${EDU} (edu) is not on vfio-pci in L1 (driver ${eduDriver() || 'none'})`;
  if (!diskSha256()) return 'L1\'s command line has no vfiokit.disk_sha256= (the lab did not make the disk image)';
  return undefined;
}
const why = skipReason();
if (why) console.log(`  !!! SKIPPED: ${why} !!!`);
const peerTest = why ? test.skip : test;

async function run(name: string, argv: string[]): Promise<{ r: VmmRun; l: L2Report }> {
  console.log(`  ${name}: ${argv.join(' ')}`);
  const r = await runVmm(argv, { limitMs: L2_LIMIT_MS });
  for (const x of r.lines) if (x.stream === 'err' || /l2: /.test(x.text)) console.log(`  ${name} [${(x.ms / 1000).toFixed(3)} s ${x.stream}] ${x.text}`);
  const f = setupFigures(r);
  const l = parseL2(r.lines.filter((x) => x.stream === 'out').map((x) => x.text).join('\n'));
  console.log(`  ${name}: exit ${r.code}${r.killed ? ` (${r.killed})` : ''}; first line ${f.firstLineMs?.toFixed(0)} ms, nvme probe ${f.probeMs?.toFixed(0)} ms, verdict ${f.verdictMs?.toFixed(0)} ms; peak RSS ${(f.peakRssBytes / 2 ** 20).toFixed(1)} MiB; ${JSON.stringify(l.figures)}`);
  return { r, l };
}

/** The L2 init's NVMe checks of one run: the lab's pattern as expected, the write read back, its verdict. */
function checkDisk(name: string, r: VmmRun, l: L2Report, bdf: string, expected: string): void {
  assert.is(r.killed, undefined, `${name} ended by itself`);
  assert.is(r.code, 0, `${name} exited 0 (the guest powered off)`);
  assert.ok(l.pci.some((p) => p.bdf === bdf && p.id === NVME_ID), `${name}: the L2 enumerated the NVMe at ${bdf}: ${JSON.stringify(l.pci)}`);
  assert.is(l.pattern?.expected, expected, `${name}: the L2 got the expected hash on its command line`);
  assert.is(l.pattern?.read, expected, `${name}: the first 16 MiB are the lab's pattern`);
  assert.ok(l.write && /^[0-9a-f]{64}$/.test(l.write.wrote) && l.write.wrote === l.write.read, `${name}: the 16 MiB written read back the same`);
  assert.equal(l.fails, [], `${name}: no FAIL line`);
  assert.is(l.nvmeVerdict, 'PASS', `${name}: the NVMe verdict`);
  assert.is(setupFigures(r).verdict, 'PASS', `${name}: the L2 init's verdict`);
  assert.ok(l.figures && l.figures.ios > 0 && l.figures.irqs > 0, `${name}: I/Os and interrupts counted`);
  assert.ok(l.randread && l.randread.reads > 0 && l.randread.ios >= l.randread.reads, `${name}: the random reads ran: ${JSON.stringify(l.randread)}`);
}

peerTest('the same L2 under QEMU (vfio-pci) and the mini-VMM (--pci) with the NVMe and the edu: both pass the disk checks, and their config views of both functions differ only as documented', async () => {
  const expected = diskSha256()!;
  const qemu = await run('QEMU', qemuNvmeArgv(expected, { edu: true }));
  const mini = await run('mini-VMM', miniVmmNvmeArgv(expected, { edu: true }));
  assert.is(nvmeDriver(), 'vfio-pci', `${NVME} still on vfio-pci after both`);
  assert.is(eduDriver(), 'vfio-pci', `${EDU} still on vfio-pci after both`);
  checkDisk('QEMU', qemu.r, qemu.l, QEMU_NVME_BDF, expected);
  checkDisk('mini-VMM', mini.r, mini.l, MINI_VMM_NVME_BDF, expected);

  const qv = qemu.l.views.get(QEMU_NVME_BDF), mv = mini.l.views.get(MINI_VMM_NVME_BDF);
  assert.ok(qv?.msix && qv.command && qv.bars.size > 0, 'QEMU\'s L2 printed the NVMe\'s config view');
  assert.ok(mv?.msix && mv.command && mv.bars.size > 0, 'the mini-VMM\'s L2 printed the NVMe\'s config view');
  // What both must show: MSI-X on, the same table size, memory and bus mastering on.
  assert.is(qemu.l.irqMode, 'msix');
  assert.is(mini.l.irqMode, 'msix');
  assert.is(mv!.msix!.tableSize, qv!.msix!.tableSize, 'the same MSI-X table size');
  assert.ok(qv!.command!.memory && qv!.command!.busMaster && mv!.command!.memory && mv!.command!.busMaster);

  // Interrupts per I/O at queue depth 1 (one command in flight): a count, the same under both.
  const perIo = (l: L2Report): string => (l.randread!.irqs / l.randread!.ios).toFixed(2);
  console.log(`  QD1: QEMU ${qemu.l.randread!.iops} IOPS, ${perIo(qemu.l)} interrupts per I/O; mini-VMM ${mini.l.randread!.iops} IOPS, ${perIo(mini.l)}`);
  assert.is(perIo(mini.l), perIo(qemu.l), 'interrupts per I/O at QD1 equal under both VMMs');

  // The edu: enumerated by both L2s with its 1 MiB BAR 0 and its MSI capability (no driver in the L2).
  for (const [name, l, bdf] of [['QEMU', qemu.l, EDU_VIEW.qemuBdf], ['mini-VMM', mini.l, EDU_VIEW.miniBdf]] as const) {
    assert.ok(l.pci.some((p) => p.bdf === bdf && p.id === EDU_ID), `${name}: the L2 enumerated the edu at ${bdf}: ${JSON.stringify(l.pci)}`);
    const v = l.views.get(bdf);
    assert.ok(v?.id && v.command, `${name}'s L2 printed the edu's config view`);
    assert.is(v!.bars.get(0)?.size, EDU_BAR0_BYTES, `${name}: the edu's BAR 0 is 1 MiB`);
    assert.ok(v!.msi, `${name}: the edu's MSI capability is there`);
  }

  const diffs = compareViews(qemu.l, mini.l, [NVME_VIEW, EDU_VIEW]);
  console.log(`  DIFFERENCES (${diffs.length}):\n${describe(diffs).map((s) => `    ${s}`).join('\n')}`);
  assert.equal(describe(diffs.filter((d) => !d.why)), [], 'every difference is a documented one');
  // The address always differs (QEMU's addr=03.0, the mini-VMM's first slot).
  assert.ok(diffs.some((d) => d.device === 'nvme' && d.why === 'bdf'));
  const qemuStderr = qemu.r.lines.filter((x) => x.stream === 'err').map((x) => x.text);
  console.log(`  QEMU stderr: ${JSON.stringify(qemuStderr)}`);
});

test.run();

// The side-by-side benchmark's host half (bench/peer/parse.mjs) and the pure parts of its L1
// half (bench/peer/vmm.ts: QEMU's argv, the figures of a run; bench/peer/view.ts: the guest views
// compared). No boot, no QEMU: the runs here are made up; the lab tests test/lab/peer-qemu.test.ts
// and peer-nvme.test.ts run the real ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore: a plain ESM module of the bench scripts
import { PEER_MARK, parsePeerLine, summarizePeer } from '../../../bench/peer/parse.mjs';
import { compareViews } from '../../../bench/peer/view';
import { EDU, EDU_VIEW, MINI_VMM_NVME_BDF, miniVmmNvmeArgv, NVME_VIEW, QEMU_L2_BOOTARGS, QEMU_NVME_BDF, qemuL2Argv, qemuNvmeArgv, setupFigures, type VmmRun, switchesBetween } from '../../../bench/peer/vmm';
import { parseL2 } from '../../support/l2-lines';
import { LINUX_BOOTARGS } from '../../../examples/mini-vmm/linux';

const run = (way: string, pass: number, firstLineMs: number, more: object = {}) =>
  ({ way, pass, code: 0, verdict: 'PASS', firstLineMs, verdictMs: firstLineMs + 15000, wallMs: firstLineMs + 16000, peakRssBytes: 100 << 20, rssSamples: 300, l2ConsoleLines: 284, ...more });
const line = (o: object): string => `${PEER_MARK} ${JSON.stringify(o)}`;

test('a console line without the marker is nothing; with it, a run or an error', () => {
  assert.is(parsePeerLine('[    0.000000] Booting Linux on physical CPU 0x0'), undefined);
  assert.equal(parsePeerLine(`lab: | ${line(run('qemu-edu', 1, 2300))}`), run('qemu-edu', 1, 2300));
  assert.equal(parsePeerLine(line({ error: 'qemu-edu pass 1: exit 1' })), { error: 'qemu-edu pass 1: exit 1' });
  assert.match(parsePeerLine(`${PEER_MARK} {not json`).error, /unreadable/);
  assert.match(parsePeerLine(line(run('firecracker', 1, 1))).error, /known way/);
  const { peakRssBytes: _drop, ...noRss } = run('mini-vmm', 1, 3400);
  assert.match(parsePeerLine(line(noRss)).error, /every figure/);
});

test('figures: the median of the passes per way, and mini-VMM / QEMU as *_ratio fields', () => {
  const runs = [run('qemu-edu', 1, 4000), run('qemu-edu', 2, 2000), run('qemu-edu', 3, 2200),
    run('mini-vmm', 1, 3300), run('mini-vmm', 2, 3400), run('mini-vmm', 3, 3500, { peakRssBytes: 120 << 20 }),
    run('qemu-none', 1, 1700), run('qemu-none', 2, 2700), run('qemu-none', 3, 1700)];
  const { figures, problems } = summarizePeer(runs);
  assert.equal(problems, ['no complete run of qemu-nvme', 'no complete run of mini-vmm-nvme']);
  assert.is(figures.first_line.qemu_edu, 2200);
  assert.is(figures.first_line.mini_vmm, 3400);
  assert.is(figures.first_line.qemu_none, 1700);
  assert.is(figures.first_line.mini_vmm_over_qemu_ratio, 1.55);
  assert.is(figures.first_line.mini_vmm_over_qemu_none_ratio, 2);
  assert.equal(figures.first_line.values['qemu-edu'], [4000, 2000, 2200]);
  assert.is(figures.peak_rss.unit, 'bytes');
  assert.is(figures.peak_rss.mini_vmm, 100 << 20);
});

test('a way with no run is reported, and its ratios are null rather than a number', () => {
  const { figures, problems } = summarizePeer([run('qemu-edu', 1, 2000)]);
  assert.equal(problems, ['no complete run of qemu-nvme', 'no complete run of mini-vmm-nvme', 'no complete run of mini-vmm', 'no complete run of qemu-none']);
  assert.is(figures.first_line.mini_vmm, undefined);
  assert.is(figures.first_line.mini_vmm_over_qemu_ratio, null);
});

const nvmeRun = (way: string, pass: number, more: object = {}) =>
  ({ ...run(way, pass, 2000), probeMs: 9000, l2ProbeMs: 4000, guestProbeMs: 6000, readMbs: 300, writeMbs: 400, ios: 96, irqs: 48, irqsPerIo: 0.5,
    randIops: 1000, randIrqsPerIo: 1, wakeupsPerIo: 1.2, topWakeupsPerIo: 1.1, topThread: 'CPU 0/KVM', ...more });

test('the NVMe pair: a run of an NVMe way needs the NVMe figures; nvme_ratio is mini-VMM / QEMU; each goal met or missed by its ratio', () => {
  const { probeMs: _p, ...noProbe } = nvmeRun('qemu-nvme', 1);
  assert.match(parsePeerLine(line(noProbe)).error, /every figure/);
  assert.equal(parsePeerLine(line(run('qemu-edu', 1, 2000))), run('qemu-edu', 1, 2000), 'the other ways need no NVMe figure');
  const runs = [nvmeRun('qemu-nvme', 1), nvmeRun('qemu-nvme', 2, { readMbs: 320 }),
    nvmeRun('mini-vmm-nvme', 1, { readMbs: 290, writeMbs: 420, probeMs: 9900, irqsPerIo: 0.5 }), nvmeRun('mini-vmm-nvme', 2, { readMbs: 310, writeMbs: 440, probeMs: 8100, irqsPerIo: 0.5 })];
  const { figures, goals } = summarizePeer(runs);
  // The median of two passes is the lower one (bench/lib.mjs percentile).
  assert.is(figures.nvme_read.qemu_nvme, 300);
  assert.is(figures.nvme_read.mini_vmm_nvme, 290);
  assert.is(figures.nvme_read.nvme_ratio, 0.97);
  assert.is(figures.nvme_probe.nvme_ratio, 0.9);
  assert.is(figures.first_line.nvme_ratio, 1);
  assert.equal(goals.map((g: { figure: string; ratio: number; met: boolean }) => [g.figure, g.ratio, g.met]),
    [['nvme_read', 0.97, true], ['nvme_write', 1.05, true], ['nvme_probe', 0.9, true], ['nvme_probe_guest_clock', 1, true], ['nvme_randread_iops', 1, true], ['interrupts_per_io_qd1', 1, true]]);
  assert.is(figures.wakeups_per_io.nvme_ratio, 1);
  const slower = summarizePeer([nvmeRun('qemu-nvme', 1), nvmeRun('mini-vmm-nvme', 1, { readMbs: 270, probeMs: 9500, irqsPerIo: 0.6, randIops: 940, randIrqsPerIo: 1.02 })]).goals;
  assert.equal(slower.map((g: { met: boolean }) => g.met), [false, true, false, true, false, false]);
  assert.equal(summarizePeer([nvmeRun('qemu-nvme', 1)]).goals.map((g: { met: boolean; ratio: null }) => [g.ratio, g.met]), Array(6).fill([null, false]), 'no mini-VMM run: no goal met');
});

test('the NVMe ways: QEMU passes 0000:00:03.0 with vfio-pci at 03.0, the mini-VMM with --pci, both with the disk hash on the L2 command line', () => {
  const h = 'ab'.repeat(32);
  const q = qemuNvmeArgv(h);
  assert.is(q[q.indexOf('-device') + 1], 'vfio-pci,host=0000:00:03.0,addr=03.0');
  assert.is(q[q.indexOf('-append') + 1], `${QEMU_L2_BOOTARGS} l2.disk_sha256=${h}`);
  const m = miniVmmNvmeArgv(h);
  assert.equal(m.slice(-4), ['--pci', '0000:00:03.0', '--append', `l2.disk_sha256=${h}`]);
  // With the edu beside it: QEMU at 02.0, the mini-VMM's second --pci (its slot 2): 00:02.0 under both.
  const qe = qemuNvmeArgv(h, { edu: true });
  assert.equal(qe.flatMap((a, i) => (qe[i - 1] === '-device' ? [a] : [])), ['vfio-pci,host=0000:00:03.0,addr=03.0', 'vfio-pci,host=0000:00:02.0,addr=02.0']);
  assert.equal(miniVmmNvmeArgv(h, { edu: true }).slice(-6), ['--pci', '0000:00:03.0', '--pci', '0000:00:02.0', '--append', `l2.disk_sha256=${h}`]);
  assert.is(EDU_VIEW.qemuBdf, `0000:00:${qe[qe.length - 1]!.split('addr=')[1]}`);
});

const viewLines = (bdf: string, bar0: string, table: string, pba: string, more = ''): string => [
  `l2: pci ${bdf} 1b36:0010`, more,
  `l2: pci-view ${bdf} id 1b36:0010 class 0x010802 rev 0x02`,
  `l2: pci-view ${bdf} cap 0x40 id 0x11`, `l2: pci-view ${bdf} cap 0x80 id 0x10`, `l2: pci-view ${bdf} cap 0x60 id 0x01`,
  `l2: pci-view ${bdf} bar 0 addr 0x10000000 size ${bar0} flags 0x140204`, `l2: pci-view ${bdf} bar-reg 0 0x10000004`,
  `l2: pci-view ${bdf} msix cap 0x40 table-size 65 table-bar 0 table-offset ${table} pba-bar 0 pba-offset ${pba} enabled 1 function-mask 0`,
  `l2: pci-view ${bdf} command 0x0406 memory 1 bus-master 1 intx-disable 1`, `l2: pci-view ${bdf} status 0x0010`,
  `l2: pci-view ${bdf} intx pin 1 irq 42`, `l2: pci-view ${bdf} driver nvme`, 'l2: nvme-irq-mode msix'].filter(Boolean).join('\n');

test('guest views compared: the address, QEMU\'s host bridge and the MSI-X relocation are documented; anything else is listed without a reason', () => {
  const qemu = parseL2(viewLines(QEMU_NVME_BDF, '0x4000', '0x2000', '0x3000', 'l2: pci 0000:00:00.0 1b36:0008'));
  const mini = parseL2(viewLines(MINI_VMM_NVME_BDF, '0x8000', '0x4000', '0x5000'));
  const d = compareViews(qemu, mini, [NVME_VIEW]);
  assert.equal(d.map((x) => [x.device, x.item, x.why]), [['', 'other functions', 'host-bridge'], ['nvme', 'bdf', 'bdf'], ['nvme', 'bar 0 size', 'msix-relocated'], ['nvme', 'msix table-offset', 'msix-relocated'], ['nvme', 'msix pba-offset', 'msix-relocated']]);
  // A BAR that is not twice QEMU's is no relocation; a command register that differs has no reason.
  const odd = parseL2(viewLines(MINI_VMM_NVME_BDF, '0x4000', '0x2000', '0x3000').replace('command 0x0406', 'command 0x0006'));
  assert.equal(compareViews(qemu, odd, [NVME_VIEW]).filter((x) => !x.why).map((x) => [x.item, x.qemu, x.mini]), [['command', '0x406', '0x6']]);
  const half = parseL2(viewLines(MINI_VMM_NVME_BDF, '0x8000', '0x2000', '0x3000'));
  assert.equal(compareViews(qemu, half, [NVME_VIEW]).filter((x) => !x.why).map((x) => x.item), ['bar 0 size'], 'a doubled BAR with the table where it was is not the relocation');
});

/** The edu's lines as an L2 prints them (the lab's L1 view: test/fixtures/lab/edu-config-vfio-pci.bin). */
const eduLines = (bdf: string, more = ''): string => [
  `l2: pci ${bdf} 1234:11e8`,
  `l2: pci-view ${bdf} id 1234:11e8 class 0x00ff00 rev 0x10`, `l2: pci-view ${bdf} cap 0x40 id 0x05`,
  `l2: pci-view ${bdf} bar 0 addr 0x10200000 size 0x100000 flags 0x40200`, `l2: pci-view ${bdf} bar-reg 0 0x10200000`,
  `l2: pci-view ${bdf} msi cap 0x40 enabled 0 multiple-enable 0 addr64 1 maskable 0`,
  `l2: pci-view ${bdf} command 0x0000 memory 0 bus-master 0 intx-disable 0`, `l2: pci-view ${bdf} status 0x0010`,
  `l2: pci-view ${bdf} intx pin 1 irq 43`, `l2: pci-view ${bdf} driver none`, more].filter(Boolean).join('\n');

test('guest views of two functions: each compared apart, the edu\'s MSI and command register items included; neither counts as the other\'s "other function"', () => {
  const qemu = parseL2(`l2: pci 0000:00:00.0 1b36:0008\n${viewLines(QEMU_NVME_BDF, '0x4000', '0x2000', '0x3000')}\n${eduLines(EDU_VIEW.qemuBdf)}`);
  const mini = parseL2(`${viewLines(MINI_VMM_NVME_BDF, '0x8000', '0x4000', '0x5000')}\n${eduLines(EDU_VIEW.miniBdf)}`);
  assert.equal(compareViews(qemu, mini, [NVME_VIEW, EDU_VIEW]).filter((x) => x.device !== 'nvme').map((x) => [x.device, x.item, x.why]), [['', 'other functions', 'host-bridge']]);
  const msiOn = parseL2(`${viewLines(MINI_VMM_NVME_BDF, '0x8000', '0x4000', '0x5000')}\n${eduLines(EDU_VIEW.miniBdf).replace('enabled 0 multiple-enable 0 addr64 1 maskable 0', 'enabled 1 multiple-enable 0 addr64 1 maskable 1')}`);
  assert.equal(compareViews(qemu, msiOn, [NVME_VIEW, EDU_VIEW]).filter((x) => !x.why).map((x) => [x.device, x.item, x.qemu, x.mini]),
    [['edu', 'msi', 'cap 0x40 enabled 0 multiple-enable 0 addr64 1 maskable 0', 'cap 0x40 enabled 1 multiple-enable 0 addr64 1 maskable 1'], ['edu', 'irq mode', 'intx', 'msi']]);
  // Without the edu in the pairs, it is one of the other functions, on both sides alike.
  assert.equal(compareViews(qemu, mini, [NVME_VIEW]).filter((x) => x.device === '').map((x) => x.qemu), ['0000:00:00.0 1b36:0008, 0000:00:02.0 1234:11e8']);
});

test('QEMU boots the L2 as the mini-VMM does: KVM, one vCPU, the same RAM, the same earlycon, no firmware or NIC, each device one -device', () => {
  const argv = qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: EDU, addr: '02.0' }] });
  const opt = (o: string): string | undefined => argv[argv.indexOf(o) + 1];
  assert.is(opt('-accel'), 'kvm');
  assert.is(opt('-smp'), '1');
  assert.is(opt('-m'), '256M');
  assert.is(opt('-nic'), 'none');
  assert.is(opt('-name'), 'debug-threads=on', 'QEMU names its threads (CPU 0/KVM...), so wake-ups split per thread');
  assert.ok(argv.includes('-nodefaults') && argv.includes('-no-reboot'));
  assert.not.ok(argv.includes('-bios'));
  assert.is(opt('-device'), 'vfio-pci,host=0000:00:02.0,addr=02.0');
  assert.is(opt('-append'), QEMU_L2_BOOTARGS);
  // The mini-VMM's command line, with ttyAMA0 as the console in place of keeping the boot console.
  assert.is(QEMU_L2_BOOTARGS, LINUX_BOOTARGS.replace('keep_bootcon', 'console=ttyAMA0'));
  assert.match(QEMU_L2_BOOTARGS, /earlycon=pl011,mmio32,0x9000000/);
  assert.equal(qemuL2Argv().filter((a) => a === '-device'), []);
});

test('the figures of a run: first line and verdict by their text, whatever prefix the VMM adds; only the L2 kernel\'s lines counted', () => {
  const r: VmmRun = { argv: [], code: 0, signal: null, wallMs: 17000, peakRssKb: 99_000, rssSamples: 300, lines: [
    { ms: 3000, text: 'qemu-system-aarch64: vfio: Cannot reset device 0000:00:02.0, no available reset mechanism.', stream: 'err' },
    { ms: 3400, text: '[0.191 s] [    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]', stream: 'out' },
    { ms: 9000, text: '[    7.833006] l2: init running, uptime 3.203 s', stream: 'out' },
    { ms: 16000, text: '[    8.122377] l2: PASS', stream: 'out' },
    { ms: 16900, text: 'pl031 at 0xc000000, INTID 144; end: shutdown', stream: 'out' },
  ] };
  assert.equal(setupFigures(r), { firstLineMs: 3400, verdictMs: 16000, verdict: 'PASS', peakRssBytes: 99_000 * 1024, l2ConsoleLines: 3 });
});

test('wake-ups between two readings: per thread, a thread born in between counts from 0, every name listed', () => {
  const a = new Map([[10, { name: 'qemu', switches: 100 }], [11, { name: 'CPU 0/KVM', switches: 5 }]]);
  const b = new Map([[10, { name: 'qemu', switches: 130 }], [11, { name: 'CPU 0/KVM', switches: 5 }], [12, { name: 'worker', switches: 4 }], [13, { name: 'worker', switches: 1 }]]);
  assert.equal(switchesBetween(a, b), { total: 35, top: 30, topName: 'qemu', byName: { qemu: 30, 'CPU 0/KVM': 0, worker: 5 } });
});

test.run();

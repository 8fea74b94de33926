// The side-by-side benchmark's host half (bench/peer/parse.mjs) and the pure parts of its L1
// half (bench/peer/vmm.ts: QEMU's argv, the figures of a run). No boot, no QEMU: the runs here
// are made up; the lab test test/lab/peer-qemu.test.ts runs the real one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore: a plain ESM module of the bench scripts
import { PEER_MARK, parsePeerLine, summarizePeer } from '../../../bench/peer/parse.mjs';
import { EDU, QEMU_L2_BOOTARGS, qemuL2Argv, setupFigures, type VmmRun } from '../../../bench/peer/vmm';
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
  assert.equal(problems, []);
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
  assert.equal(problems, ['no complete run of mini-vmm', 'no complete run of qemu-none']);
  assert.is(figures.first_line.mini_vmm, undefined);
  assert.is(figures.first_line.mini_vmm_over_qemu_ratio, null);
});

test('QEMU boots the L2 as the mini-VMM does: KVM, one vCPU, the same RAM, the same earlycon, no firmware or NIC, each device one -device', () => {
  const argv = qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: EDU, addr: '02.0' }] });
  const opt = (o: string): string | undefined => argv[argv.indexOf(o) + 1];
  assert.is(opt('-accel'), 'kvm');
  assert.is(opt('-smp'), '1');
  assert.is(opt('-m'), '256M');
  assert.is(opt('-nic'), 'none');
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

test.run();

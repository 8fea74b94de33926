// Runs INSIDE the lab guest (L1: arm64, KVM under TCG-emulated EL2): `vfiokit run` (src/cli/run.ts
// over runVm and preflight) boots the lab's own kernel as L2 with L1's devices passed through by
// name, each alone and all three together: the pl031 (vfio-amba), the virtio-mmio transport
// (vfio-platform) and QEMU's NVMe (vfio-pci). The L2 /init (examples/mini-vmm/linux/init.c) reports
// what its drivers did as `l2:` lines (test/support/l2-lines.ts) and powers off on PASS (exit 0) or
// resets on FAIL (exit 3). Also: the early-asserted IRQ (the pl031's line already asserted when the
// VMM wires it, before the guest has requested its SPI) on irqfd and on the userspace path;
// devices that cannot be passed through failing before boot with their hint and exit status;
// `--bind` from an unbound pl031 and back; `--dtb-out`; and after every run each device bound as
// it was and (for the runs made in this process) the same fds open.
// `loglevel=6` keeps the guest's KERN_INFO boot messages off the console (the `l2:` lines are
// KERN_NOTICE): under nested TCG each console byte costs three exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bind, openDevice, parseFdt, unbind } from '../../src/index';
import { runCli } from '../../src/cli/main';
import { openFds } from '../support/fds';
import { parseL2, type L2Report } from '../support/l2-lines';
import { diskSha256, NVME, NVME_SYSFS } from '../support/nvme';

const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
const PL031 = '9010000.pl031', VIRTIO = 'a000000.virtio_mmio';
const SYSFS: Record<string, string> = { [PL031]: `/sys/bus/amba/devices/${PL031}`, [VIRTIO]: `/sys/bus/platform/devices/${VIRTIO}`, [NVME]: NVME_SYSFS };
/** Alarms the L2 /init waits for (ALARMS in init.c). */
const ALARMS = 2, RTC_AF = 0x20;
/** pl031 registers (ARM DDI 0224): data, match, interrupt mask, raw status, clear. */
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;
/** How long the pl031's match may take to fire after MR = now + 1 (one-second resolution, slow TCG). */
const MATCH_WAIT_MS = 5000;
/** A whole `vfiokit run` of L2 (boot, two 2 s alarms, the NVMe checks) under nested TCG, with margin. */
const RUN_TIMEOUT_MS = 300_000;
/** `vfiokit run`'s exit statuses (docs/VMM.md). */
const EXIT = { poweroff: 0, error: 1, usage: 2, reboot: 3 } as const;

function skipReason(): string | undefined {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) return 'no l2/Image or l2/initrd.gz in this image (lab/initramfs.mjs puts them there)';
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm in L1';
  return undefined;
}
const driverOf = (name: string): string | null => { try { return readlinkSync(`${SYSFS[name]}/driver`).split('/').pop()!; } catch { return null; } };
const BASE = (): string[] => ['run', '--kernel', l2('Image'), '--initrd', l2('initrd.gz')];
const append = (...words: string[]): string[] => ['--append', ['loglevel=6', ...words].join(' ')];

interface Run { code: number; out: string; err: string; ms: number; l: L2Report }

/** `vfiokit run ARGS` in this process (runCli, as bin/vfiokit does), its stdout and stderr captured
 *  and echoed: the fds it leaves are this process's. */
async function runHere(args: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
  const tee = (into: string[], real: typeof o) => ((chunk: string | Uint8Array) => { const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1'); into.push(s); return real(s); }) as typeof process.stdout.write;
  process.stdout.write = tee(out, o); process.stderr.write = tee(err, e);
  const t0 = process.hrtime.bigint();
  let code: number;
  try { code = await runCli(args); } finally { process.stdout.write = o; process.stderr.write = e; }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { code, out: out.join(''), err: err.join(''), ms, l: parseL2(out.join('')) };
}

/** `vfiokit ARGS` as its own process (the installed command). */
function runCommand(args: string[], timeout = RUN_TIMEOUT_MS): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('vfiokit', args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(r.stderr.split('\n').map((x) => `  ${x}`).join('\n'));
  console.log(r.stdout.split('\n').filter((x) => /l2: /.test(x)).map((x) => `  ${x}`).join('\n'));
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, ms, l: parseL2(r.stdout) };
}

/** The RTC part of a run: the time read, both alarms taken, the count gone up by at least ALARMS. */
function checkRtc(l: L2Report): void {
  assert.ok(l.rtc.name?.startsWith('rtc-pl031'), `the guest's rtc0 is the pl031: ${l.rtc.name}`);
  assert.match(l.rtc.time ?? '', /^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d$/, 'the guest read the time');
  assert.equal(l.rtc.alarms.map((a) => [a.n, (a.flags & RTC_AF) !== 0]), [[1, true], [2, true]], 'both alarms read back as alarm events');
  assert.ok(l.rtc.irqBefore !== undefined && l.rtc.irqAfter !== undefined && l.rtc.irqAfter >= l.rtc.irqBefore + ALARMS, `the rtc-pl031 line counted the alarms: ${l.rtc.irqBefore} -> ${l.rtc.irqAfter}`);
}
function checkNvme(l: L2Report, expected: string): void {
  assert.is(l.pattern?.expected, expected, 'the guest got the disk\'s hash on its command line');
  assert.is(l.pattern?.read, expected, 'the guest\'s nvme driver read the lab\'s pattern');
  assert.ok(l.write && l.write.wrote === l.write.read, 'what it wrote read back the same');
  assert.is(l.nvmeVerdict, 'PASS');
}
function checkPowerOff(r: Run): void {
  assert.is(r.code, EXIT.poweroff, `exit ${r.code}: ${r.err.split('\n').slice(-5).join(' | ')}`);
  assert.is(r.l.verdict, 'PASS');
  assert.equal(r.l.fails, []);
  assert.match(r.err, /vfiokit run: the guest powered off/);
}
/** The step lines vfiokit run printed for a device: checked, opened, wired (in this order). */
function checkSteps(r: Run, name: string, irqPath?: 'irqfd' | 'userspace'): void {
  const at = (re: RegExp): number => r.err.split('\n').findIndex((x) => re.test(x));
  const esc = name.replace(/[.:]/g, '\\$&');
  const checked = at(new RegExp(`vfiokit run: ${esc}: \\w+ device on vfio-\\w+, .*viable`));
  const opened = at(new RegExp(`vfiokit run: ${esc}: opened`));
  const vcpu = at(/vfiokit run: vCPU 0: KVM_RUN/);
  assert.ok(checked >= 0 && opened > checked && vcpu > opened, `${name}: checked (${checked}), opened (${opened}) before the vCPU ran (${vcpu})`);
  if (irqPath) assert.match(r.err, new RegExp(`${esc}.*${irqPath === 'irqfd' ? 'irqfd' : 'userspace'}`), `${name}: its IRQ on the ${irqPath} path`);
}

/** The pl031's line asserted and left so, from L1 through vfiokit: MR = now + 1 with the alarm
 *  interrupt unmasked, the line seen firing (its VFIO eventfd), the device closed without clearing
 *  it. Returns RIS after close as the host sees it through a second open (1: still asserted). */
async function assertPl031Line(): Promise<{ firedMs: number; ris: number }> {
  const dev = openDevice(PL031);
  let firedMs = -1;
  try {
    const m = dev.regions[0]!.map();
    m.write32(IMSC, 0); m.write32(ICR, 1);
    const fired = new Promise<number>((resolve, reject) => {
      const t0 = Date.now();
      const timer = setTimeout(() => reject(new Error(`the pl031's match did not fire within ${MATCH_WAIT_MS} ms`)), MATCH_WAIT_MS);
      dev.irqs[0]!.onTrigger(() => { clearTimeout(timer); resolve(Date.now() - t0); });
    });
    m.write32(MR, m.read32(DR) + 1);
    m.write32(IMSC, 1);
    firedMs = await fired;
  } finally { dev.close(); }
  // Read back without touching it: RIS through the trap path of a fresh open (no IRQ set up).
  const again = openDevice(PL031);
  try { return { firedMs, ris: again.region(0).read32(RIS) & 1 }; } finally { again.close(); }
}

test('vfiokit run --bind --dtb-out with the pl031 alone, from no driver: bound for the run, the guest\'s rtc-pl031 reads the time and takes two alarms, the tree has its node, the pl031 back on no driver, no fd left', async () => {
  const why = skipReason();
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-run-'));
  const before = driverOf(PL031);
  try {
    unbind(PL031, { probe: false });
    assert.is(driverOf(PL031), null, 'the pl031 starts on no driver');
    const fds = openFds();
    const r = await runHere([...BASE(), '--device', PL031, '--bind', '--dtb-out', join(dir, 'guest.dtb'), ...append()]);
    console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
    checkPowerOff(r);
    checkRtc(r.l);
    checkSteps(r, PL031, 'irqfd');
    assert.match(r.err, /9010000\.pl031: no driver -> vfio-amba \(--bind; put back after the run\)/);
    assert.match(r.err, /9010000\.pl031: vfio-amba -> no driver \(as it was\)/);
    assert.is(driverOf(PL031), null, 'put back on no driver');
    assert.equal(openFds(), fds, 'the same fds open in the VMM\'s process before and after');
    const dtb = parseFdt(new Uint8Array(readFileSync(join(dir, 'guest.dtb'))));
    const node = dtb.findCompatible('arm,pl031');
    assert.ok(node, 'the written tree has the pl031\'s node');
    assert.match(r.err, new RegExp(`the guest's device tree \\(\\d+ bytes\\) written to`));
    assert.match(r.l.rtc.name ?? '', new RegExp(node!.name.replace(/^pl031@/, '').replace(/^0+/, '')), `the guest's rtc0 is the node at ${node!.path}`);
    const dump = spawnSync('vfiokit', ['fdt', 'dump', join(dir, 'guest.dtb')], { encoding: 'utf8' });
    assert.is(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /compatible = "arm,pl031", "arm,primecell";/);
    assert.match(dump.stdout, /compatible = "arm,gic-v3";/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (driverOf(PL031) !== before && before === 'vfio-amba') bind(PL031);
  }
  assert.is(driverOf(PL031), 'vfio-amba', 'the pl031 back on vfio-amba for the other tests');
});

test('vfiokit run with the virtio-mmio transport alone (vfio-platform): placed, wired, in the tree; the guest boots and powers off', async () => {
  const why = skipReason();
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-run-'));
  try {
    const before = driverOf(VIRTIO);
    const r = runCommand([...BASE(), '--device', VIRTIO, '--dtb-out', join(dir, 'guest.dtb'), ...append('l2.rtc=none')]);
    console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
    checkPowerOff(r);
    checkSteps(r, VIRTIO, 'irqfd');
    assert.match(r.l.rtc.skip ?? '', /l2\.rtc=none/);
    assert.ok(parseFdt(new Uint8Array(readFileSync(join(dir, 'guest.dtb')))).findCompatible('virtio,mmio'), 'its node is in the guest\'s tree');
    assert.is(driverOf(VIRTIO), before, `${VIRTIO} left on ${before}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('vfiokit run with the NVMe alone (vfio-pci): the guest\'s nvme driver reads the pattern and writes and reads back', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = driverOf(NVME);
  const r = runCommand([...BASE(), '--device', NVME, ...append('l2.rtc=none', `l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
  checkPowerOff(r);
  checkSteps(r, NVME, 'irqfd');
  checkNvme(r.l, diskSha256()!);
  assert.is(driverOf(NVME), before, `${NVME} left on ${before}`);
});

test('vfiokit run with all three together: the pl031\'s alarms and the NVMe\'s disk in one guest, every device bound as it was, no fd left', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = [PL031, VIRTIO, NVME].map(driverOf);
  const fds = openFds();
  const r = await runHere([...BASE(), '--device', PL031, '--device', VIRTIO, '--device', NVME, ...append(`l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
  checkPowerOff(r);
  for (const d of [PL031, VIRTIO, NVME]) checkSteps(r, d);
  checkRtc(r.l);
  checkNvme(r.l, diskSha256()!);
  assert.equal([PL031, VIRTIO, NVME].map(driverOf), before, 'each device on the driver it had');
  assert.equal(openFds(), fds, 'the same fds open in the VMM\'s process before and after');
  for (const d of [PL031, NVME]) openDevice(d).close();   // and each opens again
});

for (const irqfd of ['on', 'off'] as const) {
  test(`the early-asserted IRQ, irqfd=${irqfd}: the pl031's line is asserted before the VMM wires it; the guest takes that interrupt when its driver requests the SPI, and both alarms after`, async () => {
    const why = skipReason();
    if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
    const { firedMs, ris } = await assertPl031Line();
    console.log(`  the pl031's match fired after ${firedMs} ms; RIS after close: ${ris}`);
    assert.is(ris, 1, 'the line is still asserted when vfiokit run starts');
    const spec = irqfd === 'on' ? PL031 : `${PL031},irqfd=off,mmap-timeout=200`;
    const r = runCommand([...BASE(), '--device', spec, ...append()]);
    console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; rtc-pl031 count ${r.l.rtc.irqBefore} before the alarms, ${r.l.rtc.irqAfter} after`);
    checkPowerOff(r);
    checkSteps(r, PL031, irqfd === 'on' ? 'irqfd' : 'userspace');
    // The early interrupt: counted before /init set any alarm (the guest took it when rtc-pl031's
    // request_irq enabled the SPI and cleared it through its handler).
    assert.ok((r.l.rtc.irqBefore ?? 0) >= 1, `the guest took the early interrupt: rtc-pl031 count ${r.l.rtc.irqBefore} before any alarm`);
    checkRtc(r.l);
    assert.is(driverOf(PL031), 'vfio-amba');
    const again = openDevice(PL031);
    try { assert.is(again.region(0).read32(RIS) & 1, 0, 'nothing left pending on the host after the run'); } finally { again.close(); }
  });
}

test('devices that cannot be passed through fail before boot, with their hint and exit status; nothing left changed', async () => {
  const why = skipReason();
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const fds = openFds();
  const none = await runHere([...BASE(), '--device', '9999999.nothing']);
  assert.is(none.code, EXIT.error);
  assert.match(none.err, /9999999\.nothing: no such device on the platform, AMBA or PCI bus - list the devices with `vfiokit list`/);
  assert.not.match(none.err, /KVM_RUN/, 'no guest started');

  const bad = await runHere([...BASE(), '--device', `${NVME},addr=0x10000000`]);
  assert.is(bad.code, EXIT.error);
  assert.match(bad.err, /0000:00:03\.0: is a pci device, which does not take addr/);

  const usage = await runHere([...BASE(), '--device', `${PL031},irqfd=maybe`]);
  assert.is(usage.code, EXIT.usage);
  assert.match(usage.err, /irqfd=maybe: takes on or off/);

  const before = driverOf(PL031);
  try {
    unbind(PL031, { probe: false });
    const unbound = await runHere([...BASE(), '--device', PL031]);
    assert.is(unbound.code, EXIT.error);
    assert.match(unbound.err, /9010000\.pl031: is on no driver, not on vfio-amba - bind it first \(vfiokit bind 9010000\.pl031\), or add --bind/);
    assert.is(driverOf(PL031), null, 'left as it was: no driver');
  } finally { if (before === 'vfio-amba') bind(PL031); }
  assert.is(driverOf(PL031), 'vfio-amba');
  assert.equal(openFds(), fds, 'no fd left by the refused runs');
});

test('SIGINT while the guest runs: the run stops with status 130, and --bind\'s binding is put back', async () => {
  const why = skipReason();
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = driverOf(PL031);
  try {
    unbind(PL031, { probe: false });
    // The guest is stopped as soon as vCPU 0 is in KVM_RUN (a shell waits for the line, then signals).
    const script = `vfiokit ${[...BASE(), '--device', PL031, '--bind', ...append()].map((a) => `'${a}'`).join(' ')} 2>/tmp/vfiokit-run-sigint.err & pid=$!; ` +
      'for i in $(seq 600); do grep -q "vCPU 0: KVM_RUN" /tmp/vfiokit-run-sigint.err && break; sleep 0.1; done; sleep 1; kill -INT $pid; wait $pid; echo "status $?"';
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    const err = readFileSync('/tmp/vfiokit-run-sigint.err', 'utf8');
    console.log(err.split('\n').map((x) => `  ${x}`).join('\n'));
    assert.match(r.stdout, /status 130/, r.stdout);
    assert.match(err, /SIGINT: stopping/);
    assert.match(err, /9010000\.pl031: vfio-amba -> no driver \(as it was\)/);
    assert.is(driverOf(PL031), null);
  } finally { if (before === 'vfio-amba') bind(PL031); }
  assert.is(driverOf(PL031), 'vfio-amba');
});

test.run();

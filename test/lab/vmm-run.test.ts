// Runs INSIDE the lab guest (L1: arm64, KVM under TCG-emulated EL2): `vfiokit run` (src/cli/run.ts
// over runVm and preflight) boots the lab's own kernel as L2 with one platform device passed
// through by name: the pl031 (vfio-amba) from no driver with --bind and --dtb-out, and the
// virtio-mmio transport (vfio-platform); devices that cannot be passed through fail before boot
// with their hint and exit status; SIGINT stops a run and --bind's binding is put back. The L2
// /init (examples/mini-vmm/linux/init.c) reports what its drivers did as `l2:` lines and powers
// off on PASS (exit 0). test/support/vmm-run.ts has what the vmm-run files share; vmm-run-pci has
// the NVMe alone and all three together, vmm-run-irq the early-asserted IRQ (each file stays
// within the lab's per-file limit).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bind, parseFdt, unbind } from '../../src/index';
import { openFds } from '../support/fds';
import { append, BASE, checkPowerOff, checkRtc, checkSteps, driverOf, EXIT, NVME, PL031, RUN_TIMEOUT_MS, runCommand, runHere, skipReason, VIRTIO } from '../support/vmm-run';

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
    assert.match(dump.stdout, /compatible = "arm,pl031\\0arm,primecell";/);
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
    // The guest is stopped a second after vCPU 0 entered KVM_RUN.
    const child = spawn('vfiokit', [...BASE(), '--device', PL031, '--bind', ...append()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    const done = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    let sent = false;
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      if (!sent && /vCPU 0: KVM_RUN/.test(err)) { sent = true; setTimeout(() => child.kill('SIGINT'), 1000); }
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const code = await done;
    clearTimeout(killer);
    console.log(err.split('\n').map((x) => `  ${x}`).join('\n'));
    assert.ok(sent, 'the guest started');
    assert.is(code, 130, 'exit status 128 + SIGINT');
    assert.match(err, /SIGINT: stopping/);
    assert.match(err, /vfiokit run: stopped by a signal/);
    assert.match(err, /9010000\.pl031: vfio-amba -> no driver \(as it was\)/);
    assert.is(driverOf(PL031), null);
  } finally { if (before === 'vfio-amba') bind(PL031); }
  assert.is(driverOf(PL031), 'vfio-amba');
});

test.run();

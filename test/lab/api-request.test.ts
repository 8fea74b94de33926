// Runs INSIDE the lab guest: the host asking for a device back. Another process unbinds the edu
// (0000:00:02.0) from vfio-pci while this process holds it open; the kernel signals vfio-pci's REQ
// IRQ and waits; onRequest's handler closes the device; the unbind completes. Then the edu is
// probed by vfio-pci again (its driver_override, set by lab/init.sh, still names vfio-pci), so the
// tests after this one find it as before. The ERR IRQ is absent on the edu (conventional PCI, no
// AER): onError says so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync, writeFileSync } from 'node:fs';
import { countFds } from '../support/fds';
import { openDevice, VfioError, VFIO_PCI_REQ_IRQ_INDEX } from '../../src/index';
import { EDU, ID } from '../support/edu';

const DRIVER = `/sys/bus/pci/devices/${EDU}/driver`;
const driverName = (): string | undefined => existsSync(DRIVER) ? readlinkSync(DRIVER).split('/').pop() : undefined;
/** How long the kernel may wait for the release before the test gives up (it re-signals every 10 s). */
const UNBIND_LIMIT_MS = 60_000;

test('REQ: an unbind from another process raises onRequest; closing the device in the handler lets the unbind complete', async () => {
  assert.is(driverName(), 'vfio-pci');
  const before = countFds();
  const dev = openDevice(EDU);
  const signals: bigint[] = [];
  const errors: unknown[] = [];
  let closedAt = 0;
  const q = dev.onRequest((count) => {
    signals.push(count);
    try {
      dev.regions[0]!.read32(ID); // the device is still ours inside the handler
      dev.close();
    } catch (e) { errors.push(e); } finally { closedAt = Date.now(); }
  });
  assert.is(q.index, VFIO_PCI_REQ_IRQ_INDEX);
  assert.ok(q.eventfd !== undefined, 'the REQ eventfd is set');
  assert.ok(countFds() >= before + 4, 'container, group, device and the REQ eventfd');
  const start = Date.now();
  const child = spawn('sh', ['-c', `echo ${EDU} > /sys/bus/pci/drivers/vfio-pci/unbind`], { stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the unbind did not complete in ${UNBIND_LIMIT_MS} ms (signals: ${signals.join(',')})`)), UNBIND_LIMIT_MS);
    child.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  const wall = Date.now() - start;
  console.log(`# REQ: ${signals.length} handler call(s), counts [${signals.join(', ')}]; close ${closedAt - start} ms after the unbind began; unbind ${wall} ms`);
  try {
    assert.is(code, 0, 'the unbind succeeded');
    assert.equal(errors, [], 'close() inside the handler threw nothing (the kernel detaches the container itself)');
    assert.is(signals.length, 1, 'one handler call: the device was closed in it');
    assert.ok(signals[0]! >= 1n);
    assert.ok(dev.closed);
    assert.is(driverName(), undefined, 'the edu has no driver now');
    assert.is(countFds(), before, 'the device fds and the REQ eventfd are gone');
  } finally {
    // Back to vfio-pci for the tests that follow (driver_override still says vfio-pci).
    if (driverName() === undefined) writeFileSync('/sys/bus/pci/drivers_probe', EDU);
  }
  assert.is(driverName(), 'vfio-pci', 'the edu is bound to vfio-pci again');
  const again = openDevice(EDU);
  try { assert.is(again.regions[0]!.read32(ID), 0x010000ed, 'and opens as before'); } finally { again.close(); }
  assert.is(countFds(), before);
});

test('REQ repeats while the device is held: a VMM that lets the first signal pass gets another about 10 s later, and the unbind waits for the close', async () => {
  const before = countFds();
  const dev = openDevice(EDU);
  const calls: { at: number; count: bigint }[] = [];
  const errors: unknown[] = [];
  const start = Date.now();
  dev.onRequest((count) => {
    calls.push({ at: Date.now() - start, count });
    if (calls.length < 2) return; // not yet: the kernel keeps asking
    try { dev.close(); } catch (e) { errors.push(e); }
  });
  const child = spawn('sh', ['-c', `echo ${EDU} > /sys/bus/pci/drivers/vfio-pci/unbind`], { stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the unbind did not complete in ${UNBIND_LIMIT_MS} ms (calls: ${calls.length})`)), UNBIND_LIMIT_MS);
    child.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  const wall = Date.now() - start;
  console.log(`# REQ held: calls at [${calls.map((c) => `${c.at} ms x${c.count}`).join(', ')}]; unbind ${wall} ms`);
  try {
    assert.is(code, 0);
    assert.equal(errors, []);
    assert.is(calls.length, 2, 'two handler calls: the first let pass, the second closed');
    const gap = calls[1]!.at - calls[0]!.at;
    assert.ok(gap >= 9_000 && gap <= 20_000, `the kernel re-signalled after ${gap} ms (its wait is 10 s)`);
    assert.ok(wall >= gap, 'the unbind waited for the close');
    assert.is(driverName(), undefined);
    assert.is(countFds(), before);
  } finally {
    if (driverName() === undefined) writeFileSync('/sys/bus/pci/drivers_probe', EDU);
  }
  assert.is(driverName(), 'vfio-pci');
});

test('ERR: the edu (conventional PCI, no AER) has no ERR IRQ, and onError says so', () => {
  const before = countFds();
  const dev = openDevice(EDU);
  try {
    let err: unknown;
    try { dev.onError(() => {}); } catch (e) { err = e; }
    assert.ok(err instanceof VfioError, String(err));
    assert.is((err as VfioError).kind, 'not-supported');
    assert.match((err as VfioError).message, /no error \(ERR\) IRQ/);
    assert.match((err as VfioError).hint ?? '', /AER/);
    assert.is(dev.irqs[VFIO_PCI_REQ_IRQ_INDEX]!.eventfd, undefined, 'nothing was armed');
  } finally { dev.close(); }
  assert.is(countFds(), before);
  assert.throws(() => dev.onRequest(() => {}), (e: unknown) => e instanceof VfioError && e.kind === 'closed');
});

test.run();

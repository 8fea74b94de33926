// onRequest and onError over the fake libc: the REQ (and ERR) index armed through the same
// eventfd path as onTrigger, the handler's count, close() from inside the handler releasing the
// eventfd before the device fd, and the 'not-supported' answers when the kernel offers no index.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { VFIO_DEVICE_SET_IRQS, VFIO_GROUP_UNSET_CONTAINER } from '../../../shim/ioctl';
import { fakeVfio, signalEventfd, type FakeVfio } from './fake-vfio';

const EDU = '0000:00:02.0', PL031 = '9010000.pl031';
const REQ = 4, ERR = 3;

function withFake(opts: Parameters<typeof fakeVfio>[0], fn: (f: FakeVfio) => void): () => void {
  return () => { const f = fakeVfio(opts); try { fn(f); } finally { f.dispose(); } };
}
/** Index and count of each VFIO_DEVICE_SET_IRQS sent so far. */
const irqSets = (f: FakeVfio) => f.libc.log.filter((e) => e.method === 'ioctl' && e.args[1] === VFIO_DEVICE_SET_IRQS).map((e) => {
  const b = e.args[2] as Uint8Array; const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { index: dv.getUint32(8, true), count: dv.getUint32(16, true) };
});
const signal = signalEventfd;
const caught = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

test('onRequest arms the REQ index with an eventfd; the handler gets the count and may close the device, which releases the eventfd before the device fd', withFake({ pciIrqs: 5 }, (f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const got: bigint[] = [];
  const q = dev.onRequest((n) => { got.push(n); dev.close(); });
  assert.is(q, dev.irqs[REQ]);
  const efd = q.eventfd!;
  assert.ok(efd >= 0);
  assert.equal(irqSets(f).at(-1), { index: REQ, count: 1 });
  const before = f.libc.log.length;
  signal(f, efd, 3);
  assert.equal(got, [3n], 'three kernel signals before the read, one call');
  assert.ok(dev.closed);
  const order = f.libc.log.slice(before).flatMap((e) => e.method === 'ioctl' && e.args[1] === VFIO_DEVICE_SET_IRQS ? ['SET_IRQS'] : e.method === 'close' ? [`close ${e.args[0] === efd ? 'eventfd' : 'other'}`] : e.method === 'watchReadable.close' ? ['unwatch'] : []);
  assert.equal(order.slice(0, 4), ['SET_IRQS', 'unwatch', 'close eventfd', 'close other'], 'REQ disabled, unwatched and closed before the device fd');
  assert.equal(irqSets(f).at(-1), { index: REQ, count: 0 });
  assert.is(f.libc.openFds.size, 0);
}));

test('onError arms the ERR index where the kernel offers it; a second handler replaces the first', withFake({ pciIrqs: 5 }, (f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const a: bigint[] = [], b: bigint[] = [];
  dev.onError((n) => a.push(n));
  const first = dev.irqs[ERR]!.eventfd!;
  dev.onError((n) => b.push(n));
  const efd = dev.irqs[ERR]!.eventfd!;
  assert.ok(!f.libc.openFds.has(first) || first === efd, 'the first eventfd was closed');
  signal(f, efd, 1);
  assert.equal([a, b], [[], [1n]]);
  dev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test("no ERR index (the kernel refused it: no AER) or REQ refused: 'not-supported' with a hint, nothing armed", withFake({ pciIrqs: 5, refuseIrqs: [ERR, REQ] }, (f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const sets = irqSets(f).length;
  const e = caught(() => dev.onError(() => {}));
  assert.is(e.kind, 'not-supported');
  assert.match(e.message, /no error \(ERR\) IRQ \(index 3: /);
  assert.match(e.hint ?? '', /AER/);
  assert.is(irqSets(f).length, sets, 'no SET_IRQS sent');
  const r = caught(() => dev.onRequest(() => {}));
  assert.is(r.kind, 'not-supported');
  assert.match(r.message, /no device request \(REQ\) IRQ \(index 4: /);
  assert.is(irqSets(f).length, sets, 'no SET_IRQS sent');
  dev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test("a platform device has neither: 'not-supported' (only vfio-pci offers them); after close(): 'closed'", withFake({}, (f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const e = caught(() => dev.onRequest(() => {}));
  assert.is(e.kind, 'not-supported');
  assert.match(e.message, /not a PCI device/);
  dev.close();
  assert.is(caught(() => dev.onRequest(() => {})).kind, 'closed');
  assert.is(caught(() => dev.onError(() => {})).kind, 'closed');
}));


test("the unbind removed the group's last device: the kernel detached the container itself, so UNSET_CONTAINER's EINVAL is no failure of close(); another errno still is", withFake({ pciIrqs: 5 }, (f) => {
  const inner = f.libc.on.ioctl!;
  let unsetErrno = 22; // EINVAL: vfio_group_has_iommu() is false once the kernel detached it
  f.libc.on.ioctl = (fd, request, arg) => request === VFIO_GROUP_UNSET_CONTAINER ? -unsetErrno : inner(fd, request, arg);
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const errors: unknown[] = [];
  const q = dev.onRequest(() => { try { dev.close(); } catch (e) { errors.push(e); } });
  signal(f, q.eventfd!, 1);
  assert.equal(errors, []);
  assert.ok(dev.closed);
  assert.is(f.libc.openFds.size, 0);
  unsetErrno = 16; // EBUSY
  const other = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  assert.is(caught(() => other.close()).errnoName, 'EBUSY');
  assert.is(f.libc.openFds.size, 0, 'every step ran all the same');
}));

test.run();

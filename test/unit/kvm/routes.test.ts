// KvmIrqRoutes over the fake libc: what each change commits (the whole table: irqchip pins, then
// the MSI routes by GSI), one commit per batch, GSIs allocated above the pins and reused, a failed
// commit leaving the model as it was, KVM_SIGNAL_MSI's struct, and the bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFakeLibc, type FakeLibc } from '../../support/fake-libc';
import { createSys } from '../../../shim/sys';
import { u32 } from '../../../shim/bytes';
import { KVM_CHECK_EXTENSION, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI } from '../../../shim/ioctl';
import { KVM_CAP_IRQ_ROUTING, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI, KVM_MSI_VALID_DEVID } from '../../../shim/uapi/kvm';
import { KvmIrqRoutes } from '../../../src/kvm/routes';
import { VfioError } from '../../../src/errors';

/** A fake VM: KVM_CAP_IRQ_ROUTING answers `max`; each KVM_SET_GSI_ROUTING is decoded into `tables`. */
function vm(max = 4096) {
  const libc: FakeLibc = createFakeLibc();
  const vmFd = libc.open('/dev/kvm-vm', 0, 0);
  const tables: { gsi: number; type: number; flags: number; u: number[] }[][] = [];
  const msis: number[][] = [];
  libc.on.ioctlValue = (_fd, req, value) => (req === KVM_CHECK_EXTENSION && value === KVM_CAP_IRQ_ROUTING ? max : 0);
  libc.on.ioctl = (_fd, req, arg) => {
    if (req === KVM_SET_GSI_ROUTING) {
      const nr = u32(arg!, 0);
      tables.push(Array.from({ length: nr }, (_, i) => {
        const at = 8 + i * 48;
        return { gsi: u32(arg!, at), type: u32(arg!, at + 4), flags: u32(arg!, at + 8), u: [0, 1, 2, 3].map((w) => u32(arg!, at + 16 + 4 * w)) };
      }));
    }
    if (req === KVM_SIGNAL_MSI) { msis.push([0, 1, 2, 3, 4].map((w) => u32(arg!, 4 * w))); return 1; }
    return 0;
  };
  return { libc, sys: createSys(libc), vmFd, tables, msis };
}

test('the first MSI route commits the irqchip pins and the route at the first GSI above them', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 4, sys: v.sys });
  assert.is(r.commits, 0, 'nothing committed at construction');
  const gsi = r.addMsi({ address: 0x1_0808_0040n, data: 7, devid: 0x18 });
  assert.is(gsi, 4);
  assert.is(r.commits, 1);
  const t = v.tables[0]!;
  assert.equal(t.slice(0, 4).map((e) => [e.gsi, e.type, e.u[0], e.u[1]]), [0, 1, 2, 3].map((p) => [p, KVM_IRQ_ROUTING_IRQCHIP, 0, p]));
  assert.equal(t[4], { gsi: 4, type: KVM_IRQ_ROUTING_MSI, flags: KVM_MSI_VALID_DEVID, u: [0x0808_0040, 1, 7, 0x18] });
});

test('update and remove commit the whole table; a freed GSI is reused; MSI routes stay sorted by GSI', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 2, sys: v.sys });
  const a = r.addMsi({ address: 0x1000n, data: 1 }), b = r.addMsi({ address: 0x1000n, data: 2 });
  assert.equal([a, b], [2, 3]);
  r.updateMsi(a, { address: 0x2000n, data: 9 });
  assert.equal(v.tables.at(-1)!.slice(2).map((e) => [e.gsi, e.u[0], e.u[2], e.flags]), [[2, 0x2000, 9, 0], [3, 0x1000, 2, 0]]);
  r.removeMsi(a);
  assert.equal(v.tables.at(-1)!.map((e) => e.gsi), [0, 1, 3]);
  assert.is(r.addMsi({ address: 0x3000n, data: 3 }), 2, 'the lowest free GSI again');
  assert.equal(v.tables.at(-1)!.map((e) => e.gsi), [0, 1, 2, 3]);
  assert.is(r.commits, 5);
  assert.is(r.msiRoutes, 2);
});

test('a batch commits once at its end, nested batches once at the outermost; an empty batch not at all', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 0, sys: v.sys });
  const gsis = r.batch(() => [r.addMsi({ address: 1n << 12n, data: 0 }), r.batch(() => r.addMsi({ address: 1n << 12n, data: 1 }))]);
  assert.equal(gsis, [0, 1]);
  assert.is(r.commits, 1);
  assert.is(v.tables[0]!.length, 2);
  r.batch(() => 0);
  assert.is(r.commits, 1, 'nothing changed: no commit');
});

test('a batch whose function throws still commits what it changed, and rethrows', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 0, sys: v.sys });
  assert.throws(() => r.batch(() => { r.addMsi({ address: 0x1000n, data: 5 }); throw new Error('boom'); }), /boom/);
  assert.is(r.commits, 1);
  assert.is(v.tables[0]!.length, 1);
});

test('a refused commit keeps the model as it was (add undone, update and remove restored) with errno', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 1, sys: v.sys });
  const g = r.addMsi({ address: 0x1000n, data: 1 });
  v.libc.failOn('ioctl', 22);
  const e = (() => { try { r.addMsi({ address: 0x1000n, data: 2 }); } catch (x) { return x; } })() as VfioError;
  assert.instance(e, VfioError);
  assert.is(e.errnoName, 'EINVAL');
  assert.match(e.message, /GSI routing table/);
  assert.is(r.msiRoutes, 1);
  v.libc.failOn('ioctl', 22);
  assert.throws(() => r.updateMsi(g, { address: 0x9000n, data: 9 }));
  v.libc.failOn('ioctl', 22);
  assert.throws(() => r.removeMsi(g));
  r.updateMsi(g, { address: 0x1000n, data: 3 });
  assert.equal(v.tables.at(-1)!.map((e2) => [e2.gsi, e2.u[2]]), [[0, 0], [1, 3]]);
});

test('signalMsi encodes kvm_msi with the devid flag and reports delivery', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 0, sys: v.sys });
  assert.is(r.signalMsi({ address: 0x2_0000_0040n, data: 0x33, devid: 0x10 }), true);
  assert.equal(v.msis[0], [0x40, 2, 0x33, KVM_MSI_VALID_DEVID, 0x10]);
  assert.is(r.commits, 0, 'signalling changes no table');
});

test('bounds: GSIs end at the kernel\'s KVM_CAP_IRQ_ROUTING answer (no-space), unknown GSIs are not-found, no routing is not-supported', () => {
  const v = vm(3);
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 2, sys: v.sys });
  assert.is(r.maxRoutes, 3);
  r.addMsi({ address: 0n, data: 0 });
  assert.throws(() => r.addMsi({ address: 0n, data: 0 }), (e: VfioError) => e.kind === 'no-space');
  assert.throws(() => r.updateMsi(1, { address: 0n, data: 0 }), (e: VfioError) => e.kind === 'not-found', 'an irqchip pin is not an MSI route');
  assert.throws(() => r.removeMsi(7), (e: VfioError) => e.kind === 'not-found');
  assert.throws(() => new KvmIrqRoutes(v.vmFd, { irqchipPins: 4, sys: v.sys }), (e: VfioError) => e.kind === 'bad-argument' && /irqchipPins/.test(e.message));
  const none = vm(0);
  assert.throws(() => new KvmIrqRoutes(none.vmFd, { irqchipPins: 0, sys: none.sys }), (e: VfioError) => e.kind === 'not-supported');
});

test('close forgets the table, touches no fd, and every call then throws closed; twice is harmless', () => {
  const v = vm();
  const r = new KvmIrqRoutes(v.vmFd, { irqchipPins: 0, sys: v.sys });
  r.addMsi({ address: 0n, data: 0 });
  const calls = v.libc.log.length;
  r.close(); r.close();
  assert.is(v.libc.log.length, calls);
  assert.ok(r.closed);
  for (const f of [() => r.addMsi({ address: 0n, data: 0 }), () => r.signalMsi({ address: 0n, data: 0 }), () => r.batch(() => 0)]) {
    assert.throws(f, (e: VfioError) => e.kind === 'closed');
  }
});

test.run();

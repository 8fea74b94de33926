// IRQs, DMA and the trap path of a VfioDevice over the fake libc: which SET_IRQS requests go out
// and in what order (disable before the eventfd closes), the routed mode carrying out the IRQ
// machine's actions, DMA requests with checked 64-bit ranges, and what close() undoes.
import { test } from 'uvu';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../../../shim/libc';
import * as assert from 'uvu/assert';
import { allocDma, openDevice } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { VFIO_DEVICE_SET_IRQS, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA } from '../../../shim/ioctl';
import { fakeVfio, irqSets, signalEventfd, type FakeVfio, FIRST_DEVICE_FD } from './fake-vfio';
import { captureConsoleError } from '../../support/console';

const PL031 = '9010000.pl031', EDU = '0000:00:02.0';
const TRIGGER = 1 << 5, UNMASK = 1 << 4, MASK = 1 << 3, DATA_NONE = 1, DATA_EVENTFD = 4;

function withFake(fn: (f: FakeVfio) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const f = fakeVfio();
    try { await fn(f); } finally { f.dispose(); }
  };
}

const signal = (f: FakeVfio, fd: number): void => signalEventfd(f, fd);

const caught = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

test('onTrigger: an eventfd becomes the trigger and is watched; disable() sends count 0 before the eventfd closes', withFake((f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const got: bigint[] = [];
  dev.irqs[0]!.onTrigger((n) => got.push(n));
  const efd = dev.irqs[0]!.eventfd!;
  assert.equal(irqSets(f).at(-1), { flags: DATA_EVENTFD | TRIGGER, index: 0, start: 0, count: 1, fds: [efd] });
  signal(f, efd);
  assert.equal(got, [1n]);
  dev.irqs[0]!.unmask();
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | UNMASK, index: 0, start: 0, count: 1, fds: [] });
  const before = f.libc.log.length;
  dev.irqs[0]!.disable();
  const order = f.libc.log.slice(before).map((e) => e.method === 'ioctl' ? 'SET_IRQS' : e.method);
  assert.equal(order, ['SET_IRQS', 'watchReadable.close', 'close'], 'disabled in the kernel, unwatched, then closed');
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | TRIGGER, index: 0, start: 0, count: 0, fds: [] });
  assert.is(dev.irqs[0]!.eventfd, undefined);
  dev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test('triggerEventfd: the same trigger, watched by nobody (for an IrqWaiter thread); disable() and close() close it', withFake((f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const watches = (): number => f.libc.log.filter((e) => e.method === 'watchReadable').length;
  const watchesBefore = watches();
  const efd = dev.irqs[0]!.triggerEventfd();
  assert.is(dev.irqs[0]!.eventfd, efd);
  assert.equal(irqSets(f).at(-1), { flags: DATA_EVENTFD | TRIGGER, index: 0, start: 0, count: 1, fds: [efd] });
  assert.is(watches(), watchesBefore, 'not watched on the event loop');
  const before = f.libc.log.length;
  dev.irqs[0]!.disable();
  assert.equal(f.libc.log.slice(before).map((e) => e.method === 'ioctl' ? 'SET_IRQS' : e.method), ['SET_IRQS', 'close'], 'disabled in the kernel, then closed');
  assert.ok(!f.libc.openFds.has(efd));
  const eventfdFlags = (): number => f.libc.log.filter((e) => e.method === 'eventfd').at(-1)!.args[1] as number;
  assert.ok(eventfdFlags() & EFD_NONBLOCK, 'non-blocking by default (an IrqWaiter polls it)');
  const again = dev.irqs[0]!.triggerEventfd({ blocking: true });
  assert.is(eventfdFlags() & EFD_NONBLOCK, 0, 'blocking when asked (an IrqReader reads it)');
  assert.ok(eventfdFlags() & EFD_CLOEXEC);
  const last0 = dev.irqs[0]!.triggerEventfd(); // a second call replaces the first trigger
  assert.ok(!f.libc.openFds.has(again), 'the replaced eventfd was closed');
  assert.is(dev.irqs[0]!.eventfd, last0);
  const last = dev.irqs[0]!.eventfd!;
  dev.close();
  const t = f.trace();
  assert.ok(t.indexOf(`close ${last}`) < t.indexOf(`close ${FIRST_DEVICE_FD}`), t.join(' | '));
  assert.is(f.libc.openFds.size, 0);
  const routedDev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  routedDev.routeIrqs({ setLine: () => {}, onMmap: () => {} });
  assert.is(caught(() => routedDev.irqs[0]!.triggerEventfd()).kind, 'bad-state', 'a routed index gives no eventfd away');
  routedDev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test('close() with a handler still set disables the IRQ and closes its eventfd before the device fd', withFake((f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  dev.irqs[0]!.onTrigger(() => {});
  const efd = dev.irqs[0]!.eventfd!;
  dev.close();
  const t = f.trace();
  assert.ok(t.indexOf(`close ${efd}`) < t.indexOf(`close ${FIRST_DEVICE_FD}`), t.join(' | '));
  assert.is(f.libc.openFds.size, 0);
}));

test('routed mode: fire -> mmap off + line up; trapped access -> line down + VFIO unmask; the timer brings mmap back', withFake(async (f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const events: string[] = [];
  const routing = dev.routeIrqs({
    setLine: (i, l) => events.push(`line ${i} ${l ? 'up' : 'down'}`),
    onMmap: (on) => events.push(`mmap ${on ? 'on' : 'off'}`),
    timeoutNs: 1_000_000n,
  });
  const trigger = irqSets(f).at(-1)!;
  assert.is(trigger.flags, DATA_EVENTFD | TRIGGER);
  assert.equal(caught(() => dev.irqs[0]!.onTrigger(() => {})).kind, 'bad-state', 'a routed index takes no direct handler');
  signal(f, trigger.fds[0]!);
  assert.equal(events, ['mmap off', 'line 0 up']);
  routing.trappedAccess();
  assert.equal(events, ['mmap off', 'line 0 up', 'line 0 down']);
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | UNMASK, index: 0, start: 0, count: 1, fds: [] });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(events, ['mmap off', 'line 0 up', 'line 0 down', 'mmap on']);
  assert.is(routing.machine.line(0).delivered, 1n);
  dev.close();
  assert.ok(routing.closed, 'the device closes its routing');
  assert.is(routing.machine.closed, true);
  assert.is(f.libc.openFds.size, 0);
}));

test('routed mode: without onError, a setLine that throws on every IRQ prints a thinned, numbered line; the machine goes on', withFake(async (f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const routing = dev.routeIrqs({ setLine: (_i, up) => { if (up) throw new Error('line refused'); }, onMmap: () => {}, timeoutNs: 10n ** 12n });
  const fd = irqSets(f).at(-1)!.fds[0]!;
  const lines = await captureConsoleError(() => { for (let i = 0; i < 40; i++) { signal(f, fd); routing.trappedAccess(); } });
  assert.is(routing.machine.line(0).delivered, 40n, 'every IRQ taken');
  assert.is(lines.length, 12, '1..10, 16, 32');
  assert.ok(lines.every((l) => l.startsWith(`vfiokit: ${PL031}: IRQ routing`) && l.includes('line refused')), lines[0]);
  assert.ok(lines[11]!.includes('(report 32;'), lines[11]);
  dev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test('routed mode: a line\'s SET_IRQS structs are encoded once, at routing: every EOI passes the same unmask bytes', withFake((f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const routing = dev.routeIrqs({ setLine: () => {}, onMmap: () => {}, timeoutNs: 10n ** 12n });
  const fd = irqSets(f).at(-1)!.fds[0]!;
  const unmasks = (): Uint8Array[] => f.libc.log.filter((e) => e.method === 'ioctl' && e.args[1] === VFIO_DEVICE_SET_IRQS)
    .map((e) => e.args[2] as Uint8Array).filter((b) => (b[4]! & UNMASK) !== 0);
  for (let i = 0; i < 3; i++) { signal(f, fd); routing.trappedAccess(); }
  const u = unmasks();
  assert.is(u.length, 3, 'one unmask per EOI');
  assert.ok(u[0] === u[1] && u[1] === u[2], 'the same struct each time, not a new encoding');
  assert.equal(irqSets(f).at(-1), { flags: DATA_NONE | UNMASK, index: 0, start: 0, count: 1, fds: [] });
  routing.close();
  dev.close();
  assert.is(f.libc.openFds.size, 0);
}));

test('routed mode: wireIrqfd carries out the machine\'s level steps (mask, KVM_IRQFD with resample, trigger, unmask fd, unmask); unwire reverses', withFake((f) => {
  const dev = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const routing = dev.routeIrqs({ setLine() {} });
  const vm = f.libc.open('/dev/kvm-vm', 2, 0);
  const base = irqSets(f).length;
  routing.wireIrqfd(0, vm, 33);
  const sets = irqSets(f).slice(base);
  assert.equal(sets.map((s) => s.flags), [DATA_NONE | MASK, DATA_EVENTFD | TRIGGER, DATA_EVENTFD | UNMASK, DATA_NONE | UNMASK]);
  const irqfdCall = f.libc.log.find((e) => e.method === 'ioctl' && e.args[0] === vm)!;
  const k = new DataView((irqfdCall.args[2] as Uint8Array).buffer);
  assert.is(k.getUint32(4, true), 33, 'gsi');
  assert.is(k.getUint32(8, true), 2, 'KVM_IRQFD_FLAG_RESAMPLE');
  assert.is(k.getUint32(0, true), sets[1]!.fds[0], 'the irqfd is the new trigger');
  assert.is(k.getUint32(12, true), sets[2]!.fds[0], 'the resamplefd is the unmask eventfd');
  routing.unwireIrqfd(0);
  assert.equal(irqSets(f).slice(base + 4).map((s) => s.flags), [DATA_NONE | MASK, DATA_EVENTFD | UNMASK, DATA_EVENTFD | TRIGGER, DATA_NONE | UNMASK]);
  assert.equal(irqSets(f).slice(base + 4)[1]!.fds, [-1], 'the unmask eventfd is cleared');
  dev.close();
  f.libc.close(vm);
  assert.is(f.libc.openFds.size, 0);
}));

test('mapDma on type1: the request carries vaddr, IOVA and size; unmapDma removes it; close() unmaps what is left before the device fd closes', withFake((f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const buf = allocDma(8192, { sys: f.sys });
  const rec = dev.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 8192n, write: false });
  const call = f.libc.log.find((e) => e.method === 'ioctl' && e.args[1] === VFIO_IOMMU_MAP_DMA)!;
  const dv = new DataView((call.args[2] as Uint8Array).buffer);
  assert.equal([dv.getUint32(4, true), dv.getBigUint64(8, true), dv.getBigUint64(16, true), dv.getBigUint64(24, true)], [1, buf.hostAddress, 0x100000n, 8192n]);
  assert.equal(rec, { iova: 0x100000n, size: 8192n, hostAddress: buf.hostAddress, read: true, write: false });
  dev.mapDma({ iova: 0x200000n, hostAddress: 0x7f12_3450_0000n, size: 4096n });
  assert.is(dev.unmapDma(0x200000n, 4096n), 4096n);
  assert.is(caught(() => buf.close()).kind, 'bad-state', 'mapped memory cannot be freed');
  dev.close();
  const t = f.trace();
  assert.ok(t.lastIndexOf('ioctl VFIO_IOMMU_UNMAP_DMA') < t.indexOf(`close ${FIRST_DEVICE_FD}`), t.join(' | '));
  assert.is(f.libc.log.filter((e) => e.method === 'ioctl' && e.args[1] === VFIO_IOMMU_UNMAP_DMA).length, 2);
  buf.close();
  assert.is(f.libc.openFds.size, 0);
}));

test('DMA arguments: 64-bit overflow, alignment, size 0, a plain ArrayBuffer, no-IOMMU: each refused before any ioctl', withFake((f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const n = f.libc.log.length;
  const cases: [string, () => unknown, string][] = [
    ['end past 2^64', () => dev.mapDma({ iova: 0xffff_ffff_ffff_f000n, hostAddress: 0x10000n, size: 0x2000n }), 'bad-argument'],
    ['unaligned IOVA', () => dev.mapDma({ iova: 0x100800n, hostAddress: 0x10000n, size: 0x1000n }), 'bad-argument'],
    ['size 0', () => dev.mapDma({ iova: 0x100000n, hostAddress: 0x10000n, size: 0n }), 'bad-argument'],
    ['negative IOVA', () => dev.mapDma({ iova: -4096n, hostAddress: 0x10000n, size: 0x1000n }), 'bad-argument'],
    ['a JS ArrayBuffer', () => dev.mapDma({ iova: 0x100000n, buffer: new ArrayBuffer(4096), size: 0x1000n }), 'bad-argument'],
    ['neither buffer nor address', () => dev.mapDma({ iova: 0x100000n, size: 0x1000n }), 'bad-argument'],
    ['unmap of nothing mapped', () => dev.unmapDma(0x100000n, 0x1000n), 'not-found'],
  ];
  for (const [what, fn, kind] of cases) assert.is(caught(fn).kind, kind, what);
  assert.is(f.libc.log.length, n, 'no syscall was made');
  dev.close();
  const pl = openDevice(PL031, { sys: f.sys, sysfs: f.sysfs });
  const e = caught(() => pl.mapDma({ iova: 0x100000n, hostAddress: 0x10000n, size: 0x1000n }));
  assert.is(e.kind, 'not-supported');
  assert.ok(e.message.includes('no IOMMU: DMA cannot be confined'));
  pl.close();
}));

test('trap path: refused accesses answer all-ones and are counted without a syscall; good ones pread at the region offset', withFake((f) => {
  const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
  const r = dev.regions[1]!; // the fake puts region i at file offset i << 40
  const n = f.libc.calls.pread ?? 0;
  assert.is(r.read(0x1000, 4), 0xffff_ffffn);
  assert.is(r.read(0x2, 4), 0xffff_ffffn);
  assert.is(r.read(2n ** 64n, 1), 0xffn);
  assert.is(r.write(0xfff, 2, 0), false);
  assert.is(f.libc.calls.pread ?? 0, n);
  assert.equal(r.counters(), { readsRefused: 3n, writesDropped: 1n, outOfRange: 3n, misaligned: 1n, denied: 0n });
  r.read(0x10, 8);
  const call = f.libc.log.filter((e) => e.method === 'pread').pop()!;
  assert.equal([call.args[2], call.args[3]], [8, (1n << 40n) + 0x10n]);
  dev.close();
}));

test.run();

// PciPassthrough over a scripted vfio-pci function and KVM VM (fake-pci.ts): what the guest's
// config and MMIO accesses turn into, step by step, in the order the host carries them out:
// BAR sizing and placement -> memory slots (the MSI-X pages never among them), COMMAND and the
// non-virtualized capabilities -> the device's config region, MSI-X mask/unmask cycles -> trigger
// switches only (no irqfd assigned twice), growing the MSI-X index with and without NORESIZE,
// the INTx <-> MSI-X switch order, MSI through the same path, userspace INTx, reset and close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fakePci, nvmeLike, type FakePci } from './fake-pci';
import { edu } from './fixtures';
import type { PciPassthrough } from '../../../src/pci/passthrough';
import { openDevice } from '../../../src/device/device';
import { fakeVfio } from '../api/fake-vfio';
import { VfioError } from '../../../src/errors';
import { captureConsoleError } from '../../support/console';

const BAR0 = 0x1000_0000n, BAR2 = 0x1001_0000n;
const TABLE = BAR0 + 0x2000n, PBA = BAR0 + 0x3000n;
const ITS = 0x0808_0040n;

/** The guest's firmware: sizes and places BAR0 (64-bit) and BAR2, then turns MEMORY and MASTER on. */
function place(pci: PciPassthrough, command = 0x0006): void {
  pci.configWrite(0x10, 4, 0xffff_ffff); pci.configWrite(0x14, 4, 0xffff_ffff);
  pci.configWrite(0x10, 4, Number(BAR0)); pci.configWrite(0x14, 4, 0);
  pci.configWrite(0x18, 4, 0xffff_ffff); pci.configWrite(0x18, 4, Number(BAR2));
  pci.configWrite(0x04, 2, command);
}
/** A table entry written as Linux does it: address, data, then Vector Control. */
function program(pci: PciPassthrough, n: number, data: number, masked = true): void {
  const e = TABLE + BigInt(16 * n);
  pci.mmioWrite(e, 4, ITS & 0xffff_ffffn); pci.mmioWrite(e + 4n, 4, ITS >> 32n); pci.mmioWrite(e + 8n, 4, BigInt(data));
  pci.mmioWrite(e + 12n, 4, masked ? 1n : 0n);
}
const mask = (pci: PciPassthrough, n: number, m: boolean) => pci.mmioWrite(TABLE + BigInt(16 * n) + 12n, 4, m ? 1n : 0n);
const since = (f: FakePci, mark: number) => f.trace.slice(mark);
/** Every test closes its device: the core's tables are a bounded resource. */
const done = (f: FakePci) => { f.dev.close(); f.dispose(); };
const kvmOpts = (f: FakePci, intxGsi?: number) => ({ kvm: { vmFd: f.vmFd, routes: f.routes, devid: 0x18, ...(intxGsi === undefined ? {} : { intxGsi }) } });

test('BAR sizing reads back the size masks; placing with decoding on maps the mappable pieces, never the MSI-X pages', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  pci.configWrite(0x10, 4, 0xffff_ffff);
  assert.is(pci.configRead(0x10, 4) >>> 0, 0xffff_c004, 'BAR0: 16 KiB, mem64');
  pci.configWrite(0x20, 4, 0xffff_ffff);
  assert.is(pci.configRead(0x20, 4) >>> 0, 0xffff_ff01, 'BAR4: 256 bytes of I/O');
  const mark = f.trace.length;
  place(pci);
  assert.equal(since(f, mark), ['cfg-write 0x4 2 0x0006', 'map 0 0x10000000 0x2000', 'map 2 0x10010000 0x1000'],
    'COMMAND reaches the device before the slots appear; BAR0 only up to its MSI-X table page');
  assert.ok(pci.claims(TABLE) && pci.claims(PBA + 0xff8n) && pci.claims(BAR2 + 0xfffn));
  assert.not.ok(pci.claims(BAR0 + 0x4000n));
  assert.equal([...f.slots.values()].map((s) => [s.bar, s.hostAddress % 4096n]), [[0, 0n], [2, 0n]], 'host addresses are page-aligned mmaps');
  assert.is(pci.stats().slotsMapped, 2);
  done(f);
});

test('moving a BAR is unmap then map; decoding off unmaps before COMMAND reaches the device', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  place(pci);
  let mark = f.trace.length;
  pci.configWrite(0x18, 4, 0x1002_0000);
  assert.equal(since(f, mark), ['unmap 2 0x10010000 0x1000', 'map 2 0x10020000 0x1000']);
  mark = f.trace.length;
  pci.configWrite(0x04, 2, 0);
  assert.equal(since(f, mark), ['unmap 0 0x10000000 0x2000', 'unmap 2 0x10020000 0x1000', 'cfg-write 0x4 2 0x0000']);
  assert.is(f.slots.size, 0);
  assert.not.ok(pci.claims(BAR0));
  assert.equal(pci.stats().slotsUnmapped, 3);
  done(f);
});

for (const pageSize of [16384, 65536]) {
  test(`at ${pageSize / 1024} KiB pages the MSI-X page holds BAR0's registers: nothing of BAR0 is mapped, its registers trap to the device`, () => {
    const f = fakePci({ pageSize });
    const pci = f.dev.pci(f.options({ msixRelocation: 'off' }));
    place(pci);
    assert.equal([...f.slots.values()].map((s) => s.bar), [], 'BAR0 is one page with the table; BAR2 is smaller than a page');
    const preads = f.fv.libc.calls.pread ?? 0;
    assert.is(pci.mmioRead(BAR0 + 0x1000n, 4), 0n, 'a doorbell read goes through the trap path');
    assert.is((f.fv.libc.calls.pread ?? 0) - preads, 1);
    assert.is(pci.mmioRead(TABLE + 12n, 4), 1n, 'the table is the emulation\'s: every vector masked at reset');
    assert.is(pci.stats().barTraps, 1);
    assert.is(pci.stats().msixAccesses, 1);
    done(f);
  });
}

test('at 16 KiB pages with MSIX_MAPPABLE the table shares BAR0\'s one page with the doorbells: BAR0 extended for the guest, the device\'s 16 KiB one slot, the table found and emulated in the upper half', () => {
  const f = fakePci({ pageSize: 16384, msixMappable: [0] });
  const pci = f.dev.pci(f.options());
  assert.is(pci.relocation, 'extend');
  pci.configWrite(0x10, 4, 0xffff_ffff);
  assert.is(pci.configRead(0x10, 4) >>> 0, 0xffff_8004, 'the guest sizes a 32 KiB BAR0');
  assert.is(pci.configRead(0x74, 4) >>> 0, 0x4000, 'Table Offset/BIR: BAR0 + 16 KiB');
  assert.is(pci.configRead(0x78, 4) >>> 0, 0x4100, 'PBA after the 256-byte table');
  place(pci);
  assert.equal([...f.slots.values()].map((s) => [s.bar, s.gpa, s.size]), [[0, BAR0, 0x4000n]], 'every device byte of BAR0 in one slot, the old table page too');
  const e = BAR0 + 0x4000n;
  pci.mmioWrite(e + 8n, 4, 0x55n);
  assert.is(pci.msix!.vector(0).data, 0x55, 'the emulated table where the guest finds it');
  assert.is(pci.mmioRead(BAR0 + 0x4000n + 0x100n, 8), 0n, 'the PBA');
  assert.is(pci.mmioRead(BAR0 + 0x6000n, 4), 0n, 'the rest of the upper half reads 0');
  const preads = f.fv.libc.calls.pread ?? 0;
  pci.mmioRead(BAR0 + 0x2000n, 4);
  assert.is((f.fv.libc.calls.pread ?? 0) - preads, 1, 'the device\'s own table page is the device\'s (trap path when trapped)');
  pci.reset();
  assert.equal([pci.configRead(0x74, 4) >>> 0, f.slots.size], [0x4000, 0], 'after a reset: the same relocated view, nothing mapped');
  done(f);
});

test('msixRelocation \'off\' traps the table in place even when MSIX_MAPPABLE would allow the move', () => {
  const f = fakePci({ pageSize: 16384, msixMappable: [0] });
  const pci = f.dev.pci(f.options({ msixRelocation: 'off' }));
  assert.is(pci.relocation, 'none');
  place(pci);
  assert.is(f.slots.size, 0);
  assert.is(pci.configRead(0x74, 4) >>> 0, 0x2000);
  done(f);
});

test('at 64 KiB pages BAR0 grows to 128 KiB with the table at 64 KiB; a 16 KiB BAR is smaller than a page, so its registers still trap', () => {
  const f = fakePci({ pageSize: 65536, msixMappable: [0] });
  const pci = f.dev.pci(f.options());
  pci.configWrite(0x10, 4, 0xffff_ffff);
  assert.is(pci.configRead(0x10, 4) >>> 0, 0xfffe_0004);
  assert.is(pci.configRead(0x74, 4) >>> 0, 0x1_0000);
  place(pci);
  assert.is(f.slots.size, 0);
  pci.mmioWrite(BAR0 + 0x1_0000n + 12n, 4, 0n);
  assert.not.ok(pci.msix!.vector(0).masked, 'vector 0 unmasked through the relocated table');
  done(f);
});

test('capabilities the shadow does not virtualize are read live and written through; MSI-X control is not', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  f.deviceConfig[0x84] = 0x5a;
  assert.is(pci.configRead(0x84, 1), 0x5a, 'vendor capability read live from the device');
  const mark = f.trace.length;
  pci.configWrite(0x44, 2, 0x0003);
  pci.configWrite(0x72, 2, 0x4000);
  assert.equal(since(f, mark), ['cfg-write 0x44 2 0x0003'], 'PM control forwarded, MSI-X Function Mask kept in the shadow');
  assert.is(pci.configRead(0x72, 2), 0x400f);
  done(f);
});

test('MSI-X with KVM: enable switches INTx off first; each vector gets one irqfd at its first unmask; 100 mask/unmask cycles only switch triggers', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f, 5)));
  assert.equal(f.trace.filter((s) => s.startsWith('irqfd')).length, 1, 'INTx wired at start (irqfd + resample)');
  place(pci);
  for (let n = 0; n < 4; n++) program(pci, n, 32 + n);
  let mark = f.trace.length;
  pci.configWrite(0x72, 2, 0x8000);
  const en = since(f, mark);
  assert.match(en[0]!, /^set-irqs trigger 0 0 0$/, 'INTx disabled first');
  assert.match(en[1]!, /^irqfd 5 \d+ deassign$/, 'its irqfd deassigned');
  assert.match(en[2]!, /^set-irqs trigger 2 0 4 \[\d+,\d+,\d+,\d+\]$/, 'MSI-X enabled over the 4 vectors in use, on userspace eventfds');
  assert.is(en.length, 3);
  mark = f.trace.length;
  for (let n = 0; n < 4; n++) mask(pci, n, false);
  const un = since(f, mark);
  assert.is(un.filter((s) => s.startsWith('irqfd')).length, 4, 'one irqfd per vector');
  assert.is(un.filter((s) => s.startsWith('routes')).length, 4, 'one route each');
  const st0 = pci.stats();
  assert.equal([st0.irqfdAssigns, st0.vectorUnmasks, st0.triggerSwitches, st0.mode, st0.enabledVectors], [4, 4, 4, 'msix', 4]);
  mark = f.trace.length;
  for (let i = 0; i < 100; i++) { mask(pci, 1, true); mask(pci, 1, false); }
  const cycles = since(f, mark);
  assert.is(cycles.length, 200);
  assert.ok(cycles.every((s) => /^set-irqs trigger 2 1 1 \[\d+\]$/.test(s)), 'each is a trigger switch of vector 1');
  const st = pci.stats();
  assert.equal([st.irqfdAssigns, st.irqfdDeassigns, st.triggerSwitches, st.routeUpdates, st.vectorMasks, st.vectorUnmasks], [4, 0, 204, 0, 100, 104]);
  assert.is(f.routes.commits, 4);
  done(f);
});

test('MSI-X with KVM: a fire while masked sets the PBA bit and is delivered once by KVM_SIGNAL_MSI at unmask; live fires are KVM\'s', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f)));
  place(pci);
  for (let n = 0; n < 2; n++) program(pci, n, 32 + n, false);
  pci.configWrite(0x72, 2, 0x8000);
  mask(pci, 1, true);
  f.fire(2, 1); f.fire(2, 1);
  assert.is(pci.mmioRead(PBA, 8), 2n, 'pending bit 1');
  const mark = f.trace.length;
  mask(pci, 1, false);
  assert.equal(since(f, mark).filter((s) => s.startsWith('signal-msi')), ['signal-msi 0x8080040 33 24'], 'once, with the ITS devid');
  assert.is(pci.mmioRead(PBA, 8), 0n);
  f.fire(2, 0);
  assert.equal(f.trace.at(-1), 'kvm-injects 2 0', 'an unmasked vector\'s trigger is its irqfd');
  done(f);
});

test('MSI-X with KVM: a pending delivery KVM refuses (the guest\'s ITS is off) is counted and reported, not thrown into the guest\'s unmask', () => {
  const f = fakePci();
  const errors: unknown[] = [];
  const pci = f.dev.pci(f.options({ ...kvmOpts(f), onError: (e) => errors.push(e) }));
  place(pci);
  program(pci, 0, 32, false);
  pci.configWrite(0x72, 2, 0x8000);
  for (const answer of [0, -16]) {
    mask(pci, 0, true);
    f.fire(2, 0);
    f.signalAnswer = answer;
    mask(pci, 0, false);
  }
  assert.equal([pci.stats().deliveries, pci.stats().deliveriesBlocked], [2, 2]);
  assert.is(errors.length, 1, 'the refusal (EBUSY) reported; the 0 answer is only counted');
  assert.is((errors[0] as VfioError).errnoName, 'EBUSY');
  done(f);
});

test('MSI-X with KVM: without onError, a guest\'s flood of refused deliveries prints the first 10 and then each power of two, each numbered; every one counted', async () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f)));
  place(pci);
  program(pci, 0, 32, false);
  pci.configWrite(0x72, 2, 0x8000);
  f.signalAnswer = -16;
  const lines = await captureConsoleError(() => { for (let i = 0; i < 100; i++) { mask(pci, 0, true); f.fire(2, 0); mask(pci, 0, false); } });
  assert.is(pci.stats().deliveriesBlocked, 100, 'every refusal counted');
  assert.is(lines.length, 13, '1..10, 16, 32, 64');
  assert.ok(lines.every((l) => l.includes(`vfiokit: ${f.dev.name}: PCI passthrough`) && l.includes('EBUSY')), lines[0]);
  assert.not.match(lines[9]!, /report \d+/, 'the first 10 as they are');
  assert.equal(lines.slice(10).map((l) => /\(report (\d+);/.exec(l)?.[1]), ['16', '32', '64']);
  done(f);
});

test('MSI-X Function Mask: every live vector switches to its userspace eventfd, and back when it clears; no irqfd touched', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f)));
  place(pci);
  for (let n = 0; n < 3; n++) program(pci, n, 32 + n, false);
  pci.configWrite(0x72, 2, 0x8000);
  const irqfds = f.trace.filter((s) => s.startsWith('irqfd')).length;
  let mark = f.trace.length;
  pci.configWrite(0x72, 2, 0xc000);
  assert.equal(since(f, mark).map((s) => s.replace(/\[\d+\]/, '[fd]')), [0, 1, 2].map((n) => `set-irqs trigger 2 ${n} 1 [fd]`));
  f.fire(2, 1);
  assert.is(pci.mmioRead(PBA, 8), 2n, 'a fire under the function mask pends');
  mark = f.trace.length;
  pci.configWrite(0x72, 2, 0x8000);
  const s = since(f, mark);
  assert.is(s.filter((x) => x.startsWith('set-irqs')).length, 3);
  assert.ok(s.includes('signal-msi 0x8080040 33 24'), 'the pending vector delivered');
  assert.is(f.trace.filter((x) => x.startsWith('irqfd')).length, irqfds);
  done(f);
});

test('the guest\'s INTx Disable bit reaches the device with COMMAND (vfio-pci masks INTx for it)', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  const mark = f.trace.length;
  pci.configWrite(0x04, 2, 0x0400);
  assert.equal(since(f, mark), ['cfg-write 0x4 2 0x0400']);
  assert.is(pci.configRead(0x04, 2), 0x0400);
  done(f);
});

test('MSI-X: rewriting a masked vector\'s data updates its route at unmask; the irqfd stays', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f)));
  place(pci);
  program(pci, 0, 32, false);
  pci.configWrite(0x72, 2, 0x8000);
  mask(pci, 0, true);
  pci.mmioWrite(TABLE + 8n, 4, 99n);
  const mark = f.trace.length;
  mask(pci, 0, false);
  const s = since(f, mark);
  assert.is(s[0], 'routes 65', 'the whole table again: 64 irqchip pins and the route');
  assert.match(s[1]!, /^set-irqs trigger 2 0 1 \[\d+\]$/);
  assert.equal([pci.stats().routeUpdates, pci.stats().irqfdAssigns], [1, 1]);
  done(f);
});

for (const noresize of [false, true]) {
  test(`MSI-X grows to a vector unmasked past the enabled ones: ${noresize ? 'NORESIZE: disabled and re-enabled, live vectors delivered once' : 'in place, the others untouched'}`, () => {
    const f = fakePci({ noresize });
    const pci = f.dev.pci(f.options(kvmOpts(f)));
    place(pci);
    program(pci, 0, 32, false);
    pci.configWrite(0x72, 2, 0x8000);
    assert.is(pci.stats().enabledVectors, 1);
    program(pci, 5, 37);
    const mark = f.trace.length;
    mask(pci, 5, false);
    const s = since(f, mark).filter((x) => x.startsWith('set-irqs') || x.startsWith('signal'));
    if (noresize) {
      assert.is(s[0], 'set-irqs trigger 2 0 0');
      assert.match(s[1]!, /^set-irqs trigger 2 0 6 \[(\d+,){5}\d+\]$/);
      assert.is(s[2], 'signal-msi 0x8080040 32 24', 'vector 0 was live: one delivery for what the gap may have lost');
      assert.is(pci.stats().indexRebuilds, 1);
    } else {
      assert.equal(s.length, 1);
      assert.match(s[0]!, /^set-irqs trigger 2 1 5 \[(\d+,){4}\d+\]$/, 'vectors 1..5 added');
      assert.is(pci.stats().indexRebuilds, 0);
    }
    assert.is(pci.stats().enabledVectors, 6);
    const fds = f.triggers.get(2)!;
    assert.is(fds.size, 6);
    f.fire(2, 5);
    assert.equal(f.trace.at(-1), 'kvm-injects 2 5', 'vector 5 is on its irqfd');
    assert.is(pci.stats().irqfdAssigns, 2);
    done(f);
  });
}

test('MSI-X disabled: the index off, then INTx on again and re-wired (irqfd + resample)', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f, 5)));
  place(pci);
  program(pci, 0, 32, false);
  pci.configWrite(0x72, 2, 0x8000);
  const mark = f.trace.length;
  pci.configWrite(0x72, 2, 0x0000);
  const s = since(f, mark);
  assert.match(s[0]!, /^set-irqs trigger 2 1 1 \[\d+\]|^set-irqs trigger 2 0 1 \[\d+\]/, 'vector 0 back on its userspace eventfd (masked by the disable)');
  assert.is(s[1], 'set-irqs trigger 2 0 0');
  assert.match(s[2]!, /^set-irqs trigger 0 0 1 \[\d+\]$/, 'INTx on');
  assert.ok(s.some((x) => /^irqfd 5 \d+ resample$/.test(x)), 'INTx wired again');
  assert.is(pci.stats().mode, 'intx');
  done(f);
});

test('MSI (the edu\'s single vector) through the same path: userspace delivery of the shadow\'s address and data', () => {
  const { config, sizes } = edu();
  const f = fakePci({ config, sizes });
  const pci = f.dev.pci(f.options());
  assert.equal(f.trace.filter((s) => s.startsWith('set-irqs')).map((s) => s.replace(/\[\d+\]/, '[fd]')), ['set-irqs trigger 0 0 1 [fd]'], 'INTx first');
  pci.configWrite(0x44, 4, 0x0808_0040); pci.configWrite(0x48, 4, 0); pci.configWrite(0x4c, 2, 0x21);
  const mark = f.trace.length;
  pci.configWrite(0x42, 2, 0x0081);
  assert.equal(since(f, mark).map((s) => s.replace(/\[\d+\]/, '[fd]')), ['set-irqs trigger 0 0 0', 'set-irqs trigger 1 0 1 [fd]']);
  f.fire(1, 0);
  assert.equal(f.delivered, [[0x0808_0040n, 0x21]]);
  assert.is(pci.stats().mode, 'msi');
  done(f);
});

test('MSI with KVM and per-vector masks: 4 vectors on routes with their data bits; a masked vector pends until unmasked', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f)));
  pci.configWrite(0x54, 4, 0x0808_0040); pci.configWrite(0x58, 4, 0); pci.configWrite(0x5c, 2, 0x40);
  pci.configWrite(0x60, 4, 0x2); // vector 1 masked
  pci.configWrite(0x52, 2, 0x0021); // enable, 4 vectors
  assert.is(pci.stats().irqfdAssigns, 4);
  assert.equal(f.triggers.get(1)!.size, 4);
  assert.is(f.routes.commits, 1, 'the 4 routes in one commit');
  f.fire(1, 1);
  const mark = f.trace.length;
  pci.configWrite(0x60, 4, 0);
  const s = since(f, mark);
  assert.ok(s.includes('signal-msi 0x8080040 65 24'), 'vector 1: data 0x40 | 1');
  assert.equal(s.filter((x) => x.startsWith('routes') || x.startsWith('irqfd')), [], 'a mask write commits no route and touches no irqfd');
  assert.equal([pci.stats().routeUpdates, pci.stats().irqfdAssigns], [0, 4]);
  done(f);
});

test('userspace INTx: a fire raises the line and takes the BARs out of the guest; a trapped access is the EOI', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  place(pci);
  assert.is(f.slots.size, 2);
  f.fire(0, 0);
  assert.equal(f.intx, [true]);
  assert.is(f.slots.size, 0, 'every access traps until the EOI');
  const mark = f.trace.length;
  pci.mmioRead(BAR2, 4);
  assert.equal(f.intx, [true, false]);
  assert.ok(since(f, mark).includes('set-irqs unmask 0 0 1'), 'the level line unmasked at the EOI');
  done(f);
});

test('userspace INTx: the machine\'s timer gives the BARs back to the guest no sooner than 1.1 s (QEMU\'s timeout) after the last EOI; a fire meanwhile starts the wait again', async () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  place(pci);
  const ms = (): number => Number(process.hrtime.bigint() / 1_000_000n);
  f.fire(0, 0);
  pci.mmioRead(BAR2, 4);   // the EOI
  await new Promise((r) => setTimeout(r, 600));
  f.fire(0, 0);            // a second IRQ before the timer: out again (if they were back)
  assert.is(f.slots.size, 0, 'trapped while the line is up');
  pci.mmioRead(BAR2, 4);   // its EOI: the wait starts again from here
  const eoi = ms();
  assert.equal(f.intx, [true, false, true, false]);
  // Only lower bounds on time (a timer never fires early; a slow machine only makes it later).
  while (f.slots.size === 0 && ms() - eoi < 10_000) await new Promise((r) => setTimeout(r, 20));
  const back = ms() - eoi;
  assert.is(f.slots.size, 2, 'both BAR slots back');
  assert.ok(back >= 1100, `back ${back} ms after the last EOI, not before 1,100`);
  assert.ok(pci.stats().slotsMapped >= 4, 'installed at placement and again by the timer');
  done(f);
});

test('reset: interrupts off, VFIO_DEVICE_RESET, slots removed, vectors torn down (irqfds deassigned, routes removed), INTx back; the guest sees a function out of reset', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options(kvmOpts(f, 5)));
  place(pci);
  for (let n = 0; n < 2; n++) program(pci, n, 32 + n, false);
  pci.configWrite(0x72, 2, 0x8000);
  const mark = f.trace.length;
  pci.reset();
  const s = since(f, mark);
  const at = (re: RegExp) => s.findIndex((x) => re.test(x));
  assert.ok(at(/^set-irqs trigger 2 0 0$/) < at(/^reset$/), 'MSI-X off before the reset');
  assert.ok(at(/^reset$/) < at(/^unmap 0 /), 'then the slots');
  assert.is(s.filter((x) => / deassign$/.test(x)).length, 2, 'both vectors\' irqfds');
  assert.ok(at(/^routes 64$/) > at(/ deassign$/), 'routes removed after their irqfds');
  assert.match(s.at(-1)!, /^set-irqs unmask 0 0 1$/, 'INTx wired again last');
  assert.is(f.slots.size, 0);
  assert.is(pci.configRead(0x10, 4), 0x4, 'BAR0 unassigned');
  assert.is(pci.configRead(0x72, 2), 0x000f, 'MSI-X disabled');
  assert.is(pci.stats().mode, 'intx');
  assert.is(f.routes.msiRoutes, 0);
  place(pci);
  assert.is(f.slots.size, 2, 'placed again after the reset');
  done(f);
});

test('close: interrupts off, then vector irqfds and eventfds, then slots and mappings; every fd and mapping released; twice is harmless', () => {
  const f = fakePci();
  const before = new Set(f.fv.libc.openFds);
  const pci = f.dev.pci(f.options(kvmOpts(f, 5)));
  place(pci);
  for (let n = 0; n < 3; n++) program(pci, n, 32 + n, false);
  pci.configWrite(0x72, 2, 0x8000);
  assert.is(f.fv.libc.openFds.size - before.size, 3 + 3 + 1, 'per vector a userspace eventfd and an irqfd; INTx\'s eventfd (its irqfd and resample eventfds closed when MSI-X took over)');
  const mark = f.trace.length;
  f.dev.close();
  const s = since(f, mark);
  const at = (re: RegExp) => s.findIndex((x) => re.test(x));
  assert.ok(at(/^set-irqs trigger 2 0 0$/) < at(/ deassign$/), 'the index off before the irqfds go');
  assert.ok(at(/ deassign$/) < at(/^unmap /), 'then the slots');
  assert.is(f.slots.size, 0);
  assert.ok(pci.closed);
  pci.close();
  assert.is(f.fv.libc.mappings(), 0);
  assert.equal([...f.fv.libc.openFds].filter((x) => !before.has(x) && x !== f.vmFd), [], 'no fd left but the VM\'s');
  assert.throws(() => pci.configRead(0, 4), (e: VfioError) => e.kind === 'closed');
  done(f);
});

test('pci() refuses: a non-PCI device, a second passthrough, options without a delivery path', () => {
  const fv = fakeVfio();
  const pl = openDevice('9010000.pl031', { sys: fv.sys, sysfs: fv.sysfs });
  assert.throws(() => pl.pci({ mapMemory() {}, unmapMemory() {}, deliverMsi() {} }), (e: VfioError) => e.kind === 'not-supported');
  pl.close(); fv.dispose();
  const f = fakePci();
  assert.throws(() => f.dev.pci({ mapMemory() {}, unmapMemory() {} }), (e: VfioError) => e.kind === 'bad-argument' && /deliverMsi/.test(e.message));
  const pci = f.dev.pci(f.options());
  assert.throws(() => f.dev.pci(f.options()), (e: VfioError) => e.kind === 'bad-state');
  pci.close();
  f.dev.pci(f.options()).close();
  f.dev.close(); f.dispose();
});

test('what a guest does never throws: odd widths and offsets read all-ones and are counted', () => {
  const f = fakePci();
  const pci = f.dev.pci(f.options());
  place(pci);
  assert.is(pci.configRead(0x1001, 4) >>> 0, 0xffff_ffff);
  assert.is(pci.configRead(0x02, 3) >>> 0, 0xffff_ffff);
  pci.configWrite(0x03, 2, 0xffff);
  assert.is(pci.mmioRead(TABLE + 2n, 4), 0xffff_ffffn, 'a misaligned table read');
  assert.is(pci.mmioRead(BAR0, 3), 0xff_ffffn);
  assert.is(pci.mmioRead(0x2000_0000n, 4), undefined, 'not the device\'s');
  assert.is(pci.mmioWrite(0x2000_0000n, 4, 0n), false);
  assert.is(pci.config.stats().badReads, 2n);
  done(f);
});

void nvmeLike;
test.run();

// Runs INSIDE the lab guest: error paths of openDevice and the device API against the real
// kernel, each a VfioError with the right kind and a hint, with no fd left behind; and the
// virtio_mmio transport through vfio-platform.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { countFds } from '../support/fds';
import { allocDma, openDevice, VfioError } from '../../src/index';

const PL031 = '9010000.pl031', VIRTIO = 'a000000.virtio_mmio', EDU = '0000:00:02.0';
const fds = countFds;

function expectError(f: () => unknown, kind: string, hintIncludes?: string): VfioError {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  assert.ok(err instanceof VfioError, `expected a VfioError, got ${String(err)}`);
  const e = err as VfioError;
  assert.is(e.kind, kind, e.message);
  assert.ok(e.hint && e.hint.length > 0, `a hint: ${e.message}`);
  if (hintIncludes) assert.ok(e.hint!.includes(hintIncludes), `hint "${e.hint}" mentions ${hintIncludes}`);
  return e;
}

test('virtio_mmio via vfio-platform: magic "virt" at 0x000 and version 1 or 2 at 0x004', () => {
  const before = fds();
  const dev = openDevice(VIRTIO);
  try {
    assert.is(dev.iommu, 'noiommu');
    assert.is(dev.info.kind, 'platform');
    const r = dev.regions[0]!;
    assert.is(r.read32(0), 0x74726976);
    assert.ok([1, 2].includes(r.read32(4)), `version ${r.read32(4)}`);
    // vfio-platform offers mmap only for page-aligned, page-sized regions: this one is 0x200 bytes
    assert.is(r.size, 0x200n);
    assert.is(r.mmappable, false);
    expectError(() => r.map(), 'not-supported', 'read()');
  } finally { dev.close(); }
  assert.is(fds(), before);
});

test('a device name that does not exist: not-found, hint to list', () => {
  const before = fds();
  expectError(() => openDevice('9999999.nothing'), 'not-found', 'vfiokit list');
  expectError(() => openDevice('../../etc/passwd'), 'bad-argument');
  assert.is(fds(), before);
});

test('a device not bound to VFIO (9030000.pl061): bad-state with the vfiokit bind hint', () => {
  const before = fds();
  const e = expectError(() => openDevice('9030000.pl061'), 'bad-state', 'vfiokit bind 9030000.pl061');
  assert.is(e.device, '9030000.pl061');
  assert.is(fds(), before);
});

test('the same device twice in one process: busy', () => {
  const before = fds();
  const dev = openDevice(PL031);
  try {
    expectError(() => openDevice(PL031), 'busy');
  } finally { dev.close(); }
  assert.is(fds(), before);
  openDevice(PL031).close(); // and it opens again afterwards
});

test('the group held by another opener: EBUSY from the kernel, kind busy, everything opened so far closed', () => {
  const group = basename(readlinkSync('/sys/bus/pci/devices/0000:00:02.0/iommu_group'));
  const before = fds();
  const held = openSync(`/dev/vfio/${group}`, 'r+');
  try {
    const e = expectError(() => openDevice(EDU), 'busy', `/dev/vfio/${group}`);
    assert.is(e.errnoName, 'EBUSY');
    assert.ok(e.syscall?.startsWith('open'), e.syscall);
  } finally { closeSync(held); }
  assert.is(fds(), before);
  openDevice(EDU).close();
  assert.is(fds(), before);
});

test('use after close: kind closed on every entry point', () => {
  const before = fds();
  const dev = openDevice(EDU);
  const m = dev.regions[0]!.map();
  dev.close();
  for (const f of [() => dev.regions[0]!.read32(0), () => dev.regions[0]!.write32(4, 1), () => dev.regions[0]!.map(), () => m.read32(0),
    () => dev.reset(), () => dev.irqs[0]!.onTrigger(() => {}), () => dev.mapDma({ iova: 0x100000n, hostAddress: 0x10000n, size: 4096n }),
    () => dev.routeIrqs({ setLine() {} }), () => dev.fd]) {
    expectError(f, 'closed');
  }
  assert.is(fds(), before);
});

test('DMA on a no-IOMMU device: not-supported, "no IOMMU: DMA cannot be confined"', () => {
  const before = fds();
  const dev = openDevice(PL031);
  const buf = allocDma(4096);
  try {
    const e = expectError(() => dev.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 4096n }), 'not-supported');
    assert.ok(e.message.includes('no IOMMU: DMA cannot be confined'), e.message);
    expectError(() => dev.dmaInfo(), 'not-supported');
  } finally { dev.close(); buf.close(); }
  assert.is(fds(), before);
});

test('iommu options that do not fit the device: bad-argument', () => {
  const before = fds();
  expectError(() => openDevice(PL031, { iommu: 'type1' }), 'bad-argument', 'noiommu');
  expectError(() => openDevice(EDU, { iommu: 'noiommu' }), 'bad-argument', 'type1');
  assert.is(fds(), before);
});

test('a missing region or IRQ index keeps its index and is marked (edu: no VGA region; no ERR IRQ on conventional PCI)', () => {
  const dev = openDevice(EDU);
  try {
    expectError(() => dev.regions[7]!.map(), 'not-supported', 'read()');
    assert.is(dev.info.reset, false, 'edu offers no reset');
    expectError(() => dev.reset(), 'not-supported');
    assert.equal(dev.irqs.map((q) => [q.index, q.ok]), [[0, true], [1, true], [2, true], [3, false], [4, true]]);
    expectError(() => dev.irqs[3]!.onTrigger(() => {}), 'not-found');
    const vga = dev.regions[8]!;
    assert.is(vga.index, 8);
    assert.is(vga.ok, false, 'edu has no VGA region: the kernel refuses its info, the index stays');
    expectError(() => vga.read32(0), 'not-found');
  } finally { dev.close(); }
});

test.run();

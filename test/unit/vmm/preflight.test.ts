// The checks `vfiokit run` makes before a guest starts (src/vmm/preflight.ts), over a fake sysfs
// tree with a fake driver core behind it (test/support/fake-sysfs.ts): each failure the lab cannot
// provoke (no IOMMU and no noiommu, a group that is not viable, a sub-option the kind does not
// take, no /dev/kvm) is a VfioError with its kind and a hint, and --bind's bindings are put back,
// on success as on failure, each on the driver it had (none stays none).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { preflight } from '../../../src/vmm/preflight';
import { VfioError } from '../../../src/errors';
import { fakeKernel, makeFakeSysfs } from '../../support/fake-sysfs';

const kvmDir = mkdtempSync(join(tmpdir(), 'vfiokit-kvm-'));
const KVM = join(kvmDir, 'kvm');
writeFileSync(KVM, '');

const lab = () => makeFakeSysfs([
  { bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0 },
  { bus: 'platform', name: 'a000000.virtio_mmio', driver: 'vfio-platform', group: 1 },
  { bus: 'pci', name: '0000:00:03.0', driver: 'vfio-pci', group: 5 },
  { bus: 'pci', name: '0000:00:02.0', driver: 'vfio-pci', group: 6 },
  { bus: 'pci', name: '0000:00:06.0', driver: 'e1000e', group: 6 },
  { bus: 'pci', name: '0000:00:07.0', driver: 'vfio-pci', group: 7 },
  { bus: 'pci', name: '0000:00:07.1', driver: 'pcieport', group: 7 },
  { bus: 'amba', name: '9020000.rtc', driver: 'rtc-pl031' },
  { bus: 'amba', name: '9030000.rtc' },
], { 0: 'vfio-noiommu', 1: 'vfio-noiommu' });

const driverOf = (root: string, bus: string, name: string): string | null => {
  const p = join(root, 'bus', bus, 'devices', name, 'driver');
  return existsSync(p) ? basename(readlinkSync(p)) : null;
};
/** The VfioError `f` throws, or fails. */
function errorOf(f: () => unknown): VfioError {
  try { f(); } catch (e) { assert.ok(e instanceof VfioError, String(e)); return e as VfioError; }
  assert.unreachable('no error');
  throw new Error('unreachable');
}

test('devices on their VFIO drivers in viable groups pass: each step said, kinds and groups reported, nothing to put back', () => {
  const s = lab();
  try {
    const steps: string[] = [];
    const p = preflight([{ name: '9010000.pl031' }, { name: 'a000000.virtio_mmio', irqfd: false }, { name: '0000:00:03.0', irqfd: false }, { name: '0000:00:07.0' }], { sysfs: s.root, kvm: KVM, onStep: (l) => steps.push(l) });
    assert.equal(p.devices.map((d) => [d.name, d.bus, d.driver, d.group, d.noiommu, d.boundFrom]), [
      ['9010000.pl031', 'amba', 'vfio-amba', 0, true, undefined],
      ['a000000.virtio_mmio', 'platform', 'vfio-platform', 1, true, undefined],
      ['0000:00:03.0', 'pci', 'vfio-pci', 5, false, undefined],
      ['0000:00:07.0', 'pci', 'vfio-pci', 7, false, undefined],
    ]);
    assert.match(steps[0]!, /9010000\.pl031: amba device on vfio-amba, no-IOMMU group 0 \(its DMA is not confined\), viable/);
    assert.match(steps[2]!, /0000:00:03\.0: pci device on vfio-pci, IOMMU group 5, viable/);
    assert.equal(p.restore(), []);
  } finally { s.dispose(); }
});

test('each failure before boot: its kind, the device, a hint that says what to do', () => {
  const s = lab();
  try {
    const o = { sysfs: s.root, kvm: KVM };
    const rows: [Parameters<typeof preflight>[0], string, RegExp, RegExp][] = [
      [[{ name: '9999.nothing' }], 'not-found', /no such device/, /vfiokit list/],
      [[{ name: '9020000.rtc' }], 'bad-state', /9020000\.rtc: is on rtc-pl031, not on vfio-amba/, /vfiokit bind 9020000\.rtc.*--bind/],
      [[{ name: '9030000.rtc' }], 'bad-state', /is on no driver, not on vfio-amba/, /--bind/],
      [[{ name: '0000:00:02.0' }], 'not-viable', /IOMMU group 6 is not viable: 0000:00:06\.0 is on e1000e/, /vfiokit bind --group 0000:00:02\.0/],
      [[{ name: '0000:00:03.0', irqfd: false, mmapTimeoutMs: 100 }], 'bad-argument', /is a pci device, which does not take mmap-timeout/, /drop them from --device 0000:00:03\.0/],
      [[{ name: '0000:00:03.0', addr: 0x1000n }], 'bad-argument', /does not take addr/, /drop them/],
      [[{ name: '9010000.pl031' }, { name: '9010000.pl031' }], 'bad-argument', /specs\[1\]\.name/, /given twice: pass each device once/],
    ];
    for (const [specs, kind, message, hint] of rows) {
      const e = errorOf(() => preflight(specs, o));
      assert.is(e.kind, kind, e.message);
      assert.match(e.message, message);
      assert.match(e.hint ?? '', hint, e.message);
    }
    const k = errorOf(() => preflight([], { sysfs: s.root, kvm: join(kvmDir, 'none') }));
    assert.is(k.kind, 'not-found');
    assert.match(k.message, /cannot run a KVM guest/);
  } finally { s.dispose(); }
});

test('a device in no IOMMU group (no IOMMU, noiommu mode off) is refused, with the way to each mode', () => {
  const s = makeFakeSysfs([{ bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba' }, { bus: 'pci', name: '0000:00:03.0', driver: 'vfio-pci' }]);
  try {
    const amba = errorOf(() => preflight([{ name: '9010000.pl031' }], { sysfs: s.root, kvm: KVM }));
    assert.is(amba.kind, 'not-supported');
    assert.match(amba.message, /in no IOMMU group/);
    assert.match(amba.hint!, /vfio\.enable_unsafe_noiommu_mode=1/);
    const pci = errorOf(() => preflight([{ name: '0000:00:03.0' }], { sysfs: s.root, kvm: KVM }));
    assert.match(pci.hint!, /enable the IOMMU/);
  } finally { s.dispose(); }
});

test('--bind: each device goes to its VFIO driver and back to the driver it had, none staying none; a later failure puts the earlier ones back', () => {
  const s = lab();
  try {
    using k = fakeKernel(s.root, { groupOnProbe: { '9030000.rtc': 9, '9020000.rtc': 8 } });
    const steps: string[] = [];
    const p = preflight([{ name: '9020000.rtc' }, { name: '9030000.rtc' }, { name: '9010000.pl031' }], { sysfs: s.root, kvm: KVM, bind: true, onStep: (l) => steps.push(l) });
    assert.equal(p.devices.map((d) => [d.name, d.boundFrom]), [['9020000.rtc', 'rtc-pl031'], ['9030000.rtc', null], ['9010000.pl031', undefined]]);
    assert.is(driverOf(s.root, 'amba', '9020000.rtc'), 'vfio-amba');
    assert.is(driverOf(s.root, 'amba', '9030000.rtc'), 'vfio-amba');
    assert.ok(steps.some((l) => /9030000\.rtc: no driver -> vfio-amba \(--bind; put back after the run\)/.test(l)), steps.join('\n'));
    const back = p.restore();
    assert.equal(back.map((r) => [r.device, r.wanted, r.driver, r.ok]), [['9030000.rtc', null, null, true], ['9020000.rtc', 'rtc-pl031', 'rtc-pl031', true]], 'newest first');
    assert.is(driverOf(s.root, 'amba', '9020000.rtc'), 'rtc-pl031');
    assert.is(driverOf(s.root, 'amba', '9030000.rtc'), null);
    assert.equal(p.restore(), [], 'a second restore does nothing');
    assert.ok(!k.writes.some((w) => /9010000\.pl031/.test(w)), 'the device already on VFIO was not touched');

    // No KVM after the devices were bound: they go back before the error.
    const nokvm = errorOf(() => preflight([{ name: '9020000.rtc' }], { sysfs: s.root, kvm: join(kvmDir, 'none'), bind: true }));
    assert.match(nokvm.message, /cannot run a KVM guest/);
    assert.is(driverOf(s.root, 'amba', '9020000.rtc'), 'rtc-pl031', 'put back before the KVM error');

    // A failure after a bind: the bound one goes back before the error is thrown.
    const e = errorOf(() => preflight([{ name: '9020000.rtc' }, { name: '0000:00:02.0' }], { sysfs: s.root, kvm: KVM, bind: true }));
    assert.is(e.kind, 'not-viable');
    assert.is(driverOf(s.root, 'amba', '9020000.rtc'), 'rtc-pl031', 'put back before the error');
  } finally { s.dispose(); }
});

test('--bind that the VFIO driver refuses: bind\'s own error, and the device left as it was', () => {
  const s = lab();
  try {
    using _k = fakeKernel(s.root, { refuse: ['9020000.rtc'] });
    const e = errorOf(() => preflight([{ name: '9020000.rtc' }], { sysfs: s.root, kvm: KVM, bind: true }));
    assert.is(e.kind, 'not-supported');
    assert.match(e.message, /vfio-amba did not take the device/);
    assert.is(driverOf(s.root, 'amba', '9020000.rtc'), 'rtc-pl031');
  } finally { s.dispose(); }
});

test.after(() => rmSync(kvmDir, { recursive: true, force: true }));
test.run();

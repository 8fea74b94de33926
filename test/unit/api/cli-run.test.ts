// `vfiokit run` through the command line (runCli, as bin/vfiokit runs it), over a fake sysfs tree
// with a fake driver core (test/support/fake-sysfs.ts): the exit status and the message of each
// way it stops before a guest starts, the steps on stderr, nothing on stdout, and --bind's bindings
// put back when the run cannot go on. The lab (test/lab/vmm-run*.test.ts) boots real guests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fakeKernel, makeFakeSysfs } from '../../support/fake-sysfs';
import { cli } from './cli-capture';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-cli-run-'));
const KERNEL = join(dir, 'Image');
writeFileSync(KERNEL, new Uint8Array(64));
const tree = () => makeFakeSysfs([
  { bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0 },
  { bus: 'amba', name: '9020000.rtc', driver: 'rtc-pl031' },
  { bus: 'pci', name: '0000:00:03.0', driver: 'vfio-pci', group: 5 },
], { 0: 'vfio-noiommu' });
const driverOf = (root: string, name: string): string | null => {
  const p = join(root, 'bus', 'amba', 'devices', name, 'driver');
  return existsSync(p) ? basename(readlinkSync(p)) : null;
};

test('a bad option: exit 2, the option named on stderr with the usage, nothing read', async () => {
  const r = await cli('run', '--kernel', join(dir, 'missing'), '--mem', '12Q');
  assert.is(r.code, 2);
  assert.is(r.out, '');
  assert.match(r.err, /^vfiokit run: --mem 12Q: not a size; write it like 512M or 1G/);
  assert.match(r.err, /usage: vfiokit run --kernel IMAGE/);
});

test('a kernel that cannot be read: exit 1, the option and what to give', async () => {
  const r = await cli('run', '--kernel', join(dir, 'missing'));
  assert.is(r.code, 1);
  assert.match(r.err, /--kernel .*missing: cannot read it \(open: ENOENT\) - give the path of an arm64 Image/);
});

test('a device that cannot be passed through: exit 1 with its hint, after the steps that passed, before any guest', async () => {
  const s = tree();
  try {
    const missing = await cli('run', '--kernel', KERNEL, '--sysfs', s.root, '--device', '9010000.pl031', '--device', '9999.nothing');
    assert.is(missing.code, 1);
    assert.match(missing.err, /vfiokit run: 9010000\.pl031: amba device on vfio-amba, no-IOMMU group 0/);
    assert.match(missing.err, /9999\.nothing: no such device on the platform, AMBA or PCI bus - list the devices with `vfiokit list`/);
    assert.not.match(missing.err, /KVM_RUN|opened/);
    assert.is(missing.out, '', 'no guest console');

    const unbound = await cli('run', '--kernel', KERNEL, '--sysfs', s.root, '--device', '9020000.rtc');
    assert.is(unbound.code, 1);
    assert.match(unbound.err, /9020000\.rtc: is on rtc-pl031, not on vfio-amba - bind it first \(vfiokit bind 9020000\.rtc\), or add --bind/);

    const kind = await cli('run', '--kernel', KERNEL, '--sysfs', s.root, '--device', '0000:00:03.0,identity');
    assert.is(kind.code, 1);
    assert.match(kind.err, /0000:00:03\.0: is a pci device, which does not take identity/);
  } finally { s.dispose(); }
});

test('--bind, then a failure before boot: the device is put back on the driver it had', async () => {
  const s = tree();
  try {
    using k = fakeKernel(s.root);
    const r = await cli('run', '--kernel', KERNEL, '--sysfs', s.root, '--bind', '--device', '9020000.rtc', '--device', '9999.nothing');
    assert.is(r.code, 1);
    assert.match(r.err, /9020000\.rtc: rtc-pl031 -> vfio-amba \(--bind; put back after the run\)/);
    assert.match(r.err, /9020000\.rtc: vfio-amba -> rtc-pl031 \(as it was\)/);
    assert.is(driverOf(s.root, '9020000.rtc'), 'rtc-pl031');
    assert.ok(k.writes.some((w) => /driver_override <- "vfio-amba"/.test(w)), 'it was bound');
  } finally { s.dispose(); }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

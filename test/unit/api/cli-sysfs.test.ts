// The sysfs-backed CLI commands against a fake tree: table and --json output, argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMANDS } from '../../../src/cli/commands';
import { VfioError } from '../../../src/errors';
import { makeFakeSysfs } from '../../support/fake-sysfs';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try { return { code: await fn(), out: lines.join('\n') }; } finally { console.log = orig; }
}

const tree = () => makeFakeSysfs([
  { bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0, compatible: ['arm,pl031', 'arm,primecell'] },
  { bus: 'pci', name: '0000:00:02.0', driver: 'vfio-pci', group: 1, vendor: '1234', device: '11e8' },
], { 0: 'vfio-noiommu' });

test('list prints one row per device with its driver, group and IDs', async () => {
  const s = tree();
  try {
    const r = await capture(() => COMMANDS.list!.run(['--sysfs', s.root]));
    assert.is(r.code, 0);
    const rows = r.out.split('\n');
    assert.match(rows[0]!, /^DEVICE\s+BUS\s+DRIVER\s+GROUP\s+VFIO\s+ID$/);
    assert.match(rows[1]!, /^9010000\.pl031\s+amba\s+vfio-amba\s+noiommu-0\s+yes\s+arm,pl031,arm,primecell$/);
    assert.match(rows[2]!, /^0000:00:02\.0\s+pci\s+vfio-pci\s+1\s+yes\s+1234:11e8$/);
  } finally { s.dispose(); }
});

test('list --json is the DeviceEntry array', async () => {
  const s = tree();
  try {
    const r = await capture(() => COMMANDS.list!.run(['--json', `--sysfs=${s.root}`]));
    const j = JSON.parse(r.out);
    assert.equal(j.map((d: { name: string; iommuGroup: number; noiommu: boolean }) => [d.name, d.iommuGroup, d.noiommu]), [['9010000.pl031', 0, true], ['0000:00:02.0', 1, false]]);
  } finally { s.dispose(); }
});

test('an unknown option is an error that shows the usage', async () => {
  try { await COMMANDS.list!.run(['--jsn']); assert.unreachable(); } catch (e) {
    assert.ok(e instanceof VfioError && e.kind === 'bad-argument');
    assert.match((e as VfioError).message, /unknown option --jsn.*usage: vfiokit list/);
  }
});

test('bind without a device name says how to call it', async () => {
  try { await COMMANDS.bind!.run([]); assert.unreachable(); } catch (e) {
    assert.ok(e instanceof VfioError && e.kind === 'bad-argument');
    assert.match((e as VfioError).message, /usage: vfiokit bind <device>/);
  }
});

test.run();

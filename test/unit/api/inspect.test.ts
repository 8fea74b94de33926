// `vfiokit inspect` over the fake VFIO kernel: the table and the stable --json report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInspect, flagNames } from '../../../src/cli/inspect';
import { COMMANDS } from '../../../src/cli/commands';
import { UsageError } from '../../../src/cli/args';
import { fakeVfio } from './fake-vfio';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try { return { code: await fn(), out: lines.join('\n') }; } finally { console.log = orig; }
}

test('inspect is in the commands table', () => {
  assert.ok(COMMANDS.inspect);
});

test('inspect --json: device kind and flags, IOMMU type and group, regions with split, IRQs; the device is closed after', async () => {
  const f = fakeVfio();
  try {
    const r = await capture(() => runInspect(['9010000.pl031', '--json', '--sysfs', f.sysfs], { sys: f.sys }));
    assert.is(r.code, 0);
    const j = JSON.parse(r.out);
    assert.equal(Object.keys(j), ['device', 'bus', 'kind', 'flags', 'flagNames', 'reset', 'iommu', 'regions', 'irqs']);
    assert.equal([j.device, j.bus, j.kind, j.flags, j.flagNames, j.reset], ['9010000.pl031', 'amba', 'amba', 8, ['AMBA'], false]);
    assert.equal(j.iommu, { type: 'noiommu', group: 0, groupPath: '/dev/vfio/noiommu-0' });
    assert.equal(j.regions, [{ index: 0, name: 'reg0', ok: true, flags: 7, flagNames: ['READ', 'WRITE', 'MMAP'], size: '0x1000', offset: '0x0', sparse: null, split: [{ offset: '0x0', size: '0x1000', kind: 'map' }] }]);
    assert.equal(j.irqs, [{ index: 0, name: 'irq0', ok: true, flags: 7, flagNames: ['EVENTFD', 'MASKABLE', 'AUTOMASKED'], count: 1, level: true }]);
    assert.is(f.libc.openFds.size, 0);
  } finally { f.dispose(); }
});

test('inspect prints tables: a header line, the IOMMU line, one row per region and IRQ', async () => {
  const f = fakeVfio();
  try {
    const r = await capture(() => runInspect(['0000:00:02.0', '--iommu', 'type1', '--sysfs', f.sysfs], { sys: f.sys }));
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /^0000:00:02\.0: pci device on the pci bus, flags 0x3 \(RESET,PCI\), reset: yes$/);
    assert.is(lines[1], 'IOMMU: type1, group 1 (/dev/vfio/1)');
    assert.match(lines[3]!, /^REGION\s+NAME\s+FLAGS\s+SIZE\s+OFFSET\s+SPARSE\s+MAP\/TRAP$/);
    assert.match(lines[4]!, /^0\s+BAR0\s+READ,WRITE,MMAP\s+0x1000\s+0x0\s+-\s+map 0x0\+0x1000$/);
    assert.match(lines[5]!, /^1\s+BAR1\s+READ,WRITE,MMAP\s+0x1000\s+0x10000000000\s+-\s+map 0x0\+0x1000$/);
    assert.match(lines[7]!, /^IRQ\s+NAME\s+FLAGS\s+COUNT\s+TRIGGER$/);
    assert.match(lines[8]!, /^0\s+INTX\s+EVENTFD,MASKABLE,AUTOMASKED\s+1\s+level$/);
  } finally { f.dispose(); }
});

test('inspect: no device name, two names, an unknown option are usage errors', async () => {
  for (const args of [[], ['a', 'b'], ['9010000.pl031', '--bogus']]) {
    await runInspect(args).then(() => assert.unreachable('no error'), (e) => assert.ok(e instanceof UsageError, String(e)));
  }
});

test('flagNames names unknown bits', () => {
  assert.equal(flagNames(0x21, ['A', 'B']), ['A', 'BIT5']);
});

test.run();

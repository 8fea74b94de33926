// Runs INSIDE the lab guest: the `vfiokit inspect` command against the real kernel, as a user runs it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';

const run = (...args: string[]): string => execFileSync('vfiokit', ['inspect', ...args], { encoding: 'utf8' });

test('inspect 9010000.pl031 --json: AMBA, noiommu, one mappable 0x1000 region, one level IRQ', () => {
  const j = JSON.parse(run('9010000.pl031', '--json'));
  assert.equal([j.kind, j.flagNames, j.iommu.type], ['amba', ['AMBA'], 'noiommu']);
  assert.is(j.regions.length, 1);
  assert.equal(j.regions[0].split, [{ offset: '0x0', size: '0x1000', kind: 'map' }]);
  assert.equal([j.irqs[0].count, j.irqs[0].level, j.irqs[0].flagNames], [1, true, ['EVENTFD', 'MASKABLE', 'AUTOMASKED']]);
});

test('inspect a000000.virtio_mmio: a 0x200 region that is trapped, not mapped', () => {
  const j = JSON.parse(run('a000000.virtio_mmio', '--json'));
  assert.is(j.kind, 'platform');
  assert.is(j.regions[0].size, '0x200');
  assert.equal(j.regions[0].split, [{ offset: '0x0', size: '0x200', kind: 'trap' }]);
});

test('inspect 0000:00:02.0 (table): PCI, type1 group, BAR0 mapped, CONFIG trapped, VGA unavailable, INTX level', () => {
  const out = run('0000:00:02.0');
  console.log(out);
  assert.match(out, /^0000:00:02\.0: pci device on the pci bus, flags 0x2 \(PCI\), reset: no$/m, 'edu has no FLR or PM reset');
  assert.match(out, /^IOMMU: type1, group \d+ \(\/dev\/vfio\/\d+\)$/m);
  assert.match(out, /^0\s+BAR0\s+READ,WRITE,MMAP\s+0x100000\s+0x0\s+-\s+map 0x0\+0x100000$/m);
  assert.match(out, /^7\s+CONFIG\s+READ,WRITE\s+0x(100|1000)\s+0x70000000000\s+-\s+trap 0x0\+0x(100|1000)$/m);
  assert.match(out, /^8\s+VGA\s+unavailable \(EINVAL\)/m);
  assert.match(out, /^0\s+INTX\s+EVENTFD,MASKABLE,AUTOMASKED\s+1\s+level$/m);
});

test('inspect of a device not bound to VFIO exits 1 with the bind hint', () => {
  try { run('9030000.pl061'); assert.unreachable('it succeeded'); } catch (e) {
    const err = e as { status: number; stderr: string };
    assert.is(err.status, 1);
    assert.match(String(err.stderr), /vfiokit bind 9030000\.pl061/);
  }
});

test.run();

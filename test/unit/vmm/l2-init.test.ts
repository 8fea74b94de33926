// The L2 guest's /init (examples/mini-vmm/linux/init.c, nvme.c, sha256.c) compiled for this host
// and run as a normal program: its SHA-256 against node's, its PCI lines read from a fake sysfs
// tree holding the config space L1 read from the lab's NVMe (test/fixtures/lab/nvme-config-nvme.bin,
// captured with `npm run lab -- 'base64 -w0 /sys/bus/pci/devices/0000:00:03.0/config'` while L1's
// nvme driver had it; the edu's, test/fixtures/lab/edu-config-vfio-pci.bin, the same way from
// 0000:00:02.0 on vfio-pci), and test/support/l2-lines.ts reading those lines back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseL2 } from '../../support/l2-lines';
// @ts-ignore: a plain ESM module of the lab scripts
import { pattern } from '../../../lab/disk.mjs';

const SRC = 'examples/mini-vmm/linux';
/** What linux/build.mjs compiles: every .c file there. */
const SOURCES = readdirSync(SRC).filter((f) => f.endsWith('.c')).sort();
const dir = mkdtempSync(join(tmpdir(), 'vfiokit-l2-init-'));
const init = join(dir, 'init');
const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', init, ...SOURCES.map((f) => join(SRC, f))], { encoding: 'utf8' });
const built = !cc.error;
const run = (...args: string[]) => spawnSync(init, args, { encoding: 'utf8' });
const skip = (): boolean => { if (!built) console.log(`  SKIP: no host C compiler (cc: ${cc.error?.message}); lab/deps.sh installs gcc`); return !built; };

test('the /init sources compile for this host too, warning-free', () => {
  if (skip()) return;
  assert.is(cc.status, 0, cc.stderr);
});

test('init sha256 FILE: the FIPS 180-4 implementation agrees with node\'s at every padding boundary and on the lab disk\'s pattern', () => {
  if (skip()) return;
  const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 65_535, 65_536, 65_537, 300_001];
  for (const n of lengths) {
    const f = join(dir, `data-${n}`);
    const data = randomBytes(n);
    writeFileSync(f, data);
    assert.is(run('sha256', f).stdout, `sha256 ${createHash('sha256').update(data).digest('hex')}\n`, `${n} bytes`);
  }
  const p = join(dir, 'pattern');
  writeFileSync(p, pattern());
  assert.is(run('sha256', p).stdout, `sha256 ${createHash('sha256').update(readFileSync(p)).digest('hex')}\n`);
});

/** A sysfs tree with the lab's edu (0000:00:02.0, L1's config, on vfio-pci), NVMe (0000:00:03.0,
 *  `config` given, on nvme) and a host bridge (0000:00:00.0, as QEMU's virt machine shows one). */
function fakeSysfs(config: Buffer): string {
  const root = mkdtempSync(join(dir, 'sysfs-'));
  const fn = (bdf: string, vendor: string, device: string, cls: string): string => {
    const d = join(root, 'sys/bus/pci/devices', bdf);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'vendor'), `${vendor}\n`); writeFileSync(join(d, 'device'), `${device}\n`); writeFileSync(join(d, 'class'), `${cls}\n`);
    return d;
  };
  const empty = '0x0000000000000000 0x0000000000000000 0x0000000000000000\n';
  fn('0000:00:00.0', '0x1b36', '0x0008', '0x060000');
  const edu = fn('0000:00:02.0', '0x1234', '0x11e8', '0x00ff00');
  writeFileSync(join(edu, 'config'), EDU_CONFIG);
  writeFileSync(join(edu, 'resource'), `0x0000000010000000 0x00000000100fffff 0x0000000000040200\n${empty.repeat(6)}`);
  writeFileSync(join(edu, 'irq'), '23\n');
  mkdirSync(join(root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true });
  symlinkSync('../../../../bus/pci/drivers/vfio-pci', join(edu, 'driver'));
  const nvme = fn('0000:00:03.0', '0x1b36', '0x0010', '0x010802');
  writeFileSync(join(nvme, 'config'), config);
  writeFileSync(join(nvme, 'resource'), `0x0000008000000000 0x0000008000003fff 0x0000000000140204\n${empty.repeat(6)}`);
  writeFileSync(join(nvme, 'irq'), '18\n');
  mkdirSync(join(root, 'sys/bus/pci/drivers/nvme'), { recursive: true });
  symlinkSync('../../../../bus/pci/drivers/nvme', join(nvme, 'driver'));
  return root;
}
const LAB_CONFIG = readFileSync('test/fixtures/lab/nvme-config-nvme.bin');
const EDU_CONFIG = readFileSync('test/fixtures/lab/edu-config-vfio-pci.bin');

test('init pci: every function, then the NVMe function\'s config as the lab\'s L1 saw it, then the edu\'s (no bridge), line for line', () => {
  if (skip()) return;
  const r = run('pci', '--sysfs', fakeSysfs(LAB_CONFIG));
  assert.is(r.status, 0, r.stderr);
  const v = 'l2: pci-view 0000:00:03.0', e = 'l2: pci-view 0000:00:02.0';
  assert.is(r.stdout, [
    'l2: pci 0000:00:00.0 1b36:0008',
    'l2: pci 0000:00:02.0 1234:11e8',
    'l2: pci 0000:00:03.0 1b36:0010',
    `${v} id 1b36:0010 class 0x010802 rev 0x02`,
    `${v} cap 0x40 id 0x11`, `${v} cap 0x80 id 0x10`, `${v} cap 0x60 id 0x01`,
    `${v} bar 0 addr 0x8000000000 size 0x4000 flags 0x140204`,
    `${v} bar-reg 0 0x00000004`, `${v} bar-reg 1 0x00000080`, `${v} bar-reg 2 0x00000000`, `${v} bar-reg 3 0x00000000`, `${v} bar-reg 4 0x00000000`, `${v} bar-reg 5 0x00000000`,
    `${v} msix cap 0x40 table-size 65 table-bar 0 table-offset 0x2000 pba-bar 0 pba-offset 0x3000 enabled 1 function-mask 0`,
    `${v} command 0x0406 memory 1 bus-master 1 intx-disable 1`,
    `${v} status 0x0010`,
    `${v} intx pin 1 irq 18`,
    `${v} driver nvme`,
    `${e} id 1234:11e8 class 0x00ff00 rev 0x10`,
    `${e} cap 0x40 id 0x05`,
    `${e} bar 0 addr 0x10000000 size 0x100000 flags 0x40200`,
    `${e} bar-reg 0 0x10000000`, `${e} bar-reg 1 0x00000000`, `${e} bar-reg 2 0x00000000`, `${e} bar-reg 3 0x00000000`, `${e} bar-reg 4 0x00000000`, `${e} bar-reg 5 0x00000000`,
    `${e} msi cap 0x40 enabled 0 multiple-enable 0 addr64 1 maskable 0`,
    `${e} command 0x0000 memory 0 bus-master 0 intx-disable 0`,
    `${e} status 0x0010`,
    `${e} intx pin 1 irq 23`,
    `${e} driver vfio-pci`,
  ].join('\n') + '\n');
});

test('init pci: a capability chain that loops ends after 48 entries; an extended capability is listed; a short (non-root) config read says so', () => {
  if (skip()) return;
  const looped = Buffer.from(LAB_CONFIG);
  looped[0x61] = 0x40; // the last capability (PM at 0x60) points back to the first
  looped.writeUInt32LE(0x0001 | (2 << 16) | (0 << 20), 0x100); // AER, version 2, end of the list
  const out = run('pci', '--sysfs', fakeSysfs(looped)).stdout;
  assert.is([...out.matchAll(/0000:00:03\.0 cap 0x[0-9a-f]+ id /g)].length, 48);
  assert.match(out, /^l2: pci-view 0000:00:03\.0 ecap 0x100 id 0x0001 ver 2$/m);
  const short = run('pci', '--sysfs', fakeSysfs(LAB_CONFIG.subarray(0, 64)));
  assert.match(short.stdout, /^l2: pci-view 0000:00:03\.0 id 1b36:0010/m, '64 bytes are enough for the header');
  const none = run('pci', '--sysfs', fakeSysfs(LAB_CONFIG.subarray(0, 16)));
  assert.match(none.stdout, /^l2: pci-view 0000:00:03\.0 config short \(16 bytes: not root\?\)$/m);
  assert.is(none.status, 1);
});

test('init pci --bdf of a function that is not NVMe: the NVMe part is skipped, in one line', () => {
  if (skip()) return;
  const r = run('pci', '--sysfs', fakeSysfs(LAB_CONFIG), '--bdf', '0000:00:02.0');
  assert.is(r.status, 1);
  assert.match(r.stdout, /^l2: nvme-skip no PCI NVMe function \(class 0x010802\)$/m);
});

test('not PID 1 and no known mode: usage on stderr, exit 2, nothing powered off', () => {
  if (skip()) return;
  for (const args of [[], ['reboot'], ['nvme', '--bogus', 'x'], ['nvme', '--bdf'], ['sha256']]) {
    const r = run(...args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^usage: init nvme/);
  }
});

test('parseL2 reads the lines from a console (printk stamps) as from stdout', () => {
  const sha = 'c'.repeat(64), w = 'd'.repeat(64);
  const text = [
    '[    5.100000] l2: pci 0000:00:01.0 1b36:0010',
    '[    5.100100] l2: pci-view 0000:00:01.0 msix cap 0x40 table-size 65 table-bar 0 table-offset 0x2000 pba-bar 0 pba-offset 0x3000 enabled 1 function-mask 0',
    '[    5.100200] l2: pci-view 0000:00:01.0 bar 0 addr 0x10000000 size 0x4000 flags 0x140204',
    '[    5.100300] l2: pci-view 0000:00:01.0 command 0x0406 memory 1 bus-master 1 intx-disable 1',
    `l2: sha256 pattern ${sha} expected ${sha}`,
    `l2: sha256 write ${w} read ${w}`,
    'l2: nvme-irq-mode msix',
    'l2: nvme-irq 21:         12  ITS-PCI-MSIX-0000:00:01.0   0 Edge      nvme0q0',
    'l2: nvme-irq 22:        300  ITS-PCI-MSIX-0000:00:01.0   1 Edge      nvme0q1',
    'l2: nvme-figures read-mbs 12.5 write-mbs 3.0 ios 384 irqs 300 probe-ms 812 seen-ms 1234',
    'l2: nvme-randread begin reads 2000 block 4096',
    'l2: nvme-randread iops 1530 reads 2000 block 4096 ms 1307.2 ios 2001 irqs 1999',
    'l2: nvme-verdict PASS',
  ].join('\r\n');
  const r = parseL2(text);
  assert.equal(r.pci, [{ bdf: '0000:00:01.0', id: '1b36:0010' }]);
  const v = r.views.get('0000:00:01.0')!;
  assert.equal(v.msix, { cap: 0x40, tableSize: 65, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000, enabled: true, functionMask: false });
  assert.equal(v.bars.get(0), { addr: 0x1000_0000n, size: 0x4000n, flags: 0x140204 });
  assert.equal(v.command, { value: 0x406, memory: true, busMaster: true, intxDisable: true });
  assert.equal(r.pattern, { read: sha, expected: sha });
  assert.equal(r.write, { wrote: w, read: w });
  assert.is(r.irqMode, 'msix');
  assert.equal(r.irqLines.map((l) => l.total), [12, 300]);
  assert.equal(r.figures, { readMbs: 12.5, writeMbs: 3, ios: 384, irqs: 300, probeMs: 812, seenMs: 1234 });
  assert.equal(r.randread, { iops: 1530, reads: 2000, block: 4096, ms: 1307.2, ios: 2001, irqs: 1999 }, 'the begin marker is not the figures');
  assert.is(r.nvmeVerdict, 'PASS');
});

test.run();

// The command line as docs/CLI.md describes it: -h/--help on every command (stdout, exit 0),
// usage errors (stderr, exit 2), --version, `--` ending the options, and each case issue 14 found
// in the hand-written parser (`list -h` listed devices, `inspect -h` took -h for a device, ...).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../../src/cli/commands';
import { parseCommand, UsageError, type CommandSpec } from '../../../src/cli/args';
import { makeFakeSysfs } from '../../support/fake-sysfs';
import { cli } from './cli-capture';

const FIX = 'test/fixtures/lab';
const PL031_OFFLINE = ['9010000.pl031', '--info', join(FIX, 'inspect-9010000.pl031.json'), '--host-dtb', join(FIX, 'host.dtb')];

for (const name of Object.keys(COMMANDS)) {
  for (const h of ['-h', '--help']) {
    test(`${name} ${h}: the command's usage on stdout, exit 0, nothing run`, async () => {
      const r = await cli(name, h);
      assert.is(r.code, 0, r.err);
      assert.is(r.err, '');
      assert.match(r.out, new RegExp(`usage: vfiokit ${name}\\b`));
      assert.match(r.out, /-h, --help\s+print this help and exit/);
      assert.not.match(r.out, /walkthrough: every step worked|FAILED/, 'the walkthrough did not run');
    });
  }
}

test('list -h prints the help, not the devices (it listed them before)', async () => {
  const s = makeFakeSysfs([{ bus: 'amba', name: '9010000.pl031' }]);
  try {
    const r = await cli('list', '-h', '--sysfs', s.root);
    assert.is(r.code, 0);
    assert.not.match(r.out, /9010000\.pl031/);
    assert.match(r.out, /^list platform, AMBA and PCI devices/);
  } finally { s.dispose(); }
});

test('inspect -h is help, not a device named -h; after `--` a -h is a device name (and not a valid one: exit 2)', async () => {
  const help = await cli('inspect', '-h');
  assert.is(help.code, 0);
  assert.match(help.out, /usage: vfiokit inspect <device>/);
  const dashed = await cli('inspect', '--', '-h');
  assert.is(dashed.code, 2);
  assert.match(dashed.err, /^vfiokit inspect: '-h' is not a device name/);
});

test('list extra: a stray positional is a usage error naming it', async () => {
  const r = await cli('list', 'extra');
  assert.is(r.code, 2);
  assert.match(r.err, /^vfiokit list: /);
  assert.match(r.err, /'extra'/);
  assert.match(r.err, /usage: vfiokit list/);
  assert.is(r.out, '');
});

test('list --json=no: a value given to a flag is a usage error', async () => {
  const r = await cli('list', '--json=no');
  assert.is(r.code, 2);
  assert.match(r.err, /Option '--json' does not take an argument/);
});

test('a string option without its value, and one followed by another option, are usage errors', async () => {
  const missing = await cli('list', '--sysfs');
  assert.is(missing.code, 2);
  assert.match(missing.err, /--sysfs <value>' argument missing/);
  const ambiguous = await cli('inspect', 'x', '--iommu', '--json');
  assert.is(ambiguous.code, 2);
  assert.match(ambiguous.err, /'--iommu' argument is ambiguous/);
});

test('inspect --iommu bogus: a value outside the choices names them (exit 2, before anything is opened)', async () => {
  const r = await cli('inspect', '9010000.pl031', '--iommu', 'bogus', '--sysfs', '/nonexistent');
  assert.is(r.code, 2);
  assert.match(r.err, /--iommu bogus: one of auto, type1, noiommu, iommufd/);
});

test('every usage error exits 2: an unknown command, none at all, two devices, a bad device name, fdt show', async () => {
  for (const argv of [['frobnicate'], [], ['inspect', 'a', 'b'], ['bind', '../etc'], ['fdt', 'show', 'x'], ['fdt', 'dump'], ['walkthrough', 'now'], ['unbind', '--bogus', 'x']]) {
    const r = await cli(...argv);
    assert.is(r.code, 2, `vfiokit ${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, /usage: vfiokit/, `vfiokit ${argv.join(' ')}`);
    assert.is(r.out, '', `vfiokit ${argv.join(' ')} printed on stdout`);
  }
});

test('vfiokit --help and help: the command list on stdout, exit 0', async () => {
  for (const h of ['--help', '-h', 'help']) {
    const r = await cli(h);
    assert.is(r.code, 0);
    for (const name of Object.keys(COMMANDS)) assert.match(r.out, new RegExp(`vfiokit ${name} `));
  }
});

test('vfiokit --version prints the version of package.json', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const r = await cli('--version');
  assert.is(r.code, 0);
  assert.is(r.out, `vfiokit ${version}\n`);
  assert.is((await cli('--version', 'extra')).code, 2);
});

test('dt -o FILE and --output FILE write the file (no argv rewriting); -o without a file is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-args-'));
  try {
    for (const o of ['-o', '--output']) {
      const file = join(dir, `${o.replace(/-/g, '')}.dtb`);
      const r = await cli('dt', ...PL031_OFFLINE, '--mmio-base', '0xc000000', '--spi', '112', '--format', 'dtb', o, file);
      assert.is(r.code, 0, r.err);
      assert.is(r.out, '');
      assert.ok(existsSync(file));
      assert.is(readFileSync(file).readUInt32BE(0), 0xd00dfeed, 'an FDT header');
    }
    const r = await cli('dt', ...PL031_OFFLINE, '-o');
    assert.is(r.code, 2);
    assert.match(r.err, /'-o, --output <value>' argument missing/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('dt --page-size 1234 names the option and the allowed sizes (before: the core\'s scratch-area message)', async () => {
  for (const p of ['1234', '2048', '131072', '12288']) {
    const r = await cli('dt', ...PL031_OFFLINE, '--mmio-base', '0xc000000', '--spi', '112', '--page-size', p);
    assert.is(r.code, 2, `--page-size ${p}`);
    assert.match(r.err, new RegExp(`^vfiokit dt: --page-size ${p} is not a power of two from 4096 to 65536`));
  }
  for (const p of ['4096', '16384', '0x10000']) {
    const r = await cli('dt', ...PL031_OFFLINE, '--mmio-base', '0xc000000', '--spi', '112', '--page-size', p);
    assert.is(r.code, 0, `--page-size ${p}: ${r.err}`);
    assert.match(r.out, /pl031@c000000/);
  }
});

test('dt of an AMBA device without a placement says "an AMBA device", exit 2', async () => {
  const r = await cli('dt', ...PL031_OFFLINE);
  assert.is(r.code, 2);
  assert.match(r.err, /9010000\.pl031 is an AMBA device: --mmio-base and --spi place it/);
});

test('dt --mmio-base xyz and --format yaml are usage errors naming the option', async () => {
  const base = await cli('dt', ...PL031_OFFLINE, '--mmio-base', 'xyz', '--spi', '1');
  assert.is(base.code, 2);
  assert.match(base.err, /--mmio-base xyz is not a non-negative integer/);
  const format = await cli('dt', ...PL031_OFFLINE, '--mmio-base', '0', '--spi', '1', '--format', 'yaml');
  assert.is(format.code, 2);
  assert.match(format.err, /--format yaml: one of dts, dtb/);
});

test('a VfioError (no such device) exits 1 with its message and hint, not the usage', async () => {
  const s = makeFakeSysfs([]);
  try {
    const r = await cli('bind', '9010000.pl031', '--sysfs', s.root);
    assert.is(r.code, 1);
    assert.match(r.err, /^vfiokit bind: 9010000\.pl031: no such device .* - list the devices with `vfiokit list`\n$/);
  } finally { s.dispose(); }
});

test('lab --help is the help and runs nothing; positionals after -- are the guest command, options there are not ours', () => {
  const spec = COMMANDS.lab!.spec;
  assert.is(parseCommand(spec, ['--help']).help, true);
  const a = parseCommand(spec, ['--', 'ls', '--help', '-h']);
  assert.is(a.help, false);
  assert.equal(a.positionals, ['ls', '--help', '-h']);
  assert.throws(() => parseCommand(spec, ['ls', '-l']), (e: unknown) => e instanceof UsageError && /Unknown option '-l'/.test(e.message));
});

test('parseCommand: the spec is data: counts of positionals, and -h wins over a wrong count', () => {
  const spec: CommandSpec = { usage: 'x <a> [<b>]', options: { n: { type: 'string', help: 'n' } }, positionals: { min: 1, max: 2 } };
  assert.equal(parseCommand(spec, ['a', '--n', '3', 'b']).positionals, ['a', 'b']);
  assert.is(parseCommand(spec, ['--n=3', 'a']).values.n, '3');
  assert.throws(() => parseCommand(spec, []), /takes 1 to 2 arguments, got 0/);
  assert.throws(() => parseCommand(spec, ['a', 'b', 'c']), /got 3: unexpected 'c'/);
  assert.is(parseCommand(spec, ['a', 'b', 'c', '-h']).help, true);
});

test.run();

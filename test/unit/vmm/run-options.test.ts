// `vfiokit run`'s command line read into a plan (src/cli/run-options.ts) and the --device syntax
// (src/vmm/device-spec.ts): each bad value is a usage error naming the option and saying what to
// write, before anything is read or opened; the sub-option table parses each row's values; the
// exit statuses are the documented ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommand, UsageError } from '../../../src/cli/args';
import { exitStatusOf, parseSize, runPlan, RUN_EXIT, RUN_SPEC, DEFAULT_MEM } from '../../../src/cli/run-options';
import { MAX_VCPUS as MAX_CPUS } from '../../../src/vmm/layout';
import { DEVICE_OPTIONS, kindsTaking, optionsRefusedBy, parseDeviceSpec } from '../../../src/vmm/device-spec';
import { MAX_MMAP_TIMEOUT_MS } from '../../../src/vmm/config';
import { VfioError } from '../../../src/errors';

const plan = (...argv: string[]) => runPlan(parseCommand(RUN_SPEC, argv));
/** The usage error a command line gets (its message), or fails. */
function usageOf(...argv: string[]): string {
  try { plan(...argv); } catch (e) {
    assert.ok(e instanceof UsageError, `a UsageError, got ${String(e)}`);
    assert.match((e as UsageError).usage, /^usage: vfiokit run --kernel IMAGE/);
    return (e as Error).message;
  }
  assert.unreachable(`no usage error for ${argv.join(' ')}`);
  return '';
}

test('a full command line: every option lands in the plan; defaults fill the rest', () => {
  const p = plan('--kernel', 'Image', '--initrd', 'initrd.gz', '--append', 'quiet l2.x=1', '--mem', '512M', '--cpus', '2',
    '--device', '9010000.pl031', '--device', 'a000000.virtio_mmio,irqfd=off,mmap-timeout=1100', '--device', '0000:00:03.0', '--dtb-out', 'g.dtb', '--bind');
  assert.equal(p, {
    kernel: 'Image', initrd: 'initrd.gz', append: 'quiet l2.x=1', memBytes: 512n << 20n, cpus: 2, bind: true, dtbOut: 'g.dtb',
    devices: [{ name: '9010000.pl031' }, { name: 'a000000.virtio_mmio', irqfd: false, mmapTimeoutMs: 1100 }, { name: '0000:00:03.0' }],
  });
  assert.equal(plan('--kernel', 'Image'), { kernel: 'Image', memBytes: DEFAULT_MEM, cpus: 1, devices: [], bind: false });
});

test('sizes: digits with K, M, G, T (binary, any case, an optional B or iB); anything else is not a size', () => {
  assert.is(parseSize('512M'), 512n << 20n);
  assert.is(parseSize('1G'), 1n << 30n);
  assert.is(parseSize('1gib'), 1n << 30n);
  assert.is(parseSize('2048k'), 2n << 20n);
  assert.is(parseSize('268435456'), 256n << 20n);
  for (const bad of ['', 'M', '1.5G', '-1G', '1 G', '1GG', '0x100000', '1Q', '9'.repeat(16)]) assert.is(parseSize(bad), undefined, bad);
});

test('every bad option is a usage error that names it and says what to write', () => {
  const rows: [string[], RegExp][] = [
    [[], /--kernel IMAGE is required/],
    [['--kernel', ''], /--kernel IMAGE is required/],
    [['--kernel', 'I', '--mem', 'lots'], /--mem lots: not a size; write it like 512M or 1G/],
    [['--kernel', 'I', '--mem', '1M'], /--mem 1M: guest RAM must be at least 2M/],
    [['--kernel', 'I', '--mem', '4194305'], /--mem 4194305: guest RAM must be whole 4 KiB pages \(e\.g\. 4100K\)/],
    [['--kernel', 'I', '--cpus', '0'], new RegExp(`--cpus 0: a whole number of vCPUs, 1 to ${MAX_CPUS}`)],
    [['--kernel', 'I', '--cpus', 'two'], /--cpus two: a whole number/],
    [['--kernel', 'I', '--cpus', String(MAX_CPUS + 1)], /--cpus \d+: a whole number/],
    [['--kernel', 'I', '--device', ''], /--device : no device name/],
    [['--kernel', 'I', '--device', ',irqfd=off'], /--device ,irqfd=off: '' is not a device name/],
    [['--kernel', 'I', '--device', '../x'], /--device \.\.\/x: '\.\.\/x' is not a device name/],
    [['--kernel', 'I', '--device', 'a.b,irqfd=maybe'], /--device a\.b,irqfd=maybe: irqfd=maybe: takes on or off/],
    [['--kernel', 'I', '--device', 'a.b,irqfd'], /irqfd: takes on or off/],
    [['--kernel', 'I', '--device', 'a.b,speed=9'], /unknown sub-option 'speed' \(known: irqfd, mmap-timeout, addr, identity\)/],
    [['--kernel', 'I', '--device', 'a.b,irqfd=off,irqfd=on'], /irqfd given twice/],
    [['--kernel', 'I', '--device', 'a.b,irqfd=off,mmap-timeout=x'], /mmap-timeout=x: takes milliseconds, 1 to 60000/],
    [['--kernel', 'I', '--device', `a.b,irqfd=off,mmap-timeout=${MAX_MMAP_TIMEOUT_MS + 1}`], /takes milliseconds/],
    [['--kernel', 'I', '--device', 'a.b,mmap-timeout=100'], /mmap-timeout applies to the userspace IRQ path: add irqfd=off/],
    [['--kernel', 'I', '--device', 'a.b,addr=c000000'], /addr=c000000: takes a hex guest physical address/],
    [['--kernel', 'I', '--device', 'a.b,addr=0xc000010'], /0xc000010 is not page-aligned/],
    [['--kernel', 'I', '--device', 'a.b,addr=0x10000000000000'], /above any guest address space \(52 bits\)/],
    [['--kernel', 'I', '--device', 'a.b,identity=yes'], /identity=yes: takes no value/],
    [['--kernel', 'I', '--device', 'a.b,identity,addr=0xc000000'], /addr= and identity both place the device: give one/],
    [['--kernel', 'I', '--device', 'a.b', '--device', 'a.b,irqfd=off'], /--device a\.b given twice: pass each device once/],
    [['--kernel', 'I', '--initrd', ''], /--initrd needs a file name/],
    [['--kernel', 'I', '--dtb-out', ''], /--dtb-out needs a file name/],
  ];
  for (const [argv, re] of rows) assert.match(usageOf(...argv), re, argv.join(' '));
});

test('what parseArgs refuses is a usage error too: a stray positional, an unknown option, a value for --bind', () => {
  for (const argv of [['--kernel', 'I', 'extra'], ['--kernel', 'I', '--devcie', 'x'], ['--kernel', 'I', '--bind=yes'], ['--kernel']]) {
    assert.throws(() => plan(...argv), (e: unknown) => e instanceof UsageError, argv.join(' '));
  }
});

test('the sub-option table: each row parses its own values and says which kinds take it', () => {
  const keys = DEVICE_OPTIONS.map((o) => o.key);
  assert.equal(keys, ['irqfd', 'mmap-timeout', 'addr', 'identity']);
  assert.equal(parseDeviceSpec('x.y,irqfd=on').spec, { name: 'x.y', irqfd: true });
  assert.equal(parseDeviceSpec('x.y,irqfd=off,mmap-timeout=1').spec, { name: 'x.y', irqfd: false, mmapTimeoutMs: 1 });
  assert.throws(() => parseDeviceSpec('x.y,irqfd=off,mmap-timeout=0'), /takes milliseconds, 1 to/);
  assert.equal(parseDeviceSpec('x.y,addr=0xC000000').spec, { name: 'x.y', addr: 0xc00_0000n });
  assert.equal(parseDeviceSpec('x.y,identity').spec, { name: 'x.y', identity: true });
  assert.equal(parseDeviceSpec('x.y,identity').given, ['identity']);
  assert.equal(Object.fromEntries(DEVICE_OPTIONS.map((o) => [o.key, kindsTaking(o).sort()])), { irqfd: ['amba', 'pci', 'platform'], 'mmap-timeout': ['amba', 'platform'], addr: ['amba', 'platform'], identity: ['amba', 'platform'] }, 'which kinds take which sub-option (the attach rows)');
  assert.equal(optionsRefusedBy({ name: '0000:00:03.0', irqfd: false, addr: 0x1000n, identity: true }, 'pci'), ['addr', 'identity']);
  assert.equal(optionsRefusedBy({ name: '9010000.pl031', irqfd: false, addr: 0x1000n }, 'amba'), []);
  assert.equal(optionsRefusedBy({ name: '0000:00:03.0' }, 'pci'), []);
  assert.throws(() => parseDeviceSpec(undefined as unknown as string), (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument' && /^text: undefined is not a string/.test(e.message));
});

test('exit statuses: 0 power-off, 3 reset, 4 machine error, 128 + the signal when stopped', () => {
  assert.is(exitStatusOf('poweroff'), 0);
  assert.is(exitStatusOf('reboot'), RUN_EXIT.reboot);
  assert.is(exitStatusOf('error'), RUN_EXIT.error);
  assert.is(exitStatusOf('stopped', 'SIGINT'), 130);
  assert.is(exitStatusOf('stopped', 'SIGTERM'), 143);
  const codes = [RUN_EXIT.poweroff, RUN_EXIT.reboot, RUN_EXIT.error, 1, 2, 70, 130];
  assert.is(new Set(codes).size, codes.length, 'each outcome its own status, apart from main.ts\'s 1, 2 and 70');
});

test.run();

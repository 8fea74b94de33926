// Host side of the lab: the console marker protocol and the watchdog, against fake guests
// (a node process standing in for qemu). No real boot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore: plain ESM modules of the lab scripts
import { ConsoleMonitor, MARKER, EXIT, uvuSummary } from '../../../lab/protocol.mjs';
// @ts-ignore
import { bootGuest, encodeCommand } from '../../../lab/boot.mjs';

const m = (o: object): string => `${MARKER} ${JSON.stringify(o)}`;
const fake = (lines: string[], then: string): string[] =>
  [process.execPath, '-e', `for (const l of ${JSON.stringify(lines)}) process.stdout.write(l + '\\r\\n'); ${then}`];

test('a normal run gives the guest command exit status', async () => {
  const r = await bootGuest({ command: fake(['Booting Linux', m({ ev: 'init', kernel: '6.12' }), m({ ev: 'cmd' }), 'hello', m({ ev: 'exit', code: 0 })], ''), idleLimitS: 5 });
  assert.is(r.status, 0);
  assert.match(r.message, /exited with status 0/);
});

test('a failing command gives its non-zero status', async () => {
  const r = await bootGuest({ command: fake([m({ ev: 'init' }), m({ ev: 'exit', code: 3 })], ''), idleLimitS: 5 });
  assert.is(r.status, 3);
});

test('a guest that hangs is ended by the idle watchdog with the HUNG status', async () => {
  const r = await bootGuest({ command: fake([m({ ev: 'init' })], 'setInterval(() => {}, 1000);'), idleLimitS: 1 });
  assert.is(r.status, EXIT.HUNG);
  assert.match(r.message, /no console output for 1 s/);
});

test('a guest that keeps talking is ended by the total limit', async () => {
  const r = await bootGuest({ command: fake([], 'setInterval(() => console.log("tick"), 100);'), idleLimitS: 5, totalLimitS: 1 });
  assert.is(r.status, EXIT.HUNG);
  assert.match(r.message, /total limit of 1 s/);
});

test('a kernel panic is reported with the PANIC status and the panic text', async () => {
  const r = await bootGuest({ command: fake(['[ 0.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100'], 'setInterval(() => {}, 1000);'), idleLimitS: 30 });
  assert.is(r.status, EXIT.PANIC);
  assert.match(r.message, /Attempted to kill init/);
});

test('a guest that ends without a status gives NO_STATUS', async () => {
  const r = await bootGuest({ command: fake([m({ ev: 'init' })], ''), idleLimitS: 5 });
  assert.is(r.status, EXIT.NO_STATUS);
  assert.match(r.message, /without reporting/);
});

test('a test file that fails is counted from its uvu summary', async () => {
  const out = ['FAIL  "x"', '  Total:     3', '  Passed:    2', '  Skipped:   0', '  Duration:  1ms'];
  const r = await bootGuest({ command: fake([m({ ev: 'init' }), m({ ev: 'file-start', file: 'a.test.mjs' }), ...out, m({ ev: 'file-end', file: 'a.test.mjs', code: 1 }), m({ ev: 'exit', code: 1 })], ''), idleLimitS: 5 });
  assert.is(r.status, 1);
  assert.is(r.files.length, 1);
  assert.equal({ file: r.files[0].file, code: r.files[0].code, total: r.files[0].total, passed: r.files[0].passed }, { file: 'a.test.mjs', code: 1, total: 3, passed: 2 });
});

test('the monitor joins lines split across chunks and ignores malformed markers', () => {
  const mon = new ConsoleMonitor();
  const evs = [...mon.feed(`${MARKER} {"ev":"ex`), ...mon.feed('it","code":7}\r\n'), ...mon.feed(`${MARKER} {not json}\n`)];
  assert.is(evs.length, 1);
  assert.is(mon.finish().status, 7);
});

test('uvuSummary reads counts through ANSI colours', () => {
  assert.equal(uvuSummary('\x1b[2m  Total:     4\x1b[0m\n  Passed:    4\n  Skipped:   1\n'), { total: 4, passed: 4, skipped: 1 });
});

test('encodeCommand gives base64url without spaces, quotes or padding', () => {
  const e = encodeCommand('node "x y".mjs; exit 3');
  assert.not.match(e, /[\s"'=]/);
  assert.is(Buffer.from(e, 'base64url').toString(), 'node "x y".mjs; exit 3');
});

test.run();

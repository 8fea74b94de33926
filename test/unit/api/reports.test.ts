// Reports a guest can cause, thinned (src/reports.ts): which numbers pass, what the text says, and
// that the thinner counts every report. The library's default reporters use it: the PCI
// passthrough's (test/unit/pci/passthrough.test.ts), the IRQ routing's and the dispatcher's here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { REPORT_BURST, ReportThinner, reportNote, reportShown } from '../../../src/reports';
import { IrqDispatcher } from '../../../src/eventfd/dispatcher';
import { captureConsoleError } from '../../support/console';

test('reportShown: the first REPORT_BURST, then exactly the powers of two', () => {
  const shown = [];
  for (let n = 1; n <= 1_000_000; n++) if (reportShown(n)) shown.push(n);
  assert.is(REPORT_BURST, 10);
  assert.equal(shown, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...Array.from({ length: 16 }, (_, i) => 2 ** (i + 4))], 'a million reports: 26 shown');
  fc.assert(fc.property(fc.integer({ min: 11, max: Number.MAX_SAFE_INTEGER }), (n) => reportShown(n) === (n.toString(2).replace(/0/g, '') === '1')));
  assert.ok(reportShown(2 ** 52) && !reportShown(2 ** 52 + 1) && !reportShown(Number.MAX_SAFE_INTEGER));
});

test('reportNote: nothing within the burst, then the number and the rule', () => {
  assert.is(reportNote(1), '');
  assert.is(reportNote(REPORT_BURST), '');
  assert.is(reportNote(16), ' (report 16; after the first 10, only each power of two is printed)');
});

test('ReportThinner: counts every report, passes on the shown ones with their number', () => {
  const passed: [string, number][] = [];
  const t = new ReportThinner<string>((r, n) => passed.push([r, n]));
  const answers = Array.from({ length: 40 }, (_, i) => t.report(`r${i + 1}`));
  assert.is(t.count, 40);
  assert.equal(passed.map(([, n]) => n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32]);
  assert.equal(passed.map(([r]) => r), passed.map(([, n]) => `r${n}`), 'each report with its own number');
  assert.equal(answers.map((a, i) => a === reportShown(i + 1)), answers.map(() => true), 'report() says whether it passed');
});

test('IrqDispatcher: a handler that throws on every IRQ prints a thinned, numbered line; every throw counted', async () => {
  const cbs = new Map<number, () => void>();
  const d = new IrqDispatcher((fd, cb) => { cbs.set(fd, cb); return { close() { cbs.delete(fd); } }; }, () => 1n);
  d.add(7, () => { throw new Error('boom'); }, 'test IRQ');
  const lines = await captureConsoleError(() => { for (let i = 0; i < 70; i++) cbs.get(7)!(); });
  d.close();
  assert.is(d.handlerErrors, 70);
  assert.is(lines.length, 13, '1..10, 16, 32, 64');
  assert.ok(lines.every((l) => l.startsWith('vfiokit: IRQ handler for test IRQ threw') && l.includes('boom')), lines[0]);
  assert.ok(lines[12]!.includes('(report 64;'), lines[12]);
});

test.run();

// The irq exports' contract with any host: handles, status names, bounds, the action encoding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rawIrq } from './raw-exports';

const irq = rawIrq();
const { c, create, free, declare, start, fire, access, limits, nameOf } = irq;
const OUT = c.scratchPtr + 16384;

test('a freed handle stays invalid after its slot is reused', () => {
  const h1 = create(0);
  assert.ok(h1 > 0);
  assert.is(free(h1), 0);
  const h2 = create(0); // takes the same slot with a new generation
  assert.is.not(h2, h1);
  assert.is(nameOf(start(h1)), 'BAD_HANDLE');
  assert.is(nameOf(free(h1)), 'BAD_HANDLE', 'freeing twice through the raw ABI is refused');
  assert.is(start(h2), 0);
  free(h2);
});

test('handles that were never issued are refused', () => {
  for (const h of [0, -1, 1, 63, 0x7fff_ffff]) assert.is(nameOf(start(h)), 'BAD_HANDLE', `handle ${h}`);
});

test('create refuses an unknown device kind', () => {
  assert.is(nameOf(create(2)), 'BAD_ARG');
  assert.is(nameOf(create(-1)), 'BAD_ARG');
});

test('every irq status code has a name and a meaning, and the names are unique', () => {
  const names = new Set<string>();
  for (let code = -500; code >= -510; code--) {
    const text = c.statusName(code);
    assert.match(text, /^IRQ_[A-Z_]+: ./, `code ${code}`);
    names.add(text.split(':')[0]!);
  }
  assert.is(names.size, 11);
  assert.is(c.statusName(-511), '', 'codes past the last one are unknown');
});

test('irq_limits gives the action size and the named bounds', () => {
  assert.is(limits(), 16);
  assert.is(c.result(0), 64n, 'MAX_MACHINES');
  assert.is(c.result(1), 64n, 'MAX_IRQS_PER_DEVICE');
  assert.is(c.result(2), 16n, 'MAX_ACTIONS_PER_EVENT');
});

test('an action record is u32 kind, u32 index, u64 argument, little-endian', () => {
  const h = create(0);
  declare(h, 5, 0x7, 1);
  start(h);
  assert.is(fire(h, 5, 10n, OUT, 256), 2);
  assert.is(access(h, 0x1_0000_0000n, OUT, 256), 3);
  const b = [...c.take(OUT, 48)];
  assert.equal(b.slice(0, 16), [2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'DEASSERT_LINE(5)');
  assert.equal(b.slice(16, 32), [8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'UNMASK(5)');
  // ARM_TIMER(0, 0x1_0000_0000 + 1_100_000_000 = 0x1_4190_AB00)
  assert.equal(b.slice(32, 48), [5, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xab, 0x90, 0x41, 0x01, 0, 0, 0], 'ARM_TIMER(deadline)');
  free(h);
});

test('the default timeout is 1100 ms and a deadline that would overflow 64 bits is refused', () => {
  const h = create(0);
  declare(h, 0, 0x1, 1);
  start(h);
  irq.machineInfo(h);
  assert.is(c.result(7), 1_100_000_000n);
  const late = 0xffff_ffff_ffff_ff00n;
  assert.ok(fire(h, 0, BigInt.asIntN(64, late), OUT, 256) >= 0);
  const before = irq.observe(h, 1);
  assert.is(nameOf(access(h, BigInt.asIntN(64, late), OUT, 256)), 'OVERFLOW');
  assert.is(irq.observe(h, 1), before, 'the refused EOI changed nothing');
  free(h);
});

test.run();

// The writer's state table (assembly/fdt/writer.ts), one row per call and state in the manner of
// dtc's tests/sw_states.c: every call is tried in every state; an allowed call succeeds, any other
// returns BAD_STATE and leaves the writer as it was. After close, every call is BAD_HANDLE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { raw, res, putAt, statusName } from './tools';
import { core } from '../../../src/core/loader';

const BUF = 1 << 20, CAP = 64 << 10;
const STATES = ['RESERVE_MAP', 'PROPS', 'CHILDREN', 'ROOT_DONE', 'FINISHED'] as const;
type State = (typeof STATES)[number];

const name = (s: string) => putAt(s, 0);
const val = (b: Uint8Array) => putAt(b, 4096);

/** Opens a writer and drives it into `state`. */
function writerIn(state: State): number {
  const h = raw('fdt_sw_create')(core().transientPtr + BUF, CAP, 1);
  assert.ok(h > 0);
  const begin = (n: string) => assert.is(raw('fdt_sw_begin_node')(h, ...name(n)), 0);
  if (state === 'RESERVE_MAP') return h;
  begin('');
  if (state === 'PROPS') return h;
  if (state === 'CHILDREN') { begin('a'); assert.is(raw('fdt_sw_end_node')(h), 0); return h; }
  assert.is(raw('fdt_sw_end_node')(h), 0);
  if (state === 'ROOT_DONE') return h;
  assert.ok(raw('fdt_sw_finish')(h) > 0);
  return h;
}

// call -> the states that allow it (writer.ts's table).
const Y = (...s: State[]) => new Set<State>(s);
const TABLE: [string, Set<State>, (h: number, state: State) => number][] = [
  ['add_reserve', Y('RESERVE_MAP'), (h) => raw('fdt_sw_add_reserve')(h, 0x1000n, 0x1000n)],
  ['begin_node', Y('RESERVE_MAP', 'PROPS', 'CHILDREN'), (h, s) => raw('fdt_sw_begin_node')(h, ...name(s === 'RESERVE_MAP' ? '' : 'n'))],
  ['end_node', Y('PROPS', 'CHILDREN'), (h) => raw('fdt_sw_end_node')(h)],
  ['prop', Y('PROPS'), (h) => raw('fdt_sw_prop')(h, ...name('p'), ...val(new Uint8Array([1, 2, 3])))],
  ['prop_u32', Y('PROPS'), (h) => raw('fdt_sw_prop_u32')(h, ...name('p'), 7)],
  ['prop_u64', Y('PROPS'), (h) => raw('fdt_sw_prop_u64')(h, ...name('p'), 7n)],
  ['prop_cells', Y('PROPS'), (h) => raw('fdt_sw_prop_cells')(h, ...name('p'), val(new Uint8Array(8))[0], 2)],
  ['prop_cells64', Y('PROPS'), (h) => raw('fdt_sw_prop_cells64')(h, ...name('p'), val(new Uint8Array(16))[0], 2)],
  ['prop_string', Y('PROPS'), (h) => raw('fdt_sw_prop_string')(h, ...name('p'), ...val(new TextEncoder().encode('s')))],
  ['prop_strings', Y('PROPS'), (h) => raw('fdt_sw_prop_strings')(h, ...name('p'), ...val(new TextEncoder().encode('a\0b\0')))],
  ['alloc_phandle', Y('RESERVE_MAP', 'PROPS', 'CHILDREN', 'ROOT_DONE'), (h) => raw('fdt_sw_alloc_phandle')(h)],
  ['finish', Y('ROOT_DONE'), (h) => raw('fdt_sw_finish')(h)],
  ['resize', Y('RESERVE_MAP', 'PROPS', 'CHILDREN', 'ROOT_DONE'), (h) => raw('fdt_sw_resize')(h, core().transientPtr + BUF, CAP * 2)],
  ['info', Y(...STATES), (h) => raw('fdt_sw_info')(h)],
  ['close', Y(...STATES), (h) => raw('fdt_sw_close')(h)],
];

function snapshot(h: number): bigint[] {
  const st = raw('fdt_sw_info')(h);
  return [BigInt(st), res(0), res(1), res(2), res(5)];
}

for (const [call, allowed, fn] of TABLE) {
  for (const state of STATES) {
    const ok = allowed.has(state);
    test(`${call} in ${state}: ${ok ? 'allowed' : 'BAD_STATE, writer unchanged'}`, () => {
      const h = writerIn(state);
      const before = snapshot(h);
      const st = fn(h, state);
      if (ok) assert.ok(st >= 0, `${call} in ${state} returned ${statusName(st)}`);
      else {
        assert.is(statusName(st), 'BAD_STATE');
        assert.equal(snapshot(h), before);
      }
      raw('fdt_sw_close')(h);
    });
  }
  test(`${call} after close: BAD_HANDLE`, () => {
    const h = writerIn('PROPS');
    raw('fdt_sw_close')(h);
    assert.is(statusName(fn(h, 'PROPS')), 'BAD_HANDLE');
  });
}

test('the state each call leads to: begin_node -> PROPS, end_node -> CHILDREN or ROOT_DONE, finish -> FINISHED', () => {
  const h = writerIn('RESERVE_MAP');
  const state = () => STATES[raw('fdt_sw_info')(h)];
  raw('fdt_sw_begin_node')(h, ...name(''));
  assert.is(state(), 'PROPS');
  raw('fdt_sw_begin_node')(h, ...name('a'));
  raw('fdt_sw_end_node')(h);
  assert.is(state(), 'CHILDREN');
  raw('fdt_sw_end_node')(h);
  assert.is(state(), 'ROOT_DONE');
  raw('fdt_sw_finish')(h);
  assert.is(state(), 'FINISHED');
  raw('fdt_sw_close')(h);
});

test('at most MAX_WRITERS (16) writers are open; the 17th is LIMIT; a closed slot is reused with a new handle', () => {
  const hs = Array.from({ length: 16 }, (_, i) => raw('fdt_sw_create')(core().transientPtr + BUF + i * 4096, 4096, 1));
  assert.ok(hs.every((h) => h > 0));
  assert.is(new Set(hs).size, 16);
  assert.is(statusName(raw('fdt_sw_create')(core().transientPtr, 4096, 1)), 'LIMIT');
  raw('fdt_sw_close')(hs[3]!);
  const again = raw('fdt_sw_create')(core().transientPtr, 4096, 1);
  assert.ok(again > 0 && again !== hs[3]);
  assert.is(statusName(raw('fdt_sw_info')(hs[3]!)), 'BAD_HANDLE');
  for (const h of [...hs, again]) raw('fdt_sw_close')(h);
  assert.is(statusName(raw('fdt_sw_info')(0)), 'BAD_HANDLE');
  assert.is(statusName(raw('fdt_sw_info')(-5)), 'BAD_HANDLE');
});

test.run();

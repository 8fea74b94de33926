// The IRQ state machine through the JS boundary: ns per fire + EOI pair (a level line fires, the
// guest's trapped access acknowledges it), through the TypeScript wrapper (IrqMachine, actions
// decoded into objects) and through the raw exports, against the same core compiled natively
// (wasm2c -O2, bench/native/irq_core.c) doing the same loop in the same run.
// Writes bench/results/core-irq.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, median, writeResults } from './lib.mjs';
import { IrqMachine } from '../src/core/irq-machine';
import { Core } from '../src/core/loader';

const ROUNDS = 21, PER = 20000;
const out = join(root, 'build', 'bench');
mkdirSync(out, { recursive: true });
const rt = '/usr/share/wabt/wasm2c';
execFileSync('wasm2c', [join(root, 'build', 'vfiokit-core.portable.wasm'), '-n', 'core', '-o', join(out, 'core.c')]);
execFileSync('cc', ['-O2', '-o', join(out, 'irq_core'), join(root, 'bench', 'native', 'irq_core.c'), join(out, 'core.c'), join(rt, 'wasm-rt-impl.c'), `-I${rt}`, `-I${out}`, '-lm']);
const native = JSON.parse(execFileSync(join(out, 'irq_core'), [String(ROUNDS), String(PER)], { encoding: 'utf8' }));

function wrapper() {
  const m = new IrqMachine('platform');
  m.declareLine(0, { level: true });
  m.start();
  let t = 1n;
  const ns = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) { m.fire(0, t++); m.trappedAccess(t++); }
    ns.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  m.close();
  return median(ns);
}

function raw() {
  const c = new Core();
  const f = (n) => c.fn(n);
  const create = f('irq_create'), declare = f('irq_declare_line'), start = f('irq_start');
  const fire = f('irq_fire'), eoi = f('irq_trapped_access');
  const h = create(0); declare(h, 0, 7, 1); start(h);
  const outp = c.transientPtr;
  let t = 1n;
  const ns = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER; i++) { fire(h, 0, t++, outp, 256); eoi(h, t++, outp, 256); }
    ns.push(Number(process.hrtime.bigint() - t0) / PER);
  }
  return median(ns);
}

const results = [{ name: 'native (wasm2c -O2, C loop)', median_ns: native.median_ns }];
results.push({ name: 'raw exports from JS', median_ns: raw() });
results.push({ name: 'IrqMachine (TypeScript wrapper)', median_ns: wrapper() });
writeResults('core-irq', {
  what: 'IRQ machine, ns per fire + EOI pair (level line)', reference: results[0].name, goal: null, results,
  note: `events per second through the wrapper: ${Math.round(2e9 / results[2].median_ns).toLocaleString('en')}`,
});

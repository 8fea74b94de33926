// Library import to ready: a fresh node process that imports the built package (dist/index.js)
// and instantiates the core (an IRQ machine created and closed), against bare `node -e 0`, as the
// median of repeated spawns in the same run. Writes bench/results/startup.json.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { root, median, writeResults } from './lib.mjs';

const RUNS = 21;
const dist = join(root, 'dist', 'index.js');
const ready = `const v = await import(${JSON.stringify(dist)}); new v.IrqMachine('platform').close();`;

function spawnMs(args) {
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    xs.push(Number(process.hrtime.bigint() - t0));
  }
  return median(xs);
}

writeResults('startup', {
  what: 'process start to vfiokit ready (import + core instantiated), median of spawns',
  reference: 'node -e 0', goal: null,
  results: [
    { name: 'node -e 0', median_ns: spawnMs(['-e', '0']) },
    { name: 'import vfiokit, core ready', median_ns: spawnMs(['--input-type=module', '-e', ready]) },
  ],
});

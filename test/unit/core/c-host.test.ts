// The core from a non-JS host: the portable module (no imports) is translated by wasm2c, linked
// with the C program c-host.c and run; each line it prints must equal what Node gets from the
// same calls on the release module. This is the docs/ABI.md contract exercised from C.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Core } from '../../../src/core/loader';

const OUT = 'build/c-host';
/** wabt's runtime sources (Debian's wabt package). */
const RT = '/usr/share/wabt/wasm2c';

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}): lab/deps.sh installs wabt and gcc`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function cHostLines(): string[] {
  mkdirSync(OUT, { recursive: true });
  run('wasm2c', ['build/vfiokit-core.portable.wasm', '-n', 'core', '-o', `${OUT}/core.c`]);
  run('cc', ['-O1', '-o', `${OUT}/host`, 'test/unit/core/c-host.c', `${OUT}/core.c`, `${RT}/wasm-rt-impl.c`, `-I${RT}`, `-I${OUT}`, '-lm']);
  return run(`${OUT}/host`, []).trimEnd().split('\n');
}

/** The same calls as c-host.c, through the release module from JavaScript. */
function jsLines(): string[] {
  const c = new Core();
  const f = (n: string) => c.fn<(...a: (number | bigint)[]) => number>(n);
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  const lines = [`abi ${c.exports.abi_version()}`, `scratch ${c.exports.scratch_size()}`];
  for (const s of [-3, -400]) lines.push(`status ${s} ${c.statusName(s)}`, `kind ${s} ${c.statusKind(s)}`);
  const bus = f('place_bus_create')(0xc000000n, 0x2000000n, 112, 16, 4096n);
  const dev = f('place_device_create')(bus);
  for (const size of [0x1000n, 0x3000n]) {
    const r = f('place_region')(bus, dev, size, 0n, 0, 0n);
    lines.push(`region ${r} ${hex(c.result(0))} ${hex(c.result(1))}`);
  }
  const spi = f('place_irq')(bus, dev, -1);
  lines.push(`irq ${spi} ${c.result(0)}`);
  lines.push(`full ${f('place_region')(bus, dev, 0x4000000n, 0n, 0, 0n)}`);
  return lines;
}

test('a C host running the wasm2c-translated portable core gets the same answers as Node', () => {
  const fromC = cHostLines();
  const fromJs = jsLines();
  assert.equal(fromC, fromJs);
  assert.ok(fromC.some((l) => l.startsWith('region 0 0xc000000')), 'the first region lands at the window base');
});

test.run();

// `vfiokit fdt dump`: through the command's run() with temporary files; the output is compared
// with dtc's own decompilation of the same blob, line for line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdt, dumpFdt, formatValue } from '../../../src/cli/fdt';
import { COMMANDS } from '../../../src/cli/commands';
import { parseCommand, UsageError } from '../../../src/cli/args';
import { VfioError } from '../../../src/errors';
import { dtc, dts, tmpFile, virtDtb } from './tools';
import { virtDtbGicv2 } from './tools';

const SAMPLE = dtc(readFileSync('test/unit/fdt/fixtures/sample.dts', 'utf8'));

async function capture(args: string[]): Promise<[number, string]> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  (process.stdout as any).write = (s: string) => { out += s; return true; };
  try { return [await fdt.run(parseCommand(fdt.spec, args)), out]; } finally { (process.stdout as any).write = write; }
}

for (const [label, blob] of [['sample.dts', SAMPLE], ['QEMU virt GICv3', virtDtb()], ['QEMU virt GICv2', virtDtbGicv2()]] as const) {
  test(`fdt dump of ${label} is dtc -I dtb -O dts's text, line for line`, async () => {
    const [code, out] = await capture(['dump', tmpFile(blob)]);
    assert.is(code, 0);
    assert.fixture(out, dts(blob));
  });
}

test('values print as dtc guesses them: strings, string lists, cells, bytes, empty', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.is(formatValue(enc('abc\0')), '"abc"');
  assert.is(formatValue(enc('a\0b\0')), '"a\\0b"');
  assert.is(formatValue(new Uint8Array([0, 0, 0, 1, 0, 0, 0x10, 0])), '<0x01 0x1000>');
  assert.is(formatValue(new Uint8Array([0, 0x11, 0x22])), '[00 11 22]');
  assert.is(formatValue(new Uint8Array([0, 0, 0, 0])), '<0x00>');
  assert.is(formatValue(new Uint8Array()), '');
});

test('fdt is listed in the command table; a malformed file is a bad-fdt error; usage errors are UsageErrors', async () => {
  assert.is(COMMANDS.fdt, fdt);
  const bad = SAMPLE.slice(); bad[0] = 0;
  try { await capture(['dump', tmpFile(bad)]); assert.unreachable(); } catch (e) { assert.ok(e instanceof VfioError && e.kind === 'bad-fdt' && e.offset === 0); }
  try { await capture(['show', 'x']); assert.unreachable(); } catch (e) { assert.ok(e instanceof UsageError); }
  try { await capture(['dump', '/nonexistent.dtb']); assert.unreachable(); } catch (e) { assert.ok(e instanceof VfioError && e.kind === 'not-found'); }
  assert.match(dumpFdt(SAMPLE), /^\/dts-v1\/;/);
});

test('the bundled CLI: `vfiokit fdt dump` prints dtc\'s text and exits 0; a malformed file exits 1 naming the fault', async () => {
  const esbuild = await import('esbuild');
  const out = join(mkdtempSync(join(tmpdir(), 'vfiokit-cli-')), 'cli.mjs');
  await esbuild.build({
    entryPoints: ['src/cli.ts'], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    external: ['koffi'], loader: { '.wasm': 'binary' }, logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  });
  const file = tmpFile(SAMPLE);
  const ok = spawnSync(process.execPath, [out, 'fdt', 'dump', file], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout, dts(SAMPLE));
  const bad = SAMPLE.slice();
  const structOff = new DataView(bad.buffer).getUint32(8);
  new DataView(bad.buffer).setUint32(structOff, 0x77);
  const no = spawnSync(process.execPath, [out, 'fdt', 'dump', tmpFile(bad)], { encoding: 'utf8' });
  assert.is(no.status, 1);
  assert.ok(no.stderr.includes(`unknown structure token at byte ${structOff}`), no.stderr);
});

test.run();

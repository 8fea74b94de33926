// Importing the shim must not load koffi: on a machine without koffi's native binary, only the
// first system call fails. The shim is bundled into a directory where `koffi` cannot be resolved,
// then imported by a child node process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('import succeeds without koffi; the first syscall throws that koffi cannot be loaded', async () => {
  const esbuild = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-lazy-'));
  try {
    await esbuild.build({ entryPoints: [join(process.cwd(), 'shim/index.ts')], outfile: join(dir, 'shim.mjs'), bundle: true, platform: 'node', format: 'esm', external: ['koffi'], logLevel: 'silent' });
    writeFileSync(join(dir, 'main.mjs'), `
      const shim = await import('./shim.mjs');
      const sys = shim.createSys(shim.realLibc());
      console.log('imported', typeof shim.VFIO_GET_API_VERSION);
      try { sys.open('/dev/null', 0); console.log('opened'); } catch (e) { console.log('threw', e.code ?? e.message); }
    `);
    const r = spawnSync(process.execPath, [join(dir, 'main.mjs')], { cwd: dir, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^imported number\nthrew MODULE_NOT_FOUND\n$/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();

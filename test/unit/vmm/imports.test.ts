// The mini-VMM is an embedding example: it imports vfiokit only through its entry points
// (src/index.ts = 'vfiokit', src/core-api.ts = 'vfiokit/core', src/sys-api.ts = 'vfiokit/sys'),
// as a package user would, never the shim or a module behind the entries, and loads no FFI of
// its own (its KVM calls go through vfiokit/sys).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = process.cwd();
const dir = join(root, 'examples');
const ENTRIES = new Set(['src/index', 'src/core-api', 'src/sys-api'].map((f) => join(root, f)));

function files(d: string): string[] {
  return readdirSync(d).flatMap((n) => { const p = join(d, n); return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs|js)$/.test(n) ? [p] : []; });
}

test('examples/ import vfiokit through its entry points only, and no koffi', () => {
  const wrong: string[] = [];
  const all = files(dir);
  assert.ok(all.length >= 10, `found the example's files (${all.length})`);
  for (const f of all) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const spec = m[1]!;
      if (spec === 'koffi') { wrong.push(`${relative(root, f)}: koffi`); continue; }
      if (!spec.startsWith('.')) continue;                       // node:*, packages
      const target = resolve(dirname(f), spec).replace(/\.(js|ts)$/, '');
      if (target.startsWith(dir + '/') || target.startsWith(join(root, 'build') + '/')) continue;   // its own files, its guest images
      if (!ENTRIES.has(target)) wrong.push(`${relative(root, f)}: ${spec}`);
    }
  }
  assert.equal(wrong, []);
});

test.run();

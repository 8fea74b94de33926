// Imports point one way (test/unit/house/imports.ts has the rules as rows, with their reasons):
// one test per rule over the repository's sources, and for each rule a synthetic file that
// breaks it, to show the rule can fail. The examples' rule is its own test: examples/ is being
// rewritten onto the public API, and the rule holds once that lands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACK_REFERENCES, PUBLIC_ENTRIES, RULES, importCycles, importSpecifiers, repositorySources, resolveSpecifier, violations, type Rule } from './imports';

const root = process.cwd();
const exists = (f: string) => existsSync(join(root, f));
const sources = repositorySources(root, ['shim', 'src', 'assembly', 'examples']);
const rule = (name: string): Rule => RULES.find((r) => r.name.startsWith(name))!;
const show = (v: ReturnType<typeof violations>) => v.map((x) => `${x.file}: ${x.specifier}`).join('\n');

test('the scan sees the layers (a scan that finds no files would pass every rule)', () => {
  for (const dir of ['shim/', 'src/', 'src/cli/', 'assembly/']) assert.ok([...sources.keys()].filter((f) => f.startsWith(dir)).length >= 3, dir);
  assert.ok(sources.size > 60, `${sources.size} files`);
});

test('every rule has a reason and applies to some file of the repository', () => {
  for (const r of RULES) {
    assert.ok(r.reason.length > 40, r.name);
    assert.ok([...sources.keys()].some(r.from), `${r.name} applies to no file`);
  }
});

for (const name of ['shim/', 'assembly/', 'src/cli', 'src/ (outside', 'src/vmm']) {
  const r = rule(name);
  test(`the repository keeps the rule: ${r.name}`, () => {
    const v = violations(sources, exists, [r]);
    assert.is(v.length, 0, `${r.name} (${r.reason}):\n${show(v)}`);
  });
}

test('the repository keeps the rule: examples/ use only the public entry points (holds once the examples are on the public API)', () => {
  const r = rule('examples/');
  const v = violations(sources, exists, [r]);
  assert.is(v.length, 0, `${r.name} (${r.reason}):\n${show(v)}`);
});

test('import specifiers: static, multi-line, re-export, side-effect, dynamic; comments ignored', () => {
  const src = [
    "import { a } from './a.js';", 'import {', '  b,', "} from '../b.js';", "export * from './c.js';",
    "import './d.js';", "const e = await import('./e.js');", '// import { x } from "./commented.js";',
    '/* from \'./block.js\' */', 'import { f } from "./f";',
  ].join('\n');
  assert.equal(importSpecifiers(src), ['./a.js', '../b.js', './c.js', './d.js', './e.js', './f']);
});

test('resolution: .js names the .ts beside it, a bare path gets .ts, a directory its index.ts, packages stay names', () => {
  const have = new Set(['src/errors.ts', 'shim/index.ts', 'examples/mini-vmm/abi.ts']);
  const ex = (f: string) => have.has(f);
  assert.equal(resolveSpecifier('src/device/irq.ts', '../errors.js', ex), { file: 'src/errors.ts' });
  assert.equal(resolveSpecifier('examples/mini-vmm/kvm.ts', '../../shim/index', ex), { file: 'shim/index.ts' });
  assert.equal(resolveSpecifier('examples/mini-vmm/kvm.ts', './abi', ex), { file: 'examples/mini-vmm/abi.ts' });
  assert.equal(resolveSpecifier('src/x.ts', 'node:fs', ex), { pkg: 'node:fs' });
});

// Each rule, fed a file that breaks it and one that keeps it: the rule can fail, and fails only there.
const SYNTHETIC: Record<string, { bad: [string, string]; good: [string, string] }> = {
  'shim/': { bad: ['shim/sys.ts', "import { VfioError } from '../src/errors.js';"], good: ['shim/sys.ts', "import { VfioError } from './error.js';\nimport { createRequire } from 'node:module';"] },
  'assembly/': { bad: ['assembly/vfio/index.ts', 'import { u32 } from "../../shim/bytes";'], good: ['assembly/vfio/index.ts', 'import { OK } from "../status";'] },
  'src/cli': { bad: ['src/cli/inspect.ts', "import { IrqRouting } from '../device/irq.js';"], good: ['src/cli/inspect.ts', "import { openDevice } from '../device/device.js';\nimport { VfioError } from '../errors.js';"] },
  'src/ (outside': { bad: ['src/device/dma.ts', "import koffi from 'koffi';"], good: ['src/device/dma.ts', "import { Sys } from '../../shim/sys.js';"] },
  'src/vmm': { bad: ['src/vmm/run.ts', "import { openDevice } from '../device/device.js';"], good: ['src/vmm/run.ts', "import { openDevice } from '../index.js';\nimport { hostSys } from '../sys-api.js';\nimport { Vm } from './kvm.js';\nimport { readFileSync } from 'node:fs';"] },
  'examples/': { bad: ['examples/mini-vmm/kvm.ts', "import { createSys } from '../../shim/index';"], good: ['examples/mini-vmm/kvm.ts', "import { openDevice } from '../../src/index';\nimport { hostSys } from '../../src/sys-api';\nimport { irqLevel } from './abi';"] },
};
const exampleBad: Record<string, string[]> = {
  'src/vmm': ["import { core } from '../core/loader.js';", "import koffi from 'koffi';", "import { VfioError } from '../errors.js';", "import { Sys } from '../../shim/sys.js';"],
  'examples/': ["import { encodeIrqSet } from '../../src/vfio/encode';", "import koffi from 'koffi';", "import { core } from '../../src/core/loader';"],
  'src/cli': ["import { processSys } from '../device/context.js';", "import { DmaBuffer } from '../device/dma.js';"],
};

for (const [name, { bad, good }] of Object.entries(SYNTHETIC)) {
  const r = rule(name);
  test(`the rule can fail: ${r.name}`, () => {
    const v = violations(new Map([bad]), exists, [r]);
    assert.is(v.length, 1, `${bad[1]} breaks it`);
    assert.is(v[0]!.rule, r);
    assert.equal(violations(new Map([good]), exists, [r]), [], `${good[1]} keeps it`);
    for (const more of exampleBad[name] ?? []) assert.is(violations(new Map([[bad[0], more]]), exists, [r]).length, 1, more);
  });
}

test('every rule has a synthetic breach above', () => {
  for (const r of RULES) assert.ok(Object.keys(SYNTHETIC).some((n) => r.name.startsWith(n)), r.name);
});

test('PUBLIC_ENTRIES are the sources of package.json\'s typed exports, no more and no less', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, string | { types?: string }> };
  const fromPkg = Object.values(pkg.exports).flatMap((e) => typeof e === 'object' && e.types ? [e.types.replace(/^\.\/dist\/types\/(.*)\.d\.ts$/, '$1.ts')] : []);
  assert.equal([...fromPkg].sort(), [...PUBLIC_ENTRIES].sort());
});


test('no import cycles in shim/, src/ and examples/ (type-only imports count, but for the back-references allowed as rows)', () => {
  const cycles = importCycles(new Map([...sources].filter(([f]) => !f.startsWith('assembly/'))), exists);
  assert.equal(cycles.map((c) => c.join(' -> ')), []);
});

test('the cycle check can fail: a type-only circle of two files, and one of three', () => {
  const files = new Map([
    ['src/a.ts', "import type { B } from './b.js';"], ['src/b.ts', "import { a } from './a.js';"],
    ['src/c.ts', "import './d.js';"], ['src/d.ts', "export * from './e.js';"], ['src/e.ts', "import type { C } from './c.js';"],
    ['src/f.ts', "import './a.js';"],
  ]);
  const cycles = importCycles(files, (f) => files.has(f)).map((c) => c.join(' -> ')).sort();
  assert.equal(cycles, ['src/a.ts -> src/b.ts', 'src/c.ts -> src/d.ts -> src/e.ts']);
});

test('an allowed back-reference is left out only when it is type-only, and only for its own pair', () => {
  const files = new Map([
    ['src/device/device.ts', "import { PlatformPassthrough } from './platform-passthrough.js';\nimport { PciPassthrough } from '../pci/passthrough.js';"],
    ['src/device/platform-passthrough.ts', "import type { VfioDevice } from './device.js';"],
    ['src/pci/passthrough.ts', "import { VfioDevice } from '../device/device.js';"],
  ]);
  assert.equal(importCycles(files, (f) => files.has(f)).map((c) => c.join(' -> ')), ['src/device/device.ts -> src/pci/passthrough.ts']);
  assert.equal(importCycles(files, (f) => files.has(f), []).length, 2);
  for (const b of BACK_REFERENCES) assert.ok(b.reason.length > 40);
});

test.run();

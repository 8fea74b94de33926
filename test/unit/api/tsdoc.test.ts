// Every public export and member has a doc comment: the declarations are built as a package build
// makes them (tsconfig.build.json, into a temporary directory), and every entry point that
// package.json's "exports" gives types for is walked by test/support/dts-docs.ts, which names each
// export and public member without a /** */ comment. The reader itself is checked first on a small
// declaration file whose gaps are known. Then every @example in the declarations is compiled, as a
// user's module importing 'vfiokit' (and its subpaths), against those declarations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDocs } from '../../support/dts-docs';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-tsdoc-'));
/** Where package.json's types paths live, relative to the package root (tsconfig.build.json's outDir). */
const TYPES_DIR = './dist/types/';
const out = join(dir, 'types');
const tsc = (args: string[]) => spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { encoding: 'utf8' });

/** package.json's entry points with types: [subpath ('.', './core'), types file in `out`]. */
function entries(): [string, string][] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, string | { types?: string }> };
  return Object.entries(pkg.exports).flatMap(([sub, target]) => {
    if (typeof target !== 'object' || !target.types) return [];
    assert.ok(target.types.startsWith(TYPES_DIR), `${sub}: types under ${TYPES_DIR}`);
    return [[sub, join(out, target.types.slice(TYPES_DIR.length))] as [string, string]];
  });
}
const importName = (sub: string) => (sub === '.' ? 'vfiokit' : `vfiokit${sub.slice(1)}`);

function dtsFiles(d: string): string[] {
  return readdirSync(d).flatMap((n) => { const p = join(d, n); return statSync(p).isDirectory() ? dtsFiles(p) : n.endsWith('.d.ts') ? [p] : []; });
}

test('the reader names undocumented exports, members and union variants, and skips private, #private and @internal ones', () => {
  const file = join(dir, 'sample.d.ts');
  writeFileSync(file, [
    "import { type Other } from './other.js';",
    "export { Other as Renamed } from './other.js';",
    '/** Documented. */',
    'export declare class A {',
    '    #private;',
    '    /** Documented; its string mentions a brace: "}". */',
    '    readonly a: number;',
    '    b: string;',
    '    private c;',
    '    /** @internal */',
    '    d(): void;',
    '    /** One overload documented is enough. */',
    '    e(x: number): void;',
    '    e(x: string): void;',
    '    get f(): number;',
    '    [Symbol.dispose](): void;',
    '}',
    '/** Documented. */',
    'export declare class P {',
    '    readonly name: string;',
    '    readonly bytes: Uint8Array;',
    '    /** Made by A. @param name - documents the parameter property name */',
    '    constructor(name: string, bytes: Uint8Array);',
    '}',
    'export interface B {',
    '    /** Documented, although the comment holds a stray { and a device\'s apostrophe. */',
    '    g: { nested: number };',
    '    h?: (x: number) => void;',
    '}',
    '/** Documented union. */',
    'export type C =',
    '/** Variant one. */',
    '{',
    "    kind: 'one'; /** documented */",
    '    i: number;',
    '} | {',
    "    /** documented */ kind: 'two';",
    '};',
    "export type D = 'x' | 'y';",
    '/** @internal */',
    'export declare function hidden(): void;',
    '/** Documented. */',
    'export declare function f(): Other;',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'other.d.ts'), '/** Documented. */\nexport interface Other {\n    /** Documented. */\n    x: number;\n    y: number;\n}\n');
  const r = checkDocs(file);
  assert.equal(r.missing.sort(), ['A.[Symbol.dispose]', 'A.b', 'A.f', 'B', 'B.h', 'C.(variant 2)', 'D', 'P.bytes', 'Renamed.y'].sort());
  assert.is(r.exports, 7, 'A, B, C, D, P, f, Renamed (hidden is @internal)');
});

test('every export and public member of every entry point has a doc comment', () => {
  const build = tsc(['-p', 'tsconfig.build.json', '--outDir', out]);
  assert.is(build.status, 0, `tsc failed:\n${build.stdout}${build.stderr}`);
  const list = entries();
  assert.ok(list.some(([sub]) => sub === '.'), 'package.json exports the main entry with types');
  const missing: string[] = [];
  let exports = 0, members = 0;
  for (const [sub, types] of list) {
    const r = checkDocs(types, `${importName(sub)}: `);
    exports += r.exports; members += r.members;
    missing.push(...r.missing);
  }
  assert.ok(exports > 50 && members > 200, `the reader found the API (${exports} exports, ${members} members)`);
  assert.ok(missing.length === 0, `${missing.length} of ${exports} exports and ${members} members lack a doc comment:\n  ${missing.join('\n  ')}`);
});

test('every @example in the declarations compiles against them, as a user module (strict, noUncheckedIndexedAccess)', () => {
  const exDir = join(dir, 'examples');
  mkdirSync(exDir);
  let n = 0;
  for (const file of dtsFiles(out)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/@example\s*\n((?:[ \t]*\*.*\n)*?)[ \t]*\*\//g)) {
      const body = m[1]!.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n');
      const code = /```ts\n([\s\S]*?)```/.exec(body);
      assert.ok(code, `${file}: an @example without a \`\`\`ts block`);
      writeFileSync(join(exDir, `example-${++n}.ts`), `// from ${file.slice(out.length + 1)}\n${code![1]}\nexport {};\n`);
    }
  }
  assert.ok(n >= 10, `found the examples (${n})`);
  const paths = Object.fromEntries(entries().map(([sub, types]) => [importName(sub), [types]]));
  writeFileSync(join(exDir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2023', 'ESNext.Disposable'],
      types: ['node'], typeRoots: [join(process.cwd(), 'node_modules/@types')], strict: true,
      noUncheckedIndexedAccess: true, skipLibCheck: true, noEmit: true, paths,
    },
    include: ['*.ts'],
  }));
  const r = tsc(['-p', join(exDir, 'tsconfig.json')]);
  assert.is(r.status, 0, `the examples do not compile:\n${r.stdout}${r.stderr}`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

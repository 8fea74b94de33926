// Every public export and member has a doc comment: the declarations are built as a package build
// makes them (tsconfig.build.json, into a temporary directory), and every entry point that
// package.json's "exports" gives types for is walked by test/support/dts-docs.ts, which names each
// export and public member without a /** */ comment. The reader itself is checked first on a small
// declaration file whose gaps are known.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDocs } from '../../support/dts-docs';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-tsdoc-'));
/** Where package.json's types paths live, relative to the package root (tsconfig.build.json's outDir). */
const TYPES_DIR = './dist/types/';

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
  const out = join(dir, 'types');
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', out], { encoding: 'utf8' });
  assert.is(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, string | { types?: string }> };
  const entries = Object.entries(pkg.exports).flatMap(([sub, target]) =>
    typeof target === 'object' && target.types ? [[sub, target.types] as const] : []);
  assert.ok(entries.some(([sub]) => sub === '.'), 'package.json exports the main entry with types');
  const missing: string[] = [];
  let exports = 0, members = 0;
  for (const [sub, types] of entries) {
    assert.ok(types.startsWith(TYPES_DIR), `${sub}: types under ${TYPES_DIR}`);
    const name = sub === '.' ? 'vfiokit' : `vfiokit${sub.slice(1)}`;
    const r = checkDocs(join(out, types.slice(TYPES_DIR.length)), `${name}: `);
    exports += r.exports; members += r.members;
    missing.push(...r.missing);
  }
  assert.ok(exports > 50 && members > 200, `the reader found the API (${exports} exports, ${members} members)`);
  assert.ok(missing.length === 0, `${missing.length} of ${exports} exports and ${members} members lack a doc comment:\n  ${missing.join('\n  ')}`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

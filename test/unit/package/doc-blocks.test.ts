// Every TypeScript block of README.md and docs/*.md compiles (doc-blocks.ts): one tsc run over all
// of them under the project's tsconfig, then one test per Markdown file naming each failing block
// by file and line. A block fenced ```ts ignore <reason> is exempt, and must give its reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnosticsByBlock, docFiles, extractBlocks, sourceEntries, writeProject, type DocBlock } from './doc-blocks';

const root = process.cwd();
const blocks: DocBlock[] = docFiles(root).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
const compiled = blocks.filter((b) => b.ignored === undefined);
const tsconfig = writeProject(root, join(root, 'build/doc-blocks'), blocks);
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
const byBlock = diagnosticsByBlock(tsc.stdout + tsc.stderr, blocks);

test('the extractor finds the blocks: a ts block, its first code line, an ignored one with its reason', () => {
  const md = ['# t', '```ts', 'const a = 1;', '```', '```sh', 'ls', '```', '```typescript ignore a signature list', 'f(x): y', '```', ''].join('\n');
  const got = extractBlocks('x.md', md);
  assert.equal(got, [
    { file: 'x.md', line: 3, code: 'const a = 1;\n' },
    { file: 'x.md', line: 9, code: 'f(x): y\n', ignored: 'a signature list' },
  ]);
});

test('the doc blocks are found and compiled: README.md has some, `vfiokit` maps to src/index.ts', () => {
  assert.ok(compiled.some((b) => b.file === 'README.md'), 'README.md has a compiled ts block');
  assert.ok(compiled.length >= 3, `${compiled.length} compiled blocks`);
  assert.ok(sourceEntries(root).some((e) => e.specifier === 'vfiokit' && e.source === 'src/index.ts'), JSON.stringify(sourceEntries(root)));
});

test('tsc reports a wrong block: a deliberate type error is found at its Markdown line', () => {
  const bad: DocBlock = { file: 'docs/BAD.md', line: 10, code: "import { openDevice } from 'vfiokit';\nopenDevice(42);\n" };
  const dir = join(root, 'build/doc-blocks-bad');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', writeProject(root, dir, [bad]), '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  assert.is.not(r.status, 0);
  const errs = diagnosticsByBlock(r.stdout, [bad]).get('docs/BAD.md:10') ?? [];
  assert.ok(errs.some((e) => e.startsWith('docs/BAD.md:11: error TS2345')), r.stdout);
});

test('every ignored block says why', () => {
  for (const b of blocks) if (b.ignored !== undefined) assert.ok(b.ignored.trim().length > 0, `${b.file}:${b.line}: \`\`\`ts ignore needs a reason after it`);
});

test('no diagnostic points outside the blocks (src/ itself compiles)', () => {
  assert.equal(byBlock.get('') ?? [], []);
});

/** Blocks known to fail on this branch, by file:line of their first code line, each with why: the
 *  file is being rewritten on another branch. Each entry must still exist and still fail (a test
 *  below), so the list empties itself: a block that compiles, or moved, fails until removed. */
const KNOWN_FAILING: Record<string, string> = {};

for (const file of [...new Set(compiled.map((b) => b.file))]) {
  test(`${file}: every TypeScript block compiles`, () => {
    const errs = compiled.filter((b) => b.file === file && !(`${b.file}:${b.line}` in KNOWN_FAILING)).flatMap((b) => byBlock.get(`${b.file}:${b.line}`) ?? []);
    assert.equal(errs, [], errs.join('\n'));
  });
}

test('each KNOWN_FAILING block still exists and still fails (remove it once it compiles)', () => {
  for (const key of Object.keys(KNOWN_FAILING)) {
    assert.ok(compiled.some((b) => `${b.file}:${b.line}` === key), `${key} is no longer a compiled block: remove it from KNOWN_FAILING`);
    assert.ok((byBlock.get(key) ?? []).length > 0, `${key} compiles now: remove it from KNOWN_FAILING`);
  }
});

test('tsc exits 0 exactly when no block failed', () => {
  assert.is(tsc.status === 0, [...byBlock.values()].every((e) => e.length === 0), tsc.stdout + tsc.stderr);
  assert.ok(tsc.status === 0 || byBlock.size > 0, `tsc failed without a diagnostic this test reads:\n${tsc.stdout}${tsc.stderr}`);
});

test.run();

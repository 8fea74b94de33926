// The evidence docs cite tests by path, and some by name: docs/THREAT-MODEL.md links each threat
// to the test that covers it, docs/RELIABILITY.md each figure to the test that made it. A renamed
// file or test would leave a threat covered on paper only. This test reads both docs and holds
// every cited `test/....ts` path to an existing file (a `*` in a path to at least one file), and
// every test name cited right after a path, `path ("name")` (a name ending in "..." is a prefix),
// to a test('...') of that file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The tests run from the repository's root. */
const root = process.cwd();
export const EVIDENCE_DOCS = ['docs/THREAT-MODEL.md', 'docs/RELIABILITY.md'] as const;

export interface Citation { doc: string; line: number; path: string; name?: string }

/** Every test path a document cites (`test/...ts`, globs with `*` kept), with the test name that
 *  follows it as `("name")` when there is one. */
export function citations(doc: string, text: string): Citation[] {
  const out: Citation[] = [];
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(/\btest\/[\w./*-]+?\.ts\b(?: \("([^"]+)")?/g)) {
      const path = /^test\/[\w./*-]+?\.ts/.exec(m[0])![0];
      out.push({ doc, line: i + 1, path, ...(m[1] === undefined ? {} : { name: m[1] }) });
    }
  });
  return out;
}

/** Files of the repository matching `path` (one `*` wildcard per path segment at most). */
function matching(path: string): string[] {
  if (!path.includes('*')) return existsSync(join(root, path)) ? [path] : [];
  const dir = dirname(path), base = path.slice(dir.length + 1);
  if (dir.includes('*') || !existsSync(join(root, dir))) return [];
  const re = new RegExp(`^${base.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return readdirSync(join(root, dir)).filter((f) => re.test(f)).map((f) => `${dir}/${f}`);
}

/** True when the file has a test whose name is `name` or, for "prefix...", starts with prefix. */
export function hasTest(source: string, name: string): boolean {
  const prefix = name.endsWith('...') ? name.slice(0, -3) : name;
  const names = [...source.matchAll(/\btest(?:\.only|\.skip)?\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)].map((m) => m[2]!.replace(/\\(.)/g, '$1'));
  return names.some((n) => (name.endsWith('...') ? n.startsWith(prefix) : n === name || n.startsWith(`${name}`)));
}

test('the citation reader finds paths, globs and names', () => {
  const c = citations('x.md', '| a | test/unit/a/b.test.ts ("one..."), test/lab/load-*.test.ts; test/support/x.ts |');
  assert.equal(c.map((x) => [x.path, x.name]), [['test/unit/a/b.test.ts', 'one...'], ['test/lab/load-*.test.ts', undefined], ['test/support/x.ts', undefined]]);
  assert.ok(hasTest("test('one two', () => {});", 'one...'));
  assert.ok(hasTest("test(\"it's here\", () => {});", "it's here"));
  assert.not.ok(hasTest("test('one two', () => {});", 'two'));
});

for (const doc of EVIDENCE_DOCS) {
  test(`${doc}: every cited test file exists and every cited test name is in it`, () => {
    const cited = citations(doc, readFileSync(join(root, doc), 'utf8'));
    assert.ok(cited.length > 10, `${doc} cites its tests (found ${cited.length})`);
    const broken: string[] = [];
    for (const c of cited) {
      const files = matching(c.path);
      if (!files.length) { broken.push(`${doc}:${c.line}: ${c.path} does not exist`); continue; }
      if (c.name !== undefined && !files.some((f) => hasTest(readFileSync(join(root, f), 'utf8'), c.name!))) {
        broken.push(`${doc}:${c.line}: ${c.path} has no test named "${c.name}"`);
      }
    }
    assert.equal(broken, [], broken.join('\n'));
  });
}

test.run();

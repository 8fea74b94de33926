// The TypeScript code blocks of README.md and docs/*.md, and a project that type-checks them (as
// Rust's doctests compile the examples of its documentation). Each block is one module of its own,
// compiled under the project's tsconfig (strict, noUncheckedIndexedAccess) with `vfiokit` and
// every subpath of package.json's exports resolving to the source the subpath's types come from.
// Not responsible for: running the blocks (most need a VFIO device), or blocks in other languages.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Info strings whose blocks are compiled (the first word of the fence). */
export const TS_LANGS: readonly string[] = ['ts', 'typescript'];
/** The second word that exempts a block; the rest of the info string must say why. */
export const IGNORE_WORD = 'ignore';

export interface DocBlock {
  /** The Markdown file, relative to the project root. */
  file: string;
  /** 1-based line of the block's first code line (after the fence). */
  line: number;
  code: string;
  /** Set for a block fenced ```ts ignore <reason>: the reason ('' when none was given). */
  ignored?: string;
}

/** The Markdown files whose TypeScript blocks are compiled: README.md and docs/*.md. */
export function docFiles(root: string): string[] {
  const docs = join(root, 'docs');
  return ['README.md', ...readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

/** Every fenced block whose language is one of TS_LANGS, in file order. */
export function extractBlocks(file: string, text: string): DocBlock[] {
  const out: DocBlock[] = [];
  const lines = text.split('\n');
  let open: { fence: string; info: string[]; line: number; body: string[] } | undefined;
  lines.forEach((l, i) => {
    const m = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(l);
    if (!open) {
      if (m) open = { fence: m[2]!, info: m[3]!.trim().split(/\s+/).filter(Boolean), line: i + 2, body: [] };
      return;
    }
    if (m && m[2]!.startsWith(open.fence) && m[3]!.trim() === '') {
      const [lang, word, ...why] = open.info;
      if (lang !== undefined && TS_LANGS.includes(lang)) {
        out.push({ file, line: open.line, code: open.body.join('\n') + '\n', ...(word === IGNORE_WORD ? { ignored: why.join(' ') } : {}) });
      }
      open = undefined;
      return;
    }
    open.body.push(l);
  });
  return out;
}

/** `vfiokit` and each subpath of package.json's exports whose types are a declaration built from
 *  src/: the specifier and the source file it stands for (dist/types/src/x.d.ts -> src/x.ts). */
export function sourceEntries(root: string): { specifier: string; source: string }[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const out: { specifier: string; source: string }[] = [];
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' && target !== null ? (target as Record<string, unknown>).types : undefined;
    const m = typeof types === 'string' ? /^\.\/dist\/types\/(.+)\.d\.ts$/.exec(types) : null;
    if (!m) continue;
    out.push({ specifier: sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`, source: `${m[1]}.ts` });
  }
  return out;
}

/** The module file a block is written to: its Markdown file and line, readable in tsc's output. */
export function blockFileName(b: DocBlock): string {
  return `${b.file.replace(/[/.]/g, '_')}_L${b.line}.ts`;
}

/** Writes the compiled blocks and a tsconfig extending the project's into `dir` (emptied first);
 *  returns the tsconfig's path. A block with no import or export gets `export {}` so that each
 *  block is a module and top-level names of two blocks do not clash. */
export function writeProject(root: string, dir: string, blocks: DocBlock[]): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const b of blocks) {
    if (b.ignored !== undefined) continue;
    const name = blockFileName(b);
    const isModule = /^\s*(import|export)\s/m.test(b.code);
    writeFileSync(join(dir, name), isModule ? b.code : `${b.code}export {};\n`);
    files.push(name);
  }
  const rel = (p: string) => relative(dir, join(root, p)).split('\\').join('/');
  const paths = Object.fromEntries(sourceEntries(root).filter((e) => existsSync(join(root, e.source))).map((e) => [e.specifier, [rel(e.source)]]));
  // The project's ambient declarations (src/types.d.ts: *.wasm modules, WebAssembly), which its
  // own tsconfig takes in through `include`.
  const ambient = ['src', 'shim'].flatMap((d) => readdirSync(join(root, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts')).map((f) => rel(`${d}/${f}`)));
  const config = {
    extends: rel('tsconfig.json'),
    compilerOptions: { noEmit: true, paths },
    include: [], files: [...ambient, ...files],
  };
  const path = join(dir, 'tsconfig.json');
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n');
  return path;
}

/** tsc's diagnostics (`file(line,col): error TSnnnn: ...`) grouped by the block they point into;
 *  lines pointing elsewhere (into src/, say) are under ''. */
export function diagnosticsByBlock(output: string, blocks: DocBlock[]): Map<string, string[]> {
  const byName = new Map(blocks.map((b) => [blockFileName(b), `${b.file}:${b.line}`]));
  const out = new Map<string, string[]>();
  for (const l of output.split('\n')) {
    const m = /^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\): (error .*)$/.exec(l.trim());
    if (!m) continue;
    const where = byName.get(m[1]!);
    const key = where ?? '';
    // The Markdown line of the diagnostic: the block's first line plus the line within the block.
    const mdLine = where ? `${where.split(':')[0]}:${Number(where.split(':')[1]) + Number(m[2]) - 1}` : `${m[1]}:${m[2]}`;
    out.set(key, [...(out.get(key) ?? []), `${mdLine}: ${m[4]}`]);
  }
  return out;
}

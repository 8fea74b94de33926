// The direction of imports, as data: each rule is a row (which files, what they may not import,
// and why), and `violations` checks a set of files against the rows. The house (docs/DESIGN.md):
// shim/ at the bottom, the core (assembly/) beside it and apart, src/ on both, the CLI and the
// examples on src/'s public entry. imports.test.ts runs the rows over the repository and proves
// that each row can fail, on synthetic files.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** What an import names: a file of the repository (path relative to its root, with the .ts the
 *  `.js` of NodeNext stands for) or a package (`node:fs`, `koffi`). */
export type Target = { file: string } | { pkg: string };

export interface Rule {
  /** Short name, used as the test's name. */
  readonly name: string;
  /** The importing files the rule is about (repository-relative, '/' separators). */
  readonly from: (file: string) => boolean;
  /** True when `target` is an import against the direction. */
  readonly forbids: (target: Target, file: string) => boolean;
  /** Why: what breaks if the rule is broken. */
  readonly reason: string;
}

const under = (dir: string) => (f: string) => f === dir || f.startsWith(`${dir}/`);
const isFile = (t: Target): t is { file: string } => 'file' in t;

/** The package's public entry points as source files: package.json's ".", "./core", "./sys" and
 *  "./vmm" (dist/index.js, core-api.js, sys-api.js, vmm-api.js). A deliberate subpath export gets its source file
 *  added here; test/unit/house/imports.test.ts checks the list against package.json. */
export const PUBLIC_ENTRIES: readonly string[] = ['src/index.ts', 'src/core-api.ts', 'src/sys-api.ts', 'src/vmm-api.ts'];

/** What src/vmm/ may import outside itself: the two public entries it is built on, and the public
 *  boundary's argument checkers (shim/args.ts), so that its own public functions answer a wrong
 *  argument as the rest of the API does, from the one home of that rule. */
export const VMM_MAY_IMPORT: readonly string[] = ['src/index.ts', 'src/sys-api.ts', 'shim/args.ts'];

/** The device layer's front door for the CLI: openDevice, allocDma and VfioDevice (what
 *  src/index.ts exports from it). Every other src/device/ file is the layer's inside. */
export const DEVICE_FRONT_DOOR: readonly string[] = ['src/device/device.ts'];

export const RULES: readonly Rule[] = [
  {
    name: 'shim/ imports only shim/ and packages',
    from: under('shim'),
    forbids: (t) => isFile(t) && !under('shim')(t.file),
    reason: 'the shim is the ground floor: src/ builds on it, so a shim import of src/ is a cycle, and a user of the shim alone (a VMM issuing its own ioctls) would load the whole library',
  },
  {
    name: 'assembly/ imports only assembly/',
    from: under('assembly'),
    forbids: (t) => !isFile(t) || !under('assembly')(t.file),
    reason: 'the core is a separate Wasm module, pure and importing only env.abort: it cannot import TypeScript or a package, and any host in any language must get the same module',
  },
  {
    name: 'src/cli uses the device layer through its front door',
    from: (f) => f === 'src/cli.ts' || under('src/cli')(f),
    forbids: (t) => isFile(t) && under('src/device')(t.file) && !DEVICE_FRONT_DOOR.includes(t.file),
    reason: 'the CLI is a user of the library: what it needs from a device, a VMM needs too, so it goes through openDevice/VfioDevice (src/device/device.ts, exported by src/index.ts), never the device layer\'s inside (irq, dma, iommu, region, context)',
  },
  {
    name: 'src/ (outside shim/) does not load koffi',
    from: under('src'),
    forbids: (t) => !isFile(t) && t.pkg === 'koffi',
    reason: 'koffi is the shim\'s: errno is read on the line after the call there, and every syscall has one checked path',
  },
  {
    name: 'src/vmm uses only vfiokit and vfiokit/sys (and the argument checkers)',
    from: under('src/vmm'),
    forbids: (t) => isFile(t)
      ? !VMM_MAY_IMPORT.includes(t.file) && !under('src/vmm')(t.file)
      : !t.pkg.startsWith('node:'),
    reason: 'the VMM is the product\'s own user of the library: built on the public API (src/index.ts, src/sys-api.ts) and node: modules alone (shim/args.ts checks its own arguments, no capability), what it needs a third-party VMM gets too, and it can be read and moved without the library\'s insides',
  },
  {
    name: 'examples/ use only the public entry points',
    from: under('examples'),
    forbids: (t) => isFile(t)
      ? (under('src')(t.file) || under('shim')(t.file) || under('assembly')(t.file)) && !PUBLIC_ENTRIES.includes(t.file)
      : t.pkg === 'koffi',
    reason: 'an example is what a VMM copies: it must build on what the package exports (src/index.ts and deliberate subpath entries), with its own KVM code, not on the shim\'s or src/\'s insides nor on koffi directly',
  },
];

/** The module specifiers a source file imports (static, re-exports, side-effect and dynamic
 *  imports), comments left out. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"\n]+)\1/g)) out.push(m[2]!);
  return out;
}

/** Resolves a specifier of `file` (repository-relative) to a Target. Relative specifiers become
 *  repository paths: `.js` stands for the `.ts` beside it (NodeNext), a bare path gets `.ts`, a
 *  directory its index.ts; `exists` says whether a repository path exists. */
export function resolveSpecifier(file: string, spec: string, exists: (f: string) => boolean): Target {
  if (!spec.startsWith('.')) return { pkg: spec };
  const base = join(dirname(file), spec).split(sep).join('/');
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`];
  return { file: candidates.find(exists) ?? base };
}

export interface Violation { file: string; specifier: string; target: Target; rule: Rule }

/** The imports of `files` (path -> source) that break a rule of `rules`. */
export function violations(files: ReadonlyMap<string, string>, exists: (f: string) => boolean, rules: readonly Rule[] = RULES): Violation[] {
  const found: Violation[] = [];
  for (const [file, source] of files) {
    const applicable = rules.filter((r) => r.from(file));
    if (applicable.length === 0) continue;
    for (const specifier of importSpecifiers(source)) {
      const target = resolveSpecifier(file, specifier, exists);
      for (const rule of applicable) if (rule.forbids(target, file)) found.push({ file, specifier, target, rule });
    }
  }
  return found;
}

/** The TypeScript and JavaScript sources under `dirs` of the repository at `root`. */
export function repositorySources(root: string, dirs: readonly string[]): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (e === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js)$/.test(e) && !e.endsWith('.d.ts')) files.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  for (const d of dirs) walk(resolve(root, d));
  return files;
}

/** The specifiers a source file imports for types alone (`import type ... from`, `export type ...
 *  from`): erased at build, so no load order hangs on them. */
export function typeOnlySpecifiers(source: string): Set<string> {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
  return new Set([...code.matchAll(/\b(?:import|export)\s+type\s[^;]*?\bfrom\s*(['"])([^'"\n]+)\1/g)].map((m) => m[2]!));
}

/** A type-only import a cycle may contain, with its reason (the cycle check leaves it out). */
export interface BackReference {
  readonly from: (file: string) => boolean;
  readonly to: string;
  readonly reason: string;
}

/** The allowed type-only back-references, as rows: each is a child object naming its owner's type
 *  while the owner opens the child. */
export const BACK_REFERENCES: readonly BackReference[] = [
  {
    from: (f) => f === 'src/device/platform-passthrough.ts' || under('src/pci')(f),
    to: 'src/device/device.ts',
    reason: 'a passthrough room names the VfioDevice that opened it (its `device` member) while the device opens its rooms (dev.pci(), dev.platform()) and closes them first: one owner and its child, and the room\'s edge is a type, erased at build',
  },
];

/** The import cycles among `files` (type-only imports count, except the rows of `allowed`: a
 *  cycle of types is still two files that cannot be read, or moved, one without the other): each
 *  cycle once, as the list of its files from its smallest name, found by a depth-first walk. */
export function importCycles(files: ReadonlyMap<string, string>, exists: (f: string) => boolean, allowed: readonly BackReference[] = BACK_REFERENCES): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, source] of files) {
    const typeOnly = typeOnlySpecifiers(source);
    const to: string[] = [];
    for (const s of importSpecifiers(source)) {
      const t = resolveSpecifier(file, s, exists);
      if (!isFile(t) || !files.has(t.file)) continue;
      if (typeOnly.has(s) && allowed.some((a) => a.from(file) && a.to === t.file)) continue;
      to.push(t.file);
    }
    edges.set(file, [...new Set(to)]);
  }
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open'); path.push(f);
    for (const g of edges.get(f) ?? []) {
      if (state.get(g) === 'open') {
        const cycle = path.slice(path.indexOf(g));
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const canon = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(canon.join(' -> '), canon);
      } else if (!state.has(g)) visit(g);
    }
    path.pop(); state.set(f, 'done');
  };
  for (const f of [...files.keys()].sort()) if (!state.has(f)) visit(f);
  return [...cycles.values()];
}

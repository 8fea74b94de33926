// Which public declarations lack a doc comment, read from the declaration files tsc emits.
//
// A small reader of .d.ts text, not a TypeScript parser: it splits a file into top-level
// statements and a class, interface or object-type body into members, and looks for the /** */
// comment right before each. What it covers, because tsc's declaration output is regular:
// - exports: `export declare function|class|const|let|enum|namespace`, `export interface`,
//   `export type`, and re-exports (`export { A, B as C } from`, `export * from`,
//   `export * as ns from`, `export { A }` of a local or imported name), followed to the file that
//   declares the name; overloads of one function count as documented when any of them is;
// - members: class members (properties, methods, getters and setters, constructors, index
//   signatures), interface members (fields, methods, call and construct signatures), the fields of
//   an exported `type X = { ... }`, each object variant of a union `type X = { ... } | { ... }`
//   (a comment before the variant: what it means; its fields are then read in that light), and
//   enum members; a getter/setter pair or an overloaded method counts as documented when any of its
//   declarations is; a constructor's parameter property (`constructor(readonly name: string)`)
//   counts as documented by the constructor's `@param name`, as TypeDoc reads it, because tsc
//   emits the parameter's own comment nowhere; `#private`, `private` and `protected` members are
//   not public and are skipped, and so is anything whose comment says @internal (tsc strips those
//   under stripInternal).
// What it does not cover: object types nested inside a member's type or a function's parameters,
// the fields inside a union's variants, string-literal union members (their meaning belongs in
// the alias's own comment), and the members of a class or interface inherited from a base that is
// not itself exported.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** One piece of a file or body: its text with comments blanked (for matching), its raw text (for
 *  the bodies inside it), and the doc comment (the last /** *\/ before it), if any. */
interface Piece { text: string; raw: string; doc?: string }

/** Splits `src` at depth 0 on `sep` (';' or ','), and after a `}` that closes a body which ends a
 *  statement of its own (class, interface, enum, namespace). Comments and strings are skipped. */
function split(src: string, sep: ';' | ','): Piece[] {
  const out: Piece[] = [];
  let depth = 0, start = 0, doc: string | undefined, sawCode = false, i = 0;
  const endPiece = (end: number) => {
    const raw = src.slice(start, end).trim();
    if (raw) out.push({ text: stripComments(raw), raw, ...(doc !== undefined ? { doc } : {}) });
    doc = undefined; sawCode = false;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      if (depth === 0 && !sawCode && src.startsWith('/**', i) && src[i + 3] !== '/') doc = src.slice(i, stop);
      else if (depth === 0 && !sawCode) doc = undefined;
      i = stop; continue;
    }
    if (c === '/' && src[i + 1] === '/') { const nl = src.indexOf('\n', i); i = nl < 0 ? src.length : nl + 1; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (!sawCode) { start = i; sawCode = true; }
    if (c === '\'' || c === '"') { i = skipString(src, i); continue; }
    if (c === '`') { i = skipTemplate(src, i); continue; }
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (depth === 0 && c === '}' && sep === ';' && /^(export\s+)?(declare\s+)?(abstract\s+)?(class|interface|enum|namespace|module)\b/.test(src.slice(start, i))) {
        endPiece(i + 1); i++; continue;
      }
    } else if (depth === 0 && c === sep) { endPiece(i); i++; continue; }
    i++;
  }
  if (sawCode) endPiece(src.length);
  return out;
}

function skipString(src: string, i: number): number {
  const q = src[i];
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === q) return j + 1;
  }
  return src.length;
}

function skipTemplate(src: string, i: number): number {
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === '`') return j + 1;
    else if (src[j] === '$' && src[j + 1] === '{') {
      let depth = 1; j += 2;
      while (j < src.length && depth > 0) {
        if (src[j] === '`') { j = skipTemplate(src, j); continue; }
        if (src[j] === '{') depth++; else if (src[j] === '}') depth--;
        j++;
      }
      j--;
    }
  }
  return src.length;
}

/** The text with each comment blanked out by as many spaces (strings kept), so that patterns see
 *  only code and an index into it is an index into the original. */
function stripComments(text: string): string {
  let out = '', i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && (text[i + 1] === '*' || text[i + 1] === '/')) {
      const e = text[i + 1] === '*' ? text.indexOf('*/', i + 2) + 2 : text.indexOf('\n', i);
      const stop = e < 2 || e < i ? text.length : e;
      out += text.slice(i, stop).replace(/[^\n]/g, ' '); i = stop; continue;
    }
    if (c === '\'' || c === '"') { const e = skipString(text, i); out += text.slice(i, e); i = e; continue; }
    if (c === '`') { const e = skipTemplate(text, i); out += text.slice(i, e); i = e; continue; }
    out += c; i++;
  }
  return out;
}

/** The text between the first `{` at depth 0 and its matching `}`, or undefined. */
function body(raw: string, from = 0): string | undefined {
  const text = stripComments(raw);
  let depth = 0, open = -1;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\'' || c === '"') { i = skipString(text, i) - 1; continue; }
    if (c === '`') { i = skipTemplate(text, i) - 1; continue; }
    if (c === '{' || c === '(' || c === '[') { if (c === '{' && depth === 0 && open < 0) open = i; depth++; }
    else if (c === '}' || c === ')' || c === ']') { depth--; if (depth === 0 && open >= 0 && c === '}') return raw.slice(open + 1, i); }
  }
  return undefined;
}

const isInternal = (doc: string | undefined) => doc !== undefined && /@internal\b/.test(doc);

/** A member's name as the reader shows it, or undefined for members that are not public. */
function memberName(text: string): string | undefined {
  let t = text;
  if (t.startsWith('#')) return undefined;
  for (;;) {
    const m = /^(public|private|protected|static|readonly|abstract|declare|override|accessor|get|set|async)\s+(?=[\w$#[\]'"(<])/.exec(t);
    if (!m) break;
    if (m[1] === 'private' || m[1] === 'protected') return undefined;
    t = t.slice(m[0].length);
  }
  if (t.startsWith('#')) return undefined;
  if (t.startsWith('(') || t.startsWith('<')) return '(call)';
  if (/^new\s*[(<]/.test(t)) return '(new)';
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    const inner = t.slice(1, close);
    return /^\s*[\w$]+\s*:/.test(inner) ? `[${inner.split(':')[0]!.trim()}: index]` : `[${inner.trim()}]`;
  }
  const m = /^(?:[\w$]+|'[^']*'|"[^"]*")/.exec(t);
  return m ? m[0] : t.slice(0, 30);
}

/** The public members of a body by name (deduplicated), each documented when any of its
 *  declarations is (or, for a parameter property, the constructor's @param names it). */
function members(bodyText: string, sep: ';' | ','): Map<string, boolean> {
  const seen = new Map<string, boolean>();
  const pieces = split(bodyText, sep);
  const ctorDoc = pieces.find((p) => memberName(p.text) === 'constructor')?.doc ?? '';
  for (const p of pieces) {
    if (isInternal(p.doc)) continue;
    const name = memberName(p.text);
    if (name === undefined) continue;
    const byParam = new RegExp(`@param\\s+${name.replace(/[$]/g, '\\$')}\\b`).test(ctorDoc);
    seen.set(name, (seen.get(name) ?? false) || p.doc !== undefined || byParam);
  }
  return seen;
}

/** The object-literal parts of a type alias's right-hand side: itself, or each variant of a union;
 *  `documented`: a /** *\/ comment stands right before the variant's `{`. */
function objectVariants(raw: string): { body: string; documented: boolean }[] {
  const rhs = stripComments(raw);
  const parts: [number, number][] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < rhs.length; i++) {
    const c = rhs[i]!;
    if (c === '\'' || c === '"') { i = skipString(rhs, i) - 1; continue; }
    if (c === '`') { i = skipTemplate(rhs, i) - 1; continue; }
    if (c === '{' || c === '(' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ')' || c === ']' || (c === '>' && rhs[i - 1] !== '=')) depth--;
    else if (c === '|' && depth === 0) { parts.push([start, i]); start = i + 1; }
  }
  parts.push([start, rhs.length]);
  // A variant's comment stands before its `{`: right after the `|` or `=` (the part's start), or,
  // as tsc prints unions, before the `|` (the end of the part before it).
  const isDoc = (t: string) => t.startsWith('/**') && t.endsWith('*/');
  const out: { body: string; documented: boolean }[] = [];
  parts.forEach(([a, b], k) => {
    const code = rhs.slice(a, b), lead = code.length - code.trimStart().length, trail = code.length - code.trimEnd().length;
    if (!code.trim().startsWith('{') || !code.trim().endsWith('}')) return;
    const before = raw.slice(a, a + lead).trim();
    const prev = parts[k - 1];
    const prevTail = prev ? raw.slice(prev[0], prev[1]).slice(rhs.slice(prev[0], prev[1]).trimEnd().length).trim() : '';
    out.push({ body: raw.slice(a + lead + 1, b - trail - 1), documented: isDoc(before) || isDoc(prevTail) });
  });
  return out;
}

/** One declaration of a file: whether it is exported, documented or @internal, how many public
 *  members (or union variants) it has, and which of them lack a doc comment. */
interface Decl { exported: boolean; documented: boolean; internal: boolean; members: number; missing: string[] }

interface FileInfo {
  decls: Map<string, Decl>;
  /** Re-exports: exported name -> [module file, name there]. */
  reexports: Map<string, [string, string]>;
  /** `export * from` targets. */
  stars: string[];
  /** `export * as ns from`: namespace name -> [module file, documented]. */
  namespaces: Map<string, [string, boolean]>;
  /** Local bindings from imports: name -> [module file, name there]. */
  imports: Map<string, [string, string]>;
  /** `export { A }` of local or imported names: exported -> local. */
  localExports: Map<string, string>;
}

function moduleFile(from: string, spec: string): string {
  const base = resolve(dirname(from), spec.replace(/\.js$/, ''));
  for (const cand of [base + '.d.ts', join(base, 'index.d.ts')]) if (existsSync(cand)) return cand;
  throw new Error(`${from}: cannot find the declarations of '${spec}'`);
}

const cache = new Map<string, FileInfo>();

function readDts(file: string): FileInfo {
  const hit = cache.get(file);
  if (hit) return hit;
  const info: FileInfo = { decls: new Map(), reexports: new Map(), stars: [], namespaces: new Map(), imports: new Map(), localExports: new Map() };
  cache.set(file, info);
  for (const st of split(readFileSync(file, 'utf8'), ';')) {
    const t = st.text;
    const fromM = /\bfrom\s+['"]([^'"]+)['"]\s*$/.exec(t);
    if (/^import\b/.test(t)) {
      if (!fromM) continue;
      const target = moduleFile(file, fromM[1]!);
      const named = /\{([^}]*)\}/.exec(t);
      for (const spec of named ? named[1]!.split(',') : []) {
        const m = /^\s*(?:type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?\s*$/.exec(spec);
        if (m) info.imports.set(m[2] ?? m[1]!, [target, m[1]!]);
      }
      continue;
    }
    if (/^export\s+(type\s+)?\{/.test(t)) {
      const named = /\{([^}]*)\}/.exec(t)!;
      for (const spec of named[1]!.split(',')) {
        const m = /^\s*(?:type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?\s*$/.exec(spec);
        if (!m) continue;
        if (fromM) info.reexports.set(m[2] ?? m[1]!, [moduleFile(file, fromM[1]!), m[1]!]);
        else info.localExports.set(m[2] ?? m[1]!, m[1]!);
      }
      continue;
    }
    const ns = /^export\s+\*\s+as\s+([\w$]+)\s+from/.exec(t);
    if (ns && fromM) { info.namespaces.set(ns[1]!, [moduleFile(file, fromM[1]!), st.doc !== undefined]); continue; }
    if (/^export\s+\*\s+from/.test(t) && fromM) { info.stars.push(moduleFile(file, fromM[1]!)); continue; }
    const d = /^(export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:const\s+)?(function|class|interface|type|const|let|var|enum|namespace|module)\s+([\w$]+)/.exec(t);
    if (!d) continue;
    const [, exp, kind, name] = d as unknown as [string, string | undefined, string, string];
    let checked = new Map<string, boolean>();
    if (kind === 'class' || kind === 'interface' || kind === 'enum') {
      const b = body(st.raw);
      if (b !== undefined) checked = members(b, kind === 'enum' ? ',' : ';');
    } else if (kind === 'type') {
      const variants = objectVariants(st.raw.slice(st.text.indexOf('=') + 1));
      if (variants.length === 1) checked = members(variants[0]!.body, ';');
      else variants.forEach((v, n) => checked.set(`(variant ${n + 1})`, v.documented));
    }
    const missing = [...checked].filter(([, documented]) => !documented).map(([m]) => m);
    const prev = info.decls.get(name);
    const decl: Decl = {
      exported: exp !== undefined || (prev?.exported ?? false),
      documented: st.doc !== undefined || (prev?.documented ?? false),
      internal: isInternal(st.doc) || (prev?.internal ?? false),
      // Overloads of a function: one declaration as far as members go (functions have none).
      members: checked.size,
      missing: prev && kind === 'function' ? prev.missing : missing,
    };
    info.decls.set(name, decl);
  }
  return info;
}

/** What a public name resolves to: the file that declares it and its declaration. */
function resolveName(file: string, name: string, depth = 0): { file: string; decl: Decl } | { file: string; namespace: true; documented: boolean } | undefined {
  if (depth > 20) throw new Error(`re-export cycle at ${file} ${name}`);
  const info = readDts(file);
  const local = info.localExports.get(name);
  const own = info.decls.get(local ?? name);
  if (own && (own.exported || local !== undefined)) return { file, decl: own };
  const viaImport = local !== undefined ? info.imports.get(local) : undefined;
  if (viaImport) return resolveName(viaImport[0], viaImport[1], depth + 1);
  const re = info.reexports.get(name);
  if (re) return resolveName(re[0], re[1], depth + 1);
  const ns = info.namespaces.get(name);
  if (ns) return { file: ns[0], namespace: true, documented: ns[1] };
  for (const star of info.stars) {
    const r = resolveName(star, name, depth + 1);
    if (r) return r;
  }
  return undefined;
}

/** Every name a module exports (following re-exports and `export *`). */
function exportedNames(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const info = readDts(file);
  const names = new Set<string>([
    ...[...info.decls].filter(([, d]) => d.exported).map(([n]) => n),
    ...info.reexports.keys(), ...info.namespaces.keys(), ...info.localExports.keys(),
  ]);
  for (const star of info.stars) for (const n of exportedNames(star, seen)) if (n !== 'default') names.add(n);
  return [...names].sort();
}

/** The report for one entry point: what was checked, and what lacks a doc comment. */
export interface DocReport {
  exports: number;
  members: number;
  /** `Name` for an undocumented export, `Name.member` for an undocumented member. */
  missing: string[];
}

/** Checks every export reachable from `entry` (a .d.ts file), naming each export and member
 *  without a doc comment; `prefix` names the entry in the report (e.g. 'vfiokit'). */
export function checkDocs(entry: string, prefix = ''): DocReport {
  const report: DocReport = { exports: 0, members: 0, missing: [] };
  const visit = (file: string, label: string) => {
    for (const name of exportedNames(file)) {
      const r = resolveName(file, name);
      const full = label + name;
      if (!r) { report.missing.push(`${full} (cannot resolve)`); continue; }
      if ('namespace' in r) {
        report.exports++;
        if (!r.documented) report.missing.push(full);
        visit(r.file, full + '.');
        continue;
      }
      if (r.decl.internal) continue;
      report.exports++;
      if (!r.decl.documented) report.missing.push(full);
      report.missing.push(...r.decl.missing.map((m) => `${full}.${m}`));
      report.members += r.decl.members;
    }
  };
  visit(entry, prefix);
  return report;
}

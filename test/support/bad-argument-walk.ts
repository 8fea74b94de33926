// The walker of the bad-argument rule: poison lists per parameter kind, the row shape, the runtime
// surface of a module (every function, class constructor, static and prototype method) and the
// walk that calls each walked member with each wrong value and collects what did not answer with a
// VfioError 'bad-argument' naming the argument. The tables live in the test files that use it
// (test/unit/api/bad-arguments.test.ts for vfiokit, vfiokit/core and vfiokit/sys;
// bad-arguments-vmm.test.ts for vfiokit/vmm).
import { VfioError } from '../../src/errors';

/** How a parameter is poisoned: the wrong values tried in its position. */
export type Kind = 'index' | 'int' | 'fd' | 'u64' | 'string' | 'name' | 'bytes' | 'object' | 'fn' | 'width' | 'bigints' | 'bool' | 'mode' | 'ints' | 'fds' | 'bools' | 'strings' | 'cells';
const notObject = [undefined, null, 1, 'x', 1n];
export const POISON: Record<Kind, readonly unknown[]> = {
  // A count or an index: never negative, fractional, NaN, infinite, unsafe, or not a number.
  index: [undefined, null, NaN, Infinity, -1, 0.5, 2 ** 53, '1', 1n, {}],
  int: [undefined, null, NaN, Infinity, 0.5, 2 ** 53, '1', 1n, {}],
  fd: [undefined, null, NaN, Infinity, -2, 0.5, 2 ** 53, '3', 3n, {}],
  // A u64: a bigint in 0..2^64-1; a number is refused (no silent rounding above 2^53).
  u64: [undefined, null, 1, NaN, '1', -1n, 2n ** 64n, {}],
  string: [undefined, null, 1, 1n, {}],
  name: [undefined, null, 1, 1n, {}, '', '../x', 'a/b'],
  bytes: [undefined, null, 'x', 1, {}, [1, 2, 3], new ArrayBuffer(8)],
  object: notObject,
  fn: [undefined, null, 1, 'x', {}],
  width: [undefined, null, NaN, 0, 3, 16, '4', 4n],
  bigints: [undefined, null, 1, 'x', [1], [-1n]],
  // A boolean: true or false, nothing that merely converts to one.
  bool: [null, 0, 1, 'true', {}, 1n],
  // One of a few names ('type1', 'memfd', 'trigger'): anything else, and other types.
  mode: [undefined, null, 1, 1n, {}, 'nonsense'],
  // Arrays of numbers of a kind: not an array, or holding a wrong element.
  ints: [null, 1, 'x', {}, [-1], [0.5], ['1'], [NaN], [1n]],
  fds: [null, 1, 'x', {}, [-2], [0.5], ['3'], [3n]],
  bools: [null, 1, 'x', {}, [1], ['true'], [null]],
  strings: [undefined, null, 1, 'x', {}, [1], [null]],
  // Device-tree cell counts: 1 or 2.
  cells: [null, NaN, 0, 3, '1', 1n],
};

/** A parameter: [name the error must say, kind, valid value, values it accepts with the reason]. */

/** A parameter: [name the error must say, kind, valid value, values it accepts with the reason]. */
export interface Param { name: string; kind: Kind; accepts?: { values: readonly unknown[]; why: string }; /** Its argument position, when not its place in the row's list. */ pos?: number; /** A field of the object argument at pos, poisoned alone (a dotted path reaches a nested one). */ field?: string; /** Values refused as 'bad-argument' by a message that shows the value, not the name, and why. */ unnamed?: { values: readonly unknown[]; why: string } }
export interface Row {
  /** Builds the receiver (for a member) and valid arguments; `done` releases what was built. */
  setup?: () => { self?: unknown; args: unknown[]; done?: () => void };
  /** Valid arguments, for a function needing no setup. */
  args?: unknown[];
  /** Positions walked, in order. */
  params: Param[];
  /** Not walked, with the reason (no arguments, TypeScript-private, @internal factory). */
  notWalked?: string;
  /** The function or member walked, when the row is a second walk of it with other valid arguments. */
  member?: string;
  /** An async function: its promise is awaited and a rejection counts as its answer. */
  async?: boolean;
}

export const NOARGS = 'no arguments';
export const PRIVATE = 'TypeScript-private helper (not in the declarations)';
export const INTERNAL = '@internal factory (not in the declarations)';
export const P = (name: string, kind: Kind, accepts?: Param['accepts']): Param => ({ name, kind, ...(accepts ? { accepts } : {}) });
/** A field of the object argument at `pos`, named `argName.field` in the error. */
export const F = (pos: number, argName: string, field: string, kind: Kind, accepts?: Param['accepts']): Param => ({ ...P(`${argName}.${field}`, kind, accepts), pos, field });
export const OPTIONAL = { values: [undefined], why: 'optional: the default applies' };
export const none = (why = NOARGS): Row => ({ params: [], notWalked: why });
/** A receiver built by `make` with valid `args`; done closes it when it has close(). */
export function plain<T extends { close?(): void }>(make: () => T, args: unknown[]) {
  return () => { const self = make(); return { self, args, done: () => self.close?.() }; };
}

// ---- the runtime surface -------------------------------------------------------------------
export type Callable = (...a: unknown[]) => unknown;
export type Entry = { cls?: Function; name: string; fn?: Callable };
const isClass = (v: unknown): v is new (...a: unknown[]) => unknown => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));
/** Every function, constructor, static and prototype method `modules` expose at run time. */
export function surface(modules: readonly Record<string, unknown>[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const mod of modules) {
    for (const [k, v] of Object.entries(mod)) {
      if (typeof v !== 'function') continue;
      if (!isClass(v)) { out.set(k, { name: k, fn: v as Callable }); continue; }
      out.set(`${k}.constructor`, { cls: v, name: 'constructor' });
      for (const m of Object.getOwnPropertyNames(v).filter((n) => !['length', 'name', 'prototype'].includes(n))) {
        if (typeof (v as unknown as Record<string, unknown>)[m] === 'function') out.set(`${k}.${m}`, { cls: v, name: m, fn: (v as unknown as Record<string, Callable>)[m] });
      }
      for (const m of Object.getOwnPropertyNames(v.prototype)) {
        const d = Object.getOwnPropertyDescriptor(v.prototype, m)!;
        if (m !== 'constructor' && typeof d.value === 'function') out.set(`${k}.${m}`, { cls: v, name: m });
      }
    }
  }
  return out;
}

/** The names in `entries` without a row, and the rows naming nothing exported (both should be empty). */
export function unmatched(entries: Map<string, Entry>, rows: Record<string, Row>): { withoutRow: string[]; forNothing: string[] } {
  const names = [...entries.keys()].sort();
  return { withoutRow: names.filter((n) => !(n in rows)), forNothing: Object.keys(rows).filter((n) => !names.includes(rows[n]!.member ?? n)).sort() };
}

/** A copy of `obj` with the field at `path` set to `value` (the objects on the way are copied, not changed). */
function withField(obj: unknown, path: string[], value: unknown): unknown {
  const [k, ...rest] = path;
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
  const v = rest.length === 0 ? value : withField(o[k!], rest, value);
  // An array stays an array (a path like devices.0.name poisons one element's field).
  if (Array.isArray(o)) { const a = [...o]; a[Number(k)] = v; return a; }
  return { ...o, [k!]: v };
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Uint8Array || v instanceof ArrayBuffer) return `${v.constructor.name}(${v.byteLength})`;
  if (Array.isArray(v)) return `[${v.map(describe).join(',')}]`;
  if (typeof v === 'object' && v !== null) return '{}';
  return String(v);
}

export interface WalkResult { stats: { rows: number; walked: number; calls: number; accepted: number }; failures: string[] }

/** Calls every walked row's member with each poison of each parameter; collects the failures. */
export async function walk(rows: Record<string, Row>, entries: Map<string, Entry>): Promise<WalkResult> {
  const stats = { rows: Object.keys(rows).length, walked: 0, calls: 0, accepted: 0 };
  const failures: string[] = [];
  for (const [key, row] of Object.entries(rows)) {
    if (row.notWalked !== undefined) continue;
    stats.walked++;
    const e = entries.get(row.member ?? key);
    if (!e) continue;   // reported by the completeness test
    params: for (const [i, param] of row.params.entries()) {
      const pos = param.pos ?? i;
      for (const bad of POISON[param.kind]) {
        let made: { self?: unknown; args: unknown[]; done?: () => void };
        try { made = row.setup ? row.setup() : { args: row.args ?? [] }; } catch (x) { failures.push(`${key}: setup failed: ${String(x)}`); continue params; }
        const args = [...made.args];
        if (param.field) args[pos] = withField(args[pos], param.field.split('.'), bad); else args[pos] = bad;
        stats.calls++;
        const what = `${key}(${param.name} = ${describe(bad)})`;
        try {
          let r: unknown;
          if (e.name === 'constructor') { const x = new (e.cls as new (...a: unknown[]) => { close?(): void })(...args); x.close?.(); }
          else if (e.fn) r = e.fn.apply(e.cls, args);
          else r = (made.self as Record<string, Callable>)[e.name]!(...args);
          // An async function's answer is its promise's; for the others an accepted value reaches the
          // call (ioctlAsync), and its answer from the fake kernel is not this test's.
          if (r instanceof Promise) { if (row.async) await r; else r.catch(() => {}); }
          if (param.accepts?.values.some((v) => Object.is(v, bad) || (typeof v === 'bigint' && v === bad))) stats.accepted++;
          else failures.push(`${what}: returned normally`);
        } catch (x) {
          const named = x instanceof VfioError && ([param.name, param.field ?? param.name].some((n) => x.message.toLowerCase().includes(n.toLowerCase())) || param.unnamed?.values.includes(bad) === true);
          if (!(x instanceof VfioError)) failures.push(`${what}: ${(x as Error)?.name}: ${(x as Error)?.message}`);
          // An acceptable value gets the call's normal answer, which may be another kind of VfioError (not-found).
          else if (x.kind !== 'bad-argument' && param.accepts?.values.some((v) => Object.is(v, bad))) stats.accepted++;
          else if (x.kind !== 'bad-argument' || !named) failures.push(`${what}: VfioError ${x.kind}: ${x.message}`);
        } finally {
          try { made.done?.(); } catch { /* the receiver's own close */ }
        }
      }
    }
  }
  return { stats, failures };
}

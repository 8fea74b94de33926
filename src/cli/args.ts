// The CLI's argument rules: each command declares its options and positionals as data (a
// CommandSpec), and parseCommand reads argv against it with node:util parseArgs in strict mode:
// an unknown option, a value given to a flag (`--json=no`), a missing value, a stray positional
// are UsageErrors (exit status 2, usage on stderr; src/cli/main.ts). Every command gets -h/--help;
// `--` ends the options (what follows is positional, even `-h`).
// Not responsible for: what an option means (the command's own file) or printing (main.ts).
import { parseArgs } from 'node:util';
import { validateDeviceName } from '../sysfs.js';

export interface OptionSpec {
  type: 'boolean' | 'string';
  /** One-letter alias (`-o`). */
  short?: string;
  /** Name of the value in the help (`DIR`), string options only. */
  value?: string;
  /** A string option that may be given more than once (`--device A --device B`): its value is
   *  the list of them, in order. */
  multiple?: boolean;
  help: string;
}

export interface CommandSpec {
  /** The synopsis after `usage: ` (`vfiokit list [--json] [--sysfs DIR]`). */
  usage: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** How many positionals the command takes (max Infinity: any number, e.g. lab's COMMAND). */
  positionals: { min: number; max: number };
}

export interface Parsed {
  values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  positionals: string[];
  /** -h/--help was given: print the help, do nothing else. */
  help: boolean;
}

/** A command line that does not fit the command's spec: exit status 2, usage on stderr. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) { super(message); this.name = 'UsageError'; }
}

/** The --sysfs option of the commands that read sysfs (list, bind, unbind, inspect, dt). */
export const SYSFS_OPTION: OptionSpec = { type: 'string', value: 'DIR', help: 'read this sysfs tree instead of /sys (for tests)' };
/** The --iommu option of the commands that open a device (inspect, dt). */
export const IOMMU_OPTION: OptionSpec = { type: 'string', value: 'MODE', help: 'auto (default), type1, noiommu or iommufd: how the device is opened' };
/** IOMMU_OPTION's values. */
export const IOMMU_MODES = ['auto', 'type1', 'noiommu', 'iommufd'] as const;

/** The option every command has. */
const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'print this help and exit' };

/** The help text: the synopsis, then one line per option. */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, help: HELP }).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`, `${o.help}${o.multiple ? ' (repeatable)' : ''}`,
  ] as const);
  const w = Math.max(...rows.map(([l]) => l.length));
  return `usage: ${spec.usage}\n\noptions:\n${rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`).join('\n')}`;
}

/** Reads `args` against `spec`; throws UsageError. With -h/--help anywhere before `--`, nothing
 *  else is checked (so `inspect -h` is help, not a device named -h). */
export function parseCommand(spec: CommandSpec, args: string[]): Parsed {
  const options = Object.fromEntries(Object.entries({ ...spec.options, help: HELP }).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]));
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  if (head.includes('-h') || head.includes('--help')) return { values: {}, positionals: [], help: true };
  let r: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    r = parseArgs({ args, options, strict: true, allowPositionals: true }) as typeof r;
  } catch (e) {
    // node:util's messages name the option ("Unknown option '--jsn'", "Option '--json' does not
    // take an argument"); the usage says what would be right.
    throw new UsageError((e as Error).message.split('\n')[0]!, helpText(spec));
  }
  const n = r.positionals.length, { min, max } = spec.positionals;
  if (n < min || n > max) {
    const want = max === 0 ? 'no arguments' : min === max ? `${min} argument${min === 1 ? '' : 's'}` : max === Infinity ? `at least ${min} argument${min === 1 ? '' : 's'}` : `${min} to ${max} arguments`;
    const extra = n > max ? `: unexpected ${r.positionals.slice(max).map((p) => `'${p}'`).join(' ')}` : '';
    throw new UsageError(`takes ${want}, got ${n}${extra}`, helpText(spec));
  }
  return { values: r.values, positionals: r.positionals, help: false };
}

/** A string option's value, or undefined. */
export const str = (a: Parsed, name: string): string | undefined => {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
};
/** A repeatable string option's values, in order ([] when not given). */
export const strs = (a: Parsed, name: string): string[] => {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
};
/** A boolean option: given or not. */
export const flag = (a: Parsed, name: string): boolean => a.values[name] === true;

/** A positional that names a device: a UsageError unless it is a plain device name. */
export function deviceArg(spec: CommandSpec, name: string): string {
  try { return validateDeviceName(name); } catch (e) { throw new UsageError((e as Error).message, helpText(spec)); }
}

/** A string option restricted to a list of values. */
export function choice<T extends string>(spec: CommandSpec, a: Parsed, name: string, allowed: readonly T[], dflt: T): T {
  const v = str(a, name);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} ${v}: one of ${allowed.join(', ')}`, helpText(spec));
  return v as T;
}

// A small argument parser for the CLI: --flag, --key value, --key=value and positionals, checked
// against a declared spec so that a typo is an error that names the options.
import { VfioError } from '../errors.js';

export interface ArgSpec { flags?: string[]; options?: string[] }
export interface Parsed { flags: Set<string>; options: Map<string, string>; positionals: string[] }

export function parseArgs(args: string[], spec: ArgSpec, usage: string): Parsed {
  const flags = new Set<string>(), options = new Map<string, string>(), positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) { positionals.push(a); continue; }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.flags?.includes(name)) { flags.add(name); continue; }
    if (spec.options?.includes(name)) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new VfioError({ kind: 'bad-argument', message: `--${name} needs a value`, hint: usage });
      options.set(name, v);
      continue;
    }
    throw new VfioError({ kind: 'bad-argument', message: `unknown option ${a}`, hint: usage });
  }
  return { flags, options, positionals };
}

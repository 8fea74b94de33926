// The table of `vfiokit` commands: name -> module. Add a command by adding a file in src/cli/
// and one line here. Each command declares its arguments as data (spec, src/cli/args.ts); main.ts
// parses them, answers -h/--help and usage errors, and calls run with the parsed arguments.
import type { CommandSpec, Parsed } from './args.js';

export interface Command {
  summary: string;
  spec: CommandSpec;
  /** Runs the command with its parsed arguments; resolves to the process exit status. */
  run(args: Parsed): Promise<number>;
}

import { list } from './list.js';
import { bind, unbind } from './bind.js';
import { inspect } from './inspect.js';
import { fdt } from './fdt.js';
import { dt } from './dt.js';
import { lab } from './lab.js';
import { walkthrough } from './walkthrough.js';

export const COMMANDS: Record<string, Command> = {
  list,
  bind,
  unbind,
  inspect,
  fdt,
  dt,
  lab,
  walkthrough,
};

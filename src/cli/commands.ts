// The table of `vfiokit` commands: name -> module. Add a command by adding a file in src/cli/
// and one line here.
export interface Command {
  summary: string;
  /** Runs the command with its arguments; resolves to the process exit status. */
  run(args: string[]): Promise<number>;
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

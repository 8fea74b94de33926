// The table of `vfiokit` commands: name -> module. Add a command by adding a file in src/cli/
// and one line here.
export interface Command {
  summary: string;
  /** Runs the command with its arguments; resolves to the process exit status. */
  run(args: string[]): Promise<number>;
}

import { list } from './list';
import { bind, unbind } from './bind';
import { inspect } from './inspect';
import { fdt } from './fdt';
import { dt } from './dt';
import { lab } from './lab';
import { walkthrough } from './walkthrough';

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

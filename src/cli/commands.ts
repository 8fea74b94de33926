// The table of `vfiokit` commands: name -> module (each a Command, command.ts). Add a command by
// adding a file in src/cli/ and one line here. Each command declares its arguments as data (spec, src/cli/args.ts); main.ts
// parses them, answers -h/--help and usage errors, and calls run with the parsed arguments.
import type { Command } from './command.js';
import { list } from './list.js';
import { bind, unbind } from './bind.js';
import { inspect } from './inspect.js';
import { fdt } from './fdt.js';
import { dt } from './dt.js';
import { lab } from './lab.js';
import { walkthrough } from './walkthrough.js';
import { run } from './run.js';

export const COMMANDS: Record<string, Command> = {
  list,
  bind,
  unbind,
  inspect,
  fdt,
  dt,
  lab,
  walkthrough,
  run,
};

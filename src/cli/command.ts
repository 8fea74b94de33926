// The shape of one `vfiokit` command: what each command file exports and what the table in
// commands.ts lists. Its own file so that the command files and the table both import it, and
// no command imports the table that imports it.
import type { CommandSpec, Parsed } from './args.js';

/** One `vfiokit` command: its one-line summary, its arguments as data, and what it does. */
export interface Command {
  summary: string;
  spec: CommandSpec;
  /** Runs the command with its parsed arguments; resolves to the process exit status. */
  run(args: Parsed): Promise<number>;
}

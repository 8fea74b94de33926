#!/usr/bin/env node
// The `vfiokit` command. Each command lives in src/cli/<name>.ts and is listed in COMMANDS;
// this file only dispatches and turns a VfioError into a message and an exit status.
import { VfioError } from './errors.js';
import { COMMANDS } from './cli/commands.js';

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  vfiokit ${name.padEnd(12)} ${c.summary}`);
  return `usage: vfiokit <command> [options]\n\n${lines.join('\n')}\n\nvfiokit <command> --help for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') { console.log(usage()); return name ? 0 : 2; }
  const cmd = COMMANDS[name];
  if (!cmd) { console.error(`vfiokit: unknown command '${name}'\n\n${usage()}`); return 2; }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof VfioError) { console.error(`vfiokit: ${e.message}`); process.exitCode = 1; }
    else { console.error(e); process.exitCode = 70; }
  },
);

// The `vfiokit` command line: picks the command, reads its arguments against its spec, and turns
// the outcome into an exit status, as docs/CLI.md promises: 0 done (help asked for goes to
// stdout), 1 a VfioError (its message and hint on stderr), 2 a usage error (the message and the
// usage on stderr), 70 anything else (a bug: the stack on stderr).
// Not responsible for: what a command does (src/cli/<name>.ts).
import { readFileSync } from 'node:fs';
import { VfioError } from '../errors.js';
import { COMMANDS } from './commands.js';
import type { Command } from './command.js';
import { helpText, parseCommand, UsageError } from './args.js';

/** Exit statuses (sysexits.h's EX_SOFTWARE for a bug). */
export const EXIT = { ok: 0, error: 1, usage: 2, bug: 70 } as const;

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  vfiokit ${name.padEnd(12)} ${c.summary}`);
  return `usage: vfiokit <command> [options]\n       vfiokit --version\n\n${lines.join('\n')}\n\nvfiokit <command> --help for a command's options.`;
}

/** The version in vfiokit's package.json: the nearest one named vfiokit above this module, which
 *  is the package root from the bundle (dist/cli.js), the source (src/cli/main.ts) and the test
 *  bundles (build/test/...) alike. */
export function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vfiokit' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* none here, or not JSON: climb */ }
    if (dir.pathname === '/') return 'unknown';
  }
}

/** Runs one command's argv (without the command name); the exit status. */
export async function runCommand(name: string, cmd: Command, args: string[]): Promise<number> {
  try {
    const a = parseCommand(cmd.spec, args);
    if (a.help) { process.stdout.write(`${cmd.summary}\n\n${helpText(cmd.spec)}\n`); return EXIT.ok; }
    return await cmd.run(a);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`vfiokit ${name}: ${e.message}\n\n${e.usage}\n`); return EXIT.usage; }
    if (e instanceof VfioError) { process.stderr.write(`vfiokit ${name}: ${e.message}\n`); return EXIT.error; }
    throw e;
  }
}

/** The whole command line; the exit status. Never throws for a usage or a VfioError. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    if (rest.length) { process.stderr.write(`vfiokit: --version takes no arguments\n\n${usage()}\n`); return EXIT.usage; }
    process.stdout.write(`vfiokit ${packageVersion()}\n`); return EXIT.ok;
  }
  if (name === '--help' || name === '-h' || name === 'help') { process.stdout.write(`${usage()}\n`); return EXIT.ok; }
  if (name === undefined) { process.stderr.write(`${usage()}\n`); return EXIT.usage; }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) { process.stderr.write(`vfiokit: unknown command '${name}'\n\n${usage()}\n`); return EXIT.usage; }
  return runCommand(name, cmd, rest);
}

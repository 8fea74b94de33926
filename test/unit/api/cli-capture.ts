// Runs the `vfiokit` command line in this process (runCli, as src/cli.ts does) and captures what it
// writes to stdout and stderr and the exit status it answers.
import { runCli } from '../../../src/cli/main';

export interface CliRun { code: number; out: string; err: string }

export async function cli(...argv: string[]): Promise<CliRun> {
  const out: string[] = [], err: string[] = [];
  const o = process.stdout.write, e = process.stderr.write;
  const grab = (into: string[]) => ((chunk: string | Uint8Array) => { into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1')); return true; }) as typeof process.stdout.write;
  process.stdout.write = grab(out); process.stderr.write = grab(err);
  try { return { code: await runCli(argv), out: out.join(''), err: err.join('') }; } finally { process.stdout.write = o; process.stderr.write = e; }
}

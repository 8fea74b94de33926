// A second process for the lab's fault tests: the same bundled test file run again as
// `node <file> --child <role> [args]` (each fault test file holds its child roles), with its
// stdout read line by line, a wait for a line, and its exit.
// Not responsible for: what a role does (the test file's child() does).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** The role this process was started in, or undefined for the test run itself. */
export const CHILD_ROLE: string | undefined = process.argv[2] === '--child' ? process.argv[3] : undefined;
/** The arguments after the role. */
export const CHILD_ARGS: string[] = process.argv.slice(4);

export interface Child {
  proc: ChildProcess;
  /** Every line the child printed so far (stdout and stderr). */
  lines: string[];
  /** Resolves with the first line (already printed or to come) that matches; rejects after ms. */
  waitFor(re: RegExp, ms: number): Promise<string>;
  /** Resolves when the child has exited. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts this file again in `role` (options: uid/gid to drop root, env). `shellFirst` runs in a
 *  shell before node replaces it (`ulimit -l 256`: node cannot lower its own rlimits). */
export function startChild(role: string, args: string[] = [], opts: SpawnOptions = {}, shellFirst?: string): Child {
  const argv = [process.execPath, process.argv[1]!, '--child', role, ...args];
  const proc = shellFirst === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], ...opts })
    : spawn('sh', ['-c', `${shellFirst} && exec "$0" "$@"`, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let pending = '';
  const onData = (d: Buffer): void => {
    pending += d.toString();
    const parts = pending.split('\n'); pending = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc, lines, exit,
    waitFor(re, ms) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (l: string) => { clearTimeout(t); resolve(l); } };
        const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`child ${role}: no line matching ${re} within ${ms} ms; it printed:\n${lines.join('\n')}`)); }, ms);
        waiters.push(w);
        void exit.then(() => setTimeout(() => { if (waiters.includes(w)) { clearTimeout(t); waiters.splice(waiters.indexOf(w), 1); reject(new Error(`child ${role} exited before printing ${re}:\n${lines.join('\n')}`)); } }, 50));
      });
    },
  };
}

/** In a child: keeps the process alive until it is killed. */
export function stayAlive(): void { setInterval(() => {}, 1 << 30); }

// Getting a vCPU out of KVM_RUN from another thread, the way every VMM does it: the vCPU's
// kvm_run.immediate_exit set (a KVM_RUN that starts after that returns EINTR at once), and a signal
// with a handler sent to the thread blocked in KVM_RUN (KVM returns EINTR to it). The thread is
// found in /proc/self/task/<tid>/syscall, which names the syscall a blocked thread is in and its
// arguments: ioctl(vcpu fd, KVM_RUN). The signal is SIGUSR2, with a handler that does nothing
// installed for the run (installKickHandler); Node keeps SIGUSR1 for its inspector. The same
// signal, sent every few ms by a ticker thread (startTicker), takes vCPU 0 out of KVM_RUN on the
// main thread so that the event loop gets its turns while the guest runs.
// Not responsible for: deciding when to stop (run.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { hostSys, KVM_RUN } from '../sys-api.js';
import type { Vcpu } from './kvm.js';

/** The signal that kicks a vCPU thread. */
export const KICK_SIGNAL = 'SIGUSR2';
const KICK_SIGNO = 12;   // SIGUSR2 on arm64 and x86-64 (asm-generic/signal.h)
/** ioctl's syscall number (/proc/<pid>/task/<tid>/syscall's first field): arm64's generic table, x86-64's. */
const NR_IOCTL: Readonly<Record<string, number>> = Object.freeze({ arm64: 29, x64: 16 });

const noop = (): void => {};
/** Installs the kick signal's do-nothing handler (without one, the signal would kill the process,
 *  or, ignored, never interrupt KVM_RUN); returns its removal. */
export function installKickHandler(): () => void {
  process.on(KICK_SIGNAL, noop);
  // Removed a little later than asked: a tick or a kick sent just before the run ended may still
  // be on its way, and without a handler SIGUSR2 would end the process.
  return () => { setTimeout(() => process.off(KICK_SIGNAL, noop), HANDLER_GRACE_MS).unref(); };
}
/** How long the kick handler outlives the run (ms): many times a tick's or a kick's way. */
export const HANDLER_GRACE_MS = 500;

/** The threads of this process blocked in ioctl(fd, KVM_RUN) for each fd in `fds`. */
export function threadsInKvmRun(fds: ReadonlySet<number>, arch: string = process.arch, taskDir = '/proc/self/task'): number[] {
  const nr = NR_IOCTL[arch];
  if (nr === undefined) return [];
  const out: number[] = [];
  for (const t of readdirSync(taskDir)) {
    let line: string;
    try { line = readFileSync(`${taskDir}/${t}/syscall`, 'utf8'); } catch { continue; }   // the thread ended
    const [no, fd, req] = line.trim().split(' ');
    if (Number(no) === nr && fds.has(Number(fd)) && Number(req) === KVM_RUN) out.push(Number(t));
  }
  return out;
}

/** Asks each vCPU out of KVM_RUN: immediate_exit, then the kick signal to the threads found in it. */
export function kickVcpus(vcpus: readonly Vcpu[]): number {
  if (vcpus.length === 0) return 0;
  for (const v of vcpus) v.requestExit();
  const sys = hostSys();
  const tids = threadsInKvmRun(new Set(vcpus.map((v) => v.fd)));
  for (const tid of tids) {
    try { sys.tgkill(tid, KICK_SIGNO); } catch { /* the thread left KVM_RUN (and maybe ended) since it was found */ }
  }
  return tids.length;
}

/** The ticker's thread: a Worker of a few lines that sends the kick signal to this process every
 *  `ms` (a process-directed signal goes to the main thread first, the one in KVM_RUN for vCPU 0).
 *  No FFI: process.kill. */
const TICKER_SOURCE = `const { workerData } = require('node:worker_threads');
setInterval(() => { try { process.kill(workerData.pid, workerData.signal); } catch {} }, workerData.ms);`;

/** Starts the ticker (the kick handler must be installed); stop() ends its thread. */
export function startTicker(ms: number): { stop(): Promise<void> } {
  const w = new Worker(TICKER_SOURCE, { eval: true, workerData: { pid: process.pid, signal: KICK_SIGNAL, ms } });
  w.unref();
  return { stop: async () => { await w.terminate(); } };
}

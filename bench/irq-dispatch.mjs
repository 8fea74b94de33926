// IRQ wake-up latency, userspace path: an eventfd is signalled by another thread and a JS
// handler on the main thread runs. Three ways to wait for many eventfds without holding one
// libuv threadpool thread per IRQ, against C (two threads, one hop) in the same run:
//   poll    koffi.node.poll: uv_poll on Node's own event loop (no thread held)
//   epoll   one epoll_wait.async on the threadpool for all eventfds (one thread held)
//   worker  a worker thread blocked in epoll_wait, posting to the main thread
//   vfiokit the library's own path: IrqDispatcher over the shim (sys.watch = koffi.node.poll,
//           sys.eventfdRead), the handler a device's onTrigger() gets
// Writes bench/results/irq-dispatch.json. Absolute times on a shared machine mean little: the
// ratio to C is the figure.
import koffi from 'koffi';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeResults } from './lib.mjs';
import { createSys, realLibc } from '../shim/index';
import { IrqDispatcher } from '../src/irq/dispatcher';

// The repository root: benchmarks run bundled from build/bench/ with the root as cwd (bench/run.mjs).
const here = join(process.env.VFIOKIT_ROOT ?? process.cwd(), 'bench');
const N = Number(process.env.SAMPLES ?? 1000);
const libc = koffi.load('libc.so.6');
const eventfd = libc.func('int eventfd(unsigned int, int)');
const read = libc.func('intptr_t read(int, _Out_ uint8_t *buf, size_t)');
const close = libc.func('int close(int)');
const epoll_create1 = libc.func('int epoll_create1(int)');
const epoll_ctl = libc.func('int epoll_ctl(int, int, int, uint8_t *ev)');
const epoll_wait = libc.func('int epoll_wait(int, _Out_ uint8_t *evs, int, int)');
const EFD_NONBLOCK = 0o4000, EPOLLIN = 1, EPOLL_CTL_ADD = 1;

// The writer: a worker that signals the eventfd every ~1 ms and stamps the time in shared memory.
const writerSrc = `
const { workerData, parentPort } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const write = koffi.load('libc.so.6').func('intptr_t write(int, uint8_t *buf, size_t)');
const stamp = new BigInt64Array(workerData.sab);
const one = new Uint8Array(new BigUint64Array([1n]).buffer);
const sleep = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < workerData.n; i++) {
  Atomics.wait(sleep, 0, 0, 1);
  Atomics.store(stamp, 0, process.hrtime.bigint());
  write(workerData.fd, one, 8);
}
parentPort.postMessage('done');`;

function startWriter(fd, sab) {
  return new Worker(writerSrc, { eval: true, workerData: { fd, sab, n: N, koffi: koffi_path() } });
}
function koffi_path() { return join(here, '..', 'node_modules', 'koffi'); }

function stats(lat) {
  lat.sort((a, b) => a - b);
  return { median_ns: lat[Math.floor(lat.length / 2)], p99_ns: lat[Math.floor(lat.length * 0.99)], samples: lat.length };
}

function measure(name, arm) {
  return new Promise((resolve) => {
    const fd = eventfd(0, EFD_NONBLOCK);
    const sab = new SharedArrayBuffer(8);
    const stamp = new BigInt64Array(sab);
    const lat = [];
    const buf = new Uint8Array(8);
    const counter = new BigUint64Array(buf.buffer);
    let signalled = 0;
    // The eventfd counter coalesces writes that land before one read: count its value, and keep
    // a latency sample only for a wake-up that saw exactly one write.
    const onIrq = (alreadyRead) => {
      const t1 = process.hrtime.bigint();
      const got = alreadyRead ?? (read(fd, buf, 8) === 8 ? Number(counter[0]) : 0);
      if (got === 0) return;
      signalled += got;
      if (got === 1) lat.push(Number(t1 - Atomics.load(stamp, 0)));
      if (signalled >= N) { disarm(); close(fd); resolve({ name, ...stats(lat), coalesced: N - lat.length }); }
    };
    const disarm = arm(fd, onIrq);
    startWriter(fd, sab);
  });
}

const viaPoll = (fd, onIrq) => { const h = koffi.node.poll(fd, { readable: true }, () => onIrq()); return () => h.close(); };

const viaEpollAsync = (fd, onIrq) => {
  const ep = epoll_create1(0);
  const ev = Buffer.alloc(12); ev.writeUInt32LE(EPOLLIN, 0); ev.writeUInt32LE(fd, 4);
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev);
  let stopped = false;
  const out = Buffer.alloc(12 * 8);
  const loop = () => epoll_wait.async(ep, out, 8, 100, (err, n) => { if (stopped) return close(ep); if (n > 0) onIrq(); loop(); });
  loop();
  return () => { stopped = true; };
};

const workerSrc = `
const { workerData, parentPort } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const libc = koffi.load('libc.so.6');
const epoll_create1 = libc.func('int epoll_create1(int)');
const epoll_ctl = libc.func('int epoll_ctl(int, int, int, uint8_t *ev)');
const epoll_wait = libc.func('int epoll_wait(int, _Out_ uint8_t *evs, int, int)');
const read = libc.func('intptr_t read(int, _Out_ uint8_t *buf, size_t)');
const ep = epoll_create1(0);
const ev = Buffer.alloc(12); ev.writeUInt32LE(1, 0); ev.writeUInt32LE(workerData.fd, 4);
epoll_ctl(ep, 1, workerData.fd, ev);
const out = Buffer.alloc(96); const stop = new Int32Array(workerData.stop);
const b = new Uint8Array(8); const c = new BigUint64Array(b.buffer);
while (!Atomics.load(stop, 0)) { const n = epoll_wait(ep, out, 8, 50); if (n > 0) { const t = process.hrtime.bigint(); read(workerData.fd, b, 8); parentPort.postMessage(Number(c[0])); } }`;

const viaWorker = (fd, onIrq) => {
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(workerSrc, { eval: true, workerData: { fd, stop, koffi: koffi_path() } });
  // The handler runs on the main thread when the message arrives; the eventfd was read by the worker.
  w.on('message', (count) => onIrq(count));
  return () => { Atomics.store(new Int32Array(stop), 0, 1); w.unref(); };
};

// The library: what device.irqs[i].onTrigger(handler) runs on (src/device/irq.ts dispatcherFor).
const sys = createSys(realLibc());
const viaVfiokit = (fd, onIrq) => {
  const d = new IrqDispatcher(sys.watch, sys.readCounter);
  d.add(fd, (count) => onIrq(Number(count)), 'bench');
  return () => d.close();
};

const results = [];
const cc = join(here, '..', 'build', 'bench', 'eventfd_hop');
mkdirSync(dirname(cc), { recursive: true });
execFileSync('cc', ['-O2', '-pthread', '-o', cc, join(here, 'native', 'eventfd_hop.c')]);
const c = JSON.parse(execFileSync(cc, [String(N)], { encoding: 'utf8' }));
results.push({ name: 'c-two-threads', ...c });
for (const [name, arm] of [['vfiokit IrqDispatcher', viaVfiokit], ['koffi.node.poll', viaPoll], ['epoll_wait.async', viaEpollAsync], ['worker+epoll', viaWorker]]) {
  results.push(await measure(name, arm));
}
writeResults('irq-dispatch', {
  what: 'IRQ wake-up: eventfd signalled -> JS handler runs (median; p99 in json)',
  reference: 'C, two threads, one hop on an eventfd', goal: 2.0, results,
  note: `${N} samples at ~1 ms gaps; the dispatcher uses koffi.node.poll (docs/DESIGN.md)`,
});
process.exit(0);

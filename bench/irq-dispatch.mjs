// IRQ wake-up latency, userspace path: an eventfd is signalled by another thread and a handler
// runs. Every way, and the C reference, is signalled by the same C writer thread
// (bench/native/eventfd_writer.c: the stamp is the counter's increment, so nothing of JS runs on
// the signalling side), one signal about every GAP_US:
//   C         eventfd_hop.c: a thread blocked in read() (one hop, the floor)
//   waiter    the library's IRQ thread: IrqWaiter.wait() on a worker_threads Worker (this file,
//             loaded again), epoll_wait then the counter read, the handler on that thread
//   reader    the library's one-IRQ thread: IrqReader.wait() on a Worker, a plain read() of one
//             blocking eventfd (triggerEventfd({ blocking: true })), the handler on that thread
//   vfiokit   the library's main-thread path: IrqDispatcher over the shim (sys.watch =
//             koffi.node.poll, sys.readCounter), the handler a device's onTrigger() gets
//   poll      bare koffi.node.poll: uv_poll on Node's own event loop (the floor of the above)
//   epoll     one epoll_wait.async on the libuv threadpool for all eventfds
//   worker    a worker blocked in epoll_wait posting to the main thread, the handler there
// Writes bench/results/irq-dispatch.json. Absolute times on a shared machine mean little: the
// ratio to C is the figure.
import koffi from 'koffi';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeResults, root } from './lib.mjs';
import { createSys, realLibc } from '../shim/index';
import { IrqDispatcher } from '../src/eventfd/dispatcher';
import { IrqWaiter } from '../src/eventfd/waiter';
import { IrqReader } from '../src/eventfd/reader';

const N = Number(process.env.SAMPLES ?? 1000);
const GAP_US = Number(process.env.GAP_US ?? 1000);
const EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000, EPOLLIN = 1, EPOLL_CTL_ADD = 1;

/** One wake-up's latencies from the counter it read (the sum of the stamps written since the
 *  last read) and the reader's clock; returns how many signals it carried. */
function account(lat, value, now) {
  const t1 = now - base;
  if (value <= t1) { lat.push(Number(t1 - value)); return 1; }
  return Number((value + t1 / 2n) / t1); // coalesced: several stamps summed
}

// The writer's stamps are CLOCK_MONOTONIC (process.hrtime's clock) less this base, set by the main
// thread and given to the workers: small enough for IrqReader, whose wake unit is 2^40.
const base = isMainThread ? process.hrtime.bigint() : workerData.base;

if (!isMainThread) workerMain(workerData);
else await main();

// ---- the worker ways ----
function workerMain({ mode, fd, n }) {
  const sys = createSys(realLibc());
  if (mode === 'waiter') {
    const w = new IrqWaiter({ sys });
    w.add(fd);
    parentPort.postMessage({ ready: true });
    const lat = [];
    for (let signalled = 0; signalled < n;) {
      const fired = w.wait(1000);
      const t1 = process.hrtime.bigint();
      for (let i = 0; i < fired.length; i++) signalled += account(lat, fired[i].count, t1);
    }
    w.close();
    parentPort.postMessage({ lat });
    return;
  }
  if (mode === 'reader') {
    const r = new IrqReader(fd, { sys });
    parentPort.postMessage({ ready: true });
    const lat = [];
    for (let signalled = 0; signalled < n;) {
      const count = r.wait();
      const t1 = process.hrtime.bigint();
      if (count > 0n) signalled += account(lat, count, t1);
    }
    r.close();
    parentPort.postMessage({ lat });
    return;
  }
  if (mode === 'bare-epoll' || mode === 'bare-read') {
    // The floors of IrqWaiter: raw koffi calls, no vfiokit code. bare-read blocks in read() on
    // a blocking eventfd (one fd only, as C does); bare-epoll in epoll_wait, then read().
    const koffiLibc = koffi.load('libc.so.6');
    const read = koffiLibc.func('intptr_t read(int, _Out_ uint8_t *buf, size_t)');
    const epollWait = koffiLibc.func('int epoll_wait(int, _Out_ uint8_t *evs, int, int)');
    const buf = new Uint8Array(8), value = new BigUint64Array(buf.buffer);
    let ep = -1;
    const evs = new Uint8Array(16 * 8);
    if (mode === 'bare-epoll') {
      ep = sys.epollCreate1(0);
      const ev = new Uint8Array(16); new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
      sys.epollCtl(ep, EPOLL_CTL_ADD, fd, ev);
    }
    parentPort.postMessage({ ready: true });
    const lat = [];
    for (let signalled = 0; signalled < n;) {
      if (ep >= 0 && epollWait(ep, evs, 8, 1000) < 1) continue;
      if (read(fd, buf, 8) !== 8) continue;
      signalled += account(lat, value[0], process.hrtime.bigint());
    }
    if (ep >= 0) sys.close(ep);
    parentPort.postMessage({ lat });
    return;
  }
  // 'relay': blocked in epoll_wait, the counter posted to the main thread.
  const ep = sys.epollCreate1(0);
  const ev = new Uint8Array(16); const dv = new DataView(ev.buffer);
  dv.setUint32(0, EPOLLIN, true); dv.setUint32(process.arch === 'x64' ? 4 : 8, fd, true);
  sys.epollCtl(ep, EPOLL_CTL_ADD, fd, ev);
  const out = new Uint8Array(16 * 8);
  parentPort.postMessage({ ready: true });
  for (let signalled = 0; signalled < n;) {
    if (sys.epollWait(ep, out, 8, 1000) < 1) continue;
    const v = sys.eventfdRead(fd);
    if (v === 0n) continue;
    parentPort.postMessage({ value: v });
    signalled += v > process.hrtime.bigint() - base ? 2 : 1; // only to know when to stop
  }
  sys.close(ep);
}

// ---- the main thread ----
async function main() {
  const here = join(root, 'bench');
  const out = join(root, 'build', 'bench');
  mkdirSync(out, { recursive: true });
  const cc = join(out, 'eventfd_hop'), so = join(out, 'libeventfd_writer.so');
  execFileSync('cc', ['-O2', '-pthread', '-o', cc, join(here, 'native', 'eventfd_hop.c')]);
  execFileSync('cc', ['-O2', '-pthread', '-shared', '-fPIC', '-o', so, join(here, 'native', 'eventfd_writer.c')]);
  const writer = koffi.load(so);
  const writerStart = writer.func('int vk_writer_start(int, int, int)');
  const writerJoin = writer.func('int vk_writer_join(void)');
  writer.func('void vk_writer_base(uint64_t)')(base);
  const libc = koffi.load('libc.so.6');
  const epoll_create1 = libc.func('int epoll_create1(int)');
  const epoll_ctl = libc.func('int epoll_ctl(int, int, int, uint8_t *ev)');
  const epoll_wait = libc.func('int epoll_wait(int, _Out_ uint8_t *evs, int, int)');
  const sys = createSys(realLibc());

  const stats = (lat) => {
    lat.sort((a, b) => a - b);
    return { median_ns: lat[Math.floor(lat.length / 2)], p99_ns: lat[Math.floor(lat.length * 0.99)], samples: lat.length, coalesced: N - lat.length };
  };

  /** A main-thread way: arm(fd, onValue) starts watching and returns its disarm. */
  function onMain(name, arm) {
    return new Promise((resolve, reject) => {
      const fd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      const lat = [];
      let signalled = 0, disarm;
      const onValue = (value) => {
        const t1 = process.hrtime.bigint();
        if (value === 0n) return;
        signalled += account(lat, value, t1);
        if (signalled >= N) { disarm(); writerJoin(); sys.close(fd); resolve({ name, ...stats(lat) }); }
      };
      disarm = arm(fd, onValue);
      if (writerStart(fd, N, GAP_US) !== 0) reject(new Error('the writer thread did not start'));
    });
  }

  /** A worker way: the worker reports ready, then the writer starts; it ends with its samples. */
  function onWorker(name, mode) {
    return new Promise((resolve, reject) => {
      const fd = sys.eventfd(0, (mode === 'bare-read' || mode === 'reader' ? 0 : EFD_NONBLOCK) | EFD_CLOEXEC);
      const w = new Worker(new URL(import.meta.url), { workerData: { mode, fd, n: N, base } });
      const lat = [];
      let signalled = 0;
      const finish = (samples) => { writerJoin(); w.terminate().then(() => { sys.close(fd); resolve({ name, ...stats(samples) }); }); };
      w.on('error', reject);
      w.on('message', (m) => {
        if (m.ready) { if (writerStart(fd, N, GAP_US) !== 0) reject(new Error('the writer thread did not start')); return; }
        if (m.lat) { finish(m.lat); return; }
        const t1 = process.hrtime.bigint(); // 'relay': the handler runs here, on the main thread
        signalled += account(lat, m.value, t1);
        if (signalled >= N) finish(lat);
      });
    });
  }

  const viaDispatcher = (fd, onValue) => {
    const d = new IrqDispatcher(sys.watch, sys.readCounter);
    d.add(fd, onValue, 'bench');
    return () => d.close();
  };
  const viaPoll = (fd, onValue) => { const h = koffi.node.poll(fd, { readable: true }, () => onValue(sys.eventfdRead(fd))); return () => h.close(); };
  const viaEpollAsync = (fd, onValue) => {
    const ep = epoll_create1(0);
    const ev = Buffer.alloc(16); ev.writeUInt32LE(EPOLLIN, 0); ev.writeUInt32LE(fd, process.arch === 'x64' ? 4 : 8);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev);
    let stopped = false;
    const evs = Buffer.alloc(16 * 8);
    const loop = () => epoll_wait.async(ep, evs, 8, 100, (err, n) => { if (stopped) return sys.close(ep); if (n > 0) onValue(sys.eventfdRead(fd)); loop(); });
    loop();
    return () => { stopped = true; };
  };

  const results = [{ name: 'c-two-threads', ...JSON.parse(execFileSync(cc, [String(N), String(GAP_US)], { encoding: 'utf8' })) }];
  results.push(await onWorker('vfiokit IrqWaiter (IRQ thread)', 'waiter'));
  results.push(await onMain('vfiokit IrqDispatcher (main loop)', viaDispatcher));
  results.push(await onWorker('vfiokit IrqReader (one-IRQ thread)', 'reader'));
  // Without vfiokit's API: the floors and the alternatives the dispatcher was chosen among.
  const diagnostics = [];
  diagnostics.push(await onWorker('worker: koffi read() (floor of a thread)', 'bare-read'));
  diagnostics.push(await onWorker('worker: koffi epoll_wait + read (floor of IrqWaiter)', 'bare-epoll'));
  diagnostics.push(await onMain('koffi.node.poll (floor of the dispatcher)', viaPoll));
  diagnostics.push(await onMain('epoll_wait.async', viaEpollAsync));
  diagnostics.push(await onWorker('worker+epoll, handler on main', 'relay'));
  results[1].floor = diagnostics[1].name; results[2].floor = diagnostics[2].name; results[3].floor = diagnostics[0].name;
  writeResults('irq-dispatch', {
    what: 'IRQ wake-up: eventfd signalled -> handler runs (median; p99 in json)',
    reference: 'C, two threads, one hop on an eventfd', goal: null, floorGoal: 1.1, results, diagnostics,
    note: `${N} signals about ${GAP_US} us apart from one C writer thread for every way (bench/native/eventfd_writer.c); IrqWaiter is the IRQ-thread path, IrqReader the one-IRQ thread's, IrqDispatcher the main-loop one (docs/DESIGN.md)`,
  });
  process.exit(0);
}

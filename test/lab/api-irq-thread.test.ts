// Runs INSIDE the lab guest: the pl031's alarm IRQ (vfio-amba, a level line) taken by an IRQ
// thread: DeviceIrq.triggerEventfd() hands the trigger to a worker_threads Worker (this file,
// loaded again) blocked in IrqWaiter.wait(); the main thread acknowledges each alarm in the
// device and unmasks the line in VFIO, and finally wakes the worker to stop it. The same again
// with IrqReader: triggerEventfd({ blocking: true }) and a Worker blocked in a plain read().
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds } from '../support/fds';
import { IrqReader, IrqWaiter, openDevice } from '../../src/index';

const PL031 = '9010000.pl031';
const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;
const ROUNDS = 2, ALARM_LIMIT_MS = 5000;

type FromWorker = { ready: number } | { key: number; count: bigint; woke: bigint } | { done: true };

type Mode = 'waiter' | 'reader';

if (!isMainThread && (workerData as { mode: Mode }).mode === 'reader') {
  // The one-IRQ thread: a plain read of the blocking eventfd until woken.
  const r = new IrqReader((workerData as { fd: number }).fd);
  parentPort!.postMessage({ ready: r.fd } satisfies FromWorker);
  for (;;) {
    const count = r.wait();
    const woke = process.hrtime.bigint();
    if (count > 0n) parentPort!.postMessage({ key: 0, count, woke } satisfies FromWorker);
    if (r.woken) break;
  }
  r.close();
  parentPort!.postMessage({ done: true } satisfies FromWorker);
} else if (!isMainThread) {
  // The IRQ thread: report every signal of the device's eventfd until woken.
  const w = new IrqWaiter();
  w.add((workerData as { fd: number }).fd, 0);
  parentPort!.postMessage({ ready: w.wakeFd } satisfies FromWorker);
  for (;;) {
    const fired = w.wait();
    const woke = process.hrtime.bigint();
    for (const f of fired) parentPort!.postMessage({ key: f.key, count: f.count, woke } satisfies FromWorker);
    if (w.woken) break;
  }
  w.close();
  parentPort!.postMessage({ done: true } satisfies FromWorker);
} else {
  for (const mode of ['waiter', 'reader'] as const) {
    test(`two pl031 alarms wake a Worker blocked in ${mode === 'waiter' ? 'IrqWaiter.wait() (epoll)' : 'IrqReader.wait() (a plain read of a blocking eventfd)'}; unmask in between; wake() stops it; no fd left`, async () => {
      const fdsBefore = countFds();
      const dev = openDevice(PL031);
      let worker: Worker | undefined;
      const got: { count: bigint; ms: number }[] = [];
      try {
        const m = dev.regions[0]!.map();
        const efd = dev.irqs[0]!.triggerEventfd({ blocking: mode === 'reader' });
        assert.is(dev.irqs[0]!.eventfd, efd);
        let armedAt = 0n;
        const arm = (): void => { m.write32(ICR, 1); m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1); armedAt = process.hrtime.bigint(); };
        const w = worker = new Worker(new URL(import.meta.url), { workerData: { fd: efd, mode } });
        // Listened for from the start: 'exit' can come in the same turn as the last message.
        const exited = new Promise((r) => w.once('exit', r));
        await new Promise<void>((resolve, reject) => {
          const limit = setTimeout(() => reject(new Error(`no alarm within ${ALARM_LIMIT_MS} ms (got ${got.length})`)), ALARM_LIMIT_MS * ROUNDS);
          w.on('error', reject);
          let wakeFd = -1;
          w.on('message', (msg: FromWorker) => {
            if ('ready' in msg) { wakeFd = msg.ready; arm(); return; }
            if ('done' in msg) { clearTimeout(limit); resolve(); return; }
            got.push({ count: msg.count, ms: Number(msg.woke - armedAt) / 1e6 });
            assert.is(m.read32(RIS) & 1, 1, 'the device still asserts its line: the level IRQ fired');
            m.write32(IMSC, 0); m.write32(ICR, 1);
            dev.irqs[0]!.unmask();
            if (got.length < ROUNDS) arm();
            else if (mode === 'waiter') IrqWaiter.wake(wakeFd);
            else IrqReader.wake(wakeFd);
          });
        });
        await exited;
        worker = undefined;
        console.log(`IRQ thread (${mode}): alarms after ${got.map((g) => g.ms.toFixed(0)).join(', ')} ms`);
      } finally {
        if (worker) await worker.terminate();
        dev.close();
      }
      assert.equal(got.map((g) => g.count), [1n, 1n], 'one signal per alarm');
      for (const g of got) assert.ok(g.ms > 0 && g.ms < ALARM_LIMIT_MS, `alarm after ${g.ms} ms`);
      assert.is(countFds(), fdsBefore);
    });
  }

  test.run();
}

// IrqWaiter against the host's own eventfd and epoll (real syscalls: no VFIO is needed for
// them), including the way it is meant to run: on a worker_threads Worker (this file, loaded
// again as the worker) blocked in wait() while the main thread signals and finally wakes it.
// The fake libc covers the errnos the host will not produce on demand (EINTR, a failing wait).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IrqWaiter } from '../../../src/eventfd/waiter';
import { VfioError } from '../../../src/errors';
import { createSys } from '../../../shim/sys';
import { realLibc, EFD_CLOEXEC, EFD_NONBLOCK } from '../../../shim/libc';
import { createFakeLibc } from '../../support/fake-libc';
import { countFds } from '../../support/fds';

if (!isMainThread) workerMain();
else mainTests();

/** The IRQ thread: waits until woken, reporting each fired eventfd to the main thread. */
function workerMain(): void {
  const { fds } = workerData as { fds: number[] };
  const w = new IrqWaiter();
  fds.forEach((fd, i) => w.add(fd, 10 + i));
  parentPort!.postMessage({ ready: w.wakeFd });
  for (;;) {
    const fired = w.wait();
    for (const f of fired) parentPort!.postMessage({ key: f.key, count: f.count });
    if (w.woken) break;
  }
  w.close();
  parentPort!.postMessage({ done: true });
}

function mainTests(): void {
  const sys = createSys(realLibc());
  const efd = (): number => sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const caught = (f: () => unknown): VfioError => { try { f(); } catch (e) { if (e instanceof VfioError) return e; throw e; } throw new Error('did not throw'); };

  test('two eventfds: wait() returns each with its key and counter, which reading reset', () => {
    const before = countFds();
    const a = efd(), b = efd();
    const w = new IrqWaiter({ sys });
    try {
      w.add(a, 1); w.add(b, 2);
      assert.is(w.size, 2);
      sys.eventfdWrite(a, 3n); sys.eventfdWrite(b, 1n);
      const got = w.wait(1000).map((f) => [f.key, f.fd, f.count]).sort();
      assert.equal(got, [[1, a, 3n], [2, b, 1n]]);
      assert.is(w.woken, false);
      assert.equal(w.wait(0), [], 'the counters were read: nothing is pending');
      sys.eventfdWrite(b, 5n);
      assert.equal(w.wait(1000).map((f) => [f.key, f.count]), [[2, 5n]]);
    } finally { w.close(); sys.close(a); sys.close(b); }
    assert.is(countFds(), before);
  });

  test('a timeout returns an empty array; wake() returns at once with woken set', () => {
    const w = new IrqWaiter({ sys });
    try {
      assert.equal(w.wait(5), []);
      assert.is(w.woken, false);
      IrqWaiter.wake(w.wakeFd, sys);
      assert.equal(w.wait(-1), []);
      assert.is(w.woken, true);
      assert.equal(w.wait(0), [], 'the wake was consumed');
      assert.is(w.woken, false);
    } finally { w.close(); }
  });

  test('remove(): the eventfd is no longer reported; removing an fd closed meanwhile is harmless', () => {
    const a = efd(), b = efd();
    const w = new IrqWaiter({ sys });
    try {
      w.add(a); w.add(b);
      w.remove(a);
      sys.eventfdWrite(a, 1n); sys.eventfdWrite(b, 1n);
      assert.equal(w.wait(1000).map((f) => f.key), [b], 'key defaults to the fd');
      sys.close(b);
      w.remove(b);
      assert.is(w.size, 0);
      w.remove(12345); // unknown: ignored
    } finally { w.close(); sys.close(a); }
  });

  test('bad input: a closed fd, an fd twice, use after close; errors keep errno and say what to do', () => {
    const before = countFds();
    const a = efd();
    const w = new IrqWaiter({ sys });
    sys.close(a);
    const e = caught(() => w.add(a));
    assert.is(e.errno, 9);
    assert.is(e.errnoName, 'EBADF');
    assert.is(e.syscall, 'epoll_ctl');
    assert.match(e.message, /triggerEventfd/);
    assert.is(w.size, 0, 'nothing recorded for a refused fd');
    const b = efd();
    w.add(b);
    assert.is(caught(() => w.add(b)).kind, 'bad-state');
    assert.is(caught(() => w.add(w.wakeFd)).kind, 'bad-state');
    w.close();
    w.close();
    assert.is(w.closed, true);
    assert.is(caught(() => w.wait(0)).kind, 'closed');
    assert.is(caught(() => w.add(b)).kind, 'closed');
    sys.close(b);
    assert.is(countFds(), before, 'close() closed the epoll fd and the wake eventfd');
  });

  test('fake kernel: EINTR is an empty wait; another errno is a VfioError with it; a failed constructor leaks nothing', () => {
    const libc = createFakeLibc();
    const fsys = createSys(libc);
    const w = new IrqWaiter({ sys: fsys });
    libc.failOn('epoll_wait', 4);
    assert.equal(w.wait(-1), []);
    libc.failOn('epoll_wait', 9);
    const e = caught(() => w.wait(-1));
    assert.is(e.errno, 9);
    assert.is(e.syscall, 'epoll_wait');
    w.close();
    assert.is(libc.openFds.size, 0);
    libc.failOn('eventfd', 24);
    assert.is(caught(() => new IrqWaiter({ sys: fsys })).errno, 24);
    libc.failOn('epoll_ctl', 12);
    assert.is(caught(() => new IrqWaiter({ sys: fsys })).errno, 12);
    assert.is(libc.openFds.size, 0, 'the epoll fd (and the wake eventfd) were closed again');
  });

  test('an IRQ thread: a Worker blocked in wait() takes the signals of the main thread, then wake() stops it', async () => {
    const before = countFds();
    const a = efd(), b = efd();
    const worker = new Worker(new URL(import.meta.url), { workerData: { fds: [a, b] } });
    // Listened for from the start: 'exit' can come in the same turn as the last message.
    const exited = new Promise((r) => worker.once('exit', r));
    const got: { key: number; count: bigint }[] = [];
    try {
      const done = new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { ready?: number; key?: number; count?: bigint; done?: boolean }) => {
          if (m.ready !== undefined) {
            sys.eventfdWrite(a, 2n);
            setTimeout(() => { sys.eventfdWrite(b, 7n); setTimeout(() => IrqWaiter.wake(m.ready!, sys), 50); }, 50);
          } else if (m.done) resolve();
          else got.push({ key: m.key!, count: m.count! });
        });
      });
      await done;
      await exited;
    } finally { sys.close(a); sys.close(b); }
    assert.equal(got, [{ key: 10, count: 2n }, { key: 11, count: 7n }]);
    assert.is(countFds(), before, 'the worker closed its epoll fd and wake eventfd');
  });

  test.run();
}

// IrqReader against the host's own eventfds (real syscalls: no VFIO is needed for them),
// including the way it is meant to run: on a worker_threads Worker (this file, loaded again as
// the worker) blocked in read() while the main thread signals and finally wakes it. The fake libc
// covers the errnos the host will not produce on demand (EINTR, a failing read or fcntl).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IrqReader, IRQ_READER_WAKE_UNIT } from '../../../src/eventfd/reader';
import { VfioError } from '../../../src/errors';
import { createSys } from '../../../shim/sys';
import { realLibc, EFD_CLOEXEC, EFD_NONBLOCK } from '../../../shim/libc';
import { createFakeLibc } from '../../support/fake-libc';
import { countFds } from '../../support/fds';

if (!isMainThread) workerMain();
else mainTests();

/** The IRQ thread: reads until woken, reporting each count to the main thread. */
function workerMain(): void {
  const { fd } = workerData as { fd: number };
  const r = new IrqReader(fd);
  parentPort!.postMessage({ ready: true });
  for (;;) {
    const n = r.wait();
    parentPort!.postMessage({ count: n, woken: r.woken });
    if (r.woken) break;
  }
  r.close();
}

function mainTests(): void {
  const sys = createSys(realLibc());
  const caught = (f: () => unknown): VfioError => { try { f(); } catch (e) { if (e instanceof VfioError) return e; throw e; } throw new Error('did not throw'); };

  test('wait() returns the counter and resets it; a wake is told from the IRQs it carries', () => {
    const fd = sys.eventfd(0, EFD_CLOEXEC);
    try {
      const r = new IrqReader(fd, { sys });
      sys.eventfdWrite(fd, 3n);
      assert.is(r.wait(), 3n);
      assert.is(r.woken, false);
      sys.eventfdWrite(fd, 2n);
      IrqReader.wake(fd, sys);
      assert.is(r.wait(), 2n, 'the IRQs that came with the wake are reported');
      assert.is(r.woken, true);
      IrqReader.wake(fd, sys); IrqReader.wake(fd, sys);
      assert.is(r.wait(), 0n, 'two wakes, no IRQ');
      assert.is(r.woken, true);
      sys.eventfdWrite(fd, IRQ_READER_WAKE_UNIT - 1n);
      assert.is(r.wait(), IRQ_READER_WAKE_UNIT - 1n);
      assert.is(r.woken, false, 'just below the wake unit is IRQs');
      r.close(); r.close();
      assert.is(r.closed, true);
      assert.is(caught(() => r.wait()).kind, 'closed');
    } finally { sys.close(fd); }
  });

  test('bad input: a non-blocking eventfd, a closed fd, not an fd; errors keep errno and say what to do', () => {
    const before = countFds();
    const nb = sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const e = caught(() => new IrqReader(nb, { sys }));
    assert.is(e.kind, 'bad-argument');
    assert.match(e.hint ?? '', /blocking: true/);
    sys.close(nb);
    const closed = caught(() => new IrqReader(nb, { sys }));
    assert.is(closed.errno, 9);
    assert.is(closed.syscall, 'fcntl');
    assert.match(closed.hint ?? '', /triggerEventfd/);
    for (const bad of [-1, 1.5, NaN, '3', undefined]) assert.is(caught(() => new IrqReader(bad as number, { sys })).kind, 'bad-argument', String(bad));
    assert.is(caught(() => IrqReader.wake(-2, sys)).kind, 'bad-argument');
    assert.is(caught(() => new IrqReader(0, 5 as never)).kind, 'bad-argument');
    assert.is(countFds(), before);
  });

  test('fake kernel: EINTR is a 0n wait, not woken; another read errno is a VfioError with it', () => {
    const libc = createFakeLibc();
    const fsys = createSys(libc);
    const fd = fsys.eventfd(0, 0);
    const r = new IrqReader(fd, { sys: fsys });
    libc.failOn('read', 4);
    assert.is(r.wait(), 0n);
    assert.is(r.woken, false);
    libc.failOn('read', 5);
    const e = caught(() => r.wait());
    assert.is(e.errno, 5);
    assert.is(e.syscall, 'read');
    fsys.close(fd);
    assert.is(libc.openFds.size, 0);
  });

  test('an IRQ thread: a Worker blocked in read() takes the signals of the main thread, then wake() stops it', async () => {
    const before = countFds();
    const fd = sys.eventfd(0, EFD_CLOEXEC);
    const worker = new Worker(new URL(import.meta.url), { workerData: { fd } });
    const exited = new Promise((res) => worker.once('exit', res));
    const got: { count: bigint; woken: boolean }[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { ready?: boolean; count?: bigint; woken?: boolean }) => {
          if (m.ready) {
            // Each signal waits for the previous one's report, so none is merged with the next.
            sys.eventfdWrite(fd, 2n);
            return;
          }
          got.push({ count: m.count!, woken: m.woken! });
          if (got.length === 1) sys.eventfdWrite(fd, 7n);
          else if (got.length === 2) IrqReader.wake(fd, sys);
          else resolve();
        });
      });
      await exited;
    } finally { await worker.terminate(); sys.close(fd); }
    assert.equal(got, [{ count: 2n, woken: false }, { count: 7n, woken: false }, { count: 0n, woken: true }]);
    assert.is(countFds(), before);
  });

  test.run();
}

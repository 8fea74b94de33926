// Sys.ioctlAsync: an ioctl on a libuv thread-pool thread (koffi's .async), as the mini-VMM's
// KVM_RUN uses it, against the host kernel: the result comes back, and a failure keeps the errno
// of the call made on the pool thread (not whatever the main thread's errno is meanwhile), with
// the same VfioError as the synchronous ioctl. Fds counted before and after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VfioError } from '../../../src/errors';
import { createSys, realLibc, MFD_CLOEXEC, _IO } from '../../../shim/index';
import { createFakeLibc } from '../../support/fake-libc';
import { openFds } from '../../support/fds';

const sys = createSys(realLibc());
const FIONREAD = 0x541b;             // asm-generic/ioctls.h, the same on x86-64 and arm64
const ENOTTY = 25, EBADF = 9, EINVAL = 22;
const UNKNOWN = _IO(0xfe, 0x01);     // no file type answers it: ENOTTY

async function rejection(p: Promise<unknown>): Promise<VfioError> {
  try { await p; } catch (e) { assert.instance(e, VfioError); return e as VfioError; }
  throw new Error('expected a rejection');
}

test('a memfd answers FIONREAD through the pool thread: its size', async () => {
  const before = openFds();
  const fd = sys.memfdCreate('vfiokit-async', MFD_CLOEXEC);
  try {
    sys.ftruncate(fd, 100n);
    const out = new Uint8Array(4);
    assert.is(await sys.ioctlAsync(fd, FIONREAD, out, 'FIONREAD'), 0);
    assert.is(out[0]! | (out[1]! << 8), 100, 'the kernel wrote the count into the buffer');
  } finally { sys.close(fd); }
  assert.equal(openFds(), before);
});

test('a failure keeps its own errno while the main thread fails differently in between', async () => {
  const before = openFds();
  const fd = sys.memfdCreate('vfiokit-async', MFD_CLOEXEC);
  try {
    const pending = sys.ioctlAsync(fd, UNKNOWN, null, 'UNKNOWN');
    assert.is(sys.libc.close(-1), -EBADF, 'the main thread meanwhile: EBADF');
    const e = await rejection(pending);
    assert.is(e.errno, ENOTTY);
    assert.is(e.errnoName, 'ENOTTY');
    assert.is(e.syscall, 'ioctl(UNKNOWN)');
    const sync = (() => { try { sys.ioctl(fd, UNKNOWN, null, 'UNKNOWN'); } catch (x) { return x as VfioError; } throw new Error('expected a throw'); })();
    assert.is(e.message, sync.message, 'the same error as the synchronous ioctl');
    assert.is(e.kind, sync.kind);
  } finally { sys.close(fd); }
  assert.equal(openFds(), before);
});

test('a closed fd: EBADF; a buffer shorter than the request names: refused before the call', async () => {
  assert.is((await rejection(sys.ioctlAsync(-1, FIONREAD, new Uint8Array(4)))).errno, EBADF);
  const libc = createFakeLibc();
  const fsys = createSys(libc);
  const e = await rejection(fsys.ioctlAsync(100, _IO(0xfe, 2) + 8 * 2 ** 16 + 2 ** 30, new Uint8Array(4), 'SHORT'));
  assert.is(e.kind, 'bad-argument');
  assert.is(libc.calls.ioctlAsync ?? 0, 0, 'no call was made');
});

test('the fake libc injects errno into ioctlAsync like any other call', async () => {
  const libc = createFakeLibc();
  const fsys = createSys(libc);
  const fd = libc.eventfd(0, 0);
  libc.failOn('ioctlAsync', EINVAL);
  assert.is((await rejection(fsys.ioctlAsync(fd, FIONREAD, new Uint8Array(4)))).errno, EINVAL);
  assert.is(await fsys.ioctlAsync(fd, FIONREAD, new Uint8Array(4)), 0);
  libc.close(fd);
});

test.run();

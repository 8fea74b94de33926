// The shim against the host kernel (no VFIO here): memfd, mmap, pread/pwrite, eventfd, epoll,
// poll and koffi.node.poll through realLibc() and createSys(), and each failure the host can
// provoke mapped to its VfioError. Every test counts open fds before and after: equal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VfioError } from '../../../src/errors';
import { Mapping } from '../../../src/mapping';
import { IrqDispatcher } from '../../../src/eventfd/dispatcher';
import {
  createSys, realLibc, EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLLIN, EPOLL_EVENT_DATA_OFFSET,
  SIZEOF_EPOLL_EVENT, SIZEOF_POLLFD, MAP_SHARED, MFD_CLOEXEC, O_CLOEXEC, O_RDWR, O_RDONLY, POLLIN, PROT_READ, PROT_WRITE,
  F_GETFD, FD_CLOEXEC, vfio, VFIO_GET_API_VERSION,
} from '../../../shim/index';
import { openFds } from '../../support/fds';

const sys = createSys(realLibc());

/** A test whose fds are counted before and after: it fails if it leaves one open. */
function fdTest(name: string, fn: () => void | Promise<void>): void {
  test(name, async () => {
    const before = openFds();
    await fn();
    assert.equal(openFds(), before, 'open fds after the test differ from before');
  });
}

/** Runs fn with a fresh memfd of `size` bytes, closed afterwards. */
function withMemfd<T>(size: bigint, fn: (fd: number) => T): T {
  const fd = sys.memfdCreate('vfiokit-test', MFD_CLOEXEC);
  try { sys.ftruncate(fd, size); return fn(fd); } finally { sys.close(fd); }
}

function expectError(fn: () => unknown, want: { kind: string; errnoName: string; errno: number; syscall: string | RegExp }): VfioError {
  try { fn(); } catch (e) {
    assert.instance(e, VfioError);
    const v = e as VfioError;
    assert.is(v.kind, want.kind);
    assert.is(v.errnoName, want.errnoName);
    assert.is(v.errno, want.errno);
    if (typeof want.syscall === 'string') assert.is(v.syscall, want.syscall); else assert.match(v.syscall ?? '', want.syscall);
    assert.ok(v.message.includes(want.errnoName), `message names the errno: ${v.message}`);
    return v;
  }
  assert.unreachable('expected a VfioError');
  throw new Error('unreachable');
}

fdTest('memfd + ftruncate + pwrite/pread round trip 4 KiB at an offset', () => {
  withMemfd(8192n, (fd) => {
    const data = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);
    assert.is(sys.pwrite(fd, data, 4096n), 4096);
    const back = new Uint8Array(4096);
    assert.is(sys.pread(fd, back, 4096n), 4096);
    assert.equal(back, data);
    const head = new Uint8Array(16);
    assert.is(sys.pread(fd, head, 0n), 16);
    assert.equal(head, new Uint8Array(16), 'the first page is still zero');
  });
});

fdTest('mmap of a memfd: Atomics.store through koffi.view is seen by pread, pwrite by Atomics.load (zero copy)', () => {
  withMemfd(4096n, (fd) => {
    const addr = sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    assert.ok(addr > 0n && addr % 4096n === 0n, `page-aligned address 0x${addr.toString(16)}`);
    const u32 = new Uint32Array(sys.view(addr, 4096));
    Atomics.store(u32, 0x40 / 4, 0xdeadbeef);
    const word = new Uint8Array(4);
    sys.pread(fd, word, 0x40n);
    assert.is(new DataView(word.buffer).getUint32(0, true), 0xdeadbeef);   // plain memory, not a register
    new DataView(word.buffer).setUint32(0, 0x010000ed, true);
    sys.pwrite(fd, word, 0xff0n);
    assert.is(Atomics.load(u32, 0xff0 / 4), 0x010000ed);
    sys.munmap(addr, 4096n);
  });
});

fdTest('src/Mapping works over the shim (MappingSys) and munmaps on close', () => {
  withMemfd(4096n, (fd) => {
    const m = new Mapping(sys, fd, 0n, 4096, 'memfd');
    m.write32(8, 0x12345678);
    const b = new Uint8Array(4);
    sys.pread(fd, b, 8n);
    assert.equal([...b], [0x78, 0x56, 0x34, 0x12]);
    m.close();
    assert.ok(m.closed);
  });
});

fdTest('eventfd: writes add up, a read returns the sum and resets, an empty non-blocking read returns 0n', () => {
  const efd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  try {
    assert.is(sys.eventfdRead(efd), 0n);
    sys.eventfdWrite(efd, 1n);
    sys.eventfdWrite(efd, 2n);
    assert.is(sys.eventfdRead(efd), 3n);
    assert.is(sys.eventfdRead(efd), 0n);
    assert.is(sys.fcntl(efd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  } finally { sys.close(efd); }
});

fdTest('epoll: an eventfd is not ready, then ready with its data after a write', () => {
  const efd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const ep = sys.epollCreate1(EPOLL_CLOEXEC);
  try {
    const ev = new Uint8Array(SIZEOF_EPOLL_EVENT);
    const dv = new DataView(ev.buffer);
    dv.setUint32(0, EPOLLIN, true);                                   // events
    dv.setBigUint64(EPOLL_EVENT_DATA_OFFSET, 0xabcdn, true);           // data.u64
    sys.epollCtl(ep, EPOLL_CTL_ADD, efd, ev);
    const out = new Uint8Array(SIZEOF_EPOLL_EVENT * 4);
    assert.is(sys.epollWait(ep, out, 4, 0), 0);
    sys.eventfdWrite(efd, 1n);
    assert.is(sys.epollWait(ep, out, 4, 1000), 1);
    const od = new DataView(out.buffer);
    assert.is(od.getUint32(0, true) & EPOLLIN, EPOLLIN);
    assert.is(od.getBigUint64(EPOLL_EVENT_DATA_OFFSET, true), 0xabcdn);
  } finally { sys.close(ep); sys.close(efd); }
});

fdTest('poll: POLLIN appears on an eventfd only after a write', () => {
  const efd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  try {
    const p = new Uint8Array(SIZEOF_POLLFD);
    const dv = new DataView(p.buffer);
    dv.setInt32(0, efd, true);     // fd
    dv.setInt16(4, POLLIN, true);  // events
    assert.is(sys.poll(p, 1, 0), 0);
    sys.eventfdWrite(efd, 5n);
    assert.is(sys.poll(p, 1, 1000), 1);
    assert.is(dv.getInt16(6, true) & POLLIN, POLLIN);  // revents
  } finally { sys.close(efd); }
});

fdTest('koffi.node.poll (sys.watch) delivers an eventfd write on the event loop; close stops it', async () => {
  const efd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  try {
    let fired = 0;
    const got = new Promise<bigint>((resolve) => {
      const w = sys.watch(efd, () => { fired++; const c = sys.readCounter(efd); w.close(); resolve(c); });
    });
    setTimeout(() => sys.eventfdWrite(efd, 2n), 10);
    const count = await Promise.race([got, new Promise<bigint>((_, rej) => setTimeout(() => rej(new Error('no wake-up in 2 s')), 2000))]);
    assert.is(count, 2n);
    assert.is(fired, 1);
  } finally { sys.close(efd); }
});

fdTest('the IRQ dispatcher runs over sys.watch and sys.readCounter', async () => {
  const efd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const d = new IrqDispatcher(sys.watch, sys.readCounter);
  try {
    const got = new Promise<bigint>((resolve) => d.add(efd, resolve, 'test irq'));
    sys.eventfdWrite(efd, 1n);
    assert.is(await got, 1n);
  } finally { d.close(); sys.close(efd); }
});

fdTest('EBADF: close of a closed fd is a VfioError kind syscall naming close', () => {
  const fd = sys.memfdCreate('x', MFD_CLOEXEC);
  sys.close(fd);
  expectError(() => sys.close(fd), { kind: 'syscall', errnoName: 'EBADF', errno: 9, syscall: 'close' });
});

fdTest('ENOENT: open of a missing path is kind not-found and names the path', () => {
  const e = expectError(() => sys.open('/nonexistent/vfiokit', O_RDWR | O_CLOEXEC), { kind: 'not-found', errnoName: 'ENOENT', errno: 2, syscall: 'open' });
  assert.ok(e.message.includes('/nonexistent/vfiokit'), e.message);
  assert.ok(e.hint, 'a hint says what to do');
});

fdTest('EINVAL: mmap of length 0 fails with the length in the message and maps nothing', () => {
  withMemfd(4096n, (fd) => {
    const e = expectError(() => sys.mmap(0n, PROT_READ, MAP_SHARED, fd, 0n), { kind: 'syscall', errnoName: 'EINVAL', errno: 22, syscall: 'mmap' });
    assert.match(e.message, /of 0 bytes/);
  });
});

fdTest('ENOTTY: a VFIO ioctl against a memfd is kind not-supported naming the uapi ioctl', () => {
  withMemfd(4096n, (fd) => {
    expectError(() => vfio.getApiVersion(sys, fd), { kind: 'not-supported', errnoName: 'ENOTTY', errno: 25, syscall: 'ioctl(VFIO_GET_API_VERSION)' });
    expectError(() => vfio.checkExtension(sys, fd, 8), { kind: 'not-supported', errnoName: 'ENOTTY', errno: 25, syscall: 'ioctl(VFIO_CHECK_EXTENSION)' });
    expectError(() => vfio.groupGetStatus(sys, fd, new Uint8Array(8)), { kind: 'not-supported', errnoName: 'ENOTTY', errno: 25, syscall: 'ioctl(VFIO_GROUP_GET_STATUS)' });
    // An unnamed request is named by its number.
    expectError(() => sys.ioctl(fd, VFIO_GET_API_VERSION + 0x1000, null), { kind: 'not-supported', errnoName: 'ENOTTY', errno: 25, syscall: 'ioctl(0x4b64)' });
  });
});

fdTest('EBADF on pread/pwrite/read of a closed fd keep their syscall names', () => {
  const fd = sys.open('/dev/null', O_RDONLY | O_CLOEXEC);
  sys.close(fd);
  const b = new Uint8Array(8);
  expectError(() => sys.pread(fd, b, 0n), { kind: 'syscall', errnoName: 'EBADF', errno: 9, syscall: 'pread' });
  expectError(() => sys.pwrite(fd, b, 0n), { kind: 'syscall', errnoName: 'EBADF', errno: 9, syscall: 'pwrite' });
  expectError(() => sys.eventfdRead(fd), { kind: 'syscall', errnoName: 'EBADF', errno: 9, syscall: 'read' });
  expectError(() => sys.ioctl(fd, VFIO_GET_API_VERSION, null), { kind: 'syscall', errnoName: 'EBADF', errno: 9, syscall: 'ioctl(VFIO_GET_API_VERSION)' });
});

test.run();

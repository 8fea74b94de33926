// A Libc that touches no kernel, for the error paths the lab cannot provoke. Every method can be
// told to fail with a given errno on its n-th call from now (and for `times` calls), returning
// -errno exactly as realLibc() does. On success it behaves plausibly: open/eventfd/epoll_create1/
// memfd_create hand out fds from 100 upward and close checks them (EBADF for an fd it never
// opened or already closed), so a test can also see leaks in `openFds`; mmap hands out distinct
// page-aligned addresses backed by plain ArrayBuffers for view(); ioctl returns 0 unless a
// handler is set; eventfd counters count.
// Not responsible for: imitating any device. Set `on.ioctl` to answer ioctls a test needs.
import type { Libc, PollWatch } from '../../shim/libc';

export type LibcMethod = Exclude<keyof Libc, 'view' | 'watchReadable'>;

interface Failure { errno: number; skip: number; times: number }

export interface FakeLibc extends Libc {
  /** The next calls of `method`: calls 1..nth-1 succeed, then `times` calls fail with `errno`. */
  failOn(method: LibcMethod, errno: number, nth?: number, times?: number): void;
  /** Calls per method since creation. */
  readonly calls: Record<string, number>;
  /** Every call in order: method and arguments. */
  readonly log: { method: string; args: unknown[] }[];
  /** Fds handed out and not closed yet. */
  readonly openFds: Set<number>;
  /** Mappings handed out by mmap and not unmapped yet. */
  mappings(): number;
  /** Optional success handlers; their return value is the call's result. */
  on: { ioctl?: (fd: number, request: number, arg: Uint8Array | null) => number; ioctlValue?: (fd: number, request: number, value: number | bigint) => number };
}

export function createFakeLibc(): FakeLibc {
  const failures = new Map<string, Failure[]>();
  const calls: Record<string, number> = {};
  const log: { method: string; args: unknown[] }[] = [];
  const openFds = new Set<number>();
  const counters = new Map<number, bigint>();
  const memory = new Map<bigint, ArrayBuffer>();
  let nextFd = 100;
  let nextAddr = 0x7f00_0000_0000n;

  /** Records the call; returns the injected -errno, or undefined to run the success path. */
  function enter(method: string, args: unknown[]): number | undefined {
    calls[method] = (calls[method] ?? 0) + 1;
    log.push({ method, args });
    const list = failures.get(method);
    const f = list?.[0];
    if (!f) return undefined;
    if (f.skip > 0) { f.skip--; return undefined; }
    if (--f.times <= 0) list!.shift();
    return -f.errno;
  }
  const newFd = (): number => { const fd = nextFd++; openFds.add(fd); return fd; };
  const known = (fd: number): boolean => openFds.has(fd);
  const EBADF = 9, EINVAL = 22, EAGAIN = 11, ENOENT = 2;

  const fake: FakeLibc = {
    failOn(method, errno, nth = 1, times = 1) {
      const list = failures.get(method) ?? [];
      list.push({ errno, skip: nth - 1, times });
      failures.set(method, list);
    },
    calls, log, openFds, on: {},
    mappings: () => memory.size,
    open(path, flags, mode) { return enter('open', [path, flags, mode]) ?? newFd(); },
    // Linux releases the fd even when close() reports an error (EINTR, EIO...): only EBADF means it
    // was not open. An injected failure therefore still closes it, as the kernel would.
    close(fd) {
      const e = enter('close', [fd]);
      if (!known(fd)) return e ?? -EBADF;
      openFds.delete(fd); counters.delete(fd);
      return e ?? 0;
    },
    ioctl(fd, request, arg) { const e = enter('ioctl', [fd, request, arg]); if (e !== undefined) return e; if (!known(fd)) return -EBADF; return fake.on.ioctl ? fake.on.ioctl(fd, request, arg) : 0; },
    // Settles on a later turn, as the real one does: the same answers as ioctl, recorded as its own method.
    async ioctlAsync(fd, request, arg) { await Promise.resolve(); const e = enter('ioctlAsync', [fd, request, arg]); if (e !== undefined) return e; if (!known(fd)) return -EBADF; return fake.on.ioctl ? fake.on.ioctl(fd, request, arg) : 0; },
    ioctlValue(fd, request, value) { const e = enter('ioctlValue', [fd, request, value]); if (e !== undefined) return e; if (!known(fd)) return -EBADF; return fake.on.ioctlValue ? fake.on.ioctlValue(fd, request, value) : 0; },
    mmap(addr, length, prot, flags, fd, offset) {
      const e = enter('mmap', [addr, length, prot, flags, fd, offset]);
      if (e !== undefined) return BigInt(e);
      if (length === 0n) return BigInt(-EINVAL);
      const a = nextAddr; nextAddr += (length + 0xfffn) & ~0xfffn; memory.set(a, new ArrayBuffer(Number(length))); return a;
    },
    munmap(addr, length) { const e = enter('munmap', [addr, length]); if (e !== undefined) return e; memory.delete(addr); return 0; },
    pread(fd, buf, count, offset) { const e = enter('pread', [fd, buf, count, offset]); if (e !== undefined) return e; return known(fd) ? count : -EBADF; },
    pwrite(fd, buf, count, offset) { const e = enter('pwrite', [fd, buf, count, offset]); if (e !== undefined) return e; return known(fd) ? count : -EBADF; },
    read(fd, buf, count) {
      const e = enter('read', [fd, buf, count]); if (e !== undefined) return e;
      if (!known(fd)) return -EBADF;
      const c = counters.get(fd);
      if (c === undefined) return count;
      if (c === 0n) return -EAGAIN;
      new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, c, true); counters.set(fd, 0n); return 8;
    },
    write(fd, buf, count) {
      const e = enter('write', [fd, buf, count]); if (e !== undefined) return e;
      if (!known(fd)) return -EBADF;
      const c = counters.get(fd);
      if (c !== undefined) counters.set(fd, c + new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
      return count;
    },
    // No file system behind it: every link is absent (sysfs is read through the real C library, shim/paths.ts).
    readlink(path, buf, size) { return enter('readlink', [path, buf, size]) ?? -ENOENT; },
    tgkill(tgid, tid, sig) { const e = enter('tgkill', [tgid, tid, sig]); return e ?? 0; },
    eventfd(initval, flags) { const e = enter('eventfd', [initval, flags]); if (e !== undefined) return e; const fd = newFd(); counters.set(fd, BigInt(initval)); return fd; },
    epoll_create1(flags) { return enter('epoll_create1', [flags]) ?? newFd(); },
    epoll_ctl(epfd, op, fd, event) { const e = enter('epoll_ctl', [epfd, op, fd, event]); if (e !== undefined) return e; return known(epfd) && known(fd) ? 0 : -EBADF; },
    epoll_wait(epfd, events, maxevents, timeoutMs) { const e = enter('epoll_wait', [epfd, events, maxevents, timeoutMs]); if (e !== undefined) return e; return known(epfd) ? 0 : -EBADF; },
    poll(fds, nfds, timeoutMs) { return enter('poll', [fds, nfds, timeoutMs]) ?? 0; },
    memfd_create(name, flags) { return enter('memfd_create', [name, flags]) ?? newFd(); },
    ftruncate(fd, length) { const e = enter('ftruncate', [fd, length]); if (e !== undefined) return e; return known(fd) ? 0 : -EBADF; },
    fcntl(fd, cmd, arg) { const e = enter('fcntl', [fd, cmd, arg]); if (e !== undefined) return e; return known(fd) ? 0 : -EBADF; },
    view(addr, len) {
      const m = memory.get(addr);
      if (!m || len > m.byteLength) throw new RangeError(`fake view: 0x${addr.toString(16)} is not a mapping of ${len} bytes`);
      return m;
    },
    watchReadable(fd, onReadable): PollWatch {
      log.push({ method: 'watchReadable', args: [fd, onReadable] });
      return { close() { log.push({ method: 'watchReadable.close', args: [fd] }); } };
    },
  };
  return fake;
}

// The trap path's fast form (DeviceRegion.read32/write32 and read/write of 1, 2 and 4 bytes at a
// number offset): the core's region-table rule cached per region as numbers. It must answer
// exactly what the checked way through the core answers: the same pread/pwrite for an accepted
// access, all-ones and a count for a refused one (through the core), the same VfioError (kind,
// errno, message) when the syscall fails, 'closed' after close, and nothing left open.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice, type VfioDevice } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { VFIO_DEVICE_GET_REGION_INFO } from '../../../shim/ioctl';
import { fakeVfio, type FakeVfio } from './fake-vfio';

const EDU = '0000:00:02.0';
const READ = 1, WRITE = 2, MMAP = 4;

/** edu over the fake kernel; region 1 is made read-only (no VFIO_REGION_INFO_FLAG_WRITE). */
function withEdu(fn: (f: FakeVfio, dev: VfioDevice) => void): () => void {
  return () => {
    const f = fakeVfio();
    const real = f.libc.on.ioctl!;
    f.libc.on.ioctl = (fd, req, arg) => {
      const r = real(fd, req, arg);
      if (req === VFIO_DEVICE_GET_REGION_INFO && arg![8] === 1) arg![4] = READ | MMAP;
      return r;
    };
    try {
      const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
      try { fn(f, dev); } finally { dev.close(); }
      assert.is(f.libc.openFds.size, 0, 'every fd closed');
    } finally { f.dispose(); }
  };
}

const calls = (f: FakeVfio, m: string) => f.libc.log.filter((e) => e.method === m);
function caught(fn: () => unknown): VfioError {
  try { fn(); } catch (e) { assert.ok(e instanceof VfioError, String(e)); return e; }
  throw new Error('did not throw');
}

test('an accepted read32/write32 preads/pwrites 4 bytes at the region offset, as the checked way does', withEdu((f, dev) => {
  const r = dev.regions[0]!; // the fake puts region i at file offset i << 40
  r.read32(0x10);
  r.write32(0x14, 0x1234_5678);
  r.read(0x18n, 4);                  // a bigint offset: the checked way
  const [fast, slow] = calls(f, 'pread').slice(-2);
  assert.equal([fast!.args[2], fast!.args[3]], [4, 0x10]); // region 0 is at file offset 0
  assert.equal([slow!.args[2], slow!.args[3]], [4, 0x18n]);
  const w = calls(f, 'pwrite').pop()!;
  assert.equal([w.args[2], w.args[3], Array.from((w.args[1] as Uint8Array).subarray(0, 4))], [4, 0x14, [0x78, 0x56, 0x34, 0x12]]);
  const r1 = dev.regions[1]!;
  r1.read(0x20, 2);
  assert.equal(calls(f, 'pread').pop()!.args.slice(2), [2, 2 ** 40 + 0x20]);
  assert.equal(r.counters(), { readsRefused: 0n, writesDropped: 0n, outOfRange: 0n, misaligned: 0n, denied: 0n });
}));

test('refused accesses (out of range, misaligned, denied, negative, fractional) answer all-ones, are counted by the core, and make no syscall', withEdu((f, dev) => {
  const r = dev.regions[0]!, ro = dev.regions[1]!;
  const n = f.libc.log.length;
  assert.is(r.read32(0x1000), 0xffff_ffff);      // one past the end
  assert.is(r.read32(0xffe), 0xffff_ffff);       // straddles the end
  assert.is(r.read32(0x2), 0xffff_ffff);         // misaligned
  assert.is(r.read(0x3, 2), 0xffffn);            // misaligned 2-byte
  assert.is(r.read32(-4), 0xffff_ffff);          // negative: out of range for the core too
  assert.is(r.read(Number.MAX_SAFE_INTEGER + 1, 1), 0xffn);
  assert.is(r.write32(0x1000, 1), false);
  assert.is(ro.write32(0x0, 1), false);           // denied: no WRITE
  assert.is(ro.read32(0x0) >= 0, true);           // reading it is fine
  assert.is(f.libc.log.length, n + 1, 'only the one accepted read made a syscall');
  assert.equal(r.counters(), { readsRefused: 6n, writesDropped: 1n, outOfRange: 5n, misaligned: 2n, denied: 0n });
  assert.equal(ro.counters(), { readsRefused: 0n, writesDropped: 1n, outOfRange: 0n, misaligned: 0n, denied: 1n });
  // A fraction is not an offset: refused as a bad argument that names it (once a RangeError from BigInt()).
  assert.throws(() => r.read32(1.5), (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument' && /offset/.test(e.message));
}));

test('a failed pread/pwrite gives the same VfioError through the fast path as through the checked way', withEdu((f, dev) => {
  const r = dev.regions[0]!;
  f.libc.failOn('pread', 5);                     // EIO
  const fast = caught(() => r.read32(0x10));
  f.libc.failOn('pread', 5);
  const slow = caught(() => r.read32(0x10n));
  assert.equal([fast.kind, fast.errno, fast.errnoName, fast.syscall, fast.device], ['syscall', 5, 'EIO', 'pread', EDU]);
  assert.is(fast.message, slow.message);
  assert.ok(fast.message.includes('region 0 (BAR0) read of 4 bytes at 0x10'), fast.message);
  f.libc.failOn('pwrite', 1);                    // EPERM
  const w = caught(() => r.write32(0x10, 0));
  assert.equal([w.kind, w.errnoName, w.syscall], ['permission', 'EPERM', 'pwrite']);
  assert.ok(w.message.includes('region 0 (BAR0) write of 4 bytes at 0x10'), w.message);
}));

test('a width other than 1, 2, 4 or 8 is refused by the core (bad-argument), as before the fast path, with no syscall', withEdu((f, dev) => {
  const r = dev.regions[0]!;
  const n = f.libc.log.length;
  for (const w of [3, 0, -4, 16]) {
    assert.is(caught(() => r.read(0, w as 4)).kind, 'bad-argument', `read width ${w}`);
    assert.is(caught(() => r.write(0, w as 4, 1)).kind, 'bad-argument', `write width ${w}`);
  }
  assert.is(f.libc.log.length, n);
}));

test('a short pread is a syscall error that names the width', withEdu((f, dev) => {
  const r = dev.regions[0]!;
  const real = f.libc.pread;
  f.libc.pread = (fd, buf, count, offset) => { real(fd, buf, count, offset); return 2; };
  const e = caught(() => r.read32(0x10));
  f.libc.pread = real;
  assert.is(e.kind, 'syscall');
  assert.ok(e.message.includes('a short read (2 of 4 bytes)'), e.message);
}));

test('the cache follows the core: a region re-recorded smaller refuses what it accepted before', withEdu((f, dev) => {
  const r = dev.regions[0]!;
  r.read32(0x800);
  const n = calls(f, 'pread').length;
  dev.regionTable.add(0, { flags: READ | WRITE, size: 0x800n, offset: 1n << 40n });
  assert.is(r.read32(0x800), 0xffff_ffff);
  assert.is(calls(f, 'pread').length, n, 'refused without a syscall');
  assert.is(r.counters().outOfRange, 1n);
}));

test('after close: read32/write32 throw closed, and a failed region throws not-found', () => {
  const f = fakeVfio();
  try {
    const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
    const r = dev.regions[0]!;
    r.read32(0);
    dev.close();
    const n = f.libc.log.length;
    assert.is(caught(() => r.read32(0)).kind, 'closed');
    assert.is(caught(() => r.write32(0, 1)).kind, 'closed');
    assert.is(caught(() => r.read(0, 2)).kind, 'closed');
    assert.is(f.libc.log.length, n, 'no syscall after close');
    assert.is(f.libc.openFds.size, 0);
  } finally { f.dispose(); }
});

test.run();

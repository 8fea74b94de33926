// The checked layer over the fake libc: errors the lab cannot provoke (EBUSY, EPERM, ENODEV,
// EINVAL, ...) injected on a chosen call come back as VfioError with the right kind, errno, errno
// name, syscall and hint; the errno table agrees with the running system; the fake itself counts
// calls and fds as src/ error-path tests will rely on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { VfioError } from '../../../src/errors';
import { Mapping } from '../../../src/mapping';
import { createSys, syscallError, vfio, kvm, ERRNO_TABLE, errnoEntry, O_RDWR, PROT_READ, PROT_WRITE, MAP_SHARED, EFD_NONBLOCK } from '../../../shim/index';
import { createFakeLibc } from '../../support/fake-libc';
import { ctx } from '../../../src/device/context';

const EBUSY = 16, EPERM = 1, ENODEV = 19, EINVAL = 22, EACCES = 13, ENOENT = 2, ENOTTY = 25, EOPNOTSUPP = 95, EINTR = 4, EAGAIN = 11;

function caught(fn: () => unknown): VfioError {
  try { fn(); } catch (e) { assert.instance(e, VfioError); return e as VfioError; }
  throw new Error('expected a VfioError, nothing was thrown');
}

test('EBUSY on VFIO_GROUP_SET_CONTAINER: kind busy, errno 16, errnoName EBUSY, syscall ioctl(VFIO_GROUP_SET_CONTAINER), a hint', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const container = sys.open('/dev/vfio/vfio', O_RDWR), group = sys.open('/dev/vfio/5', O_RDWR);
  fake.failOn('ioctl', EBUSY);
  const e = caught(() => vfio.groupSetContainer(sys, group, container));
  assert.is(e.kind, 'busy');
  assert.is(e.errno, EBUSY);
  assert.is(e.errnoName, 'EBUSY');
  assert.is(e.syscall, 'ioctl(VFIO_GROUP_SET_CONTAINER)');
  assert.ok(e.hint && /close/.test(e.hint), `hint: ${e.hint}`);
  assert.match(e.message, /^VFIO_GROUP_SET_CONTAINER on fd \d+ failed: device or resource busy \(ioctl\(VFIO_GROUP_SET_CONTAINER\): EBUSY\) - /);
  // The buffer the shim built holds the container fd as an s32 at offset 0.
  const arg = fake.log.filter((c) => c.method === 'ioctl').at(-1)!.args[2] as Uint8Array;
  assert.is(new DataView(arg.buffer).getInt32(0, true), container);
});

test('EPERM on open and EACCES on ioctl are kind permission', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  fake.failOn('open', EPERM);
  const e = caught(() => sys.open('/dev/vfio/noiommu-0', O_RDWR));
  assert.equal([e.kind, e.errnoName, e.syscall], ['permission', 'EPERM', 'open']);
  assert.match(e.message, /noiommu-0/);
  const fd = sys.open('/dev/kvm', O_RDWR);
  fake.failOn('ioctlValue', EACCES);
  const e2 = caught(() => kvm.createVm(sys, fd));
  assert.equal([e2.kind, e2.errnoName, e2.syscall], ['permission', 'EACCES', 'ioctl(KVM_CREATE_VM)']);
});

test('ENODEV on VFIO_GROUP_GET_DEVICE_FD and ENOENT on open are kind not-found', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const group = sys.open('/dev/vfio/5', O_RDWR);
  fake.failOn('ioctl', ENODEV);
  const e = caught(() => vfio.groupGetDeviceFd(sys, group, '0000:00:02.0'));
  assert.equal([e.kind, e.errno, e.errnoName, e.syscall], ['not-found', ENODEV, 'ENODEV', 'ioctl(VFIO_GROUP_GET_DEVICE_FD)']);
  // The device name reached the kernel NUL-terminated.
  const arg = fake.log.at(-1)!.args[2] as Uint8Array;
  assert.is(Buffer.from(arg).toString('latin1'), '0000:00:02.0\0');
  fake.failOn('open', ENOENT);
  assert.is(caught(() => sys.open('/dev/vfio/7', O_RDWR)).kind, 'not-found');
});

test('EINVAL on VFIO_IOMMU_MAP_DMA, mmap, munmap and SET_IRQS is kind syscall with each call named', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/vfio', O_RDWR);
  fake.failOn('ioctl', EINVAL, 1, 2);
  assert.equal(pick(caught(() => vfio.iommuMapDma(sys, fd, new Uint8Array(32)))), ['syscall', 'EINVAL', 'ioctl(VFIO_IOMMU_MAP_DMA)']);
  assert.equal(pick(caught(() => vfio.deviceSetIrqs(sys, fd, new Uint8Array(20)))), ['syscall', 'EINVAL', 'ioctl(VFIO_DEVICE_SET_IRQS)']);
  fake.failOn('mmap', EINVAL);
  assert.equal(pick(caught(() => sys.mmap(4096n, PROT_READ, MAP_SHARED, fd, 0n))), ['syscall', 'EINVAL', 'mmap']);
  fake.failOn('munmap', EINVAL);
  assert.equal(pick(caught(() => sys.munmap(0x1000n, 4096n))), ['syscall', 'EINVAL', 'munmap']);
});
const pick = (e: VfioError): unknown[] => [e.kind, e.errnoName, e.syscall];

test('the n-th call fails, the ones before and after succeed', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/vfio', O_RDWR);
  fake.failOn('ioctl', EBUSY, 3);
  vfio.getApiVersion(sys, fd);
  vfio.getApiVersion(sys, fd);
  assert.is(caught(() => vfio.getApiVersion(sys, fd)).errnoName, 'EBUSY');
  assert.is(vfio.getApiVersion(sys, fd), 0);
  assert.is(fake.calls.ioctl, 4);
});

test('ENOTTY and EOPNOTSUPP are kind not-supported; an errno outside the table is kind syscall named E<n>', () => {
  assert.is(syscallError('ioctl(VFIO_DEVICE_RESET)', ENOTTY).kind, 'not-supported');
  assert.is(syscallError('ioctl(VFIO_DEVICE_RESET)', EOPNOTSUPP).kind, 'not-supported');
  const odd = syscallError('read', 133);
  assert.equal([odd.kind, odd.errnoName, odd.errno], ['syscall', 'E133', 133]);
});

test('an errno outside the table is named as Node names it (util.getSystemErrorName), E<n> only when Node has no name', () => {
  const EPROTO = 71;
  assert.ok(!ERRNO_TABLE.some((e) => e.errno === EPROTO), 'EPROTO is not in the table');
  const e = syscallError('ioctl(VFIO_DEVICE_RESET)', EPROTO);
  assert.equal([e.kind, e.errnoName, e.code, e.errno], ['syscall', 'EPROTO', 'EPROTO', EPROTO]);
  assert.match(e.message, /\(ioctl\(VFIO_DEVICE_RESET\): EPROTO\)/);
  assert.is(errnoEntry(4000).name, 'E4000', 'a number nobody names');
});

test('a VfioError carries code (the errno name) as Node\'s SystemError does, through src\'s context too', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/5', O_RDWR);
  fake.failOn('ioctl', EBUSY);
  const e = caught(() => vfio.groupSetContainer(sys, fd, fd));
  assert.is(e.code, 'EBUSY');
  const wrapped = caught(() => ctx('0000:00:02.0', () => { throw e; }, { message: 'cannot attach' }));
  assert.equal([wrapped.code, wrapped.errno, wrapped.device], ['EBUSY', EBUSY, '0000:00:02.0']);
  assert.is(new VfioError({ kind: 'bad-argument', message: 'no syscall here' }).code, undefined, 'no errno, no code');
});

test('a failure in a Mapping constructor (mmap EPERM) maps nothing; a view failure unmaps again', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/5', O_RDWR);
  fake.failOn('mmap', EPERM);
  assert.is(caught(() => new Mapping(sys, fd, 0n, 4096, 'bar0')).kind, 'permission');
  assert.is(fake.calls.munmap, undefined, 'nothing to unmap');
  const m = new Mapping(sys, fd, 0n, 4096, 'bar0', PROT_READ | PROT_WRITE);
  m.write32(0, 0x1234);
  assert.is(m.read32(0), 0x1234);
  m.close();
  assert.is(fake.calls.munmap, 1);
});

test('Mapping accessors refuse what is outside, misaligned or not an offset (bad-argument), and every access after close (closed)', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/5', O_RDWR);
  const m = new Mapping(sys, fd, 0n, 4096, 'bar0');
  const bad: [string, () => unknown][] = [
    ['past the end', () => m.read32(4096)], ['straddling the end', () => m.read32(4094)], ['misaligned', () => m.read32(2)],
    ['misaligned 16', () => m.write16(1, 0)], ['misaligned 64', () => m.read64(4)], ['negative', () => m.read8(-1)],
    ['fraction', () => m.read8(1.5)], ['fraction, aligned part', () => m.read32(4.5)], ['NaN', () => m.write8(NaN, 0)],
    ['huge', () => m.read8(2 ** 32)], ['a bigint', () => m.read32(4n as unknown as number)], ['a string', () => m.read32('4' as unknown as number)],
  ];
  for (const [what, fn] of bad) assert.is(caught(fn).kind, 'bad-argument', what);
  assert.ok(caught(() => m.read32(2)).message.includes('access of 4 bytes at offset 2 is outside the 4096-byte mapping or misaligned'));
  m.write64(4088, -1n);
  assert.equal([m.read64(4088), m.read32(4092), m.read16(4090), m.read8(4095), m.read32(-0)], [2n ** 64n - 1n, 0xffff_ffff, 0xffff, 0xff, 0]);
  m.close();
  for (const fn of [() => m.read32(0), () => m.write8(0, 1), () => m.read64(4096)]) assert.is(caught(fn).kind, 'closed');
  sys.close(fd);
});

test('eventfdRead: EAGAIN is 0n (nothing pending), EINTR is an error', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const efd = sys.eventfd(0, EFD_NONBLOCK);
  assert.is(sys.eventfdRead(efd), 0n);
  sys.eventfdWrite(efd, 3n);
  assert.is(sys.readCounter(efd), 3n);
  fake.failOn('read', EAGAIN);
  assert.is(sys.eventfdRead(efd), 0n);
  fake.failOn('read', EINTR);
  assert.is(caught(() => sys.eventfdRead(efd)).errnoName, 'EINTR');
});

test('the fake tracks fds: close of an unknown fd is EBADF, and openFds shows leaks', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const a = sys.open('/a', O_RDWR), b = sys.eventfd(0, 0);
  assert.equal([...fake.openFds], [a, b]);
  sys.close(a);
  assert.equal(pick(caught(() => sys.close(a))), ['syscall', 'EBADF', 'close']);
  assert.equal([...fake.openFds], [b]);
});

test('lengths beyond the buffer are refused before the kernel sees them (kind bad-argument, no call made)', () => {
  const fake = createFakeLibc();
  const sys = createSys(fake);
  const fd = sys.open('/dev/vfio/5', O_RDWR);
  const small = new Uint8Array(4);
  for (const f of [() => sys.pread(fd, small, 0n, 8), () => sys.pwrite(fd, small, 0n, 5), () => sys.read(fd, small, 8), () => sys.write(fd, small, -1)]) {
    assert.is(caught(f).kind, 'bad-argument');
  }
  assert.equal([fake.calls.pread, fake.calls.pwrite, fake.calls.read, fake.calls.write], [undefined, undefined, undefined, undefined]);
  // struct vfio_region_info of 32 bytes claiming argsz 64: the kernel would write a capability chain past it.
  const ri = new Uint8Array(32);
  new DataView(ri.buffer).setUint32(0, 64, true);
  const e = caught(() => vfio.deviceGetRegionInfo(sys, fd, ri));
  assert.equal([e.kind, e.syscall], ['bad-argument', 'ioctl(VFIO_DEVICE_GET_REGION_INFO)']);
  assert.is(caught(() => vfio.deviceGetInfo(sys, fd, new Uint8Array(2))).kind, 'bad-argument', 'no room for argsz');
  // _IOR(KVMIO, 0xaf, struct kvm_vcpu_init): the request number says 32 bytes.
  assert.is(caught(() => kvm.armPreferredTarget(sys, fd, new Uint8Array(16))).kind, 'bad-argument');
  assert.is(caught(() => kvm.irqfd(sys, fd, null as unknown as Uint8Array)).kind, 'bad-argument');
  assert.is(caught(() => kvm.irqfd(sys, fd, undefined as unknown as Uint8Array)).kind, 'bad-argument');
  assert.is(caught(() => vfio.deviceGetInfo(sys, fd, null as unknown as Uint8Array)).kind, 'bad-argument', 'no buffer at all');
  assert.is(fake.calls.ioctl, undefined, 'no ioctl reached the libc');
  assert.is(kvm.armPreferredTarget(sys, fd, new Uint8Array(32)), 0, 'the right size passes');
});

test('the errno table matches the running system (koffi.os.errno) and names are unique', () => {
  const koffi = createRequire(import.meta.url)('koffi') as { os: { errno: Record<string, number> } };
  for (const e of ERRNO_TABLE) assert.is(koffi.os.errno[e.name], e.errno, e.name);
  assert.is(new Set(ERRNO_TABLE.map((e) => e.name)).size, ERRNO_TABLE.length);
  assert.is(errnoEntry(EBUSY).kind, 'busy');
  for (const n of [EPERM, EACCES]) assert.is(errnoEntry(n).kind, 'permission');
  for (const n of [ENOENT, ENODEV]) assert.is(errnoEntry(n).kind, 'not-found');
});

test.run();

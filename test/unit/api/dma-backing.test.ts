// allocDma's backings on the host's own kernel (mmap, memfd_create and ftruncate need no VFIO):
// a 'memfd' buffer is the file its fd names, 'hugetlb' works or says how to reserve huge pages;
// and over the fake libc, the order of the calls and what a failure at each step leaves behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DmaBuffer, hugePageSize } from '../../../src/device/dma';
import { allocDma as allocDmaApi } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { createSys } from '../../../shim/sys';
import { realLibc, MAP_SHARED, MFD_HUGETLB } from '../../../shim/libc';
import { createFakeLibc } from '../../support/fake-libc';
import { countFds } from '../../support/fds';
import { systemPageSize } from '../../../src/device/context';

const sys = createSys(realLibc());
const caught = (f: () => unknown): VfioError => { try { f(); } catch (e) { if (e instanceof VfioError) return e; throw e; } throw new Error('did not throw'); };

test('anonymous (the default): no fd, rounded to the page, zeroed, freed by close()', () => {
  const before = countFds();
  const b = allocDmaApi(100);
  assert.is(b.backing, 'anonymous');
  assert.is(b.fd, undefined);
  assert.is(b.size, systemPageSize());
  assert.ok(b.bytes.every((x) => x === 0));
  b.close();
  assert.is(countFds(), before);
});

test("memfd: the bytes are the file's (pread through its fd sees a write through bytes); close() unmaps, then closes the fd", () => {
  const before = countFds();
  const b = allocDmaApi(3 * 4096, { backing: 'memfd', name: 'dma-test' });
  try {
    assert.is(b.backing, 'memfd');
    assert.type(b.fd, 'number');
    assert.is(countFds(), before + 1);
    b.bytes.set([1, 2, 3, 4], 8192);
    const back = new Uint8Array(4);
    assert.is(sys.pread(b.fd!, back, 8192n), 4);
    assert.equal([...back], [1, 2, 3, 4], 'one memory: the mapping is MAP_SHARED over the memfd');
  } finally { b.close(); }
  assert.is(b.fd, undefined);
  assert.is(countFds(), before);
  b.close(); // twice: harmless
});

test('hugetlb: a huge-page multiple, or (no huge pages reserved) an error that keeps errno and says how to reserve them; nothing left open', () => {
  const before = countFds();
  let b: DmaBuffer | undefined;
  try { b = allocDmaApi(4096, { backing: 'hugetlb' }); } catch (e) {
    assert.ok(e instanceof VfioError, String(e));
    assert.ok(e.errnoName === 'ENOMEM' || e.errnoName === 'EINVAL', `errno ${e.errnoName}`);
    assert.match(e.hint ?? '', /nr_hugepages/);
  }
  if (b) {
    assert.is(b.size, hugePageSize(), 'one huge page for 4 KiB asked');
    b.bytes[b.size - 1] = 7;
    b.close();
  }
  assert.is(countFds(), before);
});

test('bad input: an unknown backing, a size past the view limit', () => {
  assert.is(caught(() => allocDmaApi(4096, { backing: 'shm' as never })).kind, 'bad-argument');
  assert.is(caught(() => allocDmaApi(0, { backing: 'memfd' })).kind, 'bad-argument');
});

test('fake kernel: memfd_create, ftruncate, mmap(MAP_SHARED, fd); a failure at each step closes the memfd and keeps its errno', () => {
  const libc = createFakeLibc();
  const fsys = createSys(libc);
  const b = DmaBuffer.alloc(fsys, 8192, 'hugetlb');
  const calls = libc.log.map((e) => e.method);
  assert.equal(calls.slice(0, 3), ['memfd_create', 'ftruncate', 'mmap']);
  assert.is((libc.log[0]!.args[1] as number) & MFD_HUGETLB, MFD_HUGETLB);
  assert.is((libc.log[2]!.args[3] as number) & MAP_SHARED, MAP_SHARED);
  b.close();
  assert.equal(libc.log.slice(-2).map((e) => e.method), ['munmap', 'close'], 'unmapped, then the memfd closed');
  assert.is(libc.openFds.size, 0);
  libc.failOn('ftruncate', 22);
  const e1 = caught(() => DmaBuffer.alloc(fsys, 8192, 'memfd'));
  assert.is(e1.errnoName, 'EINVAL');
  assert.not.match(e1.hint ?? '', /nr_hugepages/, 'only a huge-page buffer gets the huge-page hint');
  libc.failOn('mmap', 12);
  const e2 = caught(() => DmaBuffer.alloc(fsys, 8192, 'hugetlb'));
  assert.is(e2.errno, 12);
  assert.match(e2.hint!, /nr_hugepages/);
  assert.is(libc.openFds.size, 0, 'the memfd was closed after each failure');
  assert.is(libc.mappings(), 0);
});

test.run();

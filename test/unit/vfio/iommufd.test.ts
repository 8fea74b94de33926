// iommufd encoders: whole byte layouts annotated by offset, refusals, and the C oracle against a
// uapi iommufd.h (the lab kernel's, see findHeader); without one that test is SKIPPED, loudly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as iommufd from '../../../src/vfio/iommufd';
import { encodeIoasMap, encodeIoasUnmap, encodeIoasIovaRanges, decodeIoasIovaRanges, queryIoasIovaRanges, IOMMUFD_LAYOUT, type IovaRangesArray } from '../../../src/vfio/iommufd';
import { VfioError } from '../../../src/errors';
import { syscallError } from '../../../shim/sys';
import { hex, ioasRangesReply } from './replies';

const statusOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e.statusName ?? e.kind; throw e; }
  return 'OK';
};

/** iommufd.h: the lab kernel's 6.12 uapi tree (test/run.mjs extracts it with lab/uapi.sh and passes
 *  VFIOKIT_UAPI_SRC), or the host's when it has one (Debian 12's 6.1 linux-libc-dev does not). */
function findHeader(): string | undefined {
  const dirs = [process.env.VFIOKIT_UAPI_SRC && join(process.env.VFIOKIT_UAPI_SRC, 'include/uapi'), '/usr/include'].filter((d): d is string => !!d);
  return dirs.map((d) => join(d, 'linux/iommufd.h')).find((p) => existsSync(p));
}

test('ioas_map with a fixed IOVA, read/write', () => {
  assert.equal([...encodeIoasMap({ ioasId: 2, userVa: 0x7f00_0000_0000n, length: 0x20_0000n, iova: 0x4000_0000n })], [...hex(`
    28 00 00 00   // @0  size = 40
    07 00 00 00   // @4  flags = FIXED_IOVA | WRITEABLE | READABLE
    02 00 00 00   // @8  ioas_id = 2
    00 00 00 00   // @12 __reserved
    00 00 00 00 00 7f 00 00   // @16 user_va
    00 00 20 00 00 00 00 00   // @24 length = 2 MiB
    00 00 00 40 00 00 00 00   // @32 iova = 1 GiB`)]);
});

test('ioas_map without an IOVA lets the kernel choose; read-only drops WRITEABLE', () => {
  const b = encodeIoasMap({ ioasId: 1, userVa: 0x1000n, length: 0x1000n, write: false });
  assert.equal([...b.subarray(4, 8)], [4, 0, 0, 0]);
  assert.equal([...b.subarray(32, 40)], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(statusOf(() => encodeIoasMap({ ioasId: 1, userVa: 0x1000n, length: 0x1000n, read: false, write: false })), 'BAD_ARG');
  assert.is(statusOf(() => encodeIoasMap({ ioasId: 1, userVa: 0x1000n, length: 0n })), 'BAD_ARG');
  assert.is(statusOf(() => encodeIoasMap({ ioasId: 1, userVa: 0x1000n, length: 0x2000n, iova: (1n << 64n) - 0x1000n })), 'OVERFLOW');
});

test('ioas_unmap of a range and of everything', () => {
  assert.equal([...encodeIoasUnmap({ ioasId: 3, iova: 0x4000_0000n, length: 0x1000n })], [...hex(`
    18 00 00 00   // @0  size = 24
    03 00 00 00   // @4  ioas_id = 3
    00 00 00 40 00 00 00 00   // @8  iova
    00 10 00 00 00 00 00 00   // @16 length`)]);
  assert.equal([...encodeIoasUnmap({ ioasId: 3, all: true }).subarray(8)], [0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
  assert.is(statusOf(() => encodeIoasUnmap({ ioasId: 3, iova: 0x1000n, length: (1n << 64n) - 1n })), 'OVERFLOW');
});

test('ioas_iova_ranges request: the first step asks with no array, the second points at one', () => {
  assert.equal([...encodeIoasIovaRanges({ ioasId: 5, numIovas: 0, allowedIovas: 0n })], [...hex(`
    20 00 00 00   // @0  size = 32
    05 00 00 00   // @4  ioas_id = 5
    00 00 00 00   // @8  num_iovas = 0: only ask how many
    00 00 00 00   // @12 __reserved
    00 00 00 00 00 00 00 00   // @16 allowed_iovas = NULL
    00 00 00 00 00 00 00 00   // @24 out_iova_alignment (the kernel's)`)]);
  const b = encodeIoasIovaRanges({ ioasId: 5, numIovas: 2, allowedIovas: 0x7f12_3456_7000n });
  assert.equal([...b.subarray(8, 12)], [2, 0, 0, 0]);
  assert.equal([...b.subarray(16, 24)], [0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0, 0]);
  assert.is(statusOf(() => encodeIoasIovaRanges({ ioasId: 5, numIovas: 2, allowedIovas: 0n })), 'BAD_ARG');
  assert.is(statusOf(() => encodeIoasIovaRanges({ ioasId: 5, numIovas: 1025, allowedIovas: 0x1000n })), 'VFIO_TOO_MANY');
});

test('ioas_iova_ranges reply: ranges and alignment; an empty list is valid', () => {
  const r = decodeIoasIovaRanges(ioasRangesReply([[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]]));
  assert.equal(r, { ranges: [{ start: 0n, end: 0x7ffffffn }, { start: 0x8100000n, end: 0xffffffffffffn }], iovaAlignment: 0x1000n });
  assert.equal(decodeIoasIovaRanges(ioasRangesReply([], { align: 1n })), { ranges: [], iovaAlignment: 1n });
  assert.equal(decodeIoasIovaRanges(ioasRangesReply([[0n, (1n << 64n) - 1n]])).ranges, [{ start: 0n, end: (1n << 64n) - 1n }], 'a fresh IOAS: all of it');
});

/** A scripted kernel for queryIoasIovaRanges: `answers` are the kernel's range lists, one per call. */
function kernel(answers: [bigint, bigint][][]) {
  const arrays = new Map<bigint, Uint8Array>();
  let next = 0x7f00_0000_0000n, call = 0, freed = 0;
  const alloc = (bytes: number): IovaRangesArray => {
    const addr = next; next += 0x1000n;
    const mem = new Uint8Array(bytes);
    arrays.set(addr, mem);
    return { addr, bytes: () => mem, free: () => { freed++; arrays.delete(addr); } };
  };
  const ioctl = (req: Uint8Array): void => {
    const dv = new DataView(req.buffer, req.byteOffset);
    const ranges = answers[Math.min(call++, answers.length - 1)]!;
    const max = dv.getUint32(8, true), mem = arrays.get(dv.getBigUint64(16, true));
    ranges.forEach(([a, b], i) => { if (i < max) { const m = new DataView(mem!.buffer); m.setBigUint64(16 * i, a, true); m.setBigUint64(16 * i + 8, b, true); } });
    dv.setUint32(8, ranges.length, true); dv.setBigUint64(24, 0x1000n, true);
    if (ranges.length > max) throw syscallError('ioctl(IOMMU_IOAS_IOVA_RANGES)', 90);
  };
  return { ioctl, alloc, calls: () => call, freed: () => freed, live: () => arrays.size };
}

test('queryIoasIovaRanges: EMSGSIZE with the count, then an array that large; every array freed', () => {
  const k = kernel([[[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]]]);
  const r = queryIoasIovaRanges(2, k.ioctl, k.alloc);
  assert.equal(r.ranges, [{ start: 0n, end: 0x7ffffffn }, { start: 0x8100000n, end: 0xffffffffffffn }]);
  assert.equal([k.calls(), k.freed(), k.live()], [2, 1, 0]);
});

test('queryIoasIovaRanges: a count that grows between the two calls is asked again; one that keeps growing is a kernel-reply error', () => {
  const one: [bigint, bigint] = [0n, 0xfffn], two: [bigint, bigint] = [0x2000n, 0x2fffn], three: [bigint, bigint] = [0x4000n, 0x4fffn];
  const k = kernel([[one], [one, two], [one, two]]);
  assert.is(queryIoasIovaRanges(2, k.ioctl, k.alloc).ranges.length, 2);
  assert.equal([k.calls(), k.live()], [3, 0]);
  const grow = kernel([[one], [one, two], [one, two, three], [one, two, three, one], [one, two, three, one, two], [one, two, three, one, two, three]]);
  let e: unknown;
  try { queryIoasIovaRanges(2, grow.ioctl, grow.alloc); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.kind === 'kernel-reply' && /grew/.test(e.message), String(e));
  assert.is(grow.live(), 0);
});

test('queryIoasIovaRanges: another errno passes through with its errno; a malformed reply is kernel-reply; arrays freed', () => {
  const k = kernel([[[0n, 0xfffn]]]);
  let e: unknown;
  try { queryIoasIovaRanges(2, () => { throw syscallError('ioctl(IOMMU_IOAS_IOVA_RANGES)', 2); }, k.alloc); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.errno === 2 && e.errnoName === 'ENOENT', String(e));
  const bad = kernel([[[0x3000n, 0x3fffn], [0n, 0xfffn]]]);
  e = undefined;
  try { queryIoasIovaRanges(2, bad.ioctl, bad.alloc); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.kind === 'kernel-reply' && e.statusName === 'VFIO_AREAS_UNSORTED' && e.offset === 48, String(e));
  assert.is(bad.live(), 0);
});

const header = findHeader();
if (!header) console.log('  !!! SKIPPED: no uapi linux/iommufd.h (VFIOKIT_UAPI_SRC unset: run through test/run.mjs, which extracts it with lab/uapi.sh) !!!');
(header ? test : test.skip)(`layouts and constants match ${header ?? 'a uapi iommufd.h'}`, () => {
  if (!header) return;
  {
    mkdirSync('build', { recursive: true });
    execFileSync('cc', ['-Wall', '-Werror', `-DIOMMUFD_H="${header}"`, '-o', 'build/iommufd-layout', 'test/unit/vfio/iommufd.c']);
    const oracle = JSON.parse(execFileSync('./build/iommufd-layout', { encoding: 'utf8' })) as Record<string, number>;
    let n = 0;
    for (const [struct, fields] of Object.entries(IOMMUFD_LAYOUT)) {
      for (const [field, value] of Object.entries(fields)) {
        const key = field === 'size' ? `${struct}.sizeof` : `${struct}.${field.replace(/_$/, '')}`;
        assert.is(value, oracle[key], key); n++;
      }
    }
    assert.is(n, Object.keys(oracle).filter((k) => k.includes('.')).length);
    for (const k of Object.keys(oracle).filter((k) => !k.includes('.') && k !== 'end')) assert.is((iommufd as unknown as Record<string, number>)[k], oracle[k], k);
  }
});

test.run();

// iommufd encoders: whole byte layouts annotated by offset, refusals, and the C oracle against a
// uapi iommufd.h (the lab kernel's, see findHeader); without one that test is SKIPPED, loudly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as iommufd from '../../../src/vfio/iommufd';
import { encodeIoasMap, encodeIoasUnmap, IOMMUFD_LAYOUT } from '../../../src/vfio/iommufd';
import { VfioError } from '../../../src/errors';
import { hex } from './replies';

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

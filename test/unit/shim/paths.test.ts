// shim/paths.ts: the sysfs reads of the open path through the C library, against node's fs on a
// real tree (a link, a file, a directory, nothing), the fds counted before and after; and over the
// fake libc, what an errno from readlink, open or read makes of each answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PATH_BYTES, PathReader, processPaths } from '../../../shim/paths';
import { createFakeLibc } from '../../support/fake-libc';
import { countFds } from '../../support/fds';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-paths-'));
mkdirSync(join(dir, 'kernel/iommu_groups/7'), { recursive: true });
writeFileSync(join(dir, 'kernel/iommu_groups/7/name'), 'vfio-noiommu\n');
symlinkSync('./kernel/iommu_groups/7', join(dir, 'iommu_group'));
symlinkSync('nowhere', join(dir, 'dangling'));

test('the same answers as node\'s fs for a link, a file, a directory and nothing; no fd left open', () => {
  const p = processPaths();
  const before = countFds();
  assert.is(p.link(join(dir, 'iommu_group')), readlinkSync(join(dir, 'iommu_group')));
  assert.is(p.linkName(join(dir, 'iommu_group')), '7');
  assert.is(p.linkName(join(dir, 'kernel')), null, 'a directory is no link');
  assert.is(p.linkName(join(dir, 'absent')), null);
  for (const f of ['iommu_group', 'kernel', 'kernel/iommu_groups/7/name', 'absent', 'absent/deeper']) assert.is(p.exists(join(dir, f)), existsSync(join(dir, f)), f);
  assert.ok(p.exists(join(dir, 'dangling')), 'a dangling link counts (readlink finds it)');
  assert.is(p.text(join(dir, 'kernel/iommu_groups/7/name')), readFileSync(join(dir, 'kernel/iommu_groups/7/name'), 'utf8'));
  assert.is(p.text(join(dir, 'absent')), null);
  assert.is(p.text(join(dir, 'kernel')), null, 'a directory cannot be read (EISDIR)');
  assert.is(countFds(), before);
});

test('a file longer than PATH_BYTES: its first PATH_BYTES bytes (one read)', () => {
  writeFileSync(join(dir, 'long'), 'x'.repeat(PATH_BYTES + 10));
  assert.is(processPaths().text(join(dir, 'long'))!.length, PATH_BYTES);
});

test('over the fake libc: readlink\'s errno decides exists (EINVAL: there, not a link); open and read failures are null, and the fd is closed', () => {
  const libc = createFakeLibc();
  const p = new PathReader(libc);
  assert.is(p.exists('/x'), false, 'the fake has no files: ENOENT');
  libc.failOn('readlink', 22);
  assert.is(p.exists('/x'), true, 'EINVAL');
  libc.failOn('readlink', 13);
  assert.is(p.exists('/x'), false, 'EACCES: as existsSync, which says false when it cannot tell');
  libc.failOn('open', 2);
  assert.is(p.text('/x'), null);
  libc.failOn('read', 5);
  assert.is(p.text('/x'), null);
  assert.equal([...libc.openFds], [], 'the fd of the failed read was closed');
});

test.after(() => { rmSync(dir, { recursive: true, force: true }); });
test.run();

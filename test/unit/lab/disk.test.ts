// The lab's NVMe disk image (lab/disk.mjs): made once in a cache directory, 64 MiB, a pattern in
// the first 16 MiB that is not zeros and not a short repeat, the rest zero, and its SHA-256 cached
// beside it; made again only when the image or its hash is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
// @ts-ignore: a plain ESM module of the lab scripts
import { labDisk, pattern, patternSector, DISK_BYTES, PATTERN_BYTES, SECTOR_BYTES, PATTERN_VERSION } from '../../../lab/disk.mjs';

/** The pattern's hash, pinned: a change to the pattern must bump PATTERN_VERSION (which names the
 *  cached image) and this value together, or a cache would keep an image with the old pattern. */
const PATTERN_SHA256 = '96785c30531ef26627cbf06833f68a266c42cc882a5498fa94a380c298b9f0f7';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('the pattern: 16 MiB, its hash pinned for this PATTERN_VERSION', () => {
  const p: Buffer = pattern();
  assert.is(p.length, PATTERN_BYTES);
  assert.is(PATTERN_BYTES, 16 << 20);
  assert.is(PATTERN_VERSION, 1);
  assert.is(sha(p), PATTERN_SHA256);
});

test('the pattern: each sector tagged with its number; no two sectors alike, no zero sector, no repeating 8-byte word inside a sector', () => {
  const p: Buffer = pattern();
  const seen = new Set<string>();
  for (let n = 0; n < PATTERN_BYTES / SECTOR_BYTES; n += 1) {
    const s = p.subarray(n * SECTOR_BYTES, (n + 1) * SECTOR_BYTES);
    seen.add(sha(s));
    if (n % 4099 === 0) {
      assert.is(s.subarray(0, 24).toString('latin1'), `vfiokit sector ${String(n).padStart(8, '0')}\n`);
      const words = new Set<bigint>();
      for (let o = 24; o + 8 <= SECTOR_BYTES; o += 8) words.add(s.readBigUInt64LE(o));
      assert.is(words.size, (SECTOR_BYTES - 24) / 8, `sector ${n} has no repeated word`);
    }
  }
  assert.is(seen.size, PATTERN_BYTES / SECTOR_BYTES);
  assert.not.ok(seen.has(sha(Buffer.alloc(SECTOR_BYTES))));
  assert.equal(patternSector(7), p.subarray(7 * SECTOR_BYTES, 8 * SECTOR_BYTES));
});

test('labDisk: made once, 64 MiB, the pattern then zeros, the hash of the pattern cached beside it; the next call reuses it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-disk-'));
  try {
    const a = labDisk(dir);
    assert.is(a.made, true);
    assert.is(a.path, join(dir, `nvme-disk-v${PATTERN_VERSION}.raw`));
    assert.is(statSync(a.path).size, DISK_BYTES);
    assert.is(DISK_BYTES, 64 << 20);
    const img = readFileSync(a.path);
    assert.is(sha(img.subarray(0, PATTERN_BYTES)), PATTERN_SHA256);
    assert.is(a.sha256, PATTERN_SHA256);
    assert.ok(img.subarray(PATTERN_BYTES).every((b) => b === 0), 'the rest is zero');
    assert.is(readFileSync(`${a.path}.sha256`, 'utf8'), `${PATTERN_SHA256}\n`);
    const b = labDisk(dir);
    assert.equal(b, { path: a.path, sha256: a.sha256, made: false });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('labDisk: a missing or malformed hash file makes the image again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-disk-'));
  try {
    const a = labDisk(dir);
    writeFileSync(`${a.path}.sha256`, 'not a hash\n');
    assert.is(labDisk(dir).made, true);
    rmSync(`${a.path}.sha256`);
    const c = labDisk(dir);
    assert.is(c.made, true);
    assert.is(c.sha256, PATTERN_SHA256);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();

// The lab's NVMe disk: a raw image made once in the lab cache and given to QEMU's NVMe controller
// (lab/boot.mjs, with snapshot=on so no guest write ever reaches it). Its first PATTERN_BYTES hold
// a deterministic pattern, the rest is zero; the SHA-256 of the pattern, computed here when the
// image is made, is cached beside it and travels on L1's kernel command line
// (`vfiokit.disk_sha256=`), so a guest that reads the disk can say whether it read the right bytes.
// Not responsible for: QEMU's arguments (lab/boot.mjs), the guest side (examples/mini-vmm/linux/init.c).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The image's size: room for the pattern and, from 32 MiB, the guest's 16 MiB write test. */
export const DISK_BYTES = 64 << 20;
/** The patterned part at the start; the guest hashes exactly this much. */
export const PATTERN_BYTES = 16 << 20;
/** The pattern's unit: each 512-byte sector is tagged with its own number, so a guest that reads a
 *  sector from the wrong place gets a different hash (and a person looking at a dump sees where). */
export const SECTOR_BYTES = 512;
/** Bumped whenever the pattern changes: it names the cached image, so an old one is never reused. */
export const PATTERN_VERSION = 1;

/** Sector `n` of the pattern: an ASCII tag `vfiokit sector <n, 8 digits>\n` (24 bytes), then
 *  32-bit words of Marsaglia's xorshift32 seeded by the sector number (scrambled by a multiply),
 *  so that no two sectors are alike and nothing repeats within one: not zeros, and not a short
 *  repeat that a read from a wrong offset would give back unchanged. */
export function patternSector(n) {
  const out = Buffer.alloc(SECTOR_BYTES);
  const tag = `vfiokit sector ${String(n).padStart(8, '0')}\n`;
  out.write(tag, 0, 'latin1');
  let x = (Math.imul(n + 1, 0x9e3779b9) ^ 0x2545f491) >>> 0;
  if (x === 0) x = 1;
  for (let off = tag.length; off < SECTOR_BYTES; off += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(Math.imul(x, 0x2c1b3c6d) >>> 0, off);
  }
  return out;
}

/** The whole pattern (PATTERN_BYTES), sector after sector. */
export function pattern() {
  const sectors = PATTERN_BYTES / SECTOR_BYTES;
  const buf = Buffer.alloc(PATTERN_BYTES);
  for (let n = 0; n < sectors; n += 1) patternSector(n).copy(buf, n * SECTOR_BYTES);
  return buf;
}

/**
 * The disk image in `cache`, made when absent: resolves { path, sha256, made } (sha256: hex of the
 * first PATTERN_BYTES). Written to a temporary name and renamed, hash first, so an interrupted run
 * leaves no half-made image behind a valid name.
 */
export function labDisk(cache) {
  mkdirSync(cache, { recursive: true });
  const path = join(cache, `nvme-disk-v${PATTERN_VERSION}.raw`);
  const hashFile = `${path}.sha256`;
  if (existsSync(path) && existsSync(hashFile)) {
    const sha256 = readFileSync(hashFile, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(sha256)) return { path, sha256, made: false };
  }
  const data = pattern();
  const sha256 = createHash('sha256').update(data).digest('hex');
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data, 0, data.length, 0);
    ftruncateSync(fd, DISK_BYTES); // the zero tail is a hole: the image costs 16 MiB on disk
  } finally { closeSync(fd); }
  writeFileSync(hashFile, sha256 + '\n');
  renameSync(tmp, path);
  return { path, sha256, made: true };
}

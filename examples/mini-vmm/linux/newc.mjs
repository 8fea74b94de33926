// A newc ("070701") cpio writer, the format the kernel unpacks an initramfs from
// (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII header
// of 13 hex fields, the NUL-terminated name, the data, each padded to 4 bytes; then TRAILER!!!.
// Enough for the mini-vmm's L2 initramfs (build.mjs); uid/gid 0, mtime 0, no hard links.
// Not responsible for: compression (build.mjs gzips), reading archives.

/** One newc entry: mode includes the file type bits (S_IFDIR 0o040000, S_IFREG 0o100000, S_IFCHR 0o020000). */
function newcEntry(ino, name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
  const fields = [ino, mode, 0, 0, (mode & 0o170000) === 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
  const head = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('') + name + '\0', 'latin1');
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([head, pad(head.length), data, pad(data.length)]);
}

/** A newc archive of `entries` ({ name, mode, data?, rdev? }) and the trailer. */
export function newc(entries) {
  const parts = entries.map((e, i) => newcEntry(i + 1, e.name, e.mode, e.data, e.rdev));
  parts.push(newcEntry(0, 'TRAILER!!!', 0));
  return Buffer.concat(parts);
}

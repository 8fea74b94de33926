// Open file descriptors of this process, for leak checks in tests: the numbers listed in
// /proc/self/fd. The listing's own directory fd is open while it is read, so it appears in every
// listing and counts cancel out between two calls.
// Not responsible for: which fd belongs to whom.
import { readdirSync, readFileSync } from 'node:fs';

/** The open fds of this process, sorted. */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);
}

/** A line of /proc/self/maps that maps a VFIO device: the group path's device fd is an anonymous
 *  inode "[vfio-device]", the cdev path's is /dev/vfio/devices/vfioN. ("vfio" alone also matches
 *  vfiokit's own files, koffi.node among them, mapped when first used.) */
export const VFIO_MAPPING = /\[vfio-device\]|\/dev\/vfio\//;

/** How many VFIO device mappings this process holds now. */
export const countVfioMaps = (): number => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => VFIO_MAPPING.test(l)).length;

/** How many fds are open now. */
export const countFds = (): number => openFds().length;

/** Runs fn and returns the fds it left open (and closed) compared with before, for an assertion. */
export async function fdDelta(fn: () => unknown): Promise<{ leaked: number[]; closed: number[] }> {
  const before = new Set(openFds());
  await fn();
  const after = new Set(openFds());
  return { leaked: [...after].filter((f) => !before.has(f)), closed: [...before].filter((f) => !after.has(f)) };
}

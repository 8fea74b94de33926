// Small reads of the file system through the C library (the shim's koffi calls), for the paths
// read on every device open: sysfs links and one-line attributes. Under emulation node's fs costs
// 30-170 us a call (option parsing, error objects for every miss), a koffi call a few us
// (docs/BENCH.md, "Device open: sysfs through the shim"). Each answer is what node's
// existsSync / readlinkSync / readFileSync would give, with null where they would throw.
// Not responsible for: errors (an absent file is an answer here, not a failure: the callers say
// what it means), writes, directories (node's fs stays for those, off the open path).
import { O_CLOEXEC, O_RDONLY, realLibc, type Libc } from './libc.js';

/** The most bytes of a link target or an attribute read: sysfs links and the attributes read on
 *  open are far shorter; a link target is bounded by PATH_MAX (4096). */
export const PATH_BYTES = 4096;
const EINVAL = 22;

/** Reads through one C library with one reused buffer (one per libc: reads never interleave). */
export class PathReader {
  readonly #libc: Libc;
  readonly #buf = new Uint8Array(PATH_BYTES);
  readonly #dec = new TextDecoder();
  constructor(libc: Libc) { this.#libc = libc; }

  /** The target of the symlink at `path`, or null (absent, or not a link). */
  link(path: string): string | null {
    const n = this.#libc.readlink(path, this.#buf, PATH_BYTES);
    return n >= 0 ? this.#dec.decode(this.#buf.subarray(0, n)) : null;
  }

  /** The last part of the target of the symlink at `path` ("../../../kernel/iommu_groups/7" -> "7"), or null. */
  linkName(path: string): string | null {
    const t = this.link(path);
    return t === null ? null : t.slice(t.lastIndexOf('/') + 1);
  }

  /** Whether `path` names something: a link (readlink succeeds) or anything else (readlink says
   *  EINVAL, not a link). Unlike existsSync, a dangling link counts (sysfs has none where this is asked). */
  exists(path: string): boolean {
    const n = this.#libc.readlink(path, this.#buf, PATH_BYTES);
    return n >= 0 || n === -EINVAL;
  }

  /** The text of a small file (at most PATH_BYTES bytes, one read), or null when it cannot be opened or read. */
  text(path: string): string | null {
    const fd = this.#libc.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return null;
    try {
      const n = this.#libc.read(fd, this.#buf, PATH_BYTES);
      return n >= 0 ? this.#dec.decode(this.#buf.subarray(0, n)) : null;
    } finally { this.#libc.close(fd); }
  }
}

// The one piece of module state: the reader over the real C library, made on first use (koffi
// loads on its first read, as for processSys()).
let shared: PathReader | undefined;
/** The PathReader over this process's C library. */
export function processPaths(): PathReader { return shared ??= new PathReader(realLibc()); }

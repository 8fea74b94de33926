// The one error class of vfiokit, at the bottom of the house so that the shim, the core's
// wrappers and the device layer all throw the same thing (src/errors.ts re-exports it as the
// public name). Every failure a user can see is a VfioError with a `kind` (sorted union below);
// a failed syscall keeps errno, its name (also as `code`, as Node's SystemError has it) and the
// syscall; a core status keeps its code, name and the offset of the fault. `hint` says what to do.
// Not responsible for: deciding whether to retry; callers switch on `kind` (or `code`).

/**
 * What went wrong, as a {@link VfioError}'s `kind`: the one field to switch on. The kinds, sorted:
 * - `'bad-argument'`: the caller passed something outside the documented domain.
 * - `'bad-fdt'`: a device-tree blob failed validation (`status`, `offset` say where).
 * - `'bad-state'`: the call is not allowed in the object's current state (e.g. a device not bound
 *   to its VFIO driver, an FDT builder call out of order).
 * - `'busy'`: EBUSY; the device or group is in use.
 * - `'closed'`: the object was closed; open a new one.
 * - `'core-bug'`: the Wasm core aborted or returned INTERNAL: a bug in vfiokit, worth a report.
 * - `'kernel-reply'`: the kernel answered with a malformed structure (`status`, `offset`).
 * - `'no-space'`: an output or an address window is full (also ENOSPC, EMSGSIZE).
 * - `'not-found'`: no such device, region, IRQ, node or property (also ENOENT, ENXIO, ENODEV).
 * - `'not-supported'`: the kernel or the device lacks the feature (also ENOTTY, ENOSYS, EOPNOTSUPP).
 * - `'not-viable'`: the IOMMU group has devices not bound to a VFIO driver.
 * - `'permission'`: EACCES/EPERM; permissions or capabilities are missing.
 * - `'syscall'`: any other failed syscall; `errno`, `errnoName` and `syscall` are set.
 */
export type VfioErrorKind =
  | 'bad-argument'   // the caller passed something outside the documented domain
  | 'bad-fdt'        // a device-tree blob failed validation (status, offset)
  | 'bad-state'      // the call is not allowed in the object's current state
  | 'busy'           // EBUSY: the device or group is in use
  | 'closed'         // the object was closed; open a new one
  | 'core-bug'       // the Wasm core aborted or returned INTERNAL: a bug in vfiokit
  | 'kernel-reply'   // the kernel answered with a malformed structure (status, offset)
  | 'no-space'       // an output or an address window is full
  | 'not-found'      // no such device, region, IRQ, node or property
  | 'not-supported'  // the kernel or the device lacks the feature
  | 'not-viable'     // the IOMMU group has devices not bound to a VFIO driver
  | 'permission'     // EACCES/EPERM: permissions or capabilities are missing
  | 'syscall';       // any other failed syscall (errno kept)

/** The fields a {@link VfioError} is built from; each becomes the error's field of the same name. */
export interface VfioErrorInit {
  /** What went wrong; see {@link VfioErrorKind}. */
  kind: VfioErrorKind;
  /** What happened, without the device name (the constructor prefixes `device: `). */
  message: string;
  /** What to do about it; appended to the message after ` - `. */
  hint?: string;
  /** The errno of the failed syscall (a positive number, e.g. 16 for EBUSY). */
  errno?: number;
  /** The errno's symbolic name ('EBUSY'); shown in the message beside `syscall`. */
  errnoName?: string;
  /** The syscall or ioctl that failed ('open', 'VFIO_DEVICE_GET_INFO', ...); shown in the message. */
  syscall?: string;
  /** The device name ('0000:00:03.0', '9010000.pl031'); prefixes the message. */
  device?: string;
  /** The Wasm core's status code (negative) for 'bad-fdt', 'kernel-reply', 'no-space', 'core-bug'. */
  status?: number;
  /** The core status's name ('NO_SPACE', 'FDT_NAME_CLASH', ...). */
  statusName?: string;
  /** Where the fault is: a byte offset into the blob or reply, or an address (bigint). */
  offset?: number | bigint;
  /** The underlying error, kept as the standard `Error.cause`. */
  cause?: unknown;
}

/**
 * The one error class of vfiokit: every failure a caller can see is a VfioError. Switch on
 * {@link VfioError.kind}; a failed syscall keeps `errno`, `errnoName` and `syscall`; a failure the
 * Wasm core found keeps `status`, `statusName` and `offset`; `hint` says what to do. The message
 * reads `device: what happened (syscall: ENAME) - hint`.
 *
 * @example
 * ```ts
 * import { openDevice, VfioError } from 'vfiokit';
 *
 * try {
 *   openDevice('0000:00:03.0').close();
 * } catch (e) {
 *   if (e instanceof VfioError && e.kind === 'not-viable') console.error(e.hint);
 *   else throw e;
 * }
 * ```
 */
export class VfioError extends Error {
  /** What went wrong; the field to switch on (see {@link VfioErrorKind}). */
  readonly kind: VfioErrorKind;
  /** What to do about it, when vfiokit knows (also at the end of the message). */
  readonly hint?: string;
  /** The errno of the failed syscall; set for kinds that come from one ('syscall', 'busy', 'permission', ...). */
  readonly errno?: number;
  /** The errno's symbolic name ('EBUSY', 'EINVAL', ...). */
  readonly errnoName?: string;
  /** The errno's name ('EBUSY', 'ENODEV', ...) when a syscall failed, as Node's SystemError
   *  carries it, so `e.code === 'EBUSY'` works as it does for fs errors; undefined otherwise. */
  readonly code?: string;
  /** The syscall or ioctl that failed ('open', 'mmap', 'VFIO_IOMMU_MAP_DMA', ...). */
  readonly syscall?: string;
  /** The device the error is about, when there is one ('0000:00:03.0'). */
  readonly device?: string;
  /** The Wasm core's (negative) status code, for 'bad-fdt', 'kernel-reply', 'no-space' and 'core-bug'. */
  readonly status?: number;
  /** The core status's name ('NO_SPACE', 'FDT_NAME_CLASH', ...). */
  readonly statusName?: string;
  /** Where the fault is: a byte offset into the blob or kernel reply, or a guest address (bigint). */
  readonly offset?: number | bigint;

  /** Builds the message from `init` (`device: message (syscall: ENAME) - hint`) and copies its fields. */
  constructor(init: VfioErrorInit) {
    const parts = [init.device ? `${init.device}: ${init.message}` : init.message];
    if (init.syscall) parts.push(`(${init.syscall}${init.errnoName ? `: ${init.errnoName}` : ''})`);
    if (init.hint) parts.push(`- ${init.hint}`);
    super(parts.join(' '), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'VfioError';
    this.kind = init.kind;
    this.hint = init.hint;
    this.errno = init.errno;
    this.errnoName = init.errnoName;
    this.code = init.errnoName;
    this.syscall = init.syscall;
    this.device = init.device;
    this.status = init.status;
    this.statusName = init.statusName;
    this.offset = init.offset;
  }
}

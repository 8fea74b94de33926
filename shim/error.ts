// The one error class of vfiokit, at the bottom of the house so that the shim, the core's
// wrappers and the device layer all throw the same thing (src/errors.ts re-exports it as the
// public name). Every failure a user can see is a VfioError with a `kind` (sorted union below);
// a failed syscall keeps errno, its name (also as `code`, as Node's SystemError has it) and the
// syscall; a core status keeps its code, name and the offset of the fault. `hint` says what to do.
// Not responsible for: deciding whether to retry; callers switch on `kind` (or `code`).

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

export interface VfioErrorInit {
  kind: VfioErrorKind;
  message: string;
  hint?: string;
  errno?: number;
  errnoName?: string;
  syscall?: string;
  device?: string;
  status?: number;
  statusName?: string;
  offset?: number | bigint;
  cause?: unknown;
}

export class VfioError extends Error {
  readonly kind: VfioErrorKind;
  readonly hint?: string;
  readonly errno?: number;
  readonly errnoName?: string;
  /** The errno's name ('EBUSY', 'ENODEV', ...) when a syscall failed, as Node's SystemError
   *  carries it, so `e.code === 'EBUSY'` works as it does for fs errors; undefined otherwise. */
  readonly code?: string;
  readonly syscall?: string;
  readonly device?: string;
  readonly status?: number;
  readonly statusName?: string;
  readonly offset?: number | bigint;

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

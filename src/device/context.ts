// Shared plumbing of the device layer: the process-wide checked syscall layer (the shim's
// processSys, or one injected by tests), error context (device, region, hint) added to the shim's
// VfioErrors, and the page size.
// Not responsible for: any policy about what to open (device.ts, iommu.ts decide).
import { readFileSync } from 'node:fs';
import { VfioError, type VfioErrorKind } from '../errors.js';
import { u64 } from '../../shim/bytes.js';

/** The process's checked layer (one home: shim/sys.ts), for the device layer's defaults. */
export { processSys } from '../../shim/sys.js';

/** Re-throws `e` with the device name, and a hint/kind when given (the shim's errno hint is kept
 *  when we have nothing better). Non-VfioErrors pass through untouched. */
export function withContext(e: unknown, device: string, extra: { hint?: string; kind?: VfioErrorKind; message?: string } = {}): never {
  if (!(e instanceof VfioError)) throw e;
  throw contextError(e, device, extra);
}

/** `e` with the device's context, as withContext throws it. */
export function contextError(e: VfioError, device: string, extra: { hint?: string; kind?: VfioErrorKind; message?: string } = {}): VfioError {
  const message = (extra.message ? `${extra.message}: ` : '') + stripDevice(e, device);
  return new VfioError({
    kind: extra.kind ?? e.kind, message, device, hint: extra.hint ?? e.hint, errno: e.errno, errnoName: e.errnoName,
    syscall: e.syscall, status: e.status, statusName: e.statusName, offset: e.offset, cause: e,
  });
}

/** The error's own message without the "(syscall: ERRNO) - hint" tail VfioError adds. */
function stripDevice(e: VfioError, device: string): string {
  let m = e.message;
  if (e.hint) m = m.replace(` - ${e.hint}`, '');
  if (e.syscall) m = m.replace(` (${e.syscall}${e.errnoName ? `: ${e.errnoName}` : ''})`, '');
  if (e.device === device && m.startsWith(`${device}: `)) m = m.slice(device.length + 2);
  return m;
}

export interface ContextExtra { hint?: string | ((e: VfioError) => string | undefined); kind?: VfioErrorKind | ((e: VfioError) => VfioErrorKind | undefined); message?: string | (() => string) }

/** Runs `f`; a VfioError it throws gets the device's context. */
export function ctx<T>(device: string, f: () => T, extra?: ContextExtra): T {
  try { return f(); } catch (e) { rethrowWithContext(e, device, extra); }
}

/** What ctx() does with what `f` threw, for hot paths that use try/catch themselves (no closure
 *  per call) and pass `extra` only in the catch block (no strings per call). */
export function rethrowWithContext(e: unknown, device: string, extra?: ContextExtra): never {
  if (!(e instanceof VfioError) || !extra) withContext(e, device);
  const hint = typeof extra.hint === 'function' ? extra.hint(e) : extra.hint;
  const kind = typeof extra.kind === 'function' ? extra.kind(e) : extra.kind;
  // A message may be a function so that hot paths build it only on failure.
  const message = typeof extra.message === 'function' ? extra.message() : extra.message;
  withContext(e, device, { hint, kind, message });
}

export function closedError(what: string, device: string): VfioError {
  return new VfioError({ kind: 'closed', device, message: `the ${what} was closed`, hint: 'open the device again with openDevice()' });
}

/** AT_PAGESZ from /proc/self/auxv (64-bit entries), else 4096. */
let pageSize: number | undefined;
export function systemPageSize(): number {
  if (pageSize !== undefined) return pageSize;
  pageSize = 4096;
  try {
    const b = readFileSync('/proc/self/auxv');
    for (let i = 0; i + 16 <= b.length; i += 16) {
      const type = u64(b, i);
      if (type === 0n) break;
      if (type === 6n) { pageSize = Number(u64(b, i + 8)); break; } // AT_PAGESZ
    }
  } catch { /* not Linux, or no /proc: 4096 */ }
  return pageSize;
}

/** A closer run during teardown: every step runs even when an earlier one threw; the first error
 *  is re-thrown at the end (teardown never stops half-way). */
export class Teardown {
  #first: unknown;
  #failed = false;
  step(f: () => void): void {
    try { f(); } catch (e) { if (!this.#failed) { this.#failed = true; this.#first = e; } }
  }
  finish(): void { if (this.#failed) throw this.#first; }
}

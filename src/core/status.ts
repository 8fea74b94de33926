// The one path from a core status to a VfioError. The core says what a status is: its name,
// meaning and error kind are one row beside the status (assembly/*/status.ts, read through
// status_name and status_kind); the caller says what it was doing (what, device, hint, detail).
// Not responsible for: deciding whether to retry (a caller that retries catches the error by status).

import { VfioError, type VfioErrorKind } from '../errors.js';
import type { Core } from './loader.js';

export interface StatusContext {
  /** What was being done: the message's start ("cannot declare IRQ 3", "place a region"). */
  what: string;
  device?: string;
  hint?: string;
  /** Appended to the status text, e.g. " (4096 bytes needed)". */
  detail?: string;
  /** Whose input a status of kind "input" (OVERFLOW) blames: the caller's unless the call decoded
   *  a kernel reply. */
  input?: 'bad-argument' | 'kernel-reply';
  /** The result slot holding the byte offset of the fault of a kernel-reply or bad-fdt status (0
   *  unless the module says otherwise), or null when the module puts none there. */
  faultSlot?: number | null;
  /** How the fault offset reads in the message (default " at byte N"). */
  at?: (offset: number) => string;
  /** The error's offset when the module puts it elsewhere (a NEED_ARGSZ reply: 0). */
  offset?: number;
}

/** Every kind a core status row may name (assembly/status.ts); anything else is a bug of the core. */
const CORE_KINDS: ReadonlySet<string> = new Set<VfioErrorKind>([
  'bad-argument', 'bad-fdt', 'bad-state', 'busy', 'closed', 'core-bug', 'kernel-reply', 'no-space', 'not-found', 'not-supported',
]);

/** The short name of a status ("FDT_BAD_MAGIC") and its meaning; the code itself when unknown. */
export function statusParts(c: Core, st: number): { name: string; meaning: string } {
  const full = c.statusName(st);
  const i = full.indexOf(':');
  return i < 0 ? { name: full || `status ${st}`, meaning: '' } : { name: full.slice(0, i), meaning: full.slice(i + 1).trim() };
}

/** The error kind of a negative status as the core states it, resolved against the context. */
export function statusKind(c: Core, st: number, input: StatusContext['input'] = 'bad-argument'): VfioErrorKind {
  const k = c.statusKind(st);
  if (k === 'input') return input;
  return CORE_KINDS.has(k) ? (k as VfioErrorKind) : 'core-bug';
}

/** The VfioError for a negative status. */
export function statusError(c: Core, st: number, ctx: StatusContext): VfioError {
  const full = c.statusName(st) || `status ${st}`;
  const { name } = statusParts(c, st);
  const kind = statusKind(c, st, ctx.input);
  const slot = ctx.faultSlot === undefined ? 0 : ctx.faultSlot;
  const fault = (kind === 'kernel-reply' || kind === 'bad-fdt') && slot !== null ? Number(c.result(slot)) : undefined;
  const at = fault === undefined ? '' : (ctx.at ?? atByte)(fault);
  return new VfioError({
    kind, status: st, statusName: name, offset: ctx.offset ?? fault, device: ctx.device, hint: ctx.hint,
    message: `${ctx.what}: ${full}${at}${ctx.detail ?? ''}`,
  });
}

/** Returns st when it is a success (>= 0); throws statusError otherwise. */
export function checkStatus(c: Core, st: number, ctx: StatusContext | string): number {
  if (st >= 0) return st;
  throw statusError(c, st, typeof ctx === 'string' ? { what: ctx } : ctx);
}

const atByte = (offset: number): string => ` at byte ${offset}`;

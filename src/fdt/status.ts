// Turns the core's FDT statuses into VfioErrors (one place, decisions as data).
// Not responsible for: deciding whether to retry (the builder grows its buffer on NO_SPACE itself).
import { STATUS_INTERNAL, type Core } from '../core/loader.js';
import { VfioError, type VfioErrorKind } from '../errors.js';

/** Kind of each status, by the name status_name() gives it; reader statuses (FDT_*) are 'bad-fdt'. */
const KIND_BY_NAME: Record<string, VfioErrorKind> = {
  BAD_ARG: 'bad-argument',
  BAD_STATE: 'bad-state',
  NO_SPACE: 'no-space',
  NOT_FOUND: 'not-found',
  BAD_HANDLE: 'closed',
  LIMIT: 'no-space',
  INTERNAL: 'core-bug',
  FDT_W_BAD_NAME: 'bad-argument',
  FDT_W_BAD_VALUE: 'bad-argument',
  FDT_W_TOO_DEEP: 'bad-argument',
  FDT_W_PHANDLES_EXHAUSTED: 'no-space',
  FDT_W_CORRUPT: 'core-bug',
  FDT_NAME_CLASH: 'bad-argument',
  FDT_PHANDLE_CLASH: 'bad-argument',
};

const HINTS: Record<string, string> = {
  BAD_STATE: 'see the writer state table in docs/fdt.md: properties come before subnodes, the root is opened first and closed last',
  FDT_NAME_CLASH: 'rename the subtree node or merge under another parent',
  FDT_PHANDLE_CLASH: 'allocate subtree phandles above the base tree\'s maxPhandle (FdtBuilder firstPhandle)',
  LIMIT: 'close FdtBuilders you no longer need',
  FDT_W_BAD_NAME: 'node names are "name" or "name@unit" without "/" (the root\'s is ""); property names are non-empty; both shorter than 256 bytes',
};

/** The short name of a status ("FDT_BAD_MAGIC") and its meaning. */
export function statusParts(c: Core, st: number): { name: string; meaning: string } {
  const full = c.statusName(st);
  const i = full.indexOf(':');
  return i < 0 ? { name: full || String(st), meaning: '' } : { name: full.slice(0, i), meaning: full.slice(i + 1).trim() };
}

/** Throws the VfioError for a negative status; returns st otherwise. */
export function check(c: Core, st: number, what: string): number {
  if (st >= 0) return st;
  const { name, meaning } = statusParts(c, st);
  const isReader = st <= -100 && st > -150;
  const kind: VfioErrorKind = st === STATUS_INTERNAL ? 'core-bug' : isReader ? 'bad-fdt' : KIND_BY_NAME[name] ?? 'core-bug';
  const offset = isReader ? Number(c.result(0)) : undefined;
  const extra = name === 'NO_SPACE' ? ` (${c.result(0)} bytes needed)` : name === 'FDT_PHANDLE_CLASH' ? ` (phandle ${c.result(0)})` : '';
  throw new VfioError({
    kind, status: st, statusName: name, offset,
    message: `${what}: ${meaning || name}${offset !== undefined ? ` at byte ${offset}` : ''}${extra}`,
    hint: HINTS[name] ?? (isReader ? 'the device-tree blob is malformed; regenerate it (dtc -I dts -O dtb) or check how it was produced' : undefined),
  });
}

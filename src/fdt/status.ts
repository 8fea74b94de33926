// The FDT modules' context for a core status: what to tell the user to do, and the extra value some
// statuses leave in result slot 0. The kind and name come from the core (src/core/status.ts).
// Not responsible for: deciding whether to retry (the builder grows its buffer on NO_SPACE itself).
import type { Core } from '../core/loader.js';
import { checkStatus, statusKind, statusParts } from '../core/status.js';

/** What to do about a status, by its name; a malformed blob (kind bad-fdt) has one hint for all. */
const HINTS: Record<string, string> = {
  BAD_STATE: 'see the writer state table in docs/fdt.md: properties come before subnodes, the root is opened first and closed last',
  FDT_NAME_CLASH: 'rename the subtree node or merge under another parent',
  FDT_PHANDLE_CLASH: 'allocate subtree phandles above the base tree\'s maxPhandle (FdtBuilder firstPhandle)',
  LIMIT: 'close FdtBuilders you no longer need',
  FDT_W_BAD_NAME: 'node names are "name" or "name@unit" without "/" (the root\'s is ""); property names are non-empty; both shorter than 256 bytes',
};
const BAD_FDT_HINT = 'the device-tree blob is malformed; regenerate it (dtc -I dts -O dtb) or check how it was produced';

/** Throws the VfioError for a negative status; returns st otherwise. */
export function check(c: Core, st: number, what: string): number {
  if (st >= 0) return st;
  const { name } = statusParts(c, st);
  const detail = name === 'NO_SPACE' ? ` (${c.result(0)} bytes needed)` : name === 'FDT_PHANDLE_CLASH' ? ` (phandle ${c.result(0)})` : '';
  return checkStatus(c, st, { what, detail, hint: HINTS[name] ?? (statusKind(c, st) === 'bad-fdt' ? BAD_FDT_HINT : undefined) });
}

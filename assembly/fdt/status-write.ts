// Status codes of the FDT writer and merge: -150 .. -199. Each: a constant with a doc comment and
// one row in the switch below: "<error kind> <NAME>: <meaning>" (assembly/status.ts).
// Generic codes used here: ERR_BAD_STATE (a writer call its state does not allow: see the table in
// writer.ts), ERR_NO_SPACE (result slot 0 = buffer bytes needed), ERR_BAD_HANDLE, ERR_LIMIT
// (MAX_WRITERS open), ERR_BAD_ARG (a buffer outside scratch, overlapping buffers), ERR_NOT_FOUND
// (merge: no node at the parent path). Merge passes reader statuses through for a malformed input,
// with result slot 0 = fault offset and slot 1 = 0 (base) or 1 (subtree).

/** A node name that is empty (below the root), non-empty for the root, holds NUL or '/', or a
 *  property name that is empty or holds NUL; or either is FDT_MAX_NAME bytes or longer. */
export const FDT_ERR_W_BAD_NAME: i32 = -150;
/** A property value of the wrong shape: a string holding NUL, a string list not ending in NUL. */
export const FDT_ERR_W_BAD_VALUE: i32 = -151;
/** begin_node would nest deeper than FDT_MAX_DEPTH. */
export const FDT_ERR_W_TOO_DEEP: i32 = -152;
/** No phandle is left to allocate (the next would be 0xffffffff, which the spec reserves). */
export const FDT_ERR_W_PHANDLES_EXHAUSTED: i32 = -153;
/** finish: the writer's structure block was changed by someone else between calls (the buffer is
 *  the host's memory); the blob cannot be completed. */
export const FDT_ERR_W_CORRUPT: i32 = -154;
/** Merge: a child of the subtree's root has the same name as a child of the parent node. */
export const FDT_ERR_NAME_CLASH: i32 = -170;
/** Merge: a phandle of the subtree is already used in the base tree (slot 0 = the phandle). */
export const FDT_ERR_PHANDLE_CLASH: i32 = -171;

export function fdtWriteStatusRow(code: i32): string {
  switch (code) {
    case FDT_ERR_W_BAD_NAME: return "bad-argument FDT_W_BAD_NAME: node or property name empty, holding NUL or '/', or too long";
    case FDT_ERR_W_BAD_VALUE: return "bad-argument FDT_W_BAD_VALUE: a string holding NUL or a string list not ending in NUL";
    case FDT_ERR_W_TOO_DEEP: return "bad-argument FDT_W_TOO_DEEP: nodes would nest deeper than FDT_MAX_DEPTH (64)";
    case FDT_ERR_W_PHANDLES_EXHAUSTED: return "no-space FDT_W_PHANDLES_EXHAUSTED: no phandle below 0xffffffff is left";
    case FDT_ERR_W_CORRUPT: return "core-bug FDT_W_CORRUPT: the writer's buffer was changed by someone else between calls";
    case FDT_ERR_NAME_CLASH: return "bad-argument FDT_NAME_CLASH: the parent already has a child of that name";
    case FDT_ERR_PHANDLE_CLASH: return "bad-argument FDT_PHANDLE_CLASH: a subtree phandle is already used in the base tree (slot 0)";
  }
  return "";
}

// The vfiokit core: the single entry point compiled to vfiokit-core.wasm. It re-exports each
// module's exports; docs/ABI.md lists them. Pure and deterministic: no imports but env.abort.

import { SCRATCH_SIZE, RESULT_SLOTS, scratchBase, resultsBase, textBase, setTextSlice } from "./mem";
import { statusRow } from "./status";

/** ABI revision; bumped on any incompatible change of an export (docs/ABI.md). */
export const ABI_VERSION: i32 = 1;

export function abi_version(): i32 { return ABI_VERSION; }
export function scratch_ptr(): usize { return scratchBase(); }
export function scratch_size(): usize { return SCRATCH_SIZE; }
export function result_ptr(): usize { return resultsBase(); }
export function result_slots(): i32 { return RESULT_SLOTS; }
export function text_ptr(): usize { return textBase(); }
/** Writes "NAME: meaning" of a status code to text_ptr(); returns its length (0: unknown). */
export function status_name(code: i32): i32 {
  const row = statusRow(code);
  return setTextSlice(row, row.indexOf(" ") + 1, row.length);
}
/** Writes the error kind of a status code ("not-found", ...: assembly/status.ts) to text_ptr();
 *  returns its length (0: unknown). */
export function status_kind(code: i32): i32 {
  const row = statusRow(code);
  return setTextSlice(row, 0, max(row.indexOf(" "), 0));
}

// Module exports (each module's index.ts lists its own).
export * from "./fdt/index";
export * from "./vfio/index";
export * from "./region/index";
export * from "./placement/index";
export * from "./irq/index";
export * from "./dtnode/index";
export * from "./pci/index";

// The one way shim/uapi/'s small request structs are written: u32 fields at their layout's offsets.
import { setU32 } from '../bytes.js';

/** Writes a struct of u32 fields into `out` (a new buffer of the layout's size when not given):
 *  every byte zeroed first, `lengthField` (VFIO's argsz, iommufd's size; null for none) set to the
 *  struct's size, then each of `fields` at its offset in `layout`. Returns `out`. */
export function u32Struct<L extends { readonly size: number }>(
  layout: L, lengthField: keyof L | null, fields: { readonly [K in keyof L]?: number }, out: Uint8Array = new Uint8Array(layout.size),
): Uint8Array {
  out.fill(0, 0, layout.size);
  if (lengthField !== null) setU32(out, layout[lengthField] as number, layout.size);
  for (const k of Object.keys(fields) as (keyof L)[]) setU32(out, layout[k] as number, fields[k]!);
  return out;
}

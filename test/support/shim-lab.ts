// Helpers for the lab tests that drive real devices through the shim (test/lab/shim*.test.ts):
// named steps whose failure keeps the VfioError message, hand-built little-endian structs, the
// group node of a device, and a close list that undoes everything in reverse order.
// Not responsible for: struct layouts (each test annotates its offsets).
import { existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** Runs one step; a failure says which step, keeps the VfioError message (syscall, errno name) and kind. */
export function step<T>(name: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    const kind = (e as { kind?: string }).kind;
    throw new Error(`step "${name}" failed: ${(e as Error).message}${kind ? ` [kind ${kind}]` : ''}`, { cause: e });
  }
}

export const u32le = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
export const u64le = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

/** A zeroed struct of `size` bytes with the given fields set: [offset, width in bytes, value]. */
export function struct(size: number, fields: [offset: number, bytes: 4 | 8, value: number | bigint][]): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  for (const [off, bytes, v] of fields) {
    if (bytes === 4) dv.setUint32(off, Number(v) >>> 0, true); else dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
  }
  return b;
}

/** The group node of a device: /dev/vfio/N, or /dev/vfio/noiommu-N for a noiommu group. */
export function groupPath(bus: string, dev: string): string {
  const n = basename(readlinkSync(`/sys/bus/${bus}/devices/${dev}/iommu_group`));
  return existsSync(`/dev/vfio/noiommu-${n}`) ? `/dev/vfio/noiommu-${n}` : `/dev/vfio/${n}`;
}

/** Undo list: closes/unmaps in reverse order of adding; tries all, then throws the first failure. */
export class Undo {
  #list: [string, () => void][] = [];
  add(what: string, undo: () => void): void { this.#list.push([what, undo]); }
  /** Registers fd to be closed with `close`, returns it. */
  fd(what: string, fd: number, close: (fd: number) => void): number { this.add(what, () => close(fd)); return fd; }
  run(): void {
    let first: unknown;
    for (const [what, undo] of this.#list.reverse()) {
      try { undo(); } catch (e) { first ??= new Error(`undoing ${what}: ${(e as Error).message}`); }
    }
    this.#list = [];
    if (first) throw first;
  }
}

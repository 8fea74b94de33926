// Helpers of the FDT tests: dtc and fdtget as independent readers, the QEMU virt DTBs, and raw
// calls of the core's fdt_* exports. Not a test file itself.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { core } from '../../../src/core/loader';
import { virtDtb, VIRT_DTB } from '../dtnode/virt-dtb';

export { virtDtb, VIRT_DTB };
export const VIRT_GICV2_DTB = 'build/virt-gicv2.dtb';

/** QEMU virt's DTB with a GICv2 (gic-version=2), dumped once like virtDtb(). */
export function virtDtbGicv2(): Uint8Array {
  if (!existsSync(VIRT_GICV2_DTB)) {
    mkdirSync('build', { recursive: true });
    const r = spawnSync('qemu-system-aarch64', ['-M', `virt,gic-version=2,dumpdtb=${VIRT_GICV2_DTB}`, '-cpu', 'max', '-nographic', '-nodefaults', '-net', 'none'], { encoding: 'utf8', timeout: 30_000 });
    if (!existsSync(VIRT_GICV2_DTB)) throw new Error(`qemu-system-aarch64 did not dump the DTB: ${r.stderr}`);
  }
  return new Uint8Array(readFileSync(VIRT_GICV2_DTB));
}

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-fdt-'));
let seq = 0;
/** Writes a blob to a temporary file and returns its path. */
export function tmpFile(blob: Uint8Array): string {
  const p = join(dir, `t${seq++}.dtb`);
  writeFileSync(p, blob);
  return p;
}

export function dtc(dts: string): Uint8Array {
  const r = spawnSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', '-'], { input: dts, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`dtc failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}
/** dtc's decompilation of a blob (throws when dtc refuses it). */
export function dts(blob: Uint8Array): string {
  const r = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', tmpFile(blob)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`dtc could not read the blob: ${r.stderr}`);
  return r.stdout;
}

function run(args: string[]): string {
  const r = spawnSync('fdtget', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`fdtget ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const lines = (s: string) => s.split('\n').slice(0, -1);

export interface FdtgetNode { path: string; children: string[]; props: Map<string, string> }
/** Every node of a blob as fdtget sees it: subnode names, property names and values as hex bytes
 *  ("61 62 0"), walked from the root with fdtget -l / -p / -t bx. */
export function fdtgetTree(file: string): FdtgetNode[] {
  const out: FdtgetNode[] = [];
  const walk = (path: string) => {
    const children = lines(run(['-l', file, path]));
    const names = lines(run(['-p', file, path]));
    const props = new Map<string, string>();
    if (names.length > 0) {
      const vals = lines(run(['-t', 'bx', file, ...names.flatMap((n) => [path, n])]));
      names.forEach((n, i) => props.set(n, vals[i] ?? ''));
    }
    out.push({ path, children, props });
    for (const c of children) walk(path === '/' ? `/${c}` : `${path}/${c}`);
  };
  walk('/');
  return out;
}
/** fdtget's hex-bytes format of a value. */
export const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16)).join(' ');

/** fdtget -t <type> of one property, trimmed. */
export function fdtget(file: string, path: string, prop: string, type = 'x'): string {
  return run(['-t', type, file, path, prop]).trim();
}

// ---- raw core calls: the blob sits at the start of the transient area.
type F = (...a: (number | bigint)[]) => number;
export const raw = (name: string) => core().fn<F>(name);
export const res = (i: number) => core().result(i);
export const statusName = (st: number) => core().statusName(st).split(':')[0]!;
/** Puts a blob at transient offset 0 and returns [ptr, len]. */
export function load(blob: Uint8Array): [number, number] { return [core().put(blob, 0), blob.length]; }
/** Puts bytes at a transient offset and returns [ptr, len]. */
export function putAt(bytes: Uint8Array | string, off: number): [number, number] {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return [core().put(b, off), b.length];
}

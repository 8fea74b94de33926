// `vfiokit fdt dump FILE.dtb`: prints a device-tree blob as DTS, in dtc's own layout (dtc -I dtb
// -O dts), so a tree can be eyeballed or diffed against dtc: values that look like strings print as
// "strings" (a list as "a\0b"), lengths that are a multiple of 4 as <cells>, the rest as [bytes].
// Reading goes through parseFdt, so a malformed blob is reported with its fault and offset.
// Not responsible for: labels, phandle references or comments (a blob does not keep them).
import { readFileSync } from 'node:fs';
import { parseFdt, type FdtNode, type FdtProperty } from '../fdt/index.js';
import { VfioError } from '../errors.js';
import { helpText, UsageError, type CommandSpec } from './args.js';
import type { Command } from './command.js';
import { u32be } from '../../shim/bytes.js';

const SPEC: CommandSpec = { usage: 'vfiokit fdt dump FILE.dtb', options: {}, positionals: { min: 2, max: 2 } };

/** dtc's guess (treesource.c): a string list when it ends in NUL, holds only printable characters
 *  and NULs, and no more NULs than other characters; cells when a multiple of 4 bytes; else bytes. */
export function formatValue(b: Uint8Array): string {
  if (b.length === 0) return '';
  let nul = 0, notString = 0;
  for (const c of b) {
    if (c === 0) nul++;
    else if (!((c >= 0x20 && c < 0x7f) || (c >= 7 && c <= 13))) notString++;
  }
  if (b[b.length - 1] === 0 && notString === 0 && nul <= b.length - nul) {
    let s = '';
    for (let i = 0; i < b.length - 1; i++) s += escape(b[i]!);
    return `"${s}"`;
  }
  if (b.length % 4 === 0) {
    const cells = Array.from({ length: b.length / 4 }, (_, i) => `0x${u32be(b, i * 4).toString(16).padStart(2, '0')}`);
    return `<${cells.join(' ')}>`;
  }
  return `[${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')}]`;
}

function escape(c: number): string {
  switch (c) {
    case 0: return '\\0';
    case 7: return '\\a';
    case 8: return '\\b';
    case 9: return '\\t';
    case 10: return '\\n';
    case 11: return '\\v';
    case 12: return '\\f';
    case 13: return '\\r';
    case 0x22: return '\\"';
    case 0x5c: return '\\\\';
  }
  return String.fromCharCode(c);
}

const propLine = (p: FdtProperty) => (p.length === 0 ? `${p.name};` : `${p.name} = ${formatValue(p.bytes)};`);

/** The DTS text of a blob, as dtc -I dtb -O dts prints it. */
export function dumpFdt(blob: Uint8Array): string {
  const fdt = parseFdt(blob);
  const out: string[] = ['/dts-v1/;', ''];
  for (const r of fdt.reservations) out.push(`/memreserve/\t0x${r.address.toString(16).padStart(16, '0')} 0x${r.size.toString(16).padStart(16, '0')};`);
  const node = (n: FdtNode, depth: number) => {
    const tab = '\t'.repeat(depth);
    out.push(`${tab}${n.name || '/'} {`);
    for (const p of n.properties()) out.push(`${tab}\t${propLine(p)}`);
    for (const c of n.children()) { out.push(''); node(c, depth + 1); }
    out.push(`${tab}};`);
  };
  node(fdt.root, 0);
  return out.join('\n') + '\n';
}

export const fdt: Command = {
  summary: 'device-tree blobs: dump FILE.dtb prints it as DTS',
  spec: SPEC,
  async run(a) {
    const [sub, file] = a.positionals as [string, string];
    if (sub !== 'dump') throw new UsageError(`unknown subcommand '${sub}': expected fdt dump FILE.dtb`, helpText(SPEC));
    let blob: Uint8Array;
    try { blob = new Uint8Array(readFileSync(file)); } catch (e) {
      throw new VfioError({ kind: 'not-found', message: `cannot read ${file}: ${(e as Error).message}`, cause: e });
    }
    process.stdout.write(dumpFdt(blob));
    return 0;
  },
};

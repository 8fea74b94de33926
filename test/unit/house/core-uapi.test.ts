// One home for each uapi fact on the TypeScript side (shim/uapi/), but the core (assembly/) is a
// separate Wasm module and keeps its own copies: this test reads the core's sources and holds
// every constant that TypeScript defines too equal to TypeScript's value, by name (a uapi name,
// a named bound, a status) or through the rows below (the core's names for struct sizes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as vfio from '../../../shim/uapi/vfio';
import * as iommufd from '../../../shim/uapi/iommufd';
import * as kvm from '../../../shim/uapi/kvm';
import * as srcVfio from '../../../src/vfio/uapi';

/** `const NAME: type = EXPR;` of a core source, evaluated (literals, names defined before it in
 *  the same file, + - * | << and parentheses); constants whose value is not such an expression are
 *  left out. */
export function coreConstants(source: string): Map<string, bigint> {
  const found = new Map<string, bigint>();
  for (const m of source.matchAll(/^\s*(?:export\s+)?const\s+([A-Z][A-Z0-9_]*)\s*:\s*(?:[iu](?:8|16|32|64)|usize|isize)\s*=\s*([^;]+);/gm)) {
    const v = evaluate(m[2]!, found);
    if (v !== undefined) found.set(m[1]!, v);
  }
  return found;
}

function evaluate(expr: string, known: Map<string, bigint>): bigint | undefined {
  let ok = true;
  const js = expr.replace(/<[iu](?:8|16|32|64)>/g, '').replace(/\b0x[0-9a-fA-F_]+\b|\b\d[\d_]*\b|\b[A-Za-z_]\w*\b/g, (t) => {
    if (/^\d|^0x/.test(t)) return `${BigInt(t.replace(/_/g, ''))}n`;
    const v = known.get(t);
    if (v === undefined) { ok = false; return '0n'; }
    return `(${v}n)`;
  });
  if (!ok || !/^[\dn\s()+\-*|<]+$/.test(js)) return undefined;
  try { return (new Function(`return (${js});`) as () => bigint)(); } catch { return undefined; }
}

function coreSources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? coreSources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** TypeScript's values by name: the uapi homes, and src/vfio/uapi.ts's core bounds and statuses. */
const ts = new Map<string, number>();
for (const m of [vfio, iommufd, kvm, srcVfio]) for (const [k, v] of Object.entries(m)) if (typeof v === 'number') ts.set(k, v);

/** The core's names for struct sizes -> the layout they must equal (the core names a size once per
 *  struct it encodes or decodes). */
const SIZE_ROWS: Record<string, number> = {
  CAP_HDR: vfio.VFIO_LAYOUT.vfio_info_cap_header.size,
  DEVICE_INFO_MIN: vfio.VFIO_LAYOUT.vfio_device_info.min,
  DEVICE_INFO_SIZE: vfio.VFIO_LAYOUT.vfio_device_info.size,
  REGION_INFO_SIZE: vfio.VFIO_LAYOUT.vfio_region_info.size,
  SPARSE_FIXED: vfio.VFIO_LAYOUT.vfio_region_info_cap_sparse_mmap.size,
  SPARSE_AREA: vfio.VFIO_LAYOUT.vfio_region_sparse_mmap_area.size,
  CAP_TYPE_SIZE: vfio.VFIO_LAYOUT.vfio_region_info_cap_type.size,
  IRQ_INFO_SIZE: vfio.VFIO_LAYOUT.vfio_irq_info.size,
  TYPE1_INFO_MIN: vfio.VFIO_LAYOUT.vfio_iommu_type1_info.min,
  TYPE1_INFO_SIZE: vfio.VFIO_LAYOUT.vfio_iommu_type1_info.size,
  IOVA_FIXED: vfio.VFIO_LAYOUT.vfio_iommu_type1_info_cap_iova_range.size,
  IOVA_RANGE: vfio.VFIO_LAYOUT.vfio_iova_range.size,
  DMA_AVAIL_SIZE: vfio.VFIO_LAYOUT.vfio_iommu_type1_info_dma_avail.size,
  IRQ_SET_SIZE: vfio.VFIO_LAYOUT.vfio_irq_set.size,
  DMA_MAP_SIZE: vfio.VFIO_LAYOUT.vfio_iommu_type1_dma_map.size,
  DMA_UNMAP_SIZE: vfio.VFIO_LAYOUT.vfio_iommu_type1_dma_unmap.size,
  IOAS_MAP_SIZE: iommufd.IOMMUFD_LAYOUT.iommu_ioas_map.size,
  IOAS_UNMAP_SIZE: iommufd.IOMMUFD_LAYOUT.iommu_ioas_unmap.size,
  IOAS_IOVA_RANGES_SIZE: iommufd.IOMMUFD_LAYOUT.iommu_ioas_iova_ranges.size,
  IOMMU_IOVA_RANGE: iommufd.IOMMUFD_LAYOUT.iommu_iova_range.size,
};

const core = new Map<string, { value: bigint; file: string }[]>();
for (const file of coreSources('assembly')) {
  for (const [name, value] of coreConstants(readFileSync(file, 'utf8'))) {
    if (!core.has(name)) core.set(name, []);
    core.get(name)!.push({ value, file });
  }
}

test('the reader evaluates the core\'s constant forms, and leaves out what it cannot', () => {
  const c = coreConstants([
    'const A: u32 = 1 << 5;', 'export const B: i32 = -200;', 'const C: u64 = 256 * 1024;', 'const D: u32 = A | 1;',
    'const E: u64 = 0xffff_ffff_ffff_ffff;', 'const F: usize = SCRATCH_SIZE / 2;', 'const G: u32 = <u32>7;',
  ].join('\n'));
  assert.equal([...c], [['A', 32n], ['B', -200n], ['C', 262144n], ['D', 33n], ['E', 0xffff_ffff_ffff_ffffn], ['G', 7n]]);
});

test('every core constant with a TypeScript twin by name has its value (uapi flags, bounds, statuses)', () => {
  const differ: string[] = [];
  let shared = 0;
  for (const [name, defs] of core) {
    const mine = ts.get(name);
    if (mine === undefined) continue;
    // uapi names mean the same everywhere; a bound's name (MAX_IRQS) is the vfio module's only
    // (assembly/dtnode has a MAX_IRQS of its own, a different bound).
    const scoped = /^(VFIO_|IOMMU|KVM_)/.test(name) ? defs : defs.filter((d) => d.file.startsWith(join('assembly', 'vfio')));
    for (const d of scoped) { shared++; if (d.value !== BigInt(mine)) differ.push(`${name}: core ${d.value} (${d.file}), TypeScript ${mine}`); }
  }
  assert.equal(differ, []);
  // The irq_set flags, DMA flags, region/IRQ info flags, iommufd map flags, the vfio bounds and statuses at least.
  assert.ok(shared >= 30, `only ${shared} shared constants found: did the core's constants move out of reach?`);
  for (const n of ['VFIO_IRQ_SET_ACTION_TRIGGER', 'VFIO_REGION_INFO_FLAG_MMAP', 'VFIO_IRQ_INFO_AUTOMASKED', 'VFIO_DMA_MAP_FLAG_WRITE', 'IOMMU_IOAS_MAP_READABLE', 'MAX_IRQS', 'VFIO_NEED_ARGSZ']) {
    assert.ok(core.has(n), `the core defines ${n}`);
  }
});

test('the core\'s struct sizes equal the layouts of shim/uapi', () => {
  const differ: string[] = [];
  for (const [name, size] of Object.entries(SIZE_ROWS)) {
    const defs = core.get(name);
    if (!defs) { differ.push(`${name}: not found in assembly/`); continue; }
    for (const d of defs) if (d.value !== BigInt(size)) differ.push(`${name}: core ${d.value} (${d.file}), layout ${size}`);
  }
  assert.equal(differ, []);
});

test('a differing value is caught (the comparison can fail)', () => {
  const fake = coreConstants('const VFIO_IRQ_SET_ACTION_TRIGGER: u32 = 1 << 4;');
  assert.not.equal(fake.get('VFIO_IRQ_SET_ACTION_TRIGGER'), BigInt(ts.get('VFIO_IRQ_SET_ACTION_TRIGGER')!));
});

test.run();

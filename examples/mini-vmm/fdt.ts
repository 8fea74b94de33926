// The mini-vmm's guest device tree: a minimal flattened-device-tree reader and writer (DTB v17,
// devicetree-specification ch. 5) and the guest tree itself: cpus, PSCI, memory, the GICv3, chosen,
// and, from vfiokit's guestNodeFor (src/dtnode.ts), the passed-through device with its platform
// bus and the clocks it needs. The writer emits nodes in the order given and dedups strings.
// Not responsible for: the device's node (guestNodeFor writes it); validating foreign DTBs beyond
// what reading them needs (a bad one throws).
import { guestNodeFor } from '../../src/dtnode';
import { GICD_SIZE, GICR_SIZE_PER_CPU } from './abi';

export interface FdtNode { name: string; props: [string, Uint8Array][]; children: FdtNode[] }

const FDT_MAGIC = 0xd00dfeed, FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_NOP = 4, FDT_END = 9;
const HEADER = 40, RSVMAP = 16;   // header (v17), one empty reserve-map entry
/** Nesting limit when reading, as in libfdt's FDT_MAX_DEPTH. */
export const MAX_DEPTH = 64;

// ---- property values ----
export const u32s = (...v: number[]): Uint8Array => { const b = new Uint8Array(4 * v.length); const dv = new DataView(b.buffer); v.forEach((x, i) => dv.setUint32(4 * i, x >>> 0)); return b; };
/** <hi lo> cell pairs for 64-bit values. */
export const u64s = (...v: bigint[]): Uint8Array => u32s(...v.flatMap((x) => [Number(x >> 32n), Number(x & 0xffff_ffffn)]));
export const str = (...s: string[]): Uint8Array => new Uint8Array(Buffer.from(s.map((x) => `${x}\0`).join(''), 'utf8'));
export const empty = (): Uint8Array => new Uint8Array(0);
export const node = (name: string, props: [string, Uint8Array][] = [], children: FdtNode[] = []): FdtNode => ({ name, props, children });

/** Serializes a tree to a DTB (version 17, last compatible 16, boot cpu 0). */
export function writeFdt(root: FdtNode): Uint8Array {
  const st: number[] = [];
  const strings: string[] = []; const offsets = new Map<string, number>(); let strLen = 0;
  const w32 = (v: number): void => { st.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff); };
  const pad = (): void => { while (st.length % 4) st.push(0); };
  const stringOff = (s: string): number => {
    let o = offsets.get(s);
    if (o === undefined) { o = strLen; offsets.set(s, o); strings.push(s); strLen += Buffer.byteLength(s) + 1; }
    return o;
  };
  const emit = (n: FdtNode): void => {
    w32(FDT_BEGIN_NODE); st.push(...Buffer.from(n.name, 'utf8'), 0); pad();
    for (const [k, v] of n.props) { w32(FDT_PROP); w32(v.byteLength); w32(stringOff(k)); st.push(...v); pad(); }
    for (const c of n.children) emit(c);
    w32(FDT_END_NODE);
  };
  emit(root); w32(FDT_END);
  const strBytes = Buffer.from(strings.map((s) => `${s}\0`).join(''), 'utf8');
  const offStruct = HEADER + RSVMAP, offStrings = offStruct + st.length, total = offStrings + strBytes.length;
  const out = new Uint8Array(total); const dv = new DataView(out.buffer);
  [FDT_MAGIC, total, offStruct, offStrings, HEADER, 17, 16, 0, strBytes.length, st.length].forEach((v, i) => dv.setUint32(4 * i, v));
  out.set(st, offStruct); out.set(strBytes, offStrings);
  return out;
}

/** Reads a DTB into a tree (NOPs skipped). Throws on anything malformed. */
export function readFdt(dtb: Uint8Array): FdtNode {
  const dv = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength);
  const bad = (why: string): never => { throw new Error(`bad DTB: ${why}`); };
  if (dtb.byteLength < HEADER || dv.getUint32(0) !== FDT_MAGIC) bad('no FDT magic');
  const offStruct = dv.getUint32(8), offStrings = dv.getUint32(12), sizeStrings = dv.getUint32(32), sizeStruct = dv.getUint32(36);
  if (offStruct + sizeStruct > dtb.byteLength || offStrings + sizeStrings > dtb.byteLength) bad('blocks outside the blob');
  let p = offStruct; const end = offStruct + sizeStruct;
  const r32 = (): number => { if (p + 4 > end) bad('truncated structure block'); const v = dv.getUint32(p); p += 4; return v; };
  const cstr = (from: number, limit: number): string => { let e = from; while (e < limit && dtb[e] !== 0) e++; if (e >= limit) bad('unterminated string'); return Buffer.from(dtb.subarray(from, e)).toString('utf8'); };
  const stack: FdtNode[] = []; let root: FdtNode | undefined;
  for (;;) {
    const tok = r32();
    if (tok === FDT_NOP) continue;
    if (tok === FDT_BEGIN_NODE) {
      const name = cstr(p, end); p = (p + Buffer.byteLength(name) + 1 + 3) & ~3;
      const n = node(name);
      if (stack.length >= MAX_DEPTH) bad(`deeper than ${MAX_DEPTH}`);
      if (stack.length) stack[stack.length - 1]!.children.push(n); else if (root) bad('two roots'); else root = n;
      stack.push(n);
    } else if (tok === FDT_PROP) {
      const len = r32(), nameoff = r32();
      if (!stack.length) bad('property outside a node');
      if (p + len > end || nameoff >= sizeStrings) bad('property outside its block');
      stack[stack.length - 1]!.props.push([cstr(offStrings + nameoff, offStrings + sizeStrings), dtb.slice(p, p + len)]);
      p = (p + len + 3) & ~3;
    } else if (tok === FDT_END_NODE) {
      if (!stack.pop()) bad('END_NODE without a node');
    } else if (tok === FDT_END) {
      if (stack.length || !root) bad('END inside a node');
      return root!;
    } else bad(`token ${tok}`);
  }
}

export interface GuestDtbRequest {
  hostDtb: Uint8Array;
  deviceName: string;
  regionGpa: bigint; spi: number; irqFlags: number;
  ram: { gpa: bigint; size: bigint };
  gic: { dist: bigint; redist: bigint };
  bus: { base: bigint; size: bigint };
  bootargs?: string;
}

/** The GIC's phandle in the guest tree; the device's copied clocks start at FIRST_DEVICE_PHANDLE. */
export const GIC_PHANDLE = 1, FIRST_DEVICE_PHANDLE = 0x100;

/** The whole guest tree: board nodes written here, the device's bus/node/clocks by guestNodeFor. */
export function guestDtb(req: GuestDtbRequest): Uint8Array {
  const dev = readFdt(guestNodeFor({
    hostDtb: req.hostDtb, deviceName: req.deviceName,
    placement: { regions: [req.regionGpa], spis: [req.spi] }, irqFlags: [req.irqFlags],
    bus: req.bus, interruptParent: GIC_PHANDLE, firstPhandle: FIRST_DEVICE_PHANDLE,
  }).dtb);
  const root = node('', [
    ['compatible', str('linux,dummy-virt')], ['#address-cells', u32s(2)], ['#size-cells', u32s(2)],
    ['interrupt-parent', u32s(GIC_PHANDLE)],
  ], [
    node('psci', [['compatible', str('arm,psci-1.0', 'arm,psci-0.2')], ['method', str('hvc')]]),
    node('cpus', [['#address-cells', u32s(1)], ['#size-cells', u32s(0)]], [
      node('cpu@0', [['device_type', str('cpu')], ['compatible', str('arm,arm-v8')], ['reg', u32s(0)], ['enable-method', str('psci')]]),
    ]),
    node(`memory@${req.ram.gpa.toString(16)}`, [['device_type', str('memory')], ['reg', u64s(req.ram.gpa, req.ram.size)]]),
    node(`intc@${req.gic.dist.toString(16)}`, [
      // #address-cells 0: an interrupt provider with no children (dtc's interrupt_provider check).
      ['compatible', str('arm,gic-v3')], ['#interrupt-cells', u32s(3)], ['#address-cells', u32s(0)], ['interrupt-controller', empty()],
      ['reg', u64s(req.gic.dist, GICD_SIZE, req.gic.redist, GICR_SIZE_PER_CPU)], ['phandle', u32s(GIC_PHANDLE)],
    ]),
    node('chosen', req.bootargs === undefined ? [] : [['bootargs', str(req.bootargs)]]),
    // The device's tree: its root's children (copied clocks, the platform bus with the device).
    ...dev.children,
  ]);
  return writeFdt(root);
}

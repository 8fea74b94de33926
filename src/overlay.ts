// guestOverlayFor: the guest node of a passed-through platform/AMBA device (guestNodeFor's tree:
// the copied fixed-clocks, the platform bus, the device) as a device-tree overlay, the form crosvm
// takes with --device-tree-overlay (and Android's pKVM device assignment): crosvm finds the node by
// the label its --vfio option names (dt-symbol=LABEL) and patches reg, interrupts, iommus and
// power-domains into it; the rest (compatible strings, clocks, the properties the host node gives)
// comes from the overlay. The blob has the standard overlay structure that dtc -@ writes and
// fdtoverlay applies:
//
//   / {
//     fragment@0 { target-path = "/"; __overlay__ { apb-pclk {...}; platform-bus@c000000 { pl031@c000000 {...} } } }
//     __symbols__ { LABEL = "/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000"; }
//     __local_fixups__ { fragment@0 { __overlay__ { platform-bus@c000000 { pl031@c000000 { clocks = <0>; } } } } }
//   }
//
// The overlay's phandles start at 1: whoever applies it moves them past the base tree's largest
// (and fixes every reference __local_fixups__ lists), so the result equals mergeFdt of
// guestNodeFor's tree built with firstPhandle = fdtMaxPhandle(base) + 1 (the unit test checks
// this with fdtoverlay and dtc).
// Not responsible for: what the node holds (src/core/dtnode.ts and the core decide that), references to
// nodes of the base tree (the overlay is self-contained: no __fixups__), or placing the device.

import { VfioError } from './errors.js';
import { guestNodeFor, type GuestNodeRequest } from './core/dtnode.js';
import { parseFdt, FdtBuilder, type FdtNode } from './fdt/index.js';
import { checkObject } from '../shim/args.js';

/** Longest label: it becomes a property name in __symbols__, and the devicetree specification
 *  bounds property names to 31 characters. */
export const MAX_OVERLAY_LABEL = 31;
/** A label as dtc accepts one (a letter or underscore, then letters, digits, underscores). */
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The one fragment and where it applies. */
const FRAGMENT = 'fragment@0', TARGET_PATH = '/';

/** Properties that hold phandle references, and the provider property that says how many cells
 *  follow each phandle (null: a single phandle, no cells). Decisions as data: a property not listed
 *  here is copied as bytes and never fixed up. */
export const PHANDLE_PROPERTIES: Readonly<Record<string, string | null>> = {
  clocks: '#clock-cells',
  'interrupt-parent': null,
  iommus: '#iommu-cells',
  'power-domains': '#power-domain-cells',
  resets: '#reset-cells',
};

/** What {@link guestOverlayFor} needs: guestNodeFor's request (its phandles are the overlay's own,
 *  from 1) and the label. */
export interface GuestOverlayRequest extends Omit<GuestNodeRequest, 'firstPhandle'> {
  /** The label crosvm's dt-symbol names; it goes into __symbols__. */
  label: string;
}

/** An overlay made by {@link guestOverlayFor}, with where its device node is. */
export interface GuestOverlay {
  /** The overlay blob (a .dtbo). */
  dtbo: Uint8Array;
  /** The device node's path inside the overlay (what __symbols__ maps the label to). */
  symbolPath: string;
  /** The device node's path once applied to "/" ("/platform-bus@c000000/pl031@c000000"). */
  targetPath: string;
  /** The host node the device node was generated from. */
  hostNodePath: string;
}

/** Returns `label` when it can be a devicetree label (LABEL_RE, at most MAX_OVERLAY_LABEL).
 *  @throws VfioError 'bad-argument' otherwise. */
export function validateOverlayLabel(label: string): string {
  if (typeof label !== 'string' || label.length > MAX_OVERLAY_LABEL || !LABEL_RE.test(label)) {
    throw new VfioError({ kind: 'bad-argument', message: `'${String(label).slice(0, 40)}' is not a device-tree label`, hint: `a letter or underscore, then letters, digits or underscores, at most ${MAX_OVERLAY_LABEL} characters (e.g. rtc0)` });
  }
  return label;
}

/**
 * The overlay of a device's guest node (see the header): guestNodeFor's tree under
 * fragment@0/__overlay__, the label in __symbols__, the phandle references in __local_fixups__.
 * @throws VfioError what guestNodeFor throws ('not-found' no host node, 'bad-fdt', 'not-supported'
 * a clock that is not a fixed-clock, 'bad-argument', 'no-space'), 'bad-argument' for a label that
 * is not one, 'not-supported' when a reference in the node points outside the overlay (it would
 * need __fixups__).
 * @example
 * ```ts
 * import { readFileSync, writeFileSync } from 'node:fs';
 * import { guestOverlayFor } from 'vfiokit';
 *
 * const o = guestOverlayFor({
 *   hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), deviceName: '9010000.pl031',
 *   placement: { regions: [0xc000000n], spis: [112] }, irqFlags: [7], bus: { base: 0xc000000n, size: 0x2000000n },
 *   label: 'rtc',
 * });
 * writeFileSync('rtc.dtbo', o.dtbo); // crosvm --device-tree-overlay rtc.dtbo --vfio ...,dt-symbol=rtc
 * ```
 */
export function guestOverlayFor(req: GuestOverlayRequest): GuestOverlay {
  checkObject('req', req);
  validateOverlayLabel(req.label);
  const { label, ...nodeReq } = req;
  const node = guestNodeFor({ ...nodeReq, firstPhandle: 1 });
  const tree = parseFdt(node.dtb);
  const device = findDeviceNode(tree.root, node.hostNodePath);
  const targetPath = device.path;
  const symbolPath = `/${FRAGMENT}/__overlay__${targetPath}`;
  const fixups = localFixups(tree.root, (ph) => tree.nodeByPhandle(ph));

  using b = new FdtBuilder();
  b.beginNode('');
  b.beginNode(FRAGMENT).propString('target-path', TARGET_PATH);
  b.beginNode('__overlay__');
  // The root's children only, as mergeFdt grafts them: the root's own properties stay the base's.
  for (const c of tree.root.children()) copyNode(b, c);
  b.endNode().endNode();
  b.beginNode('__symbols__').propString(label, symbolPath).endNode();
  if (fixups.size > 0) {
    b.beginNode('__local_fixups__').beginNode(FRAGMENT).beginNode('__overlay__');
    writeFixups(b, tree.root, fixups);
    b.endNode().endNode().endNode();
  }
  b.endNode();
  return { dtbo: b.finish(), symbolPath, targetPath, hostNodePath: node.hostNodePath };
}

/** The device node in guestNodeFor's tree: the one named as the host node is (its unit address is
 *  the placement's), below the bus when there is one. */
function findDeviceNode(root: FdtNode, hostPath: string): FdtNode {
  const base = hostPath.slice(hostPath.lastIndexOf('/') + 1).split('@')[0]!;
  const walk = (n: FdtNode): FdtNode | undefined => {
    for (const c of n.children()) {
      if (c.name.split('@')[0] === base && c.has('compatible') && !c.has('#clock-cells')) return c;
      const d = walk(c);
      if (d) return d;
    }
    return undefined;
  };
  const found = walk(root);
  if (!found) throw new VfioError({ kind: 'core-bug', message: `the guest tree has no node for ${hostPath}` });
  return found;
}

function copyNode(b: FdtBuilder, n: FdtNode): void {
  b.beginNode(n.name);
  for (const p of n.properties()) b.propBytes(p.name, p.bytes);
  for (const c of n.children()) copyNode(b, c);
  b.endNode();
}

/** For each node (by path) the byte offsets of each property's phandle cells. */
function localFixups(root: FdtNode, byPhandle: (ph: number) => FdtNode | undefined): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>();
  const visit = (n: FdtNode) => {
    for (const p of n.properties()) {
      if (!(p.name in PHANDLE_PROPERTIES)) continue;
      const cellsProp = PHANDLE_PROPERTIES[p.name]!;
      const cells = p.u32s(), offsets: number[] = [];
      for (let i = 0; i < cells.length;) {
        const provider = byPhandle(cells[i]!);
        if (!provider) {
          throw new VfioError({ kind: 'not-supported', message: `${n.path} ${p.name} refers to phandle ${cells[i]}, which is not in the overlay`, hint: 'the overlay carries only references to its own nodes (no __fixups__)' });
        }
        offsets.push(i * 4);
        i += 1 + (cellsProp === null ? 0 : provider.findProp(cellsProp)?.u32() ?? 0);
      }
      if (!out.has(n.path)) out.set(n.path, new Map());
      out.get(n.path)!.set(p.name, offsets);
    }
    for (const c of n.children()) visit(c);
  };
  visit(root);
  return out;
}

/** __local_fixups__ below __overlay__: the path of each node with references, and in it one
 *  property per referencing property, whose cells are the byte offsets of the phandles. */
function writeFixups(b: FdtBuilder, n: FdtNode, fixups: Map<string, Map<string, number[]>>): void {
  const mine = fixups.get(n.path);
  if (mine && n.parent) for (const [name, offsets] of mine) b.propU32(name, ...offsets);
  for (const c of n.children()) {
    if (![...fixups.keys()].some((k) => k === c.path || k.startsWith(c.path + '/'))) continue;
    b.beginNode(c.name);
    writeFixups(b, c, fixups);
    b.endNode();
  }
}

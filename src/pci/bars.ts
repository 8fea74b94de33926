// The BARs of one passed-through function as the guest placed them: for each memory BAR, the
// pieces the host maps into the guest (page-aligned ranges of the device's mmap, installed through
// the VMM's mapMemory as memory slots) and the ranges every access to which traps (the MSI-X table
// and PBA, whatever MSIX_MAPPABLE says; what the kernel does not let the host map; an extension
// the relocation added past the device's own bytes; the ROM).
// The guest's view and the device's can differ (docs/pci.md "MSI-X relocation"): a BAR may be
// larger than the device's region (the upper half is the emulation's alone) or be the emulation's
// own (no region behind it at all).
// Not responsible for: when a BAR is mapped (the shadow config's THE RULE says, as map/unmap
// actions), the MSI-X emulation (the core; the passthrough routes trapped table/PBA accesses
// there), memory slot numbers (the VMM's).
import { Mapping } from '../mapping.js';
import { ctx, Teardown } from '../device/context.js';
import type { DeviceRegion } from '../device/region.js';
import type { Sys } from '../../shim/sys.js';
import type { MsixPart } from '../core/msix.js';

/** One mapped piece of a BAR in the guest, as mapMemory receives it. */
export interface GuestMemorySlot {
  /** The BAR (0..5) the piece belongs to. */
  bar: number;
  /** The guest physical address of the piece. */
  gpa: bigint;
  /** Bytes in the piece (whole host pages). */
  size: bigint;
  /** The host virtual address of the piece (the device's mmap). */
  hostAddress: bigint;
}

/** What the BARs need of the passthrough. */
export interface BarHost {
  readonly name: string;
  readonly sys: Sys;
  liveFd(): number;
  adopt(m: Mapping): void;
  mapMemory(slot: GuestMemorySlot): void;
  unmapMemory(slot: GuestMemorySlot): void;
  readonly stats: { slotsMapped: number; slotsUnmapped: number };
}

/** Where a trapped guest access lands. */
export type BarTarget =
  /** The MSI-X table or PBA (offset from its start). */
  | { kind: 'msix'; part: MsixPart; offset: number }
  /** The device's region (offset in it): the trap path. */
  | { kind: 'device'; region: DeviceRegion; offset: bigint }
  /** Bytes the guest's view has and the device does not (a relocation's extension): read 0, writes dropped. */
  | { kind: 'none' };

/** The layout of one BAR slot in the guest's view. */
export interface BarLayout {
  readonly bar: number;
  /** Memory (mappable pieces) or not ('io' and 'rom': every access traps). */
  readonly kind: 'memory' | 'io' | 'rom';
  /** Bytes the guest sees. */
  readonly guestSize: bigint;
  /** The device's region behind it (undefined for a BAR of the emulation's own). */
  readonly region: DeviceRegion | undefined;
  /** Bytes of the region the guest reaches at the BAR's start (0 without a region). */
  readonly deviceSize: bigint;
  /** Page-aligned pieces [offset, offset+size) of the region to map (the split minus the holes). */
  readonly pieces: readonly { offset: bigint; size: bigint }[];
  /** The MSI-X structures in this BAR, in guest-BAR offsets. */
  readonly msix: readonly { part: MsixPart; offset: bigint; size: bigint }[];
}

interface Placed { layout: BarLayout; gpa: bigint; slots: GuestMemorySlot[] }

/** The guest's BARs of one function: placement, memory slots, and where a trapped access goes. */
export class GuestBars {
  #host: BarHost;
  #layouts: (BarLayout | undefined)[];
  /** Mappings of each BAR's pieces, made on the BAR's first placement and kept until close(). */
  #maps = new Map<number, Mapping[]>();
  #placed = new Map<number, Placed>();
  /** Slots are out of the guest (userspace INTx traps every access until its EOI). */
  #trapAll = false;

  constructor(host: BarHost, layouts: (BarLayout | undefined)[]) {
    this.#host = host;
    this.#layouts = layouts;
  }

  /** The layout of slot `bar`. */
  layout(bar: number): BarLayout | undefined { return this.#layouts[bar]; }

  /** Memory slots installed now. */
  get slots(): number { let n = 0; for (const p of this.#placed.values()) n += p.slots.length; return n; }
  /** Device mappings held (one per mappable piece of each BAR placed so far). */
  get mappings(): number { let n = 0; for (const m of this.#maps.values()) n += m.length; return n; }

  /** A 'map' action: BAR `bar` is placed at `gpa`; its pieces become memory slots. */
  map(bar: number, gpa: bigint): void {
    const layout = this.#layouts[bar];
    if (!layout) return;
    if (this.#placed.has(bar)) this.unmap(bar);
    const p: Placed = { layout, gpa, slots: [] };
    this.#placed.set(bar, p);
    if (!this.#trapAll) this.#install(p);
  }

  /** An 'unmap' action: BAR `bar` leaves the guest; its memory slots are removed. */
  unmap(bar: number): void {
    const p = this.#placed.get(bar);
    if (!p) return;
    this.#placed.delete(bar);
    this.#uninstall(p);
  }

  /** Userspace INTx's mmap-disable (true) / mmap-enable (false): every slot out of the guest so
   *  each access traps (the EOI is seen), or back in. */
  trapAll(on: boolean): void {
    if (on === this.#trapAll) return;
    this.#trapAll = on;
    for (const p of this.#placed.values()) if (on) this.#uninstall(p); else this.#install(p);
  }

  #install(p: Placed): void {
    const { layout, gpa } = p;
    if (layout.kind !== 'memory' || !layout.region || layout.pieces.length === 0) return;
    const maps = this.#mappingsOf(layout);
    layout.pieces.forEach((piece, i) => {
      const slot: GuestMemorySlot = { bar: layout.bar, gpa: gpa + piece.offset, size: piece.size, hostAddress: maps[i]!.hostAddress };
      this.#host.mapMemory(slot);
      p.slots.push(slot);
      this.#host.stats.slotsMapped++;
    });
  }

  #uninstall(p: Placed): void {
    const t = new Teardown();
    for (const slot of p.slots.splice(0).reverse()) t.step(() => { this.#host.unmapMemory(slot); this.#host.stats.slotsUnmapped++; });
    t.finish();
  }

  #mappingsOf(layout: BarLayout): Mapping[] {
    let maps = this.#maps.get(layout.bar);
    if (maps) return maps;
    const h = this.#host, region = layout.region!;
    maps = [];
    try {
      for (const piece of layout.pieces) {
        const label = `${h.name} BAR${layout.bar} +0x${piece.offset.toString(16)}`;
        const m = ctx(h.name, () => new Mapping(h.sys, h.liveFd(), region.fileOffset + piece.offset, Number(piece.size), label), { message: () => `cannot map BAR${layout.bar} +0x${piece.offset.toString(16)} for the guest` });
        h.adopt(m);
        maps.push(m);
      }
    } catch (e) {
      for (const m of maps) m.close();
      throw e;
    }
    this.#maps.set(layout.bar, maps);
    return maps;
  }

  /** The placed BAR holding `gpa` and the offset in it, or undefined. */
  find(gpa: bigint): { layout: BarLayout; offset: bigint } | undefined {
    for (const p of this.#placed.values()) {
      const off = gpa - p.gpa;
      if (off >= 0n && off < p.layout.guestSize) return { layout: p.layout, offset: off };
    }
    return undefined;
  }

  /** Where an access of `width` bytes at `offset` in BAR `layout` goes. */
  static target(layout: BarLayout, offset: bigint): BarTarget {
    for (const m of layout.msix) {
      if (offset >= m.offset && offset < m.offset + m.size) return { kind: 'msix', part: m.part, offset: Number(offset - m.offset) };
    }
    if (layout.region && offset < layout.deviceSize) return { kind: 'device', region: layout.region, offset };
    return { kind: 'none' };
  }

  /** Every slot removed (the VMM's unmapMemory), placements forgotten; the mappings stay. */
  unmapAll(): void {
    const t = new Teardown();
    for (const bar of [...this.#placed.keys()]) t.step(() => this.unmap(bar));
    this.#trapAll = false;
    t.finish();
  }

  /** unmapAll(), then every mapping closed. Every step runs; the first failure is thrown at the end. */
  close(): void {
    const t = new Teardown();
    t.step(() => this.unmapAll());
    for (const maps of this.#maps.values()) for (const m of maps) t.step(() => m.close());
    this.#maps.clear();
    t.finish();
  }
}

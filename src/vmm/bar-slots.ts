// The memslots of the BARs that guests place: one registry per VM, shared by every PCI function.
// A guest decides where its BARs go (config writes), so the VMM must not hand KVM whatever it is
// asked for: a BAR placed over another BAR, over RAM or outside the host bridge's MMIO windows
// makes KVM_SET_USER_MEMORY_REGION fail (EEXIST), and that failure, thrown out of a config write,
// would end the whole VM. Here such a slot is refused and counted instead: the guest's BAR is then
// simply not backed (its accesses exit to the VMM, which answers them as accesses to nothing), as
// a misplaced BAR is on real hardware.
// Not responsible for: the platform bus's slots (vfiokit's placement decides those, not a guest),
// which BAR pieces are mappable (the PciPassthrough decides).
import type { GuestMemorySlot } from '../index.js';
import { checkBigU64, checkFn, checkObject } from '../../shim/args.js';
import type { Vm } from './kvm.js';

/** Counters of a VM's BAR memslots. */
export interface BarSlotCounts {
  /** Slots installed in KVM. */
  mapped: number;
  /** Slots removed again. */
  removed: number;
  /** Slots refused: outside the window, or overlapping an installed slot. */
  refused: number;
  /** The most installed at once. */
  most: number;
}

/** The memslots of one VM's guest-placed BAR pieces: `map` installs a piece in KVM unless it lies
 *  outside the window or over an installed one (then it is refused, counted and reported), `unmap`
 *  removes what was installed. One per VM, given to every PCI function's mapMemory/unmapMemory
 *  (`dev.pci({ mapMemory: (s) => { slots.map(s); }, unmapMemory: (s) => { slots.unmap(s); }, ... })`). */
export class BarSlots {
  readonly #slots = new Map<bigint, { slot: number; size: bigint }>();
  /** Slots installed, removed and refused, and the most at once. */
  readonly counts: BarSlotCounts = { mapped: 0, removed: 0, refused: 0, most: 0 };

  readonly #windows: readonly { base: bigint; size: bigint }[];
  /** `window`: where guests may place BARs (the host bridge's MMIO window, or its windows: the
   *  32-bit one and the 64-bit one); `onRefused` hears of each refused slot and why. */
  constructor(private readonly vm: Vm, window: { base: bigint; size: bigint } | readonly { base: bigint; size: bigint }[],
    private readonly onRefused: (s: GuestMemorySlot, why: string) => void = () => {}) {
    checkObject('vm', vm);
    const list = Array.isArray(window);
    const windows = list ? window as readonly { base: bigint; size: bigint }[] : [window as { base: bigint; size: bigint }];
    windows.forEach((w, i) => {
      const at = list ? `window[${i}]` : 'window';
      checkObject(at, w);
      checkBigU64(`${at}.base`, w.base);
      checkBigU64(`${at}.size`, w.size);
    });
    this.#windows = windows.map((w) => ({ base: w.base, size: w.size }));
    checkFn('onRefused', onRefused);
  }

  /** The slot's fields, checked (a guest-placed slot comes from vfiokit's PciPassthrough). */
  #check(s: GuestMemorySlot, mapping: boolean): void {
    checkObject('s', s);
    checkBigU64('s.gpa', s.gpa);
    checkBigU64('s.size', s.size);
    if (mapping) checkBigU64('s.hostAddress', s.hostAddress);
  }

  /** Installs the slot; false (and counted) when it is refused. */
  map(s: GuestMemorySlot): boolean {
    this.#check(s, true);
    const end = s.gpa + s.size;
    let why: string | undefined;
    if (s.size <= 0n || !this.#windows.some((w) => s.gpa >= w.base && end <= w.base + w.size)) why = `outside the PCI MMIO ${this.#windows.length === 1 ? 'window' : 'windows'} ${this.#windows.map((w) => `0x${w.base.toString(16)}..0x${(w.base + w.size).toString(16)}`).join(', ')}`;
    else {
      for (const [gpa, x] of this.#slots) {
        if (s.gpa < gpa + x.size && gpa < end) { why = `over the BAR slot at 0x${gpa.toString(16)}`; break; }
      }
    }
    if (why !== undefined) { this.counts.refused++; this.onRefused(s, why); return false; }
    this.#slots.set(s.gpa, { slot: this.vm.mapHost(s.gpa, s.size, s.hostAddress), size: s.size });
    this.counts.mapped++;
    this.counts.most = Math.max(this.counts.most, this.#slots.size);
    return true;
  }

  /** Removes the slot at s.gpa; a slot that was refused (never installed) is nothing to remove. */
  unmap(s: GuestMemorySlot): boolean {
    this.#check(s, false);
    const x = this.#slots.get(s.gpa);
    if (!x || x.size !== s.size) return false;
    this.#slots.delete(s.gpa);
    this.vm.unmapHost(x.slot);
    this.counts.removed++;
    return true;
  }

  /** Slots installed now. */
  get installed(): number { return this.#slots.size; }
}

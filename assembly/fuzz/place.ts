// Fuzz target: the platform-bus allocator fed a stream of plug/unplug operations.
//   input: window base/size, SPI range, page size, then ops until the input ends:
//   op % 4: 0 new device, 1 place a region (first fit, fixed or identity), 2 place an IRQ,
//           3 unplug a device
// Invariants: nothing traps; the placed ranges, read back in order, never overlap and stay
// inside the window; every region's first address is page aligned.
import { begin, done, u8, u16, u32_, violated } from "./input";
import {
  place_bus_create, place_bus_free, place_device_create, place_device_free, place_region,
  place_irq, place_region_at, place_bus_info,
} from "../placement/index";
import { getResult } from "../mem";

/** Devices a fuzz run keeps track of (the bus allows 64). */
const FUZZ_DEVICES: i32 = 16;
const DEVS = new StaticArray<i32>(FUZZ_DEVICES);

function checkBus(bus: i32): void {
  const n = place_bus_info(bus);
  if (n < 0) violated();
  const first = getResult(0), last = getResult(1), page = getResult(2);
  let prevLast: u64 = 0;
  for (let i = 0; i < n; i++) {
    if (place_region_at(bus, i) <= 0) violated();
    const a = getResult(0), b = getResult(1);
    if (a > b || a < first || b > last) violated();
    if (i > 0 && a <= prevLast) violated();
    if ((a & (page - 1)) != 0) violated();
    prevLast = b;
  }
}

export function fuzz_place(ptr: usize, len: usize): i32 {
  begin(ptr, len);
  const pageSize: u64 = (u8() & 1) != 0 ? 0x10000 : 0x1000;
  const base = (<u64>u32_() << 12);
  const size = (<u64>(u16() + 1)) << 12;
  const bus = place_bus_create(base, size, <i32>(u8()), 1 + <i32>(u8() & 63), pageSize);
  if (bus < 0) return 0; // a window the allocator refuses: nothing more to do
  let ndev = 0;
  while (!done()) {
    const op = u8() & 3;
    const slot = <i32>(u8() % <u32>FUZZ_DEVICES);
    if (op == 0) {
      if (ndev < FUZZ_DEVICES) { const d = place_device_create(bus); if (d > 0) DEVS[ndev++] = d; }
    } else if (op == 1) {
      if (ndev > 0) {
        const dev = DEVS[slot % ndev];
        const sz = <u64>u16() << (u8() & 15);
        const align = <u64>1 << (u8() & 31);
        const mode = <i32>(u8() % 3);
        const addr = base + (<u64>u16() << 12);
        place_region(bus, dev, sz, (align & 1) != 0 ? 0 : align, mode, addr);
      }
    } else if (op == 2) {
      if (ndev > 0) place_irq(bus, DEVS[slot % ndev], (u8() & 1) != 0 ? -1 : <i32>u8());
    } else if (ndev > 0) {
      const i = slot % ndev;
      place_device_free(bus, DEVS[i]);
      DEVS[i] = DEVS[--ndev];
    }
    checkBus(bus);
  }
  if (place_bus_free(bus) != 0) violated();
  return 0;
}

// The fuzz build of the core (build/vfiokit-fuzz.wasm; never shipped): every export of the core,
// plus one fuzz_<target>(ptr, len) per target. Each target decodes the input with FuzzInput into
// operations, runs them and traps (unreachable) when an invariant breaks.
export * from "../index";
export { fuzz_irq } from "./irq";
export { fuzz_place } from "./place";
export { fuzz_pci } from "./pci";
export { fuzz_vfio } from "./vfio";
export { fuzz_ioas } from "./ioas";
export { fuzz_fdt } from "./fdt";
export { fuzz_fdt_merge } from "./fdt";
export { fuzz_dtnode } from "./dtnode";

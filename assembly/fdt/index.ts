// Exports of the FDT module, re-exported by assembly/index.ts. Names are prefixed "fdt_".
export * from "./read-exports";
export * from "./write-exports";

// Exports of the fdt module, re-exported by assembly/index.ts. Names are prefixed "fdt_".
export {};

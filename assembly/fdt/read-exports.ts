// Exports of the FDT reader (prefix fdt_), re-exported through fdt/index.ts.
export {};

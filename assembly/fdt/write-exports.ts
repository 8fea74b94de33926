// Exports of the FDT writeer (prefix fdt_), re-exported through fdt/index.ts.
export {};

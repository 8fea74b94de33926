// The FDT API: read (parseFdt), write (FdtBuilder), merge (mergeFdt). docs/fdt.md.
export { parseFdt, Fdt, FdtNode, FdtProperty, type FdtRegEntry, type FdtReservation } from './parse.js';
export { FdtBuilder, type FdtBuilderOptions } from './builder.js';
export { mergeFdt, fdtMaxPhandle } from './merge.js';

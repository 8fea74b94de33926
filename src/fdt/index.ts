// The FDT API: read (parseFdt), write (FdtBuilder), merge (mergeFdt). docs/fdt.md.
export { parseFdt, Fdt, FdtNode, FdtProperty, type FdtRegEntry, type FdtReservation } from './parse';
export { FdtBuilder, type FdtBuilderOptions } from './builder';
export { mergeFdt, fdtMaxPhandle } from './merge';

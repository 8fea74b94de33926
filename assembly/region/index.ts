// Exports of the region module, re-exported by assembly/index.ts. Names are prefixed "region_".
export {};

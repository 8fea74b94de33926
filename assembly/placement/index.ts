// Exports of the placement module, re-exported by assembly/index.ts. Names are prefixed "placement_".
export {};

// Exports of the dtnode module, re-exported by assembly/index.ts. Names are prefixed "dtnode_".
export {};

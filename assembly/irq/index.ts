// Exports of the irq module, re-exported by assembly/index.ts. Names are prefixed "irq_".
export {};

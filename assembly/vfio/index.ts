// Exports of the vfio module, re-exported by assembly/index.ts. Names are prefixed "vfio_".
export {};

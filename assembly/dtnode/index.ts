// Exports of the dtnode module, re-exported by assembly/index.ts. Names are prefixed "dtnode_".
// docs/placement-dtnode.md describes the ABI.
// The logic is in ./generate.ts; this file is the module's export surface only.
export {
  dtnode_generate,
  dtnode_find_device,
} from "./generate";

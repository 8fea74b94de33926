// Exports of the region module, re-exported by assembly/index.ts. Names are prefixed "region_".
// docs/vfio-region.md describes the ABI.
// The logic is in ./table.ts; this file is the module's export surface only.
export {
  region_table_create,
  region_table_free,
  region_add,
  region_add_info,
  region_add_failed,
  region_get,
  region_area,
  region_split,
  region_check,
  region_counters,
  region_limits,
} from "./table";

// Exports of the placement module, re-exported by assembly/index.ts. Names are prefixed "place_".
// docs/placement-dtnode.md describes the ABI.
// The logic is in ./bus.ts; this file is the module's export surface only.
export {
  place_bus_create,
  place_bus_free,
  place_device_create,
  place_device_free,
  place_region,
  place_irq,
  place_region_at,
  place_spi_owner,
  place_bus_info,
  place_limits,
} from "./bus";

// Exports of the vfio module, re-exported by assembly/index.ts. Names are prefixed "vfio_".
// docs/vfio-region.md describes the ABI.
// The logic is in ./codec.ts; this file is the module's export surface only.
export {
  vfio_device_info_decode,
  vfio_region_info_decode,
  vfio_irq_info_decode,
  vfio_iommu_type1_info_decode,
  vfio_irq_set_encode,
  vfio_dma_map_encode,
  vfio_dma_unmap_encode,
  vfio_ioas_map_encode,
  vfio_ioas_unmap_encode,
  vfio_ioas_iova_ranges_encode,
  vfio_ioas_iova_ranges_decode,
  vfio_limits,
} from "./codec";

/* The oracle for VFIO struct layouts and constants: prints them as JSON from the host's uapi header
 * (/usr/include/linux/vfio.h, Debian's linux-libc-dev). test/unit/vfio/layout.test.ts compiles it
 * into build/ and pins src/vfio/uapi.ts against its output. */
#include <stdio.h>
#include <stddef.h>
#include <linux/vfio.h>

#define S(t) printf("\"%s.sizeof\":%zu,", #t, sizeof(struct t))
#define O(t, f) printf("\"%s.%s\":%zu,", #t, #f, offsetof(struct t, f))
#define C(n) printf("\"%s\":%lu,", #n, (unsigned long)(n))

int main(void) {
  printf("{");
  S(vfio_info_cap_header); O(vfio_info_cap_header, id); O(vfio_info_cap_header, version); O(vfio_info_cap_header, next);
  S(vfio_group_status); O(vfio_group_status, argsz); O(vfio_group_status, flags);
  S(vfio_device_info); O(vfio_device_info, argsz); O(vfio_device_info, flags); O(vfio_device_info, num_regions);
  O(vfio_device_info, num_irqs); O(vfio_device_info, cap_offset);
  S(vfio_region_info); O(vfio_region_info, argsz); O(vfio_region_info, flags); O(vfio_region_info, index);
  O(vfio_region_info, cap_offset); O(vfio_region_info, size); O(vfio_region_info, offset);
  S(vfio_region_sparse_mmap_area); O(vfio_region_sparse_mmap_area, offset); O(vfio_region_sparse_mmap_area, size);
  S(vfio_region_info_cap_sparse_mmap); O(vfio_region_info_cap_sparse_mmap, nr_areas); O(vfio_region_info_cap_sparse_mmap, reserved);
  O(vfio_region_info_cap_sparse_mmap, areas);
  S(vfio_region_info_cap_type); O(vfio_region_info_cap_type, type); O(vfio_region_info_cap_type, subtype);
  S(vfio_irq_info); O(vfio_irq_info, argsz); O(vfio_irq_info, flags); O(vfio_irq_info, index); O(vfio_irq_info, count);
  S(vfio_irq_set); O(vfio_irq_set, argsz); O(vfio_irq_set, flags); O(vfio_irq_set, index); O(vfio_irq_set, start);
  O(vfio_irq_set, count); O(vfio_irq_set, data);
  S(vfio_iommu_type1_info); O(vfio_iommu_type1_info, argsz); O(vfio_iommu_type1_info, flags);
  O(vfio_iommu_type1_info, iova_pgsizes); O(vfio_iommu_type1_info, cap_offset);
  S(vfio_iova_range); O(vfio_iova_range, start); O(vfio_iova_range, end);
  S(vfio_iommu_type1_info_cap_iova_range); O(vfio_iommu_type1_info_cap_iova_range, nr_iovas);
  O(vfio_iommu_type1_info_cap_iova_range, reserved); O(vfio_iommu_type1_info_cap_iova_range, iova_ranges);
  S(vfio_iommu_type1_info_dma_avail); O(vfio_iommu_type1_info_dma_avail, avail);
  S(vfio_iommu_type1_dma_map); O(vfio_iommu_type1_dma_map, argsz); O(vfio_iommu_type1_dma_map, flags);
  O(vfio_iommu_type1_dma_map, vaddr); O(vfio_iommu_type1_dma_map, iova); O(vfio_iommu_type1_dma_map, size);
  S(vfio_iommu_type1_dma_unmap); O(vfio_iommu_type1_dma_unmap, argsz); O(vfio_iommu_type1_dma_unmap, flags);
  O(vfio_iommu_type1_dma_unmap, iova); O(vfio_iommu_type1_dma_unmap, size); O(vfio_iommu_type1_dma_unmap, data);
  C(VFIO_TYPE); C(VFIO_BASE);
  C(VFIO_GET_API_VERSION); C(VFIO_CHECK_EXTENSION); C(VFIO_SET_IOMMU); C(VFIO_GROUP_GET_STATUS);
  C(VFIO_GROUP_SET_CONTAINER); C(VFIO_GROUP_UNSET_CONTAINER); C(VFIO_GROUP_GET_DEVICE_FD);
  C(VFIO_DEVICE_GET_INFO); C(VFIO_DEVICE_GET_REGION_INFO); C(VFIO_DEVICE_GET_IRQ_INFO); C(VFIO_DEVICE_SET_IRQS);
  C(VFIO_DEVICE_RESET); C(VFIO_IOMMU_GET_INFO); C(VFIO_IOMMU_MAP_DMA); C(VFIO_IOMMU_UNMAP_DMA);
  C(VFIO_DEVICE_FLAGS_RESET); C(VFIO_DEVICE_FLAGS_PCI); C(VFIO_DEVICE_FLAGS_PLATFORM); C(VFIO_DEVICE_FLAGS_AMBA);
  C(VFIO_DEVICE_FLAGS_CCW); C(VFIO_DEVICE_FLAGS_AP); C(VFIO_DEVICE_FLAGS_FSL_MC); C(VFIO_DEVICE_FLAGS_CAPS);
  C(VFIO_REGION_INFO_FLAG_READ); C(VFIO_REGION_INFO_FLAG_WRITE); C(VFIO_REGION_INFO_FLAG_MMAP); C(VFIO_REGION_INFO_FLAG_CAPS);
  C(VFIO_REGION_INFO_CAP_SPARSE_MMAP); C(VFIO_REGION_INFO_CAP_TYPE); C(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
  C(VFIO_IRQ_INFO_EVENTFD); C(VFIO_IRQ_INFO_MASKABLE); C(VFIO_IRQ_INFO_AUTOMASKED); C(VFIO_IRQ_INFO_NORESIZE);
  C(VFIO_IRQ_SET_DATA_NONE); C(VFIO_IRQ_SET_DATA_BOOL); C(VFIO_IRQ_SET_DATA_EVENTFD);
  C(VFIO_IRQ_SET_ACTION_MASK); C(VFIO_IRQ_SET_ACTION_UNMASK); C(VFIO_IRQ_SET_ACTION_TRIGGER);
  C(VFIO_TYPE1_IOMMU); C(VFIO_TYPE1v2_IOMMU); C(VFIO_NOIOMMU_IOMMU);
  C(VFIO_IOMMU_INFO_PGSIZES); C(VFIO_IOMMU_INFO_CAPS);
  C(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE); C(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION); C(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
  C(VFIO_DMA_MAP_FLAG_READ); C(VFIO_DMA_MAP_FLAG_WRITE); C(VFIO_DMA_MAP_FLAG_VADDR);
  C(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP); C(VFIO_DMA_UNMAP_FLAG_ALL); C(VFIO_DMA_UNMAP_FLAG_VADDR);
  C(VFIO_PCI_BAR0_REGION_INDEX); C(VFIO_PCI_ROM_REGION_INDEX); C(VFIO_PCI_CONFIG_REGION_INDEX);
  C(VFIO_PCI_VGA_REGION_INDEX); C(VFIO_PCI_NUM_REGIONS);
  C(VFIO_PCI_INTX_IRQ_INDEX); C(VFIO_PCI_MSI_IRQ_INDEX); C(VFIO_PCI_MSIX_IRQ_INDEX); C(VFIO_PCI_ERR_IRQ_INDEX);
  C(VFIO_PCI_REQ_IRQ_INDEX); C(VFIO_PCI_NUM_IRQS);
  printf("\"end\":0}\n");
  return 0;
}

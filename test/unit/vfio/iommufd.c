/* Oracle for the iommufd layouts: prints sizes, offsets, flags and ioctl numbers as JSON. Built by
 * test/unit/vfio/iommufd.test.ts with -DIOMMUFD_H="<path>" pointing at a uapi iommufd.h. */
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/ioctl.h>
#include IOMMUFD_H

#define S(t) printf("\"%s.sizeof\":%zu,", #t, sizeof(struct t))
#define O(t, f) printf("\"%s.%s\":%zu,", #t, #f, offsetof(struct t, f))
#define C(n) printf("\"%s\":%lu,", #n, (unsigned long)(n))

int main(void) {
  printf("{");
  S(iommu_destroy); O(iommu_destroy, size); O(iommu_destroy, id);
  S(iommu_ioas_alloc); O(iommu_ioas_alloc, size); O(iommu_ioas_alloc, flags); O(iommu_ioas_alloc, out_ioas_id);
  S(iommu_ioas_map); O(iommu_ioas_map, size); O(iommu_ioas_map, flags); O(iommu_ioas_map, ioas_id);
  O(iommu_ioas_map, __reserved); O(iommu_ioas_map, user_va); O(iommu_ioas_map, length); O(iommu_ioas_map, iova);
  S(iommu_ioas_unmap); O(iommu_ioas_unmap, size); O(iommu_ioas_unmap, ioas_id); O(iommu_ioas_unmap, iova);
  O(iommu_ioas_unmap, length);
  S(iommu_ioas_iova_ranges); O(iommu_ioas_iova_ranges, size); O(iommu_ioas_iova_ranges, ioas_id);
  O(iommu_ioas_iova_ranges, num_iovas); O(iommu_ioas_iova_ranges, __reserved);
  O(iommu_ioas_iova_ranges, allowed_iovas); O(iommu_ioas_iova_ranges, out_iova_alignment);
  S(iommu_iova_range); O(iommu_iova_range, start); O(iommu_iova_range, last);
  C(IOMMUFD_CMD_IOAS_IOVA_RANGES); C(IOMMU_IOAS_IOVA_RANGES);
  C(IOMMUFD_TYPE); C(IOMMUFD_CMD_IOAS_MAP); C(IOMMUFD_CMD_IOAS_UNMAP); C(IOMMU_IOAS_MAP); C(IOMMU_IOAS_UNMAP);
  C(IOMMU_IOAS_MAP_FIXED_IOVA); C(IOMMU_IOAS_MAP_WRITEABLE); C(IOMMU_IOAS_MAP_READABLE);
  printf("\"end\":0}\n");
  return 0;
}

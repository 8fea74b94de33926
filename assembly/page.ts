// The host page sizes the core accepts, in one place: arm64 Linux runs on 4, 16 or 64 KiB pages,
// and the map/trap split, the PCI MSI-X holes and platform-bus placement all round to the host's
// page. Each module's limits export still reports these values under its own result slots.

/** Smallest page size accepted (4 KiB). */
export const MIN_PAGE_SIZE: u64 = 4096;
/** Largest page size accepted (64 KiB). */
export const MAX_PAGE_SIZE: u64 = 65536;

/** True for a power of two in [MIN_PAGE_SIZE, MAX_PAGE_SIZE]. */
export function validPageSize(pageSize: u64): bool {
  return pageSize >= MIN_PAGE_SIZE && pageSize <= MAX_PAGE_SIZE && (pageSize & (pageSize - 1)) == 0;
}

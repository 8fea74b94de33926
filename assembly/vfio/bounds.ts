// Named bounds on what a VFIO reply may claim, shared by assembly/vfio and assembly/region.
// Kept out of index.ts so that assembly/index.ts does not export them as Wasm globals.

/** Regions per device: vfio-pci has 9 fixed indexes (BARs, ROM, config, VGA) plus device-specific
 *  ones (IGD adds 3, NVLink 2); vfio-platform one per "reg" entry. The region table holds this many. */
export const MAX_REGIONS: u32 = 32;
/** IRQ indexes per device: vfio-pci has 5 (INTx, MSI, MSI-X, ERR, REQ); platform devices one per
 *  interrupt of the node. */
export const MAX_IRQ_INDEXES: u32 = 32;
/** Vectors in one IRQ index: MSI-X allows 2048 per function (PCIe, Table Size is 11 bits). */
export const MAX_IRQS: u32 = 2048;
/** Sparse mmap areas per region: vfio-pci makes at most 2 (around the MSI-X table); mdev vendor
 *  drivers a handful. 32 leaves room and bounds the region table's static storage. */
export const MAX_SPARSE_AREAS: u32 = 32;
/** IOVA ranges of a type1 container or an iommufd IOAS: the valid IOVA space minus reserved
 *  regions (MSI window, RMRRs, PCI holes) of every group or attached device; real lists have a few
 *  entries. */
export const MAX_IOVA_RANGES: u32 = 1024;
/** iommufd's out_iova_alignment: the uapi says it "cannot be higher than the system PAGE_SIZE",
 *  and the largest PAGE_SIZE Linux builds with is 256 KiB (hexagon, powerpc 44x). */
export const MAX_IOVA_ALIGNMENT: u64 = 256 * 1024;


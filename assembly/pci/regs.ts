// PCI spec and VFIO uapi constants used by the pci module, in one place, with their uapi names
// (/usr/include/linux/pci_regs.h, include/uapi/linux/vfio.h) and the register each belongs to.
// Not responsible for: meaning; decode.ts and shadow.ts interpret them.

// --- configuration space sizes ---
export const PCI_CFG_SPACE_SIZE: u32 = 256;          // conventional config space
export const PCI_CFG_SPACE_EXP_SIZE: u32 = 4096;     // PCIe extended config space
export const PCI_STD_HEADER_SIZEOF: u32 = 64;        // the type 0 header; capabilities live above it

// --- type 0 header registers ---
export const PCI_VENDOR_ID: u32 = 0x00;              // Vendor ID, 16 bits
export const PCI_DEVICE_ID: u32 = 0x02;              // Device ID, 16 bits
export const PCI_COMMAND: u32 = 0x04;                // Command, 16 bits
export const PCI_COMMAND_IO: u32 = 0x1;              // Command: I/O space decoding
export const PCI_COMMAND_MEMORY: u32 = 0x2;          // Command: memory space decoding
export const PCI_COMMAND_MASTER: u32 = 0x4;          // Command: bus mastering (DMA)
export const PCI_COMMAND_INTX_DISABLE: u32 = 0x400;  // Command: INTx emulation disable
export const PCI_STATUS: u32 = 0x06;                 // Status, 16 bits
export const PCI_STATUS_CAP_LIST: u32 = 0x10;        // Status: capability list present
export const PCI_HEADER_TYPE: u32 = 0x0e;            // Header Type, 8 bits
export const PCI_HEADER_TYPE_MASK: u32 = 0x7f;       // Header Type: layout (bit 7 = multi-function)
export const PCI_HEADER_TYPE_NORMAL: u32 = 0;        // Header Type: type 0, an endpoint
export const PCI_BASE_ADDRESS_0: u32 = 0x10;         // BAR0, 32 bits; BAR n at 0x10 + 4n
export const PCI_BASE_ADDRESS_5: u32 = 0x24;         // BAR5, the last of a type 0 header
export const PCI_BASE_ADDRESS_SPACE_IO: u32 = 0x01;  // BAR bit 0: I/O space
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK: u32 = 0x06; // memory BAR bits 2:1: locatable type
export const PCI_BASE_ADDRESS_MEM_TYPE_32: u32 = 0x00;   // memory BAR: 32-bit
export const PCI_BASE_ADDRESS_MEM_TYPE_1M: u32 = 0x02;   // memory BAR: below 1M (PCI 2.x; reserved since 3.0)
export const PCI_BASE_ADDRESS_MEM_TYPE_64: u32 = 0x04;   // memory BAR: 64-bit, takes two slots
export const PCI_BASE_ADDRESS_MEM_PREFETCH: u32 = 0x08;  // memory BAR bit 3: prefetchable
export const PCI_BASE_ADDRESS_MEM_MASK: u32 = 0xfffffff0; // memory BAR address bits
export const PCI_BASE_ADDRESS_IO_MASK: u32 = 0xfffffffc;  // I/O BAR address bits
export const PCI_ROM_ADDRESS: u32 = 0x30;            // Expansion ROM BAR, 32 bits
export const PCI_ROM_ADDRESS_ENABLE: u32 = 0x01;     // ROM BAR bit 0: ROM decoding enable
export const PCI_ROM_ADDRESS_MASK: u32 = 0xfffff800; // ROM BAR address bits 31:11
export const PCI_CAPABILITY_LIST: u32 = 0x34;        // Capabilities Pointer, 8 bits
export const PCI_INTERRUPT_LINE: u32 = 0x3c;         // Interrupt Line, 8 bits (a scratch register for software)

// --- capability list ---
export const PCI_CAP_LIST_ID: u32 = 0;               // capability header: ID, 8 bits
export const PCI_CAP_LIST_NEXT: u32 = 1;             // capability header: next pointer, 8 bits
export const PCI_CAP_ID_MSI: u32 = 0x05;             // Message Signalled Interrupts
export const PCI_CAP_ID_MSIX: u32 = 0x11;            // MSI-X

// --- MSI capability ---
export const PCI_MSI_FLAGS: u32 = 0x02;              // MSI Message Control, 16 bits
export const PCI_MSI_FLAGS_ENABLE: u32 = 0x0001;     // MSI enable
export const PCI_MSI_FLAGS_QMASK: u32 = 0x000e;      // Multiple Message Capable (log2 vectors), bits 3:1
export const PCI_MSI_FLAGS_QSIZE: u32 = 0x0070;      // Multiple Message Enable, bits 6:4
export const PCI_MSI_FLAGS_64BIT: u32 = 0x0080;      // 64-bit address capable
export const PCI_MSI_FLAGS_MASKBIT: u32 = 0x0100;    // per-vector masking capable
export const PCI_MSI_ADDRESS_LO: u32 = 0x04;         // Message Address, low 32 bits
export const PCI_MSI_ADDRESS_HI: u32 = 0x08;         // Message Upper Address (64-bit only)
export const PCI_MSI_DATA_32: u32 = 0x08;            // Message Data, 32-bit layout
export const PCI_MSI_MASK_32: u32 = 0x0c;            // Mask Bits, 32-bit layout
export const PCI_MSI_PENDING_32: u32 = 0x10;         // Pending Bits, 32-bit layout
export const PCI_MSI_DATA_64: u32 = 0x0c;            // Message Data, 64-bit layout
export const PCI_MSI_MASK_64: u32 = 0x10;            // Mask Bits, 64-bit layout
export const PCI_MSI_PENDING_64: u32 = 0x14;         // Pending Bits, 64-bit layout

// --- MSI-X capability ---
export const PCI_MSIX_FLAGS: u32 = 2;                // MSI-X Message Control, 16 bits
export const PCI_MSIX_FLAGS_QSIZE: u32 = 0x07ff;     // Table Size - 1
export const PCI_MSIX_FLAGS_MASKALL: u32 = 0x4000;   // Function Mask
export const PCI_MSIX_FLAGS_ENABLE: u32 = 0x8000;    // MSI-X Enable
export const PCI_MSIX_TABLE: u32 = 4;                // Table Offset/Table BIR, 32 bits
export const PCI_MSIX_TABLE_BIR: u32 = 0x00000007;   // Table BIR
export const PCI_MSIX_TABLE_OFFSET: u32 = 0xfffffff8; // Table Offset (8-byte aligned)
export const PCI_MSIX_PBA: u32 = 8;                  // PBA Offset/PBA BIR, 32 bits
export const PCI_MSIX_PBA_BIR: u32 = 0x00000007;     // PBA BIR
export const PCI_MSIX_PBA_OFFSET: u32 = 0xfffffff8;  // PBA Offset (8-byte aligned)
export const PCI_MSIX_ENTRY_SIZE: u32 = 16;          // bytes of one MSI-X table entry
/** Bytes of the MSI-X capability structure (header, control, table and PBA dwords). */
export const PCI_CAP_MSIX_SIZEOF: u32 = 12;

// --- VFIO (include/uapi/linux/vfio.h) ---
export const VFIO_PCI_BAR0_REGION_INDEX: i32 = 0;    // regions 0..5: BAR0..BAR5
export const VFIO_PCI_ROM_REGION_INDEX: i32 = 6;     // region 6: expansion ROM
export const VFIO_PCI_CONFIG_REGION_INDEX: i32 = 7;  // region 7: config space
/** A region info capability: the MSI-X table of this BAR may be mmapped (kernel >= 4.16). The
 *  host passes it as a per-BAR bit (1 << bar) to pci_msix_holes. */
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: u32 = 3;

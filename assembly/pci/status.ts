// Status codes of the pci module: -700 .. -799, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in pciStatusRow(): "<error kind> <NAME>: <meaning>".
// Codes -700..-739 name a malformed configuration space or region size as the device and VFIO
// report them (the host turns them into 'kernel-reply' errors with result slot 0 = the config
// offset of the fault); -740.. name a host request the module refuses. Guest accesses never
// return a status: bad ones are dropped and counted (shadow.ts).

/** The config space is neither 256 (PCI_CFG_SPACE_SIZE) nor 4096 (PCI_CFG_SPACE_EXP_SIZE) bytes. */
export const PCI_ERR_CONFIG_LENGTH: i32 = -700;
/** Header Type is not 0 (an endpoint): bridges (type 1) and CardBus (type 2) have other layouts. */
export const PCI_ERR_HEADER_TYPE: i32 = -701;
/** A 64-bit memory BAR in slot 5: its upper half would be outside the six BAR slots. */
export const PCI_ERR_BAR64_LAST_SLOT: i32 = -702;
/** A BAR's region size is not a power of two (a BAR decodes a naturally aligned power of two). */
export const PCI_ERR_BAR_SIZE: i32 = -703;
/** A BAR's region size is below its type's minimum: 16 memory, 4 I/O, 2048 ROM. */
export const PCI_ERR_BAR_TOO_SMALL: i32 = -704;
/** A BAR's region size is above what its register can decode (MAX_*_BAR_SIZE in decode.ts). */
export const PCI_ERR_BAR_TOO_LARGE: i32 = -705;
/** The upper slot of a 64-bit BAR has a region size of its own: VFIO reports 0 for it. */
export const PCI_ERR_BAR64_UPPER_SIZED: i32 = -706;
/** A memory BAR with the reserved locatable type 11b. */
export const PCI_ERR_BAR_TYPE: i32 = -707;
/** A capability pointer into the type 0 header (below 0x40). */
export const PCI_ERR_CAP_POINTER: i32 = -708;
/** The capability list has more than MAX_CAPS entries: it loops. */
export const PCI_ERR_CAP_LOOP: i32 = -709;
/** An MSI or MSI-X capability whose structure runs past the end of config space (256). */
export const PCI_ERR_CAP_TRUNCATED: i32 = -710;
/** MSI Multiple Message Capable holds a reserved value (above 5, i.e. more than 32 vectors). */
export const PCI_ERR_MSI_MMC: i32 = -711;
/** An MSI-X table or PBA BIR that names a reserved slot (6, 7), an unimplemented or I/O BAR, or
 *  the upper half of a 64-bit BAR. */
export const PCI_ERR_MSIX_BIR: i32 = -712;
/** An MSI-X table or PBA that does not fit inside its BAR. */
export const PCI_ERR_MSIX_RANGE: i32 = -713;
/** pci_config_forward: a range that is empty, not dword-aligned or outside the config space. */
export const PCI_ERR_FORWARD_RANGE: i32 = -740;
/** pci_config_forward: a range overlapping a register the shadow virtualizes (the type 0 header,
 *  the MSI or MSI-X capability) or another forwarded range. */
export const PCI_ERR_FORWARD_VIRTUALIZED: i32 = -741;
/** pci_msix_*: the function has no MSI-X capability, so there is no table to emulate. */
export const PCI_ERR_NO_MSIX: i32 = -742;
/** pci_config_reset: the config given has another layout than the shadow's (config length, a
 *  BAR's kind or size, the MSI or MSI-X offset): not the same function after a reset. */
export const PCI_ERR_RESET_LAYOUT: i32 = -743;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function pciStatusRow(code: i32): string {
  switch (code) {
    case PCI_ERR_CONFIG_LENGTH: return "kernel-reply PCI_CONFIG_LENGTH: config space is neither 256 nor 4096 bytes";
    case PCI_ERR_HEADER_TYPE: return "kernel-reply PCI_HEADER_TYPE: header type is not 0 (only endpoints are passed through)";
    case PCI_ERR_BAR64_LAST_SLOT: return "kernel-reply PCI_BAR64_LAST_SLOT: a 64-bit BAR in slot 5 has no upper slot";
    case PCI_ERR_BAR_SIZE: return "kernel-reply PCI_BAR_SIZE: a BAR region size is not a power of two";
    case PCI_ERR_BAR_TOO_SMALL: return "kernel-reply PCI_BAR_TOO_SMALL: a BAR region is below its minimum (16 memory, 4 I/O, 2048 ROM)";
    case PCI_ERR_BAR_TOO_LARGE: return "kernel-reply PCI_BAR_TOO_LARGE: a BAR region is larger than its register can decode";
    case PCI_ERR_BAR64_UPPER_SIZED: return "kernel-reply PCI_BAR64_UPPER_SIZED: the upper slot of a 64-bit BAR has a region size";
    case PCI_ERR_BAR_TYPE: return "kernel-reply PCI_BAR_TYPE: a memory BAR has the reserved type 11b";
    case PCI_ERR_CAP_POINTER: return "kernel-reply PCI_CAP_POINTER: a capability pointer points into the header (below 0x40)";
    case PCI_ERR_CAP_LOOP: return "kernel-reply PCI_CAP_LOOP: the capability list has more than 48 entries (a loop)";
    case PCI_ERR_CAP_TRUNCATED: return "kernel-reply PCI_CAP_TRUNCATED: an MSI or MSI-X capability runs past offset 256";
    case PCI_ERR_MSI_MMC: return "kernel-reply PCI_MSI_MMC: MSI Multiple Message Capable is a reserved value (> 5)";
    case PCI_ERR_MSIX_BIR: return "kernel-reply PCI_MSIX_BIR: MSI-X table or PBA BIR names no usable memory BAR";
    case PCI_ERR_MSIX_RANGE: return "kernel-reply PCI_MSIX_RANGE: MSI-X table or PBA does not fit inside its BAR";
    case PCI_ERR_FORWARD_RANGE: return "bad-argument PCI_FORWARD_RANGE: forward range empty, not dword-aligned or outside config space";
    case PCI_ERR_FORWARD_VIRTUALIZED: return "bad-argument PCI_FORWARD_VIRTUALIZED: forward range overlaps a virtualized register or another range";
    case PCI_ERR_NO_MSIX: return "bad-argument PCI_NO_MSIX: the function has no MSI-X capability";
    case PCI_ERR_RESET_LAYOUT: return "bad-state PCI_RESET_LAYOUT: the config after the reset has another layout than the shadow's";
  }
  return "";
}

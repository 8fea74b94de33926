// Byte-exact config spaces for the pci tests, written register by register from the PCI spec's
// type 0 header layout (offsets annotated). Not a test file itself.

export const MiB = 1n << 20n;
export const GiB = 1n << 30n;

export class Cfg {
  readonly b: Uint8Array;
  constructor(len = 256) { this.b = new Uint8Array(len); }
  u8(off: number, v: number): this { this.b[off] = v & 0xff; return this; }
  u16(off: number, v: number): this { this.u8(off, v); this.u8(off + 1, v >>> 8); return this; }
  u32(off: number, v: number): this { this.u16(off, v & 0xffff); this.u16(off + 2, v >>> 16); return this; }
  /** A capability at `off`: id, next. */
  cap(off: number, id: number, next: number): this { return this.u8(off, id).u8(off + 1, next); }
}

/** The QEMU edu device (QEMU's hw/misc/edu.c and docs/specs/edu.rst; as the lab's guest sees it):
 *  1234:11e8 rev 0x10, class 00ff00, BAR0 32-bit non-prefetchable memory of 1 MiB, one MSI
 *  capability at 0x40 (64-bit address, 1 vector, no per-vector mask). The host's firmware put
 *  BAR0 at 0x10000000 and left decoding on. */
export function edu(): { config: Uint8Array; sizes: bigint[] } {
  const c = new Cfg(256)
    .u16(0x00, 0x1234)        // PCI_VENDOR_ID
    .u16(0x02, 0x11e8)        // PCI_DEVICE_ID
    .u16(0x04, 0x0007)        // PCI_COMMAND: IO | MEMORY | MASTER as the host left it
    .u16(0x06, 0x0010)        // PCI_STATUS: CAP_LIST
    .u8(0x08, 0x10)           // PCI_REVISION_ID
    .u8(0x0a, 0x00).u8(0x0b, 0xff) // PCI_CLASS_DEVICE 00ff
    .u8(0x0e, 0x00)           // PCI_HEADER_TYPE: normal
    .u32(0x10, 0x10000000)    // PCI_BASE_ADDRESS_0: memory, 32-bit, non-prefetchable, at 0x10000000
    .u16(0x2c, 0x1af4)        // PCI_SUBSYSTEM_VENDOR_ID
    .u16(0x2e, 0x1100)        // PCI_SUBSYSTEM_ID
    .u8(0x34, 0x40)           // PCI_CAPABILITY_LIST
    .u8(0x3c, 0x0b)           // PCI_INTERRUPT_LINE (host's)
    .u8(0x3d, 0x01)           // PCI_INTERRUPT_PIN: INTA
    .cap(0x40, 0x05, 0x00)    // MSI, last
    .u16(0x42, 0x0080)        // PCI_MSI_FLAGS: 64BIT, MMC 0 (1 vector), no MASKBIT
    .u32(0x44, 0xfee00000)    // PCI_MSI_ADDRESS_LO (host's value)
    .u32(0x48, 0x00000000)    // PCI_MSI_ADDRESS_HI
    .u16(0x4c, 0x4021);       // PCI_MSI_DATA_64
  return { config: c.b, sizes: [1n * MiB, 0n, 0n, 0n, 0n, 0n, 0n] };
}

/** A device with every BAR kind (4096-byte PCIe config):
 *   BAR0      I/O, 256 bytes, host at 0xe000
 *   BAR1      memory 32-bit, 16 KiB: registers 0..0x1fff, MSI-X table at 0x2000 (16 entries,
 *             256 bytes), PBA at 0x3000 (8 bytes)
 *   BAR2/3    memory 64-bit prefetchable, 8 GiB, host at 0x40_0000_0000
 *   BAR4/5    memory 64-bit non-prefetchable, 64 KiB, host at 0xfd000000
 *   ROM       64 KiB, host at 0xfc000000, disabled
 *  Capabilities: 0x40 PM -> 0x50 MSI (64-bit, per-vector mask, 32 vectors) -> 0x70 MSI-X -> 0x80 vendor. */
export function multi(): { config: Uint8Array; sizes: bigint[] } {
  const c = new Cfg(4096)
    .u16(0x00, 0x8086).u16(0x02, 0x1234)
    .u16(0x04, 0x0000)        // PCI_COMMAND: all off
    .u16(0x06, 0x0010)        // PCI_STATUS: CAP_LIST
    .u8(0x0e, 0x80)           // PCI_HEADER_TYPE: normal, multi-function bit set
    .u32(0x10, 0x0000e001)    // BAR0: I/O at 0xe000
    .u32(0x14, 0xfe000000)    // BAR1: mem32 at 0xfe000000
    .u32(0x18, 0x0000000c)    // BAR2: mem64 prefetchable, low half 0
    .u32(0x1c, 0x00000040)    // BAR3: upper half 0x40
    .u32(0x20, 0xfd000004)    // BAR4: mem64 at 0xfd000000
    .u32(0x24, 0x00000000)    // BAR5: upper half 0
    .u32(0x30, 0xfc000000)    // PCI_ROM_ADDRESS: at 0xfc000000, ENABLE clear
    .u8(0x34, 0x40)
    .u8(0x3c, 0xff).u8(0x3d, 0x01)
    .cap(0x40, 0x01, 0x50).u16(0x42, 0x0003)          // PM
    .cap(0x50, 0x05, 0x70)                            // MSI
    .u16(0x52, 0x018a)        // PCI_MSI_FLAGS: MASKBIT | 64BIT | MMC 5 (32 vectors)
    .u32(0x54, 0xfee00000).u32(0x58, 0).u16(0x5c, 0x1234)
    .u32(0x60, 0xffffffff)    // PCI_MSI_MASK_64 (host's)
    .u32(0x64, 0x00000005)    // PCI_MSI_PENDING_64: read-only
    .cap(0x70, 0x11, 0x80)                            // MSI-X
    .u16(0x72, 0x000f)        // PCI_MSIX_FLAGS: table size 16
    .u32(0x74, 0x00002001)    // PCI_MSIX_TABLE: BIR 1, offset 0x2000
    .u32(0x78, 0x00003001)    // PCI_MSIX_PBA: BIR 1, offset 0x3000
    .cap(0x80, 0x09, 0x00).u8(0x82, 8)                // vendor-specific, 8 bytes
    .u32(0x84, 0xcafef00d)
    .u32(0x100, 0x00010001);  // an AER extended capability header (not walked)
  return { config: c.b, sizes: [256n, 16384n, 8n * GiB, 0n, 65536n, 0n, 65536n] };
}

/** Minimal valid config: no capabilities, BARs from `bars` (raw registers), sizes given. */
export function plain(bars: number[], sizes: bigint[], rom = 0): Uint8Array {
  const c = new Cfg(256).u16(0, 0x1af4).u16(2, 0x1000);
  bars.forEach((v, i) => c.u32(0x10 + i * 4, v));
  c.u32(0x30, rom);
  void sizes;
  return c.b;
}

export const hex = (v: number | bigint) => `0x${v.toString(16)}`;

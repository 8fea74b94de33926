// The mini-vmm's edu guest (EL1, MMU off, no stack, no interrupts): QEMU's edu PCI device passed
// through with vfio-pci behind the host's IOMMU (an SMMUv3 in the lab). The VMM maps the guest's
// RAM into the IOMMU at IOVA = guest physical address, so the guest programs DMA with its own
// physical addresses, and enables Memory + BusMaster in the config space before the run (a
// bare-metal guest with no PCI host bridge cannot). Registers from the VMM:
//   x1 edu BAR0 (placed by PlatformBus, a memslot over the VFIO mapping: no exits)
//   x2 an IOVA outside guest RAM (mapped to nothing)     x3 console: an unbacked MMIO byte sink
// 1. Prints edu's identification register (0x010000ed).
// 2. Writes a 16-byte pattern at RAM+0xc000, DMAs it RAM -> edu's buffer -> RAM+0xd000, prints
//    the bytes found at RAM+0xd000 and whether they equal the pattern.
// 3. DMAs edu's buffer to x2, outside its RAM: the IOMMU has no translation for it, so the write
//    is dropped (the VMM checks its own memory after the run). Prints when edu reports it done.
// 4. PSCI SYSTEM_OFF.
// Addresses are computed from where the image runs (adr), so the code works at any RAM base.

// edu registers (QEMU docs/specs/edu.rst)
.equ EDU_ID,     0x00
.equ DMA_SRC,    0x80     // 64-bit
.equ DMA_DST,    0x88     // 64-bit
.equ DMA_COUNT,  0x90     // 64-bit
.equ DMA_CMD,    0x98     // bit 0 start (clears when done), bit 1 direction: device -> RAM
.equ DMA_START,  1
.equ DMA_TO_RAM, 2
.equ EDU_BUF,    0x40000  // the device's own 4 KiB buffer, in edu's DMA address space
.equ SRC_OFF,    0xc000   // pattern, from the RAM base
.equ DST_OFF,    0xd000   // where the round trip lands
.equ LEN,        16
.equ PSCI_SYSTEM_OFF, 0x84000008

    .text
    .global _start
_start:
    mov     x19, x1                 // edu BAR0
    mov     x20, x2                 // IOVA outside RAM
    mov     x21, x3                 // console
    adr     x22, _start             // RAM base: guest PA = IOVA
    add     x23, x22, #SRC_OFF
    add     x24, x22, #DST_OFF

    // 1. identification, through the memslot
    adr     x0, s_id
    bl      puts
    ldr     w0, [x19, #EDU_ID]
    mov     x1, #8
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]

    // 2. the pattern at src, dst cleared; RAM -> edu -> RAM
    adr     x9, pattern
    ldp     x10, x11, [x9]
    stp     x10, x11, [x23]
    stp     xzr, xzr, [x24]
    mov     x0, x23
    mov     x1, #EDU_BUF
    mov     x2, #0
    bl      dma
    mov     x0, #EDU_BUF
    mov     x1, x24
    mov     x2, #DMA_TO_RAM
    bl      dma
    adr     x0, s_copy
    bl      puts
    mov     x25, #0
1:  mov     w9, #' '
    strb    w9, [x21]
    ldrb    w0, [x24, x25]
    mov     x1, #2
    bl      puthex
    add     x25, x25, #1
    cmp     x25, #LEN
    b.lo    1b
    ldp     x10, x11, [x23]
    ldp     x12, x13, [x24]
    cmp     x10, x12
    ccmp    x11, x13, #0, eq
    adr     x0, s_same
    adr     x9, s_diff
    csel    x0, x0, x9, eq
    bl      puts

    // 3. edu's buffer -> an IOVA outside RAM
    adr     x0, s_out
    bl      puts
    mov     x0, x20
    mov     x1, #8
    bl      puthex
    mov     x0, #EDU_BUF
    mov     x1, x20
    mov     x2, #DMA_TO_RAM
    bl      dma
    adr     x0, s_done
    bl      puts

    // 4. off
    adr     x0, s_off
    bl      puts
    ldr     x0, =PSCI_SYSTEM_OFF
    hvc     #0
3:  b       3b

// dma: x0 source, x1 destination, x2 direction bits, LEN bytes; waits until edu clears START.
// Clobbers w9.
dma:
    str     x0, [x19, #DMA_SRC]
    str     x1, [x19, #DMA_DST]
    mov     x9, #LEN
    str     x9, [x19, #DMA_COUNT]
    orr     w9, w2, #DMA_START
    str     w9, [x19, #DMA_CMD]
2:  ldr     w9, [x19, #DMA_CMD]
    tbnz    w9, #0, 2b
    ret

    .include "console.inc"

    .balign 8
pattern: .ascii "vfiokit edu dma!"
s_id:    .asciz "edu id "
s_copy:  .asciz "RAM -> edu -> RAM:"
s_same:  .asciz "\nsame as the pattern\n"
s_diff:  .asciz "\nDIFFERS from the pattern\n"
s_out:   .asciz "edu -> IOVA "
s_done:  .asciz " (outside RAM): done\n"
s_off:   .asciz "off\n"
    .balign 8
    .ltorg

// The mini-vmm's bare-metal aarch64 guest (EL1, MMU off, no stack; one exception vector: IRQ).
// The VMM passes everything the guest needs in registers, so nothing here is hard-wired:
//   x0 the guest DTB in RAM              x1 pl031 base (placed by PlatformBus)
//   x2 the pl031's INTID (SPI + 32)      x3 console: an unbacked MMIO byte sink
//   x4 GICv3 distributor base            x5 GICv3 redistributor base
// 0. Prints the DTB's magic (checks x0 and the DTB in RAM; a real kernel would parse the tree).
// 1. Prints the pl031's PrimeCell ID (0xff0..0xffc) read through the passthrough memslot (no exit).
// 2. Enables the GIC (distributor: group 1, priority, level, route to vCPU 0, enable;
//    redistributor; CPU interface) and the vector table, then twice: arms the pl031 alarm,
//    prints "wait", waits in WFI; the IRQ exception's handler (irq_el1h) acknowledges through
//    ICC_IAR1_EL1, clears the pl031, EOIs; the loop prints "IRQ n intid i".
// 3. PSCI SYSTEM_OFF.
// Every console byte is one MMIO exit: the VMM sees those and nothing else.

// pl031 registers
.equ RTCDR,   0x00      // data: seconds
.equ RTCMR,   0x04      // match
.equ RTCIMSC, 0x10      // interrupt mask set/clear
.equ RTCICR,  0x1c      // interrupt clear
.equ CELLID0, 0xff0     // PrimeCell ID 0..3 at 0xff0, 0xff4, 0xff8, 0xffc
.equ SPURIOUS, 1023
.equ PSCI_SYSTEM_OFF, 0x84000008

    .text
    .global _start
_start:
    mov     x27, x0                 // DTB
    mov     x19, x1                 // pl031
    mov     x20, x2                 // INTID
    mov     x21, x3                 // console
    mov     x22, x4                 // GICD
    mov     x23, x5                 // GICR

    // 0. The DTB's first word (FDT magic, big-endian d00dfeed): shows x0 points at it in RAM
    adr     x0, s_dtb
    bl      puts
    ldr     w0, [x27]
    rev     w0, w0
    mov     x1, #8
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]

    // 1. PrimeCell ID, through the memslot
    adr     x0, s_id
    bl      puts
    mov     x24, #CELLID0
1:  mov     w9, #' '
    strb    w9, [x21]
    ldr     w0, [x19, x24]
    mov     x1, #2
    bl      puthex
    add     x24, x24, #4
    cmp     x24, #0x1000
    b.lo    1b
    mov     w9, #'\n'
    strb    w9, [x21]

    // 2. GIC
    bl      gic_setup

    adr     x9, vectors
    msr     vbar_el1, x9            // exceptions go to our table (only its IRQ entry is used)
    isb

    mov     x25, #1                 // alarm number
alarm:
    mov     x26, #0                 // the INTID the IRQ handler took; 0: none yet
    mov     w9, #1
    str     w9, [x19, #RTCICR]      // clear a stale interrupt
    ldr     w9, [x19, #RTCDR]
    add     w9, w9, #2
    str     w9, [x19, #RTCMR]       // match in 2 s
    mov     w9, #1
    str     w9, [x19, #RTCIMSC]     // unmask the alarm
    adr     x0, s_wait
    bl      puts
    // Wait with IRQs masked around the check, so an IRQ between the check and the WFI cannot be
    // lost: a pending IRQ wakes WFI even while masked, and is taken at the unmask.
2:  msr     daifset, #2
    cbnz    x26, 3f
    wfi
    msr     daifclr, #2             // the IRQ exception is taken here: irq_el1h below
    isb
    b       2b
3:  msr     daifclr, #2
    adr     x0, s_irq
    bl      puts
    mov     x0, x25
    mov     x1, #1
    bl      puthex
    adr     x0, s_intid
    bl      puts
    mov     x0, x26
    mov     x1, #3
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]
    add     x25, x25, #1
    cmp     x25, #2
    b.ls    alarm

    str     wzr, [x19, #RTCIMSC]    // mask the alarm again
    adr     x0, s_off
    bl      puts
    ldr     x0, =PSCI_SYSTEM_OFF
    hvc     #0
3:  b       3b

    .include "console.inc"
    .include "gic.inc"

s_dtb:   .asciz "DTB "
s_id:    .asciz "ID"
s_wait:  .asciz "wait\n"
s_irq:   .asciz "IRQ "
s_intid: .asciz " intid "
s_off:   .asciz "off\n"
    .balign 8
    .ltorg

// The exception vector table (VBAR_EL1 needs 2 KiB alignment; 16 entries of 0x80 bytes). Only
// "IRQ, current EL with SP_ELx" (+0x280) is reached: the vCPU runs at EL1h. The handler
// acknowledges (ICC_IAR1_EL1), makes the pl031 drop its line (ICR), EOIs (priority drop and
// deactivation: KVM sees the EOI of a level SPI and signals the irqfd's resample eventfd, on
// which VFIO unmasks the host line), and hands the INTID to the waiting loop in x26.
    .balign 2048
vectors:
    .skip   0x280
irq_el1h:
    mrs     x15, S3_0_C12_C12_0       // ICC_IAR1_EL1: acknowledge
    cmp     x15, #SPURIOUS
    b.eq    1f
    mov     w9, #1
    str     w9, [x19, #RTCICR]        // the device drops its line
    msr     S3_0_C12_C12_1, x15       // ICC_EOIR1_EL1
    mov     x26, x15
1:  eret

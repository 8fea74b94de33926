// The mini-VMM's IRQ latency guest (EL1, MMU off, no stack; one exception vector: IRQ). The same
// registers in as guest/pl031.S (x1 pl031, x2 INTID, x3 console, x4 GICD, x5 GICR; x0 unused).
// It times, on the virtual counter (CNTVCT_EL0), ROUNDS pl031 alarms:
//   t0  the device raises its line: a poll of RTCRIS (raw status) with IRQs masked, through
//       the memslot; t0 is the counter before the first read that returns 1 (so the time the
//       host spends between the rise and that read, with this vCPU stopped, is included);
//   t1  the first instruction of the IRQ handler (then WFI until it comes);
//   t2  after the handler's device acknowledge (ICR) and its EOI.
// t1 - t0 is delivery (host IRQ -> VFIO -> the IRQ path under test -> vGIC -> vCPU woken from
// WFI), t2 - t1 the acknowledge (with the userspace state machine, the ICR write traps to the VMM:
// that is its EOI). Before polling, the guest waits 1.5 s on the counter alone, so the state
// machine's direct-MMIO timer (1.1 s after the previous EOI) has expired and the poll does not trap.
// Console: "F <CNTFRQ, 8 hex>\n", then per round "L <t1-t0, 8 hex> <t2-t1, 8 hex>\n", "off\n".

.equ ROUNDS,  7
.equ RTCDR,   0x00
.equ RTCMR,   0x04
.equ RTCIMSC, 0x10
.equ RTCRIS,  0x14      // raw interrupt status: bit 0 the alarm, whatever IMSC says
.equ RTCICR,  0x1c
.equ SPURIOUS, 1023
.equ PSCI_SYSTEM_OFF, 0x84000008

    .text
    .global _start
_start:
    mov     x19, x1                 // pl031
    mov     x20, x2                 // INTID
    mov     x21, x3                 // console
    mov     x22, x4                 // GICD
    mov     x23, x5                 // GICR
    bl      gic_setup
    adr     x9, vectors
    msr     vbar_el1, x9
    isb

    adr     x0, s_freq
    bl      puts
    mrs     x0, cntfrq_el0
    mov     x1, #8
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]

    mov     x25, #ROUNDS
round:
    mov     x26, #0                 // the INTID the handler took; 0: none yet
    mov     w9, #1
    str     w9, [x19, #RTCICR]
    ldr     w9, [x19, #RTCDR]
    add     w9, w9, #3
    str     w9, [x19, #RTCMR]       // match in 2..3 s (the RTC counts whole seconds)
    mov     w9, #1
    str     w9, [x19, #RTCIMSC]
    // 1.5 s on the counter alone
    mrs     x10, cntfrq_el0
    add     x10, x10, x10, lsr #1
    isb
    mrs     x11, cntvct_el0
    add     x11, x11, x10
1:  isb
    mrs     x12, cntvct_el0
    cmp     x12, x11
    b.lo    1b
    // Poll the raw status with IRQs masked, so the handler cannot run before t0 is taken. t0 is
    // the counter just BEFORE the read that saw 1: the line rose after the previous read saw 0,
    // and whatever the host did in between (its IRQ, the path under test) while this vCPU was
    // not running shows up as time between the two reads, so it is counted, not hidden.
    msr     daifset, #2
2:  isb
    mrs     x24, cntvct_el0         // t0 candidate
    ldr     w9, [x19, #RTCRIS]
    tbz     w9, #0, 2b
3:  cbnz    x26, 4f
    wfi
    msr     daifclr, #2             // taken here: irq_el1h
    isb
    msr     daifset, #2
    b       3b
4:  msr     daifclr, #2
    adr     x0, s_lat
    bl      puts
    sub     x0, x16, x24            // t1 - t0
    mov     x1, #8
    bl      puthex
    mov     w9, #' '
    strb    w9, [x21]
    sub     x0, x17, x16            // t2 - t1
    mov     x1, #8
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]
    subs    x25, x25, #1
    b.ne    round

    str     wzr, [x19, #RTCIMSC]
    adr     x0, s_off
    bl      puts
    ldr     x0, =PSCI_SYSTEM_OFF
    hvc     #0
5:  b       5b

    .include "console.inc"
    .include "gic.inc"

s_freq: .asciz "F "
s_lat:  .asciz "L "
s_off:  .asciz "off\n"
    .balign 8
    .ltorg

// Vector table: only "IRQ, current EL with SP_ELx" (+0x280) is used. x16 = t1, x17 = t2.
    .balign 2048
vectors:
    .skip   0x280
irq_el1h:
    isb
    mrs     x16, cntvct_el0           // t1
    mrs     x15, S3_0_C12_C12_0       // ICC_IAR1_EL1
    cmp     x15, #SPURIOUS
    b.eq    1f
    mov     w9, #1
    str     w9, [x19, #RTCICR]        // the device drops its line (traps under the state machine)
    msr     S3_0_C12_C12_1, x15       // ICC_EOIR1_EL1
    isb
    mrs     x17, cntvct_el0           // t2
    mov     x26, x15
1:  eret

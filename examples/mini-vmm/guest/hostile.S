// The mini-vmm's hostile guest (EL1, MMU off, no stack): it does what a guest may do to hurt its
// VMM or the host through a passed-through PCI function (QEMU's edu) and platform device (the
// pl031), counts every access it makes, and prints the counts so that the VMM can check its own.
// Everything comes from a parameter block the VMM writes into RAM (x0 = its address; the P_*
// offsets below, hostile.ts HOSTILE_PARAMS); the counters live after it (C_*). Phases:
//  1. edu: BAR0 placed and Memory + BusMaster enabled through the ECAM window (config writes).
//  2. INTx ping-pong: P_NIRQ times, raise one edu interrupt (raise register) and wait for the
//     handler to take it (bounded by the generic timer: a lost one is counted, not waited for).
//  3. pl031 alarms: P_NALARM times, alarm at the next second, wait for it (trapped registers).
//  4. MSI garbage: the MSI capability found by walking the list, garbage address and data
//     written, MSI enabled, P_NSTORM raises (the messages go nowhere), MSI disabled again; then an
//     INTx storm: P_NSTORM raises back to back with the handler acknowledging as they come.
//  5. Hammer: P_NHAMMER rounds of, for every width (1, 2, 4, 8 bytes), a read and a garbage write
//     at a random offset of the pl031's trapped window, of the edu's config space (BARs, command,
//     capabilities, past the end), of the whole ECAM window (other functions), and of an address
//     with nothing behind it; and misaligned accesses (2, 4, 8 bytes at an odd address) at the
//     three, counted in their window's count and apart. KVM in the lab reports them as MMIO exits
//     like any other; a CPU that takes an alignment fault instead (MMU off: Device memory) gives
//     the synchronous exception handler, which counts it (C_FAULT) and skips the access.
//  5b. Undecodable MMIO: P_NNISV rounds of a load pair, a store pair and a post-indexed load at
//     the address with nothing behind it. No instruction syndrome (ISV=0): KVM cannot emulate
//     them and reports each to the VMM (KVM_EXIT_ARM_NISV), which answers with an external data
//     abort; the synchronous handler counts it (C_EXTABT) and skips the instruction.
//  6. Restore: MSI off, BAR0 and the command register back, the pl031 quiet.
//  6b. MSI through the vGIC's ITS (P_NMSI > 0): LPIs on at the redistributor (property and pending
//     tables in RAM at P_ITSMEM), the ITS's device and collection tables and command queue there
//     too, ITS enabled; MAPD (the edu's device ID, P_DEVID), MAPC (collection 0 -> this vCPU),
//     MAPTI (event P_EVENT -> LPI 8192 + P_EVENT), INV, SYNC. The edu's MSI capability gets
//     GITS_TRANSLATER and the event ID; then a ping-pong of P_NMSI raises, each waited for (the
//     handler takes the LPI, acknowledges at the edu, EOIs), a lost one counted; MSI off again.
//  7. DMA: one round trip RAM -> edu -> RAM (the device still works), then one 4-byte DMA per
//     entry of P_OUT (P_NOUT of them), alternately from edu and to edu, at IOVAs outside RAM. The
//     edu-side address always stays in edu's own buffer (edu's model refuses anything else).
//  8. The counts ("= name hex" lines), PSCI SYSTEM_OFF.
// Registers: x19 parameters, x21 console, x24 the edu's config space in ECAM, x25 BAR0, x26 the
// pl031, x16 the random state (xorshift32), x8 the link of a nested call. The exception handlers
// own x13-x15 and write x28 (edu interrupts taken), x17 (taken with nothing pending), x18 (pl031
// alarms taken), x29 (edu LPIs taken) and the C_RTC_IRQ / C_FAULT / C_OTHER / C_EXTABT / C_LEMPTY
// counters; the main code writes the rest.

// parameter block (written by the VMM)
.equ P_ECAM, 0
.equ P_FN, 8
.equ P_BAR, 16
.equ P_EDU_INTID, 24
.equ P_RTC, 32
.equ P_RTC_INTID, 40
.equ P_CON, 48
.equ P_GICD, 56
.equ P_GICR, 64
.equ P_HOLE, 72
.equ P_NIRQ, 80
.equ P_NSTORM, 88
.equ P_NHAMMER, 96
.equ P_NALARM, 104
.equ P_NOUT, 112
.equ P_SEED, 120
.equ P_OUT, 128          // P_NOUT IOVAs, 8 bytes each (at most 8)
.equ P_XFN, 192          // a function with MSI-X: its config space's offset in ECAM (0: none)
.equ P_XBAR, 200         // where the guest places that function's BAR0
.equ P_ITS, 208          // the ITS's base (its GITS_TRANSLATER is at +0x10040)
.equ P_ITSMEM, 216       // 64 KiB-aligned RAM for the LPI and ITS tables (ITS_* offsets below, 320 KiB)
.equ P_NMSI, 224         // MSI ping-pong raises (0: no ITS phase)
.equ P_DEVID, 232        // the edu's device ID at the ITS (its requester ID)
.equ P_EVENT, 240        // the event ID the guest gives the edu's MSI (its LPI: 8192 + it)
.equ P_NNISV, 248        // rounds of undecodable accesses (3 each)
// counters (zero at the start; the main code's)
.equ C_ECAM, 256         // accesses to the ECAM window
.equ C_RTC, 264          // accesses to the pl031's window by the main code
.equ C_HOLE, 272         // accesses to the address with nothing behind it
.equ C_MIS, 280          // misaligned accesses tried
.equ C_RAISE, 288        // ping-pong interrupts raised
.equ C_LOST, 296         // ping-pong interrupts not taken within the deadline
.equ C_ALARM, 304        // alarms armed
.equ C_ALOST, 312        // alarms not taken within the deadline
.equ C_MSI, 320          // raises with garbage MSI enabled
.equ C_STORM, 328        // INTx storm raises
.equ C_OUT, 336          // DMAs aimed outside guest RAM
.equ C_SAME, 344         // 1 when the round trip copied the pattern
.equ C_MSICAP, 352       // the MSI capability's offset (0: none), for the restore
.equ C_MSIX, 360         // accesses to the MSI-X table and PBA
// counters (the exception handlers')
.equ C_RTC_IRQ, 384      // pl031 accesses by the IRQ handler (ICR)
.equ C_FAULT, 392        // alignment faults taken
.equ C_OTHER, 400        // any other synchronous exception
// more counters, printed after C_OTHER in this order (names)
.equ C_LRAISE, 408       // MSI ping-pong raises (main)
.equ C_LLOST, 416        // MSI ping-pong LPIs not taken within the deadline (main)
.equ C_NISV, 424         // undecodable accesses tried (main)
.equ C_EXTABT, 432       // external data aborts taken (handler)
.equ C_LEMPTY, 440       // edu LPIs taken with nothing pending at the edu (handler)
// LPIs and the ITS (GICv3 architecture; the offsets from P_ITSMEM are this guest's choice). KVM's
// ITS takes only 64 KiB pages: it forces GITS_BASER's page size to 64 KiB and clears bits 15:12
// of GITS_CBASER's address, so both tables and the command queue are 64 KiB aligned, as the
// pending table must be anyway (GICR_PENDBASER holds bits 51:16).
.equ LPI_BASE, 8192
.equ GICR_CTLR, 0x0000     // bit 0 EnableLPIs
.equ GICR_PROPBASER, 0x0070
.equ GICR_PENDBASER, 0x0078
.equ GITS_CTLR, 0x0000     // bit 0 Enabled
.equ GITS_CBASER, 0x0080
.equ GITS_CWRITER, 0x0088
.equ GITS_CREADR, 0x0090
.equ GITS_BASER, 0x0100    // BASER0 device table, BASER1 collection table (KVM's order)
.equ ITS_PEND, 0x00000     // pending table: 2 KiB for 14 ID bits
.equ ITS_PROP, 0x10000     // property table: one byte per LPI, 8 KiB for 8192..16383
.equ ITS_DEV, 0x20000      // device table, one 64 KiB page (8-byte entries: KVM reads none)
.equ ITS_COLL, 0x30000     // collection table, the same
.equ ITS_CMDQ, 0x40000     // command queue: 4 KiB (CBASER.Size 0), 128 commands
.equ ITS_ITT, 0x41000      // the edu's interrupt translation table (256-byte aligned)
.equ LOST_GIVE_UP, 4       // lost MSIs after which the ping-pong stops (2 s each: the rest would be too)
.equ LPI_ID_BITS, 13       // PROPBASER.IDbits: 14 bits of INTID
.equ LPI_PRIO_EN, 0xa3     // property byte: priority 0xa0 | RES1 | enable
.equ VALID, 0x8000000000000000

// edu (QEMU docs/specs/edu.rst)
.equ EDU_ID, 0x00
.equ IRQ_STATUS, 0x24
.equ IRQ_RAISE, 0x60
.equ IRQ_ACK, 0x64
.equ DMA_SRC, 0x80
.equ DMA_DST, 0x88
.equ DMA_COUNT, 0x90
.equ DMA_CMD, 0x98
.equ DMA_START, 1
.equ DMA_TO_RAM, 2
.equ EDU_BUF, 0x40000
.equ SRC_OFF, 0xc000
.equ DST_OFF, 0xd000
.equ LEN, 16             // the round trip
.equ OUT_LEN, 4          // a DMA outside RAM: one 4-byte access, one SMMU fault event (hostile.ts)
// PCI config space
.equ PCI_COMMAND, 0x04
.equ PCI_BAR0, 0x10
.equ PCI_CAP_PTR, 0x34
.equ PCI_CAP_ID_MSI, 5
.equ PCI_CAP_ID_MSIX, 0x11
.equ MSIX_ENABLE, 0x8000   // Message Control: MSI-X enable
.equ CMD_MEM_MASTER, 6
// pl031
.equ RTCDR, 0x00
.equ RTCMR, 0x04
.equ RTCIMSC, 0x10
.equ RTCICR, 0x1c
.equ SPURIOUS, 1023
.equ PSCI_SYSTEM_OFF, 0x84000008

.macro count off
    ldr     x11, [x19, #\off]
    add     x11, x11, #1
    str     x11, [x19, #\off]
.endm
.macro countn off, reg
    ldr     x11, [x19, #\off]
    add     x11, x11, \reg
    str     x11, [x19, #\off]
.endm
// rand: w16 = xorshift32(w16)
.macro rand
    eor     w16, w16, w16, lsl #13
    eor     w16, w16, w16, lsr #17
    eor     w16, w16, w16, lsl #5
.endm

    .text
    .global _start
// Exception vectors, at the image's start (VBAR_EL1 wants 2 KiB alignment, and RAM's base has it;
// the code after them would push a 2 KiB-aligned table past the 4 KiB guest limit). The vCPU runs
// at EL1h: +0x200 synchronous, +0x280 IRQ; the first entry (EL1t, never taken) is the entry jump.
vectors:
    b       _start
    .balign 0x200
// Synchronous: a data abort at the same EL (EC 0x25) is either the VMM's external abort (DFSC
// 0x10: an access KVM could not decode) or an alignment fault (a misaligned access to Device
// memory); each counted and skipped. Anything else is counted and skipped too.
sync_el1h:
    mrs     x15, esr_el1
    ubfx    x14, x15, #26, #6
    cmp     x14, #0x25
    mov     x14, #C_OTHER
    b.ne    1f
    and     x15, x15, #0x3f         // DFSC
    cmp     x15, #0x10              // synchronous external abort
    mov     x14, #C_EXTABT
    mov     x15, #C_FAULT
    csel    x14, x14, x15, eq
1:  ldr     x15, [x19, x14]
    add     x15, x15, #1
    str     x15, [x19, x14]
    mrs     x15, elr_el1
    add     x15, x15, #4
    msr     elr_el1, x15
    eret
    .balign 0x80
// IRQ: the edu's INTx (acknowledged in the device: status -> ack) or the pl031's alarm (ICR).
irq_el1h:
    mrs     x15, S3_0_C12_C12_0       // ICC_IAR1_EL1
    cmp     x15, #SPURIOUS
    b.eq    9f
    ldr     x14, [x19, #P_EDU_INTID]
    cmp     x15, x14
    b.ne    2f
    ldr     w13, [x25, #IRQ_STATUS]
    cbnz    w13, 1f
    add     x17, x17, #1              // taken with nothing pending
1:  str     w13, [x25, #IRQ_ACK]
    add     x28, x28, #1
    b       8f
2:  ldr     x14, [x19, #P_RTC_INTID]
    cmp     x15, x14
    b.ne    3f
    mov     w13, #1
    str     w13, [x26, #RTCICR]
    add     x18, x18, #1
    ldr     x14, [x19, #C_RTC_IRQ]
    add     x14, x14, #1
    str     x14, [x19, #C_RTC_IRQ]
    b       8f
3:  ldr     x14, [x19, #P_EVENT]      // the edu's LPI (its MSI through the ITS)
    add     x14, x14, #LPI_BASE
    cmp     x15, x14
    b.ne    8f
    ldr     w13, [x25, #IRQ_STATUS]
    cbnz    w13, 4f
    ldr     x14, [x19, #C_LEMPTY]
    add     x14, x14, #1
    str     x14, [x19, #C_LEMPTY]
4:  str     w13, [x25, #IRQ_ACK]
    add     x29, x29, #1
8:  msr     S3_0_C12_C12_1, x15       // ICC_EOIR1_EL1
9:  eret
    .balign 4

_start:
    mov     x19, x0
    ldr     x21, [x19, #P_CON]
    ldr     x22, [x19, #P_GICD]
    ldr     x23, [x19, #P_GICR]
    ldr     x24, [x19, #P_ECAM]
    ldr     x9, [x19, #P_FN]
    add     x24, x24, x9
    ldr     x25, [x19, #P_BAR]
    ldr     x26, [x19, #P_RTC]
    ldr     x16, [x19, #P_SEED]
    mov     x28, #0
    mov     x17, #0
    mov     x18, #0
    mov     x29, #0
    adr     x9, vectors
    msr     vbar_el1, x9
    isb
    adr     x0, s_hello
    bl      puts

    // 1. BAR0 and the command register, through ECAM
    mov     x0, #PCI_BAR0
    mov     x1, x25
    bl      cfg_w32
    mov     x0, #PCI_COMMAND
    mov     x1, #CMD_MEM_MASTER
    bl      cfg_w16
    adr     x0, s_id
    ldr     w1, [x25, #EDU_ID]
    bl      putkv

    // GIC: both lines, then IRQs on for the rest of the run
    ldr     x20, [x19, #P_EDU_INTID]
    bl      gic_setup
    ldr     x20, [x19, #P_RTC_INTID]
    bl      gic_setup
    msr     daifclr, #2

    // 2. INTx ping-pong
    ldr     x27, [x19, #P_NIRQ]
    cbz     x27, 3f
1:  mov     x20, x28
    count   C_RAISE
    mov     w9, #1
    str     w9, [x25, #IRQ_RAISE]
    mov     x0, #2                  // seconds
    bl      deadline
2:  cmp     x28, x20
    b.ne    4f
    mrs     x9, cntvct_el0
    cmp     x9, x0
    b.lo    2b
    count   C_LOST
4:  subs    x27, x27, #1
    b.ne    1b
3:  adr     x0, s_irq
    mov     x1, x28
    bl      putkv
    adr     x0, s_spur
    mov     x1, x17
    bl      putkv

    // 3. pl031 alarms (every register access traps: the VMM has no memslot for the pl031)
    ldr     x27, [x19, #P_NALARM]
    cbz     x27, 3f
1:  mov     x20, x18
    count   C_ALARM
    mov     w9, #1
    str     w9, [x26, #RTCICR]
    ldr     w9, [x26, #RTCDR]
    add     w9, w9, #1
    str     w9, [x26, #RTCMR]
    mov     w9, #1
    str     w9, [x26, #RTCIMSC]
    countn  C_RTC, #4
    mov     x0, #3
    bl      deadline
2:  cmp     x18, x20
    b.ne    4f
    mrs     x9, cntvct_el0
    cmp     x9, x0
    b.lo    2b
    count   C_ALOST
4:  subs    x27, x27, #1
    b.ne    1b
3:  str     wzr, [x26, #RTCIMSC]
    count   C_RTC
    adr     x0, s_alarm
    mov     x1, x18
    bl      putkv

    // 4. MSI garbage: find the capability (x20 = its offset, 0: none)
    mov     x0, #PCI_CAP_PTR
    bl      cfg_r8
    and     x20, x0, #0xfc
1:  cbz     x20, 2f
    mov     x0, x20
    bl      cfg_r8
    cmp     x0, #PCI_CAP_ID_MSI
    b.eq    2f
    add     x0, x20, #1
    bl      cfg_r8
    and     x20, x0, #0xfc
    b       1b
2:  str     x20, [x19, #C_MSICAP]
    cbz     x20, 5f
    rand
    add     x0, x20, #4             // message address (low)
    mov     x1, x16
    bl      cfg_w32
    rand
    add     x0, x20, #8             // message address (high) or data (32-bit capability)
    mov     x1, x16
    bl      cfg_w32
    rand
    add     x0, x20, #12            // data (64-bit capability) or past it
    mov     x1, x16
    bl      cfg_w32
    rand
    and     w1, w16, #0x70          // Multiple Message Enable: garbage
    orr     w1, w1, #1              // MSI enable
    add     x0, x20, #2
    bl      cfg_w16
    ldr     x27, [x19, #P_NSTORM]
1:  count   C_MSI
    str     w27, [x25, #IRQ_RAISE]
    subs    x27, x27, #1
    b.ne    1b
    add     x0, x20, #2
    mov     x1, #0                  // MSI off: back to INTx
    bl      cfg_w16
5:  mov     x0, #PCI_COMMAND        // INTx back on whatever a garbage write did
    mov     x1, #CMD_MEM_MASTER
    bl      cfg_w16
    //    INTx storm: raises back to back, the handler acknowledging as they come
    mov     x20, x28
    ldr     x27, [x19, #P_NSTORM]
1:  count   C_STORM
    mov     w9, #1
    lsl     w9, w9, w27             // a different status bit each time (shift modulo 32)
    str     w9, [x25, #IRQ_RAISE]
    subs    x27, x27, #1
    b.ne    1b
    mov     x0, #1                  // let the last ones arrive
    bl      deadline
2:  mrs     x9, cntvct_el0
    cmp     x9, x0
    b.lo    2b
    adr     x0, s_storm
    sub     x1, x28, x20
    bl      putkv

    // 4b. MSI-X garbage (a second function, when the VMM gave one): BAR0 placed, MSI-X enabled,
    //     then reads and garbage writes of every width at random entries of its table and at its
    //     PBA, P_NHAMMER rounds; MSI-X disabled again. Only a table and PBA in BAR0 are hammered.
    ldr     x9, [x19, #P_XFN]
    cbz     x9, 9f
    ldr     x23, [x19, #P_ECAM]
    add     x23, x23, x9            // its config space
    ldr     x4, [x19, #P_XBAR]
    str     w4, [x23, #PCI_BAR0]
    str     wzr, [x23, #PCI_BAR0 + 4]   // the upper half of a 64-bit BAR0 (BAR1)
    mov     w9, #CMD_MEM_MASTER
    strh    w9, [x23, #PCI_COMMAND]
    ldrb    w7, [x23, #PCI_CAP_PTR]
    countn  C_ECAM, #4
    and     x7, x7, #0xfc
1:  cbz     x7, 9f
    ldrb    w9, [x23, x7]
    count   C_ECAM
    cmp     w9, #PCI_CAP_ID_MSIX
    b.eq    2f
    add     x9, x7, #1
    ldrb    w7, [x23, x9]
    count   C_ECAM
    and     x7, x7, #0xfc
    b       1b
2:  add     x9, x7, #4
    ldr     w6, [x23, x9]           // table: offset | BIR
    add     x9, x7, #8
    ldr     w5, [x23, x9]           // PBA: offset | BIR
    countn  C_ECAM, #2
    orr     w9, w6, w5
    tst     w9, #7
    b.ne    9f                      // not both in BAR0
    and     x6, x6, #0xfffffff8
    and     x5, x5, #0xfffffff8
    add     x6, x6, x4              // the table's guest address
    add     x5, x5, x4              // the PBA's
    add     x9, x7, #2
    mov     w10, #MSIX_ENABLE
    strh    w10, [x23, x9]
    count   C_ECAM
    ldr     x27, [x19, #P_NHAMMER]
    cbz     x27, 5f
3:  mov     x20, #0
4:  mov     x9, #1
    lsl     x9, x9, x20
    sub     x9, x9, #1
    rand
    and     x0, x16, #0x3ff         // the first 64 entries
    bic     x0, x0, x9
    add     x0, x0, x6
    bl      hit
    rand
    and     x0, x16, #0x7
    bic     x0, x0, x9
    add     x0, x0, x5
    bl      hit
    countn  C_MSIX, #4
    add     x20, x20, #1
    cmp     x20, #4
    b.lo    4b
    tst     x27, #0xff              // a "." line every 256 rounds left, as in the hammer
    b.ne    6f
    adr     x0, s_dot
    bl      puts
6:  subs    x27, x27, #1
    b.ne    3b
5:  add     x9, x7, #2
    strh    wzr, [x23, x9]          // MSI-X off
    count   C_ECAM
9:  adr     x0, s_msix
    ldr     x1, [x19, #C_MSIX]
    bl      putkv

    // 5. hammer
    ldr     x27, [x19, #P_NHAMMER]
    cbz     x27, 9f
1:  mov     x20, #0                 // width code: 0..3 = 1, 2, 4, 8 bytes
2:  mov     x9, #1
    lsl     x9, x9, x20
    sub     x9, x9, #1              // the width's alignment mask
    // the pl031's window
    rand
    and     x0, x16, #0xfff
    bic     x0, x0, x9
    add     x0, x0, x26
    bl      hit
    countn  C_RTC, #2
    // the edu's config space, header to past its end
    rand
    and     x0, x16, #0xfff
    bic     x0, x0, x9
    add     x0, x0, x24
    bl      hit
    countn  C_ECAM, #2
    // anywhere in the ECAM window: other functions, nobody there
    rand
    and     x0, x16, #0xfffff
    bic     x0, x0, x9
    ldr     x10, [x19, #P_ECAM]
    add     x0, x0, x10
    bl      hit
    countn  C_ECAM, #2
    // nothing behind it
    rand
    and     x0, x16, #0xffff
    bic     x0, x0, x9
    ldr     x10, [x19, #P_HOLE]
    add     x0, x0, x10
    bl      hit
    countn  C_HOLE, #2
    // misaligned (2, 4 and 8 bytes): faults in the guest
    cbz     x20, 3f
    add     x0, x26, #1
    bl      hit
    countn  C_RTC, #2
    add     x0, x24, #1
    bl      hit
    countn  C_ECAM, #2
    ldr     x0, [x19, #P_HOLE]
    add     x0, x0, #3
    bl      hit
    countn  C_HOLE, #2
    countn  C_MIS, #6
3:  add     x20, x20, #1
    cmp     x20, #4
    b.lo    2b
    tst     x27, #0xff              // a "." line every 256 rounds left: a long hammer shows it lives
    b.ne    4f
    adr     x0, s_dot
    bl      puts
4:  subs    x27, x27, #1
    b.ne    1b
9:  adr     x0, s_hammer
    ldr     x1, [x19, #P_NHAMMER]
    bl      putkv

    // 5b. undecodable accesses at the hole: each an external abort from the VMM, skipped
    ldr     x27, [x19, #P_NNISV]
    cbz     x27, 9f
    ldr     x10, [x19, #P_HOLE]
1:  ldp     x0, x1, [x10]           // load pair: no syndrome
    stp     x0, x1, [x10, #16]      // store pair
    mov     x9, x10
    ldr     x0, [x9], #8            // post-indexed: writeback, no syndrome
    countn  C_NISV, #3
    subs    x27, x27, #1
    b.ne    1b
9:  adr     x0, s_nisv
    ldr     x1, [x19, #C_EXTABT]
    bl      putkv

    // 6. restore
    ldr     x20, [x19, #C_MSICAP]
    cbz     x20, 2f
    add     x0, x20, #2
    mov     x1, #0
    bl      cfg_w16
2:  mov     x0, #PCI_BAR0
    mov     x1, x25
    bl      cfg_w32
    mov     x0, #PCI_COMMAND
    mov     x1, #CMD_MEM_MASTER
    bl      cfg_w16
    str     wzr, [x26, #RTCIMSC]
    mov     w9, #1
    str     w9, [x26, #RTCICR]
    countn  C_RTC, #2

    // 6b. MSI through the ITS
    ldr     x27, [x19, #P_NMSI]
    ldr     x20, [x19, #C_MSICAP]
    cbz     x27, 9f
    cbz     x20, 9f
    ldr     x5, [x19, #P_ITS]
    ldr     x6, [x19, #P_ITSMEM]
    ldr     x4, [x19, #P_GICR]
    ldr     x7, [x19, #P_EVENT]
    //    the LPI's property byte, the redistributor's tables, LPIs on
    add     x9, x6, #ITS_PROP
    mov     w10, #LPI_PRIO_EN
    strb    w10, [x9, x7]           // LPI 8192 + event: byte `event` of the table
    add     x9, x9, #LPI_ID_BITS
    str     x9, [x4, #GICR_PROPBASER]
    str     x6, [x4, #GICR_PENDBASER]   // ITS_PEND is 0: the area's base
    mov     w9, #1
    str     w9, [x4, #GICR_CTLR]
    //    the ITS: flat device and collection tables, the command queue (4 KiB each), enabled
    add     x9, x6, #ITS_DEV
    orr     x9, x9, #VALID
    str     x9, [x5, #GITS_BASER]
    add     x9, x6, #ITS_COLL
    orr     x9, x9, #VALID
    str     x9, [x5, #GITS_BASER + 8]
    add     x9, x6, #ITS_CMDQ
    orr     x9, x9, #VALID
    str     x9, [x5, #GITS_CBASER]
    mov     w9, #1
    str     w9, [x5, #GITS_CTLR]
    //    commands (32 bytes each; the queue's RAM is zero, so only the non-zero words are written)
    add     x3, x6, #ITS_CMDQ
    ldr     x10, [x19, #P_DEVID]
    lsl     x10, x10, #32
    mov     x9, #0x08               // MAPD devid, 5 event ID bits, ITT, valid
    orr     x9, x9, x10
    str     x9, [x3, #0]
    mov     x9, #4
    str     x9, [x3, #8]
    add     x9, x6, #ITS_ITT
    orr     x9, x9, #VALID
    str     x9, [x3, #16]
    mov     x9, #0x09               // MAPC collection 0 -> RDbase 0 (vCPU 0), valid
    str     x9, [x3, #32]
    mov     x9, #VALID
    str     x9, [x3, #48]
    mov     x9, #0x0a               // MAPTI devid, event -> LPI, collection 0
    orr     x9, x9, x10
    str     x9, [x3, #64]
    add     x9, x7, #LPI_BASE
    orr     x9, x7, x9, lsl #32
    str     x9, [x3, #72]
    mov     x9, #0x0c               // INV devid, event: the property byte read again
    orr     x9, x9, x10
    str     x9, [x3, #96]
    str     x7, [x3, #104]
    mov     x9, #0x05               // SYNC RDbase 0
    str     x9, [x3, #128]
    mov     x9, #160
    str     x9, [x5, #GITS_CWRITER]
1:  ldr     x10, [x5, #GITS_CREADR]
    cmp     x10, x9
    b.ne    1b
    //    the edu's MSI capability: GITS_TRANSLATER, the event, enabled
    add     x0, x20, #4
    add     x1, x5, #0x10, lsl #12
    add     x1, x1, #0x40
    bl      cfg_w32
    add     x0, x20, #2
    bl      cfg_r8
    tst     x0, #0x80               // 64-bit address: data at +12
    mov     x9, #8
    mov     x10, #12
    csel    x3, x10, x9, ne
    b.eq    2f
    add     x0, x20, #8
    mov     x1, #0
    bl      cfg_w32
2:  add     x0, x20, x3
    mov     x1, x7
    bl      cfg_w32
    add     x0, x20, #2
    mov     x1, #1
    bl      cfg_w16
    adr     x0, s_lready
    add     x1, x7, #LPI_BASE
    bl      putkv
    //    ping-pong
1:  mov     x6, x29
    count   C_LRAISE
    mov     w9, #1
    str     w9, [x25, #IRQ_RAISE]
    mov     x0, #2
    bl      deadline
2:  cmp     x29, x6
    b.ne    4f
    mrs     x9, cntvct_el0
    cmp     x9, x0
    b.lo    2b
    count   C_LLOST
    ldr     x9, [x19, #C_LLOST]
    cmp     x9, #LOST_GIVE_UP
    b.hs    6f
4:  tst     x27, #0x3fff            // a "." line every 16384 raises left
    b.ne    5f
    adr     x0, s_dot
    bl      puts
5:  subs    x27, x27, #1
    b.ne    1b
6:  adr     x0, s_ltaken
    mov     x1, x29
    bl      putkv
    mov     x0, #1                  // a doubled one would arrive in this second
    bl      deadline
2:  mrs     x9, cntvct_el0
    cmp     x9, x0
    b.lo    2b
    adr     x0, s_lsettled          // while MSI is on: the host's vfio-msi count is still there
    mov     x1, x29
    bl      putkv
    add     x0, x20, #2             // MSI off: INTx again
    mov     x1, #0
    bl      cfg_w16
    mov     x0, #PCI_COMMAND
    mov     x1, #CMD_MEM_MASTER
    bl      cfg_w16
    b       8f
9:  adr     x0, s_lsettled
    mov     x1, x29
    bl      putkv
8:

    // 7. DMA: the round trip, then outside RAM
    adr     x22, vectors            // RAM base (the image's first byte) = IOVA
    add     x23, x22, #SRC_OFF
    adr     x9, pattern
    ldp     x10, x11, [x9]
    stp     x10, x11, [x23]
    add     x23, x22, #DST_OFF
    stp     xzr, xzr, [x23]
    add     x0, x22, #SRC_OFF
    mov     x1, #EDU_BUF
    mov     x2, #0
    bl      dma
    mov     x0, #EDU_BUF
    add     x1, x22, #DST_OFF
    mov     x2, #DMA_TO_RAM
    bl      dma
    ldp     x10, x11, [x9]
    add     x23, x22, #DST_OFF
    ldp     x12, x1, [x23]
    cmp     x10, x12
    ccmp    x11, x1, #0, eq
    cset    x1, eq
    str     x1, [x19, #C_SAME]
    adr     x0, s_same
    bl      putkv
    ldr     x27, [x19, #P_NOUT]
    add     x20, x19, #P_OUT
    cbz     x27, 3f
1:  ldr     x0, [x20], #8
    tbz     x27, #0, 2f
    mov     x1, x0                  // odd: edu -> outside
    mov     x0, #EDU_BUF
    mov     x2, #DMA_TO_RAM
    b       4f
2:  mov     x1, #EDU_BUF            // even: outside -> edu
    mov     x2, #0
4:  mov     x3, #OUT_LEN
    bl      dma_n
    count   C_OUT
    subs    x27, x27, #1
    b.ne    1b
3:  adr     x0, s_out
    ldr     x1, [x19, #C_OUT]
    bl      putkv

    // 8. the counts, off
    msr     daifset, #2
    adr     x20, names
    mov     x27, #C_ECAM
1:  ldrb    w9, [x20]
    cbz     w9, 2f
    mov     x0, x20
    ldr     x1, [x19, x27]
    bl      putkv
3:  ldrb    w9, [x20], #1           // past the name's NUL
    cbnz    w9, 3b
    add     x27, x27, #8
    cmp     x27, #C_SAME
    b.ne    1b
    mov     x27, #C_RTC_IRQ         // the handlers' counters next
    b       1b
2:  adr     x0, s_off
    bl      puts
    ldr     x0, =PSCI_SYSTEM_OFF
    hvc     #0
3:  b       3b

// hit: at x0, a read and a garbage write of width code x20 (0..3); clobbers x1, x9-x10 (kept: x9 is
// restored), and the write's value is the random state.
hit:
    mov     x10, x9
    cmp     x20, #1
    b.eq    2f
    b.hi    4f
    ldrb    w1, [x0]
    strb    w16, [x0]
    b       9f
2:  ldrh    w1, [x0]
    strh    w16, [x0]
    b       9f
4:  cmp     x20, #3
    b.eq    8f
    ldr     w1, [x0]
    str     w16, [x0]
    b       9f
8:  ldr     x1, [x0]
    str     x16, [x0]
9:  mov     x9, x10
    ret

// deadline: x0 = the generic timer's count x0 seconds from now. Clobbers x9.
deadline:
    mrs     x9, cntfrq_el0
    mul     x0, x0, x9
    mrs     x9, cntvct_el0
    add     x0, x0, x9
    ret

// Config space of the edu through ECAM, counted: cfg_r8 x0 offset -> x0; cfg_w16/cfg_w32 x0 offset, x1 value.
cfg_r8:
    ldrb    w0, [x24, x0]
    count   C_ECAM
    ret
cfg_w16:
    strh    w1, [x24, x0]
    count   C_ECAM
    ret
cfg_w32:
    str     w1, [x24, x0]
    count   C_ECAM
    ret

// putkv: "= <x0 string> <x1 as 8 hex digits>\n". Clobbers x0, x1, x8, x9, x10.
putkv:
    mov     x8, x30
    mov     x10, x0
    mov     w9, #'='
    strb    w9, [x21]
    mov     w9, #' '
    strb    w9, [x21]
    mov     x0, x10
    mov     x10, x1
    bl      puts
    mov     w9, #' '
    strb    w9, [x21]
    mov     x0, x10
    mov     x1, #8
    bl      puthex
    mov     w9, #'\n'
    strb    w9, [x21]
    mov     x30, x8
    ret

// dma: x0 source, x1 destination, x2 direction bits, LEN bytes (dma_n: x3 bytes); waits until
// edu clears START. Clobbers x3, x10 (x9 is kept).
dma:
    mov     x3, #LEN
dma_n:
    mov     x10, x9
    str     x0, [x25, #DMA_SRC]
    str     x1, [x25, #DMA_DST]
    str     x3, [x25, #DMA_COUNT]
    orr     w9, w2, #DMA_START
    str     w9, [x25, #DMA_CMD]
2:  ldr     w9, [x25, #DMA_CMD]
    tbnz    w9, #0, 2b
    mov     x9, x10
    ret

    .include "console.inc"
    .include "gic.inc"

    .balign 8
pattern: .ascii "vfiokit hostile!"
s_hello: .asciz "hostile\n"
s_id:    .asciz "edu-id"
s_irq:   .asciz "irq-taken"
s_spur:  .asciz "irq-empty"
s_alarm: .asciz "alarms-taken"
s_storm: .asciz "storm-taken"
s_hammer: .asciz "hammer-rounds"
s_same:  .asciz "dma-same"
s_out:   .asciz "dma-outside"
s_off:   .asciz "off\n"
s_dot:   .asciz ".\n"
s_msix:  .asciz "msix-accesses"
s_nisv:  .asciz "nisv-aborts"
s_lready: .asciz "lpi-ready"
s_ltaken: .asciz "lpi-taken"
s_lsettled: .asciz "lpi-settled"
// the counters' names, in C_* order from C_ECAM to C_SAME (exclusive), then C_RTC_IRQ..C_OTHER
names:   .asciz "ecam"
         .asciz "rtc"
         .asciz "hole"
         .asciz "misaligned"
         .asciz "raised"
         .asciz "lost"
         .asciz "alarms-armed"
         .asciz "alarms-lost"
         .asciz "msi-raised"
         .asciz "storm-raised"
         .asciz "outside"
         .asciz "rtc-irq"
         .asciz "faults"
         .asciz "other-exceptions"
         .asciz "lpi-raised"
         .asciz "lpi-lost"
         .asciz "nisv-tried"
         .asciz "ext-aborts"
         .asciz "lpi-empty"
         .byte 0
    .balign 8
    .ltorg


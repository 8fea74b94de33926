// `vfiokit/vmm`: vfiokit's own VMM, as a library. runVm boots an arm64 Linux guest with host
// devices passed through by name (platform, AMBA, PCI, any mix), on N vCPUs with a vGICv3 + ITS,
// PSCI, a PL011 console, a platform bus and an ECAM host bridge; `vfiokit run` is its command.
// The machine's parts are exported too, for a VMM of one's own (the mini-vmm example's bare-metal
// guests use them): the KVM layer (Vm, Vcpu), the KVM ABI as data (abi), the board's layout and
// tree, the PL011 model, the ECAM host bridge and the PCI function room.
// Built on `vfiokit` and `vfiokit/sys` alone (test/unit/house: src/vmm imports nothing else of
// src/). test/unit/api/exports.test.ts pins the names; docs/API.md and docs/VMM.md describe them.
export { runVm, checkPool, attachOrder, fillBelowFloor, EVENT_LOOP_TURN_MS, MAX_STRAY_ADDRS, UV_DEFAULT_POOL, POOL_THREADS_SPARE, KICK_INTERVAL_MS, TICK_MS } from './vmm/run.js';
export { checkConfig, runModeFor, zeroCounts, VM_DEFAULT_BOOTARGS, MAX_MMAP_TIMEOUT_MS } from './vmm/config.js';
export type { VmConfig, VmDeviceSpec, VmReport, VmDeviceReport, VmEvent, VmEnd, VmExitCounts, RunMode, ResolvedDeviceSpec } from './vmm/config.js';
export { preflight, Preflight } from './vmm/preflight.js';
export type { PreflightOptions, PreflightDevice, RestoreResult } from './vmm/preflight.js';
export { parseDeviceSpec, optionsRefusedBy, kindsTaking, DEVICE_OPTIONS, PLACEMENT_ALIGN, MAX_GUEST_ADDRESS } from './vmm/device-spec.js';
export type { DeviceOptionRow, ParsedDeviceSpec } from './vmm/device-spec.js';
export { ATTACH_ROWS, attachRowFor } from './vmm/attach.js';
export type { AttachRow, AttachContext, AttachedDevice } from './vmm/attach.js';
export { BOARD, layoutFor, firstOverlap, MAX_VCPUS, MIN_RAM_BYTES, MIN_IPA_BITS, MAX_IPA_BITS } from './vmm/layout.js';
export type { VmLayout, GuestRange } from './vmm/layout.js';
export { parseImageHeader, bootLayout, IMAGE_BASE_OFFSET, DTB_MAX } from './vmm/image.js';
export type { ImageHeader, BootLayout } from './vmm/image.js';
export { Vm, Vcpu, KVM_CAP_ARM_VM_IPA_SIZE, KVM_DEFAULT_IPA_BITS, KVM_MEM_READONLY } from './vmm/kvm.js';
export type { GuestRam, GicLayout, VmState } from './vmm/kvm.js';
export { completeMmioRead, decodeExit, irqLevel, xreg, REG_PC, REG_PSTATE, SPI_BASE, GICD_SIZE, GICR_SIZE_PER_CPU, GITS_SIZE } from './vmm/abi.js';
export type { Exit, ExitAction, ExitReason } from './vmm/abi.js';
export { boardDtb, ARCH_TIMER_PPIS, FIRST_DEVICE_PHANDLE, MAX_BOARD_CPUS, PCI_SPACE_MEM32 } from './vmm/board.js';
export type { BoardDtbRequest, PciHostDt } from './vmm/board.js';
export { Pl011Console, pl011ReadPage, PL011_SIZE, UART_DR, UART_FR, UART_FR_TXFE, UART_FR_RXFE } from './vmm/pl011.js';
export { EcamHost, decodeEcam, ecamOffset, ecamSize, requesterId, intxSpi, PCI_CONFIG_SPACE, PCI_INTERRUPT_PIN } from './vmm/ecam.js';
export type { EcamAddress, EcamCounts, ConfigSpace } from './vmm/ecam.js';
export { PciFunction } from './vmm/pci-function.js';
export type { PciFunctionOptions, PciFunctionCounts } from './vmm/pci-function.js';
export { KICK_SIGNAL, installKickHandler, kickVcpus, threadsInKvmRun, startTicker } from './vmm/kick.js';

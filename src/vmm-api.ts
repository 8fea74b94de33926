// `vfiokit/vmm`: vfiokit's own VMM, as a library. runVm boots an arm64 Linux guest with host
// devices passed through by name (platform, AMBA, PCI, any mix), on N vCPUs with a vGICv3 + ITS,
// PSCI, a PL011 console, a platform bus and an ECAM host bridge; `vfiokit run` is its command.
// preflight (the checks `vfiokit run` makes before a guest starts, and --bind's undo) and the
// --device syntax go with it. Beside them, the parts a VMM of one's own reuses (the mini-vmm
// example's bare-metal guests do): the KVM layer (Vm, Vcpu), the exit decoding it needs, the board's map and tree, and the arm64
// boot protocol. Built on `vfiokit` and `vfiokit/sys` alone (test/unit/house: src/vmm imports
// nothing else of src/). test/unit/api/exports.test.ts pins the names; docs/API.md and
// docs/VMM.md describe them.
export { runVm } from './vmm/run.js';
export { VM_DEFAULT_BOOTARGS } from './vmm/config.js';
export type { VmConfig, VmDeviceSpec, VmReport, VmDeviceReport, VmEvent, VmEnd, VmExitCounts, RunMode } from './vmm/config.js';
export { preflight, Preflight } from './vmm/preflight.js';
export type { PreflightOptions, PreflightDevice, RestoreResult } from './vmm/preflight.js';
export { parseDeviceSpec, DEVICE_OPTIONS } from './vmm/device-spec.js';
export type { DeviceOptionRow, ParsedDeviceSpec } from './vmm/device-spec.js';
export { BOARD, MAX_VCPUS, MIN_RAM_BYTES } from './vmm/layout.js';
export { parseImageHeader, bootLayout } from './vmm/image.js';
export type { ImageHeader, BootLayout } from './vmm/image.js';
export { Vm, Vcpu } from './vmm/kvm.js';
export type { GuestRam, GicLayout, VmState } from './vmm/kvm.js';
export { completeMmioRead, xreg, REG_PC } from './vmm/abi.js';
export type { Exit } from './vmm/abi.js';
// An MMIO access KVM cannot decode (KVM_EXIT_ARM_NISV): the policy runVm applies, for a VMM's own loop.
export { NISV_POLICIES, nisvPolicy, setUpNisv, answerNisv } from './vmm/nisv.js';
export type { NisvPolicy } from './vmm/nisv.js';
export { boardDtb, FIRST_DEVICE_PHANDLE } from './vmm/board.js';
export type { BoardDtbRequest, PciHostDt } from './vmm/board.js';
export type { PciFunctionCounts } from './vmm/pci-function.js';
// The host bridge's ECAM routing and the PCI numbering around it, for a VMM that runs its own loop
// (the mini-vmm's hostile guest: examples/mini-vmm/hostile.ts).
export { EcamHost, intxSpi, requesterId, PCI_INTERRUPT_PIN } from './vmm/ecam.js';
// The VM's registry of guest-placed BAR memslots (a misplaced BAR refused, not the VM ended).
export { BarSlots } from './vmm/bar-slots.js';
export type { BarSlotCounts } from './vmm/bar-slots.js';
export type { EcamCounts, ConfigSpace } from './vmm/ecam.js';

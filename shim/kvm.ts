// One function per KVM ioctl (include/uapi/linux/kvm.h, arm64 asm/kvm.h) that vfiokit needs to
// hand a device to a VM: the VM, the VFIO KVM device, irqfds, memslots, and the vCPU calls the
// lab's nested test uses. Struct buffers are caller-built. Failures throw VfioError (see sys.ts).
// Not responsible for: running a VM (a VMM does), struct layouts, fd ownership.
import type { Sys } from './sys.js';
import {
  KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT, KVM_CHECK_EXTENSION, KVM_CREATE_DEVICE, KVM_CREATE_VCPU, KVM_CREATE_VM,
  KVM_GET_API_VERSION, KVM_GET_ONE_REG, KVM_GET_VCPU_MMAP_SIZE, KVM_IRQ_LINE, KVM_IRQFD, KVM_RUN, KVM_SET_DEVICE_ATTR,
  KVM_SET_ONE_REG, KVM_SET_USER_MEMORY_REGION, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI,
} from './ioctl.js';

/** /dev/kvm fd: KVM_API_VERSION (12). */
export const getApiVersion = (sys: Sys, kvm: number): number => sys.ioctl(kvm, KVM_GET_API_VERSION, null, 'KVM_GET_API_VERSION');
/** /dev/kvm fd: a new VM fd; `type` is the machine type (0, or the IPA size on arm64). */
export const createVm = (sys: Sys, kvm: number, type = 0): number => sys.ioctlValue(kvm, KVM_CREATE_VM, type, 'KVM_CREATE_VM');
/** /dev/kvm or VM fd: 0 when the capability is absent, else a positive value. */
export const checkExtension = (sys: Sys, fd: number, cap: number): number => sys.ioctlValue(fd, KVM_CHECK_EXTENSION, cap, 'KVM_CHECK_EXTENSION');
/** /dev/kvm fd: the size of the kvm_run mapping of a vCPU fd. */
export const getVcpuMmapSize = (sys: Sys, kvm: number): number => sys.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, null, 'KVM_GET_VCPU_MMAP_SIZE');
/** VM fd: struct kvm_irqfd {fd, gsi, flags, resamplefd, pad[16]} (32 bytes). */
export const irqfd = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_IRQFD, arg, 'KVM_IRQFD');
/** VM fd: struct kvm_create_device {type, fd, flags} (12 bytes): the kernel fills fd. */
export const createDevice = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_CREATE_DEVICE, arg, 'KVM_CREATE_DEVICE');
/** KVM device fd: struct kvm_device_attr {flags, group, attr, addr} (24 bytes). */
export const setDeviceAttr = (sys: Sys, device: number, arg: Uint8Array): number => sys.ioctl(device, KVM_SET_DEVICE_ATTR, arg, 'KVM_SET_DEVICE_ATTR');
/** VM fd: struct kvm_userspace_memory_region {slot, flags, guest_phys_addr, memory_size, userspace_addr} (32 bytes). */
export const setUserMemoryRegion = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_SET_USER_MEMORY_REGION, arg, 'KVM_SET_USER_MEMORY_REGION');
/** VM fd: a new vCPU fd. */
export const createVcpu = (sys: Sys, vm: number, id: number): number => sys.ioctlValue(vm, KVM_CREATE_VCPU, id, 'KVM_CREATE_VCPU');
/** vCPU fd: runs until an exit (blocking: the caller decides on which thread). */
export const run = (sys: Sys, vcpu: number): number => sys.ioctl(vcpu, KVM_RUN, null, 'KVM_RUN');
/** vCPU fd (arm64): struct kvm_vcpu_init {target, features[7]} (32 bytes). */
export const armVcpuInit = (sys: Sys, vcpu: number, arg: Uint8Array): number => sys.ioctl(vcpu, KVM_ARM_VCPU_INIT, arg, 'KVM_ARM_VCPU_INIT');
/** VM fd (arm64): fills struct kvm_vcpu_init with the preferred target. */
export const armPreferredTarget = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_ARM_PREFERRED_TARGET, arg, 'KVM_ARM_PREFERRED_TARGET');
/** vCPU fd: struct kvm_one_reg {id, addr} (16 bytes); addr points at the value to write. */
export const setOneReg = (sys: Sys, vcpu: number, arg: Uint8Array): number => sys.ioctl(vcpu, KVM_SET_ONE_REG, arg, 'KVM_SET_ONE_REG');
/** vCPU fd: struct kvm_one_reg {id, addr}; the kernel writes the value at addr. */
export const getOneReg = (sys: Sys, vcpu: number, arg: Uint8Array): number => sys.ioctl(vcpu, KVM_GET_ONE_REG, arg, 'KVM_GET_ONE_REG');
/** VM fd: struct kvm_irq_level {irq, level} (8 bytes). */
export const irqLine = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_IRQ_LINE, arg, 'KVM_IRQ_LINE');
/** VM fd: struct kvm_irq_routing {nr, flags, entries[nr]} (8 + 48 x nr bytes): replaces the routing table. */
export const setGsiRouting = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_SET_GSI_ROUTING, arg, 'KVM_SET_GSI_ROUTING');
/** VM fd: struct kvm_msi {address_lo, address_hi, data, flags, devid, pad[12]} (32 bytes): > 0 delivered, 0 blocked by the guest. */
export const signalMsi = (sys: Sys, vm: number, arg: Uint8Array): number => sys.ioctl(vm, KVM_SIGNAL_MSI, arg, 'KVM_SIGNAL_MSI');

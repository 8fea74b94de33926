// `vfiokit/sys`: the system calls a VMM makes on fds and memory of its own (its KVM fds, its
// eventfds, its guest RAM), through the same checked layer vfiokit uses: every failure is a
// VfioError with errno, its name and the call. A small set on purpose: what a VMM beside
// vfiokit needs and JavaScript cannot do (ioctl, mmap, a zero-copy view, eventfds, watching an fd
// on Node's loop), the KVM numbers vfiokit pins, and the _IOC helpers for the VMM's other ioctl
// numbers. Nothing here owns anything: what the caller opens or maps, the caller closes or unmaps.
// test/unit/api/exports.test.ts pins every name below; docs/API.md says why it is an entry point
// of its own.
import { processSys } from './device/context.js';
import { checkedHostSys, type HostSys } from '../shim/sys.js';

export type { HostSys } from '../shim/sys.js';
export type { WatchFn } from './eventfd/dispatcher.js';

let host: HostSys | undefined;
/** The process's checked system-call layer over the C library (the one openDevice uses), with
 *  every argument checked first: a wrong one throws VfioError 'bad-argument' naming it. */
export function hostSys(): HostSys { return host ??= checkedHostSys(processSys()); }

export { O_RDWR, O_CLOEXEC, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, EFD_NONBLOCK, EFD_CLOEXEC } from '../shim/libc.js';
export { _IO, _IOR, _IOW, _IOWR } from '../shim/ioctl.js';
// The KVM uapi vfiokit itself uses (wireIrqfd, the KVM-VFIO device) and pins against C compiled with
// the kernel's headers for x86-64 and arm64 (test/unit/shim/ioctl-numbers.test.ts): a VMM's KVM
// code takes them from here rather than writing them again.
export {
  KVMIO, KVM_API_VERSION, KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VCPU,
  KVM_SET_USER_MEMORY_REGION, KVM_IRQ_LINE, KVM_IRQFD, KVM_RUN, KVM_GET_ONE_REG, KVM_SET_ONE_REG, KVM_ARM_VCPU_INIT,
  KVM_ARM_PREFERRED_TARGET, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE, KVM_CAP_DEVICE_CTRL,
  KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL, KVM_IRQFD_FLAG_DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE, KVM_CREATE_DEVICE_TEST, SIZEOF_KVM_IRQFD, SIZEOF_KVM_CREATE_DEVICE, SIZEOF_KVM_DEVICE_ATTR,
  SIZEOF_KVM_USERSPACE_MEMORY_REGION, SIZEOF_KVM_VCPU_INIT, SIZEOF_KVM_ONE_REG, SIZEOF_KVM_IRQ_LEVEL,
  KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI, KVM_CAP_IRQ_ROUTING, KVM_CAP_SIGNAL_MSI, KVM_CAP_MSI_DEVID, KVM_IRQ_ROUTING_IRQCHIP,
  KVM_IRQ_ROUTING_MSI, KVM_MSI_VALID_DEVID, SIZEOF_KVM_IRQ_ROUTING, SIZEOF_KVM_IRQ_ROUTING_ENTRY, SIZEOF_KVM_MSI,
  KVM_ENABLE_CAP, KVM_SET_VCPU_EVENTS, KVM_CAP_ARM_NISV_TO_USER, KVM_CAP_ARM_INJECT_EXT_DABT, SIZEOF_KVM_ENABLE_CAP, SIZEOF_KVM_VCPU_EVENTS,
} from '../shim/ioctl.js';
// struct kvm_irqfd has one encoder (vfiokit's own irqfd wiring uses it): a VMM's KVM code uses it too.
export { encodeKvmIrqfd, encodeKvmIrqRouting, encodeKvmMsi } from '../shim/uapi/kvm.js';
export type { KvmIrqfd, KvmIrqRoute, KvmMsi } from '../shim/uapi/kvm.js';

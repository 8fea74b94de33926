// The shim's entry: the Libc boundary, the checked layer, and the ioctls grouped by subsystem.
// Not responsible for: anything that holds state or decides (src/ does).
export * from './libc';
export * from './sys';
export * from './ioctl';
export * from './errno';
export * as vfio from './vfio';
export * as iommufd from './iommufd';
export * as kvm from './kvm';

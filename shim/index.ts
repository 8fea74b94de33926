// The shim's entry: the Libc boundary, the checked layer, and the ioctls grouped by subsystem.
// Not responsible for: anything that holds state or decides (src/ does).
export * from './libc.js';
export * from './sys.js';
export * from './ioctl.js';
export * from './errno.js';
export * from './paths.js';
export * as vfio from './vfio.js';
export * as iommufd from './iommufd.js';
export * as kvm from './kvm.js';

// The VFIO reply decoders, request encoders, the argsz query loop and the uapi constants.
export * from './uapi';
export * from './decode';
export * from './encode';
export * from './query';
export * from './iommufd';

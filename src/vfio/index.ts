// The VFIO reply decoders, request encoders, the argsz query loop and the uapi constants.
export * from './uapi.js';
export * from './decode.js';
export * from './encode.js';
export * from './query.js';
export * from './iommufd.js';

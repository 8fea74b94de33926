// The public name of vfiokit's one error class. It lives in the shim (shim/error.ts), the bottom
// layer, so that every layer throws the same class without importing upwards; this module keeps
// the public import path (`vfiokit`'s VfioError, VfioErrorKind) where it always was.
export { VfioError, type VfioErrorKind, type VfioErrorInit } from '../shim/error.js';

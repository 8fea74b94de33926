// Module declarations for what esbuild inlines: the Wasm core comes in as its bytes.
declare module '*.wasm' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}

// esbuild's binary loader (`--loader:.bin=binary`) turns an imported flat guest image into its bytes.
declare module '*.bin' {
  const bytes: Uint8Array;
  export default bytes;
}

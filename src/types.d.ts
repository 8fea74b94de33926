// Module declarations for what esbuild inlines: the Wasm core comes in as its bytes.
declare module '*.wasm' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}

// The WebAssembly JS API subset vfiokit uses. TypeScript only ships it in lib.dom, which would
// bring browser globals into a Node library; these match the WebAssembly JS API spec.
declare namespace WebAssembly {
  interface ModuleImportDescriptor { module: string; name: string; kind: 'function' | 'table' | 'memory' | 'global' }
  interface ModuleExportDescriptor { name: string; kind: 'function' | 'table' | 'memory' | 'global' }
  type ImportValue = Function | Memory | Global | number | bigint;
  type Imports = Record<string, Record<string, ImportValue>>;
  type Exports = Record<string, Function | Memory | Global>;
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static imports(module: Module): ModuleImportDescriptor[];
    static exports(module: Module): ModuleExportDescriptor[];
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Global { value: unknown }
  function instantiate(bytes: ArrayBufferView | ArrayBuffer, imports?: Imports): Promise<{ module: Module; instance: Instance }>;
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}

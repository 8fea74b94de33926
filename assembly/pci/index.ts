// Exports of the pci module (prefix "pci_"), re-exported by assembly/index.ts: BAR decoding, the
// guest's BAR sizing protocol, relocation actions, MSI-X carve-outs, shadow config space.
export {};

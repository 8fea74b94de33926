// The guest's console: one byte per MMIO write to an address no memslot backs, so every byte is an
// exit the VMM sees (no UART model: the guest just stores bytes). Pure: fed decoded exits.
// What the guest does never fails the VMM: a read returns all-ones, a write of another width is
// dropped and counted.
// Not responsible for: running the vCPU (vmm.ts).
export class MmioConsole {
  #bytes: number[] = [];
  /** Accesses at the console address that were not 1-byte writes (dropped or answered all-ones). */
  dropped = 0;
  constructor(readonly addr: bigint) {}
  /** True when the access is the console's: a write is recorded, a read is answered by `reply`. */
  handle(addr: bigint, len: number, isWrite: boolean, data: bigint): { handled: boolean; reply?: bigint } {
    if (addr !== this.addr) return { handled: false };
    if (!isWrite) { this.dropped++; return { handled: true, reply: (1n << BigInt(8 * len)) - 1n }; }
    if (len !== 1) { this.dropped++; return { handled: true }; }
    this.#bytes.push(Number(data & 0xffn));
    return { handled: true };
  }
  get length(): number { return this.#bytes.length; }
  text(): string { return Buffer.from(this.#bytes).toString('latin1'); }
}

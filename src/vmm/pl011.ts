// The least of a PL011 UART that Linux's pl011 earlycon (`earlycon=pl011,mmio32,<addr>`) needs to
// print: it polls FR until TXFF (transmit FIFO full) is clear, writes the byte to DR, then polls FR
// until BUSY is clear. So FR always reads TXFE | RXFE (empty both ways, never busy) and every DR
// write is one console byte. Pure: fed decoded MMIO exits (run.ts), unit-tested anywhere.
// An unbacked address would read all-ones, TXFF set, and earlycon would spin forever: that is why
// the bare byte sink of console.ts is not enough for Linux.
// What the guest does never fails the VMM: other registers read 0, other writes are dropped and
// counted, accesses wider than 32 bits or unaligned are dropped and counted.
// Not responsible for: input (DR reads 0, RXFE is always set), interrupts, the PrimeCell ID
// registers (there is no UART node in the guest's DTB, so no driver probes this; the earlycon
// writes through a fixed mapping and asks nothing).

import { setU32 } from './le.js';

/** Register offsets (ARM PrimeCell UART PL011 TRM, table 3-1). */
export const UART_DR = 0x000, UART_FR = 0x018;
/** FR bits: TXFE 0x80 (transmit FIFO empty), RXFE 0x10 (receive FIFO empty); TXFF 0x20 and BUSY 0x08 stay 0. */
export const UART_FR_TXFE = 0x80, UART_FR_RXFE = 0x10;
/** The MMIO window the UART occupies (QEMU virt's 4 KiB at 0x0900_0000). */
export const PL011_SIZE = 0x1000n;

/** What a read of each register returns, as a page: FR = TXFE | RXFE, every other register 0.
 *  Installed as a read-only memslot over the UART (Vm.addRam readOnly), the earlycon's FR polls
 *  never exit; only its DR writes do (one exit per byte instead of three). */
export function pl011ReadPage(): Uint8Array {
  const page = new Uint8Array(Number(PL011_SIZE));
  setU32(page, UART_FR, UART_FR_TXFE | UART_FR_RXFE);
  return page;
}

export class Pl011Console {
  #bytes: number[] = [];
  #line: number[] = [];
  /** Accesses the model ignores: writes to other registers, bad widths (not an error: counted). */
  ignored = 0;
  /** FR reads: the earlycon polls twice per byte. */
  frReads = 0;
  constructor(readonly base: bigint, private readonly onLine?: (line: string) => void, private readonly onByte?: (byte: number) => void) {}

  /** True when addr is in the UART's window; a read is answered by `reply`. */
  handle(addr: bigint, len: number, isWrite: boolean, data: bigint): { handled: boolean; reply?: bigint } {
    if (addr < this.base || addr - this.base >= PL011_SIZE) return { handled: false };
    const off = Number(addr - this.base);
    if (len > 4 || off % len !== 0) { this.ignored++; return { handled: true, reply: isWrite ? undefined : 0n }; }
    if (isWrite) {
      if (off === UART_DR) this.#byte(Number(data & 0xffn)); else this.ignored++;
      return { handled: true };
    }
    if (off === UART_FR) { this.frReads++; return { handled: true, reply: BigInt(UART_FR_TXFE | UART_FR_RXFE) }; }
    return { handled: true, reply: 0n };
  }

  #byte(b: number): void {
    this.onByte?.(b);
    this.#bytes.push(b);
    if (b === 0x0a) {
      // The earlycon writes "\r\n" for each newline: a line is what comes before it.
      if (this.#line.at(-1) === 0x0d) this.#line.pop();
      this.onLine?.(Buffer.from(this.#line).toString('latin1'));
      this.#line = [];
    } else this.#line.push(b);
  }

  get length(): number { return this.#bytes.length; }
  /** Everything written, with "\r\n" turned into "\n". */
  text(): string { return Buffer.from(this.#bytes).toString('latin1').replace(/\r\n/g, '\n'); }
}

// QEMU's edu PCI device (docs/specs/edu.rst) as the lab tests drive it: its registers, a DMA
// between an IOVA and the device's own buffer, waited for, and the PCI command bits that let it
// master the bus.
// Not responsible for: opening the device or mapping its DMA memory (each test does).
import * as assert from 'uvu/assert';
import type { Mapping, VfioDevice } from '../../src/index';

export const EDU = '0000:00:02.0';
export const ID = 0x00, LIVENESS = 0x04, FACT = 0x08, STATUS = 0x20, IRQ_STATUS = 0x24, IRQ_RAISE = 0x60, IRQ_ACK = 0x64;
export const DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98;
export const DMA_START = 1, DMA_TO_RAM = 2;
/** The device's own 4 KiB buffer, as a DMA address. */
export const EDU_BUF = 0x40000n;
/** vfio-pci's config-space region index. */
export const CONFIG = 7;
const PCI_COMMAND = 0x04, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4;
/** Polls of DMA_CMD, 10 ms apart, before a DMA counts as stuck. */
const DMA_POLLS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One DMA of `count` bytes from `src` to `dst` (cmd DMA_TO_RAM: device buffer to RAM), waited for. */
export async function eduDma(bar: Mapping, src: bigint, dst: bigint, count: number, cmd: number): Promise<void> {
  bar.write64(DMA_SRC, src); bar.write64(DMA_DST, dst); bar.write64(DMA_COUNT, BigInt(count));
  bar.write32(DMA_CMD, cmd | DMA_START);
  for (let i = 0; i < DMA_POLLS && (bar.read32(DMA_CMD) & DMA_START); i++) await sleep(10);
  assert.is(bar.read32(DMA_CMD) & DMA_START, 0, 'the DMA finished');
}

/** Sets memory space and bus master in the device's PCI command register, through VFIO. */
export function enableBusMaster(dev: VfioDevice): void {
  const cfg = dev.regions[CONFIG]!;
  const cmd = Number(cfg.read(PCI_COMMAND, 2));
  cfg.write(PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  assert.is(Number(cfg.read(PCI_COMMAND, 2)) & 0x6, 0x6);
}

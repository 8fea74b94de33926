// Writes the seed inputs of the vfio fuzz target (test/fuzz/corpus/vfio/seed-*): real-shaped kernel
// replies built with the same helpers as the decoder tests, behind the target's selector and
// page-size bytes. Run once with: npx esbuild fuzz/seeds/vfio.ts --bundle --platform=node | node
import { writeFileSync, mkdirSync } from 'node:fs';
import { regionReply, deviceReply, irqReply, type1Reply, sparseCap, msixCap, iovaCap, dmaAvailCap } from '../../test/unit/vfio/replies';

const dir = 'test/fuzz/corpus/vfio';
mkdirSync(dir, { recursive: true });
const seed = (name: string, sel: number, page: number, reply: Uint8Array) => writeFileSync(`${dir}/seed-${name}`, Buffer.concat([Buffer.from([sel, page]), reply]));
seed('pl031-device', 0, 0, deviceReply(0x8, 1, 1));
seed('pl031-region', 1, 0, regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n }));
seed('edu-bar0-sparse-msix', 1, 1, regionReply({ flags: 7, index: 0, size: 0x100000n, offset: 0n, caps: [sparseCap([[0n, 0x8000n], [0x10000n, 0x10000n]]), msixCap()] }));
seed('pl031-irq', 2, 0, irqReply(7, 0, 1));
seed('type1-ranges', 3, 0, type1Reply(0x1000n | 0x200000n, [iovaCap([[0n, 0xfee00000n - 1n], [0xfef00000n, 0xffffffffn]]), dmaAvailCap(65535)]));

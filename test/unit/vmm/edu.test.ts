// The mini-vmm's edu run (examples/mini-vmm/edu.ts), host-independent part: the layout keeps every
// IOVA under edu's 28-bit DMA mask and the stray DMA's target outside guest RAM, and a request that
// breaks either is refused before any device is opened. The run itself is test/lab/vmm-edu.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EDU_DMA_LIMIT, EDU_LAYOUT, runEduGuest } from '../../../examples/mini-vmm/edu';

const tiny = new Uint8Array(16);
const noDevice = 'no-such-device';   // never reached: the checks come first

test('the layout: guest RAM and the stray IOVA below 2^28, the stray IOVA just past guest RAM, buffers inside RAM', () => {
  const { ram, outside, src, dst, len } = EDU_LAYOUT;
  assert.ok(ram.gpa + ram.size <= EDU_DMA_LIMIT);
  assert.ok(outside < EDU_DMA_LIMIT);
  assert.is(outside, ram.gpa + ram.size);
  assert.ok(src + len <= dst && BigInt(dst + len) <= ram.size);
});

test('refused before opening anything: a stray IOVA inside RAM, one above the DMA mask, a guest image over its buffers', () => {
  assert.throws(() => runEduGuest({ guest: tiny, device: noDevice, outside: EDU_LAYOUT.ram.gpa + 0x100n }), /inside guest RAM/);
  assert.throws(() => runEduGuest({ guest: tiny, device: noDevice, outside: EDU_DMA_LIMIT }), /28-bit DMA mask/);
  assert.throws(() => runEduGuest({ guest: new Uint8Array(EDU_LAYOUT.src + 1), device: noDevice }), /overlaps its buffers/);
});

test.run();

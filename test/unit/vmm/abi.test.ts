// The mini-vmm's KVM ABI (examples/mini-vmm/abi.ts): register ids pinned to the values the kernel
// headers give, struct bytes annotated by offset, and the kvm_run exit decoder on crafted exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  completeMmioRead, decodeExit, deviceAttr, EXIT_REASONS, memoryRegion, RUN_DECODED_BYTES, REG_PC, REG_PSTATE,
  withFeature, xreg, KVM_ARM_VCPU_PSCI_0_2,
} from '../../../src/vmm/abi';
import { encodeKvmIrqfd, SIZEOF_KVM_DEVICE_ATTR, SIZEOF_KVM_IRQFD, SIZEOF_KVM_USERSPACE_MEMORY_REGION } from '../../../src/sys-api';
import { MmioConsole } from '../../../examples/mini-vmm/console';
import { waitsIn, type ExitRecord } from '../../../examples/mini-vmm/vmm';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('core register ids: x0, x5, x30, pc, pstate as KVM_REG_ARM64|SIZE_U64|ARM_CORE|offset/4', () => {
  assert.is(xreg(0), 0x6030_0000_0010_0000n);
  assert.is(xreg(5), 0x6030_0000_0010_000an);
  assert.is(xreg(30), 0x6030_0000_0010_003cn);
  assert.is(REG_PC, 0x6030_0000_0010_0040n, 'the id the shim lab test used for pc');
  assert.is(REG_PSTATE, 0x6030_0000_0010_0042n);
});

test('xreg refuses x31 and non-integers (sp is not a general register in kvm_regs)', () => {
  assert.throws(() => xreg(31), /n: 31 is not an integer in 0\.\.30/);
  assert.throws(() => xreg(-1));
  assert.throws(() => xreg(1.5));
});

test('kvm_vcpu_init: the PSCI 0.2 feature is bit 2 of features[0] @4; the target @0 is kept', () => {
  const init = new Uint8Array(32); init[0] = 5;   // target 5 (KVM_ARM_TARGET_GENERIC_V8)
  const out = withFeature(init, KVM_ARM_VCPU_PSCI_0_2);
  assert.is(out[0], 5);
  assert.is(out[4], 0b100);
  assert.is(init[4], 0, 'the input is not modified');
  assert.is(withFeature(init, 33)[8], 0b10, 'bit 33 is features[1] bit 1');
});

test('struct bytes: memory region, device attr, irqfd', () => {
  //                     slot     flags    gpa               size              hva
  assert.is(hex(memoryRegion(1, 0x4000_0000n, 0x1_0000n, 0x7f00_1234_5000n)),
    '01000000' + '00000000' + '0000004000000000' + '0000010000000000' + '0050341200' + '7f0000');
  //                flags    group    attr              addr
  assert.is(hex(deviceAttr(0, 3, 0x1000n)), '00000000' + '00000000' + '0300000000000000' + '0010000000000000');
  //           fd       gsi      flags (RESAMPLE) resamplefd  pad[16]
  assert.is(hex(encodeKvmIrqfd({ fd: 7, gsi: 112, flags: 2, resamplefd: 8 })), '07000000' + '70000000' + '02000000' + '08000000' + '00'.repeat(16));
});

function run(reason: number, fill: (dv: DataView) => void = () => {}): Uint8Array {
  const b = new Uint8Array(RUN_DECODED_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint32(8, reason, true);
  fill(dv);
  return b;
}

test('decodeExit: an MMIO write of one byte (the console)', () => {
  const e = decodeExit(run(6, (dv) => { dv.setBigUint64(32, 0x0900_0000n, true); dv.setUint8(40, 0x41); dv.setUint32(48, 1, true); dv.setUint8(52, 1); }));
  assert.equal(e, { kind: 'mmio', addr: 0x0900_0000n, len: 1, isWrite: true, data: 0x41n });
});

test('decodeExit: an MMIO read of 4 bytes, and completeMmioRead fills data little-endian', () => {
  const b = run(6, (dv) => { dv.setBigUint64(32, 0x0c00_0ff0n, true); dv.setUint32(48, 4, true); });
  assert.equal(decodeExit(b), { kind: 'mmio', addr: 0x0c00_0ff0n, len: 4, isWrite: false, data: 0n });
  completeMmioRead(b, 4, 0xb105f00dn);
  assert.is(hex(b.subarray(40, 48)), '0df005b100000000');
});

test('decodeExit: an MMIO exit with len 0 or 9 is a failure, not a read of the neighbours', () => {
  assert.is(decodeExit(run(6, (dv) => dv.setUint32(48, 0, true))).kind, 'fail');
  assert.is(decodeExit(run(6, (dv) => dv.setUint32(48, 9, true))).kind, 'fail');
});

test('decodeExit: SYSTEM_EVENT shutdown (PSCI SYSTEM_OFF) with its data words', () => {
  const e = decodeExit(run(24, (dv) => { dv.setUint32(32, 1, true); dv.setUint32(36, 1, true); dv.setBigUint64(40, 0x8400_0008n, true); }));
  assert.equal(e, { kind: 'system-event', event: 'shutdown', type: 1, data: [0x8400_0008n] });
});

test('decodeExit: ndata beyond data[16] is clamped to 16', () => {
  const e = decodeExit(run(24, (dv) => { dv.setUint32(32, 2, true); dv.setUint32(36, 1000, true); }));
  assert.is(e.kind === 'system-event' && e.data.length, 16);
  assert.is(e.kind === 'system-event' && e.event, 'reset');
});

test('decodeExit: INTR is retried; FAIL_ENTRY and unknown codes fail with their reason', () => {
  assert.equal(decodeExit(run(10)), { kind: 'retry', reason: 'KVM_EXIT_INTR' });
  const f = decodeExit(run(9, (dv) => dv.setBigUint64(32, 0x123n, true)));
  assert.equal(f, { kind: 'fail', reason: 'KVM_EXIT_FAIL_ENTRY', code: 9, detail: 0x123n });
  assert.is(decodeExit(run(99)).kind === 'fail' && (decodeExit(run(99)) as { reason: string }).reason, 'exit reason 99');
});

test('decodeExit refuses a buffer shorter than what it reads', () => {
  assert.throws(() => decodeExit(new Uint8Array(40)), /kvm_run: 40 bytes/);
});

test('exit reasons table: codes unique, each with a KVM_EXIT_ name', () => {
  const codes = EXIT_REASONS.map((r) => r.code);
  assert.is(new Set(codes).size, codes.length);
  for (const r of EXIT_REASONS) assert.match(r.name, /^KVM_EXIT_/);
});

test('console: 1-byte writes at its address are text; reads are all-ones; other widths dropped and counted', () => {
  const c = new MmioConsole(0x0900_0000n);
  assert.equal(c.handle(0x0900_0001n, 1, true, 0x41n), { handled: false });
  c.handle(0x0900_0000n, 1, true, 0x4869n);   // only the low byte counts
  c.handle(0x0900_0000n, 1, true, 0x0an);
  assert.equal(c.handle(0x0900_0000n, 4, false, 0n), { handled: true, reply: 0xffff_ffffn });
  c.handle(0x0900_0000n, 2, true, 0x4242n);
  assert.is(c.text(), 'i\n');
  assert.is(c.dropped, 2);
});

test('waitsIn: the wait ends at the guest\'s first MMIO exit after "wait\\n"; exits before it are wake-ups', () => {
  const text = 'wait\nIRQ';
  const mmio = (at: number, runNs = 1n): ExitRecord => ({ exit: { kind: 'mmio', addr: 0n, len: 1, isWrite: true, data: 0n }, runNs, at, handleNs: 0n });
  const intr = (at: number, runNs: bigint): ExitRecord => ({ exit: { kind: 'retry', reason: 'KVM_EXIT_INTR' }, runNs, at, handleNs: 0n });
  const head = [0, 1, 2, 3, 4].map((i) => mmio(i));
  // irqfd path: the thread stays in KVM_RUN until the guest writes "I"
  assert.equal(waitsIn(text, [...head, mmio(5, 2_000_000_000n), mmio(6), mmio(7)]), [{ wakeups: 0, blockedNs: 2_000_000_000n }]);
  // a return to the VMM in between counts
  assert.equal(waitsIn(text, [...head, intr(5, 5n), mmio(5, 7n), mmio(6), mmio(7)]), [{ wakeups: 1, blockedNs: 12n }]);
  // trap mode: the first action is a device write (still at 5), then the "I"
  assert.equal(waitsIn(text, [...head, mmio(5, 9n), mmio(5, 1n), mmio(6), mmio(7)]), [{ wakeups: 0, blockedNs: 9n }]);
  // relay mode: the VMM's own wake-ups at that console position count too, others do not
  assert.equal(waitsIn(text, [...head, mmio(5, 3n), mmio(6), mmio(7)], [{ at: 5 }, { at: 6 }]), [{ wakeups: 1, blockedNs: 3n }]);
});

test('the struct builders write as many bytes as vfiokit/sys\'s (C-pinned) sizes say', () => {
  assert.is(memoryRegion(0, 0n, 0n, 0n).byteLength, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
  assert.is(encodeKvmIrqfd({ fd: 0, gsi: 0 }).byteLength, SIZEOF_KVM_IRQFD);
  assert.is(deviceAttr(0, 0, 0n).byteLength, SIZEOF_KVM_DEVICE_ATTR);
});

test.run();

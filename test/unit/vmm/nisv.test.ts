// An MMIO access KVM cannot decode (src/vmm/nisv.ts): the decision table row by row, the
// KVM_EXIT_ARM_NISV decoder and the two structs (annotated by offset), and what setUpNisv and
// answerNisv do over a fake kernel that offers or withholds each capability; and runVm's exit
// handler's thinned events for the guest's accesses nothing answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSys, KVM_CHECK_EXTENSION, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_CREATE_DEVICE, KVM_ENABLE_CAP, KVM_GET_VCPU_MMAP_SIZE, KVM_SET_VCPU_EVENTS, KVM_CAP_ARM_INJECT_EXT_DABT, KVM_CAP_ARM_NISV_TO_USER } from '../../../shim/index';
import { decodeExit, enableCap, extDabtEvents, KVM_EXIT_ARM_NISV, RUN_DECODED_BYTES } from '../../../src/vmm/abi';
import { answerNisv, ENOSYS, NISV_POLICIES, nisvPolicy, nisvUnreported, setUpNisv } from '../../../src/vmm/nisv';
import { Vm, type VmEvent } from '../../../src/vmm-api';
import { Exits } from '../../../src/vmm/run';
import { layoutFor } from '../../../src/vmm/layout';
import { EcamHost } from '../../../src/vmm/ecam';
import { VfioError } from '../../../src/index';
import { SIZEOF_KVM_ENABLE_CAP, SIZEOF_KVM_VCPU_EVENTS } from '../../../src/sys-api';
import { createFakeLibc, type FakeLibc } from '../../support/fake-libc';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('decision table: one row per pair of capabilities; only both give an abort for the guest', () => {
  assert.is(NISV_POLICIES.length, 4);
  const pairs = new Set(NISV_POLICIES.map((r) => `${r.nisvToUser}/${r.injectExtDabt}`));
  assert.is(pairs.size, 4, 'every pair once');
  assert.equal(nisvPolicy(true, true), { enable: true, onAccess: 'external-abort' });
  assert.equal(nisvPolicy(true, false), { enable: true, onAccess: 'fail' }, 'reported, but nothing to answer the guest with');
  assert.equal(nisvPolicy(false, true), { enable: false, onAccess: 'no-exit' }, 'an injection is no help when the access never reaches the VMM');
  assert.equal(nisvPolicy(false, false), { enable: false, onAccess: 'no-exit' });
});

test('KVM_EXIT_ARM_NISV (28) decodes to its fault IPA @40 and sanitised ISS @32', () => {
  const run = new Uint8Array(RUN_DECODED_BYTES);
  const v = new DataView(run.buffer);
  v.setUint32(8, KVM_EXIT_ARM_NISV, true);
  v.setBigUint64(32, 0x0000_0000_0000_0046n, true);   // esr_iss: WnR | DFSC 0x06, ISV 0
  v.setBigUint64(40, 0x0a00_0010n, true);             // fault_ipa
  assert.equal(decodeExit(run), { kind: 'nisv', faultIpa: 0x0a00_0010n, esrIss: 0x46n });
});

test('struct bytes: kvm_enable_cap (cap @0, args[0] @8, 104 bytes) and kvm_vcpu_events (ext_dabt_pending @2, 64 bytes)', () => {
  const cap = enableCap(177);
  assert.is(cap.byteLength, SIZEOF_KVM_ENABLE_CAP);
  assert.is(hex(cap.subarray(0, 16)), 'b1000000' + '00000000' + '0000000000000000');
  assert.ok(cap.subarray(4).every((b) => b === 0), 'flags, args and pad zero');
  assert.is(enableCap(1, [0x1234n]).subarray(8, 10).join(','), '52,18', 'args[0] little-endian @8');
  const ev = extDabtEvents();
  assert.is(ev.byteLength, SIZEOF_KVM_VCPU_EVENTS);
  assert.is(hex(ev.subarray(0, 8)), '0000010000000000', 'serror_pending 0, serror_has_esr 0, ext_dabt_pending 1');
  assert.ok(ev.subarray(3).every((b) => b === 0));
});

/** A fake kernel that offers the capabilities in `caps`, hands out fds, and records the ioctls on them. */
function fakeKvm(caps: Set<number>): { libc: FakeLibc; seen: { request: number; arg: Uint8Array | null }[] } {
  const libc = createFakeLibc();
  const seen: { request: number; arg: Uint8Array | null }[] = [];
  const newFd = (): number => libc.open('(kvm object)', 0, 0);
  libc.on.ioctlValue = (_fd, request, value) => {
    if (request === KVM_CHECK_EXTENSION) return caps.has(Number(value)) ? 1 : 0;
    return request === KVM_CREATE_VM || request === KVM_CREATE_VCPU ? newFd() : 0;
  };
  libc.on.ioctl = (_fd, request, arg) => {
    seen.push({ request, arg: arg ? arg.slice() : null });
    if (request === KVM_GET_VCPU_MMAP_SIZE) return 4096;
    if (request === KVM_CREATE_DEVICE) new DataView(arg!.buffer, arg!.byteOffset).setUint32(4, newFd(), true);
    return 0;
  };
  return { libc, seen };
}

for (const row of NISV_POLICIES) {
  test(`setUpNisv + answerNisv with NISV_TO_USER ${row.nisvToUser ? 'offered' : 'absent'}, INJECT_EXT_DABT ${row.injectExtDabt ? 'offered' : 'absent'}: ${row.policy.onAccess}`, () => {
    const caps = new Set<number>();
    if (row.nisvToUser) caps.add(KVM_CAP_ARM_NISV_TO_USER);
    if (row.injectExtDabt) caps.add(KVM_CAP_ARM_INJECT_EXT_DABT);
    const { libc, seen } = fakeKvm(caps);
    const vm = Vm.create(createSys(libc));
    try {
      const p = setUpNisv(vm);
      assert.equal(p, row.policy);
      const enables = seen.filter((s) => s.request === KVM_ENABLE_CAP);
      assert.is(enables.length, row.policy.enable ? 1 : 0, 'KVM_ENABLE_CAP only when KVM offers the exit');
      if (enables.length) assert.is(new DataView(enables[0]!.arg!.buffer).getUint32(0, true), KVM_CAP_ARM_NISV_TO_USER);
      const vcpu = vm.addVcpu();
      if (p.onAccess === 'external-abort') {
        answerNisv(vcpu, p, 0x0a00_0010n);
        const ev = seen.filter((s) => s.request === KVM_SET_VCPU_EVENTS);
        assert.is(ev.length, 1, 'one KVM_SET_VCPU_EVENTS');
        assert.is(ev[0]!.arg![2], 1, 'with ext_dabt_pending');
      } else {
        assert.throws(() => answerNisv(vcpu, p, 0x0a00_0010n), (e: unknown) =>
          e instanceof VfioError && e.kind === 'not-supported' && /0xa000010/.test(e.message) && !!e.hint && e.offset === 0x0a00_0010n);
        assert.is(seen.filter((s) => s.request === KVM_SET_VCPU_EVENTS).length, 0, 'nothing injected');
      }
    } finally { vm.close(); }
    assert.is(libc.openFds.size, 0, 'no fd left open');
  });
}

test('ENOSYS from KVM_RUN without NISV exits: an error that says what the guest did, errno and syscall kept', () => {
  const cause = new VfioError({ kind: 'syscall', message: 'KVM_RUN failed', errno: ENOSYS, errnoName: 'ENOSYS', syscall: 'KVM_RUN' });
  const e = nisvUnreported(2, cause);
  assert.is(e.kind, 'not-supported');
  assert.is(e.errno, ENOSYS);
  assert.is(e.syscall, 'KVM_RUN');
  assert.match(e.message, /vCPU 2: the guest accessed an address where no memory is/);
  assert.match(e.message, /KVM_CAP_ARM_NISV_TO_USER/);
  assert.ok(e.hint && /readl\/writel/.test(e.hint));
  assert.is(e.cause, cause);
});

test.run();

test('runVm\'s exit handler: each stray and each undecodable access counted; the guest-access events thinned per kind (1..10, then powers of two), each numbered', () => {
  const { libc } = fakeKvm(new Set([KVM_CAP_ARM_NISV_TO_USER, KVM_CAP_ARM_INJECT_EXT_DABT]));
  const vm = Vm.create(createSys(libc));
  const events: VmEvent[] = [];
  try {
    const nisv = setUpNisv(vm);
    const vcpu = vm.addVcpu();
    const layout = layoutFor({ cpus: 1, memBytes: 256n << 20n, ipaBits: 40 });
    const exits = new Exits(layout, new EcamHost(layout.ecam.base, layout.ecam.buses), [], { kernel: new Uint8Array(0), devices: [], cpus: 1, memBytes: 256n << 20n, hostDtb: new Uint8Array(0), console: () => {} }, (e) => events.push(e), nisv);
    const hole = layout.bus.base + layout.bus.size - 0x1000n;   // the top of the platform bus: nothing there
    for (let i = 0; i < 70; i++) exits.handle(vcpu, { kind: 'mmio', addr: hole, len: 4, isWrite: false, data: 0n }, 1n);
    for (let i = 0; i < 20; i++) exits.handle(vcpu, { kind: 'nisv', faultIpa: hole + 8n, esrIss: 0x46n }, 1n);
    assert.is(exits.counts.stray, 70);
    assert.is(exits.counts.nisv, 20);
    assert.equal(exits.end, undefined, 'the guest runs on');
    const stray = events.filter((e) => e.kind === 'guest-access' && e.access === 'stray') as Extract<VmEvent, { kind: 'guest-access' }>[];
    const undecodable = events.filter((e) => e.kind === 'guest-access' && e.access === 'undecodable') as Extract<VmEvent, { kind: 'guest-access' }>[];
    assert.equal(stray.map((e) => e.count), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64]);
    assert.equal(undecodable.map((e) => e.count), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16]);
    assert.ok(stray.every((e) => e.address === hole && e.vcpu === 0), 'where and which vCPU');
    assert.match(stray[0]!.message, /vCPU 0: a 4-byte read at 0x[0-9a-f]+, where nothing is: a read gets all-ones/);
    assert.match(stray[12]!.message, /\(report 64; after the first 10, only each power of two is printed\)$/);
    assert.match(undecodable[10]!.message, /vCPU 0: an access at 0x[0-9a-f]+ that KVM could not decode \(KVM_EXIT_ARM_NISV.*an external abort for the guest \(report 16;/);
  } finally { vm.close(); }
  assert.is(libc.openFds.size, 0, 'no fd left open');
});

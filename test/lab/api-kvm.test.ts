// Runs INSIDE the lab guest: irqfd wiring through the device API against a real KVM VM with a
// vGICv3. The pl031 line is routed to KVM (wireIrqfd): an alarm then goes to the VM, not to the
// VMM's setLine; unwired, the next alarm comes back to userspace through the IRQ machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openDevice } from '../../src/index';
import { createSys, realLibc, kvm, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } from '../../shim/index';
import { countFds } from '../support/fds';
import { struct, u32le, Undo } from '../support/shim-lab';

const sys = createSys(realLibc());
const close = (fd: number) => sys.close(fd);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DR = 0x00, MR = 0x04, IMSC = 0x10, ICR = 0x1c;

/** A VM with one vCPU and an initialised vGICv3 at QEMU virt's addresses (as shim-kvm.test.ts). */
function vmWithGic(undo: Undo): number {
  const kvmFd = undo.fd('/dev/kvm', sys.open('/dev/kvm', O_RDWR | O_CLOEXEC), close);
  const vm = undo.fd('vm', kvm.createVm(sys, kvmFd), close);
  const cd = struct(12, [[0, 4, 7]]); // KVM_DEV_TYPE_ARM_VGIC_V3
  kvm.createDevice(sys, vm, cd);
  const gic = undo.fd('vgic', u32le(cd, 4), close);
  undo.fd('vcpu', kvm.createVcpu(sys, vm, 0), close);
  const page = sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  undo.add('munmap', () => sys.munmap(page, 4096n));
  const q = new BigUint64Array(sys.view(page, 4096));
  q[0] = 0x0800_0000n; q[1] = 0x080a_0000n;
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 2], [16, 8, page]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 0], [8, 8, 3], [16, 8, page + 8n]]));
  kvm.setDeviceAttr(sys, gic, struct(24, [[4, 4, 4], [8, 8, 0]]));
  return vm;
}

test('wireIrqfd routes the pl031 alarm to KVM (setLine stays silent); unwireIrqfd brings the next alarm back to userspace', async () => {
  const before = countFds();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(undo);
    const m = dev.regions[0]!.map();
    const lines: boolean[] = [];
    const actions: string[] = [];
    const routing = dev.routeIrqs({ setLine: (_i, l) => { lines.push(l); }, onAction: (a) => actions.push(a.kind) });
    const fdsRouted = countFds();
    routing.wireIrqfd(0, vm, 5);
    assert.equal(actions, ['mask', 'kvm-irqfd-assign', 'set-trigger', 'set-unmask-fd', 'unmask']);
    assert.is(routing.machine.line(0).state, 'wired');
    assert.is(countFds(), fdsRouted + 2, 'an irqfd and a resample eventfd');
    m.write32(ICR, 1); m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1);
    await sleep(2600);
    assert.ok(m.read32(0x14) & 1, 'the RTC raised its interrupt');
    assert.equal(lines, [], 'the wired line did not reach userspace');
    m.write32(IMSC, 0); m.write32(ICR, 1);
    actions.length = 0;
    routing.unwireIrqfd(0);
    assert.equal(actions, ['mask', 'set-unmask-fd', 'set-trigger', 'kvm-irqfd-deassign', 'unmask']);
    assert.is(countFds(), fdsRouted);
    m.write32(MR, m.read32(DR) + 1); m.write32(IMSC, 1);
    for (let i = 0; i < 300 && lines.length === 0; i++) await sleep(10);
    assert.equal(lines, [true], 'after unwire the alarm is delivered to userspace again');
    m.write32(IMSC, 0); m.write32(ICR, 1);
    routing.trappedAccess();
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), before);
});

test('a wired line is unwired by close(): the irqfd is deassigned and every fd closed', () => {
  const before = countFds();
  const undo = new Undo();
  const dev = openDevice('9010000.pl031');
  try {
    const vm = vmWithGic(undo);
    dev.routeIrqs({ setLine() {} }).wireIrqfd(0, vm, 6);
  } finally { dev.close(); undo.run(); }
  assert.is(countFds(), before);
});

test.run();

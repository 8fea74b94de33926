// The bad-argument rule walked over 'vfiokit/vmm' (src/vmm-api.ts), with the walker of
// test/support/bad-argument-walk.ts: every exported function, class constructor and public method,
// called with wrong values in each argument position, answers with a VfioError of kind
// 'bad-argument' naming the argument. The Vm and its vCPUs are built over the fake libc with a
// fake KVM behind it (as test/unit/vmm/kvm.test.ts does), in the state each method needs; the
// walk never reaches a kernel. runVm is walked through its config, whose checks come before any
// system call (a config that passes them would build a VM: the walk's valid config never does,
// since only poisoned copies are run and an accepted poison gets the machine's own answer).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as vmmApi from '../../../src/vmm-api';
import { createSys, KVM_CREATE_DEVICE, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE } from '../../../shim/index';
import { checkedHostSys } from '../../../shim/sys';
import { createFakeLibc, type FakeLibc } from '../../support/fake-libc';
import { makeFakeSysfs } from '../../support/fake-sysfs';
import { type Param, type Row, P, F, OPTIONAL, INTERNAL, none, plain, surface, unmatched, walk } from '../../support/bad-argument-walk';

const { Vm, BarSlots, EcamHost } = vmmApi;

/** A fake kernel that hands out fds for VMs, vCPUs and devices, and a kvm_run size. */
function fakeKvm(): FakeLibc {
  const libc = createFakeLibc();
  const newFd = (): number => libc.open('(kvm object)', 0, 0);
  libc.on.ioctlValue = (_fd, request) => (request === KVM_CREATE_VM || request === KVM_CREATE_VCPU ? newFd() : 0);
  libc.on.ioctl = (_fd, request, arg) => {
    if (request === KVM_GET_VCPU_MMAP_SIZE) return 4096;
    if (request === KVM_CREATE_DEVICE) new DataView(arg!.buffer, arg!.byteOffset).setUint32(4, newFd(), true);
    return 0;
  };
  return libc;
}
const sysOver = (libc: FakeLibc) => checkedHostSys(createSys(libc));
const GIC = { dist: 0x0800_0000n, redist: 0x080a_0000n, nrIrqs: 256 };
type Stage = 'created' | 'gic-addressed' | 'ready';
/** A Vm over the fake KVM in `stage` (ready: vGIC, RAM, one vCPU, initGic). */
function vmAt(stage: Stage): vmmApi.Vm {
  const vm = Vm.create(sysOver(fakeKvm()));
  if (stage === 'created') return vm;
  vm.addGicV3(GIC);
  if (stage === 'gic-addressed') return vm;
  vm.addRam(0x4000_0000n, 0x1_0000n);
  vm.addVcpu();
  vm.initGic();
  return vm;
}
const onVm = (stage: Stage, args: unknown[]) => plain(() => vmAt(stage), args);
const onVcpu = (args: unknown[]) => () => { const vm = vmAt('ready'); return { self: vm.vcpus[0], args, done: () => vm.close() }; };
/** A Vm with one mapHost slot (number 1: RAM is 0). */
const onSlot = (args: unknown[]) => () => { const vm = vmAt('ready'); vm.mapHost(0x1000_0000n, 0x1000n, 0x7f00_0000_0000n); return { self: vm, args, done: () => vm.close() }; };

/** The smallest arm64 Image header parseImageHeader takes: the magic "ARM\x64" at 56, image_size 1 MiB. */
function imageHeader(): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setBigUint64(16, 0x10_0000n, true);
  v.setUint32(56, 0x644d_5241, true);
  return b;
}
const CONFIG = { kernel: imageHeader(), memBytes: 0x1000_0000n, cpus: 1, devices: [{ name: '9010000.pl031' }], hostDtb: new Uint8Array(0) };
/** A field of the config's first device spec (an array element: the message says config.devices[0].x). */
const D = (field: string, kind: Param['kind'], accepts?: Param['accepts']): Param => ({ name: `config.devices[0].${field}`, kind, pos: 0, field: `devices.0.${field}`, ...(accepts ? { accepts } : {}) });
const SLOT = { bar: 0, gpa: 0x1000_0000n, size: 0x1000n, hostAddress: 0x7f00_0000_0000n };
const WINDOW = { base: 0x1000_0000n, size: 0x1000_0000n };
/** A BarSlots over a ready VM; close() closes the VM. */
const slots = () => { const vm = vmAt('ready'); return Object.assign(new BarSlots(vm, WINDOW), { close: () => vm.close() }); };
const ecam = (): vmmApi.EcamHost & { close?(): void } => new EcamHost(0x3f00_0000n, 1);
const CFG = { configRead: () => 0, configWrite: () => {} };
const BOARD_REQ = { ram: { gpa: 0x4000_0000n, size: 0x1000_0000n }, gic: { dist: 0x0800_0000n, redist: 0x080a_0000n } };
const HEADER = { textOffset: 0n, imageSize: 0x10_0000n };
/** A temporary fake sysfs with the pl031 on vfio-amba, and a /dev/kvm stand-in. */
function preflightArgs(): { self?: unknown; args: unknown[]; done: () => void } {
  const s = makeFakeSysfs([{ bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0 }], { 0: 'vfio-noiommu' });
  return { args: [[{ name: '9010000.pl031' }], { sysfs: s.root, kvm: s.root }], done: () => s.dispose() };
}

const ROWS: Record<string, Row> = {
  runVm: {
    async: true, args: [CONFIG],
    params: [
      P('config', 'object'), F(0, 'config', 'kernel', 'bytes'), F(0, 'config', 'initrd', 'bytes', OPTIONAL), F(0, 'config', 'append', 'string', OPTIONAL),
      F(0, 'config', 'bootargs', 'string', OPTIONAL), F(0, 'config', 'memBytes', 'u64'), F(0, 'config', 'cpus', 'index'), F(0, 'config', 'devices', 'object'),
      F(0, 'config', 'hostDtb', 'bytes'), F(0, 'config', 'console', 'fn', OPTIONAL), F(0, 'config', 'onEvent', 'fn', OPTIONAL), F(0, 'config', 'dtbOut', 'fn', OPTIONAL),
      F(0, 'config', 'signal', 'object', OPTIONAL), F(0, 'config', 'maxExits', 'index', OPTIONAL),
      D('name', 'name'), D('irqfd', 'bool', OPTIONAL), D('identity', 'bool', OPTIONAL), D('addr', 'u64', OPTIONAL), D('mmapTimeoutMs', 'index', OPTIONAL),
    ],
  },
  preflight: { setup: preflightArgs, params: [P('specs', 'object'), { ...P('opts', 'object', OPTIONAL), pos: 1 }, F(1, 'opts', 'bind', 'bool', OPTIONAL), F(1, 'opts', 'sysfs', 'string', OPTIONAL), F(1, 'opts', 'kvm', 'string', OPTIONAL), F(1, 'opts', 'onStep', 'fn', OPTIONAL), { name: 'specs[0].name', kind: 'name', pos: 0, field: '0.name' }] },
  'Preflight.constructor': none('private constructor behind preflight()'),
  'Preflight.of': none(INTERNAL),
  'Preflight.restore': none(),
  parseDeviceSpec: { args: ['9010000.pl031'], params: [P('text', 'string')] },
  parseImageHeader: { args: [imageHeader()], params: [P('image', 'bytes')] },
  bootLayout: { args: [{ gpa: 0x4000_0000n, size: 0x1000_0000n }, HEADER, 4096, 0], params: [P('ram', 'object'), F(0, 'ram', 'gpa', 'u64'), F(0, 'ram', 'size', 'u64'), { ...P('header', 'object'), pos: 1 }, F(1, 'header', 'textOffset', 'u64'), F(1, 'header', 'imageSize', 'u64'), { ...P('imageBytes', 'index'), pos: 2 }, { ...P('initrdBytes', 'index'), pos: 3 }] },
  completeMmioRead: { args: [new Uint8Array(256), 4, 0n], params: [P('run', 'bytes'), P('len', 'width'), P('value', 'u64')] },
  xreg: { args: [0], params: [P('n', 'index')] },
  intxSpi: { args: [1], params: [P('pin', 'index'), P('spis', 'ints', OPTIONAL)] },
  requesterId: { args: [0, 1, 0], params: [P('bus', 'index'), P('dev', 'index'), P('fn', 'index')] },
  boardDtb: { args: [BOARD_REQ], params: [P('req', 'object'), F(0, 'req', 'ram', 'object'), F(0, 'req', 'ram.gpa', 'u64'), F(0, 'req', 'ram.size', 'u64'), F(0, 'req', 'gic', 'object'), F(0, 'req', 'gic.dist', 'u64'), F(0, 'req', 'gic.redist', 'u64'), F(0, 'req', 'cpus', 'index', OPTIONAL), F(0, 'req', 'bootargs', 'string', OPTIONAL), F(0, 'req', 'timer', 'bool', OPTIONAL), F(0, 'req', 'initrd', 'object', OPTIONAL), F(0, 'req', 'pci', 'object', OPTIONAL)] },
  // Vm
  'Vm.constructor': none('private constructor behind Vm.create'),
  'Vm.create': { setup: () => { const libc = fakeKvm(); return { args: [sysOver(libc), {}], done: () => { for (const fd of [...libc.openFds]) libc.close(fd); } }; }, params: [P('sys', 'object', OPTIONAL), { ...P('opts', 'object', OPTIONAL), pos: 1 }, F(1, 'opts', 'ipaBits', 'index', { values: [undefined], why: 'optional: KVM\'s default 40 bits' })] },
  'Vm.addRam': { setup: onVm('created', [0x4000_0000n, 0x1_0000n, {}]), params: [P('gpa', 'u64'), P('size', 'u64'), { ...P('opts', 'object', OPTIONAL), pos: 2 }, F(2, 'opts', 'readOnly', 'bool', OPTIONAL)] },
  'Vm.mapHost': { setup: onVm('ready', [0x1000_0000n, 0x1000n, 0x7f00_0000_0000n]), params: [P('gpa', 'u64'), P('size', 'u64'), P('hva', 'u64')] },
  'Vm.unmapHost': { setup: onSlot([1]), params: [P('slot', 'index')] },
  'Vm.setHostSlot': { setup: onSlot([1, 0x1000_0000n, 0x1000n, 0x7f00_0000_0000n]), params: [P('slot', 'index'), P('gpa', 'u64'), P('size', 'u64'), P('hva', 'u64')] },
  'Vm.checkExtension': { setup: onVm('created', [1]), params: [P('cap', 'index')] },
  'Vm.irqLine': { setup: onVm('ready', [0, true]), params: [P('spi', 'index'), P('level', 'bool')] },
  'Vm.signalMsi': { setup: onVm('ready', [0x0802_0040n, 0, 8]), params: [P('address', 'u64'), P('data', 'index'), P('devid', 'index')] },
  'Vm.addGicV3': { setup: onVm('created', [GIC]), params: [P('layout', 'object'), F(0, 'layout', 'dist', 'u64'), F(0, 'layout', 'redist', 'u64'), F(0, 'layout', 'nrIrqs', 'index')] },
  'Vm.addIts': { setup: onVm('gic-addressed', [0x0808_0000n]), params: [P('base', 'u64')] },
  'Vm.addVcpu': { setup: onVm('created', [{}]), params: [P('opts', 'object', OPTIONAL), F(0, 'opts', 'powerOff', 'bool', OPTIONAL)] },
  'Vm.initGic': none(),
  'Vm.irqfd': { setup: onVm('ready', [3, 0]), params: [P('fd', 'fd'), P('gsi', 'index'), P('resamplefd', 'fd', OPTIONAL)] },
  'Vm.addVfioFile': { setup: onVm('created', [3]), params: [P('fd', 'fd')] },
  'Vm.close': none(),
  // Vcpu
  'Vcpu.constructor': none('made by Vm.addVcpu only: its parameters are the VM\'s own objects (its syscall layer, the kvm_run mapping, the VM\'s scratch page), which no caller holds; documented so'),
  'Vcpu.setReg': { setup: onVcpu([vmmApi.REG_PC, 0n]), params: [P('id', 'u64'), P('value', 'u64')] },
  'Vcpu.getReg': { setup: onVcpu([vmmApi.REG_PC]), params: [P('id', 'u64')] },
  'Vcpu.step': none(), 'Vcpu.stepAsync': none(), 'Vcpu.requestExit': none(), 'Vcpu.close': none(),
  // BarSlots, EcamHost
  'BarSlots.constructor': { setup: () => { const vm = vmAt('ready'); return { args: [vm, WINDOW], done: () => vm.close() }; }, params: [P('vm', 'object'), P('window', 'object'), F(1, 'window', 'base', 'u64'), F(1, 'window', 'size', 'u64'), { ...P('onRefused', 'fn', OPTIONAL), pos: 2 }] },
  'BarSlots.map': { setup: plain(slots, [SLOT]), params: [P('s', 'object'), F(0, 's', 'gpa', 'u64'), F(0, 's', 'size', 'u64'), F(0, 's', 'hostAddress', 'u64')] },
  'BarSlots.unmap': { setup: plain(slots, [SLOT]), params: [P('s', 'object'), F(0, 's', 'gpa', 'u64'), F(0, 's', 'size', 'u64')] },
  'EcamHost.constructor': { args: [0x3f00_0000n, 1], params: [P('base', 'u64'), P('buses', 'index')] },
  'EcamHost.attach': { setup: plain(ecam, [{ bus: 0, dev: 1, fn: 0 }, CFG]), params: [P('at', 'object'), F(0, 'at', 'bus', 'index'), F(0, 'at', 'dev', 'index'), F(0, 'at', 'fn', 'index'), { ...P('cfg', 'object'), pos: 1 }, F(1, 'cfg', 'configRead', 'fn'), F(1, 'cfg', 'configWrite', 'fn')] },
  'EcamHost.contains': { setup: plain(ecam, [0x3f00_0000n]), params: [P('gpa', 'u64')] },
  'EcamHost.handle': { setup: plain(ecam, [0x3f00_0000n, 4, false, 0n]), params: [P('gpa', 'u64'), P('len', 'width'), P('isWrite', 'bool'), P('data', 'u64')] },
};

const entries = surface([vmmApi] as unknown as Record<string, unknown>[]);

test('every function, constructor and method of vfiokit/vmm has a row (and no row names a thing that is gone)', () => {
  const { withoutRow, forNothing } = unmatched(entries, ROWS);
  assert.equal(withoutRow, [], 'exported without a row');
  assert.equal(forNothing, [], 'rows for nothing exported');
});

test('every poisoned call into vfiokit/vmm answers VfioError bad-argument naming the argument', async () => {
  const { stats, failures } = await walk(ROWS, entries);
  console.log(`bad-arguments (vfiokit/vmm): ${stats.rows} rows, ${stats.walked} walked, ${stats.calls} poisoned calls, ${stats.accepted} accepted by the table`);
  assert.equal(failures, []);
});

test.run();

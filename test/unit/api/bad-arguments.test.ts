// The bad-argument rule, walked over the whole public API: every exported function, class
// constructor and public method of 'vfiokit', 'vfiokit/core' and 'vfiokit/sys' ('vfiokit/vmm': bad-arguments-vmm.test.ts), called with wrong
// values in each argument position, answers with a VfioError of kind 'bad-argument' whose message
// names the argument; never a TypeError or RangeError from deep inside. The walk is a table
// (ROWS): per function or member, how to get a live receiver (over the fake VFIO kernel, the fake
// libc and sysfs the other api tests use), valid arguments, and which positions to poison with
// what (a poison list per parameter kind, POISON, in test/support/bad-argument-walk.ts with the walk). A value that is genuinely acceptable is listed
// in the row's `accepts` with its reason. A completeness check reads the runtime exports and each
// class's prototype and statics: a new export or method without a row fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as publicApi from '../../../src/index';
import * as coreApi from '../../../src/core-api';
import * as sysApi from '../../../src/sys-api';
import { VfioError } from '../../../src/errors';
import { fakeVfio, type FakeVfio } from './fake-vfio';
import { createFakeLibc } from '../../support/fake-libc';
import { checkedHostSys, createSys } from '../../../shim/sys';
import { multi } from '../pci/fixtures';
import { fakePci } from '../pci/fake-pci';
import { virtDtb } from '../dtnode/virt-dtb';
import { type Kind, type Param, type Row, type Entry, P, F, OPTIONAL, NOARGS, PRIVATE, INTERNAL, none, plain, surface, unmatched, walk } from '../../support/bad-argument-walk';

const EDU = '0000:00:02.0';
const PL031 = '9010000.pl031';


// ---- fixtures: small valid inputs ------------------------------------------------------------
function pciConfig(): Uint8Array {
  const c = new Uint8Array(256);
  const dv = new DataView(c.buffer);
  dv.setUint16(0, 0x1234, true); dv.setUint16(2, 0x11e8, true);
  dv.setUint32(0x10, 0, true);
  return c;
}
const SIZES = [0x1000n, 0n, 0n, 0n, 0n, 0n, 0n];
function dtb(): Uint8Array {
  const b = new publicApi.FdtBuilder();
  try {
    b.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2);
    b.beginNode('pl031@9010000').propStrings('compatible', ['arm,pl031', 'arm,primecell']).propU64('reg', 0x9010000n);
    b.endNode().endNode();
    return b.finish().slice();
  } finally { b.close(); }
}

// ---- receivers over the fake kernel --------------------------------------------------------
function withDevice<T>(name: string, f: (dev: publicApi.VfioDevice, fv: FakeVfio) => { self: T; args: unknown[] }) {
  return () => {
    const fv = fakeVfio();
    const dev = publicApi.openDevice(name, { sys: fv.sys, sysfs: fv.sysfs, iommu: name === EDU ? 'type1' : undefined });
    const r = f(dev, fv);
    return { ...r, done: () => { dev.close(); fv.dispose(); } };
  };
}
const onDevice = (args: unknown[]) => withDevice(EDU, (dev) => ({ self: dev, args }));
const onRegion = (args: unknown[]) => withDevice(EDU, (dev) => ({ self: dev.regions[0], args }));
const onMapping = (args: unknown[]) => withDevice(EDU, (dev) => ({ self: dev.regions[0]!.map(), args }));
const onIrq = (args: unknown[]) => withDevice(EDU, (dev) => ({ self: dev.irqs[0], args }));
const onRouting = (args: unknown[]) => withDevice(PL031, (dev) => ({ self: dev.routeIrqs({ setLine: () => {} }), args }));
/** PlatformPassthrough options for the pl031 over the fake kernel: QEMU virt's DTB, IRQs left alone. */
const platformOpts = () => ({ bus: { base: 0x0c00_0000n, size: 0x0200_0000n, spiFirst: 112, spiCount: 16 }, hostDtb: virtDtb(), interruptParent: 1, routeIrqs: false, mapMemory: () => {}, unmapMemory: () => {} });
const onPlatform = (args: unknown[]) => withDevice(PL031, (dev) => ({ self: dev.platform(platformOpts()), args }));
/** A guest address no placed range holds is not a wrong argument: the access is not the device's. */
const ANY_GPA = { values: [-1n, 2n ** 64n], why: 'a bigint outside the placed ranges is an address that is not the device\'s (false / undefined), not a wrong argument' };
/** An IrqWaiter over the fake libc, watching one eventfd (fd 0 is not one of the fake's). */
function waiter(): publicApi.IrqWaiter { return new publicApi.IrqWaiter({ sys: createSys(createFakeLibc()) }); }
/** A PciMsix over the 16-vector MSI-X fixture of test/unit/pci; done closes its PciConfig. */
const onMsix = (args: unknown[]) => () => { const { config, sizes } = multi(); const p = new publicApi.PciConfig(config, sizes); return { self: new publicApi.PciMsix(p), args, done: () => p.close() }; };
/** A fake VM for KvmIrqRoutes: an fd of the fake libc that answers KVM_CAP_IRQ_ROUTING with 4096. */
function fakeVm(): { vmFd: number; sys: ReturnType<typeof createSys> } {
  const libc = createFakeLibc();
  libc.on.ioctlValue = () => 4096;
  return { vmFd: libc.open('/dev/kvm', 0, 0), sys: createSys(libc) };
}
const routes = () => { const v = fakeVm(); return new publicApi.KvmIrqRoutes(v.vmFd, { irqchipPins: 4, sys: v.sys }); };
const MSI = { address: 0x1000n, data: 1 };
const ROUTE = (pos: number, name: string): Param[] => [P(name, 'object'), F(pos, name, 'address', 'u64'), F(pos, name, 'data', 'index'), F(pos, name, 'devid', 'index', OPTIONAL)].map((p) => ({ ...p, pos }));
/** A PciPassthrough over the scripted PCI function of test/unit/pci (userspace delivery). */
const onPassthrough = (args: unknown[]) => () => {
  const f = fakePci();
  return { self: f.dev.pci(f.options()), args, done: () => { f.dev.close(); f.dispose(); } };
};
const bus = () => new publicApi.PlatformBus({ base: 0x1000_0000n, size: 0x100_0000n, spiFirst: 32, spiCount: 32 });
const onFdt = (args: unknown[]) => () => { const fdt = publicApi.parseFdt(dtb()); return { self: fdt, args }; };
const onNode = (args: unknown[]) => () => ({ self: publicApi.parseFdt(dtb()).node('/pl031@9010000'), args });
/** A guest's MSI-X access outside the table or of an odd width: read as zero or all-ones, dropped, counted. */
const GUEST_MSIX = { values: [0, 3, 16], why: 'a guest-facing access of an odd width is refused by the core and counted' };
/** A region offset outside the region is a guest's access like any other: refused, counted, all-ones. */
const REFUSED = { values: [-1, 2 ** 53], why: 'an integer offset outside the region is a refused access (reads all-ones, counted), not a wrong argument' };
/** A store takes the low bits of an integer (documented). */
/** A config access of a width the guest cannot make is the guest's: refused (all-ones) and counted. */
const GUEST_WIDTH = { values: [0, 3, 16], why: 'a guest-facing access of an odd width reads all-ones, drops the write, and is counted' };
/** A region offset: an integer or a bigint. */
const REGION_OFFSET = { values: [...REFUSED.values, 1n], why: `${REFUSED.why}; a bigint offset is accepted` };
const LOW_BITS = { values: [2 ** 53], why: 'only the low bytes of the value are stored (documented)' };
/** The uapi encoders' own u64 rule: its message is pinned equal to the core's (test/unit/vfio/encode-fast.test.ts) and shows the value. */
const U64_RULE = { values: [-1n, 2n ** 64n], why: "refused by the encoder's u64 rule, whose message (pinned equal to the core's) shows the value" };
const E = (field: string, kind: Kind, accepts?: Param['accepts']): Param => ({ ...F(0, 'req', field, kind, accepts), unnamed: U64_RULE });

/** The sysfs option every sysfs function takes second. */
const SYSFS_OPTS: Param[] = [{ ...P('opts', 'object', OPTIONAL), pos: 1 }, F(1, 'opts', 'sysfs', 'string', OPTIONAL)];
/** A guest-node request: valid in shape (the empty host DTB is the core's to refuse). */
const NODE_REQ = { hostDtb: new Uint8Array(0), deviceName: PL031, placement: { regions: [], spis: [] }, irqFlags: [], bus: { base: 0x1000_0000n, size: 0x1000n }, cells: { address: 2, size: 2 } };
/** Its fields, as guestNodeFor and guestOverlayFor check them. */
const NODE_FIELDS: Param[] = [
  F(0, 'req', 'hostNodePath', 'string', OPTIONAL), F(0, 'req', 'deviceName', 'string', OPTIONAL),
  F(0, 'req', 'placement.regions', 'bigints'), F(0, 'req', 'placement.spis', 'ints'), F(0, 'req', 'irqFlags', 'ints'),
  F(0, 'req', 'bus', 'object', { values: [undefined], why: 'optional: the VMM supplies the bus' }), F(0, 'req', 'bus.base', 'u64'), F(0, 'req', 'bus.size', 'u64'),
  F(0, 'req', 'cells', 'object', OPTIONAL), F(0, 'req', 'cells.address', 'cells'), F(0, 'req', 'cells.size', 'cells'),
  F(0, 'req', 'regBase', 'u64', OPTIONAL), F(0, 'req', 'interruptParent', 'index', OPTIONAL),
];
/** The options of the query helpers, at argument `pos`. */
const QUERY_OPTS = (pos: number): Param[] => [{ ...P('opts', 'object', OPTIONAL), pos }, F(pos, 'opts', 'initialSize', 'index', OPTIONAL), F(pos, 'opts', 'maxRetries', 'index', OPTIONAL), F(pos, 'opts', 'buffer', 'bytes', OPTIONAL)];
/** A MappingSys that maps nothing (the walked constructor never gets that far). */
const MAPPING_SYS = { mmap: () => 0x10000n, munmap: () => {}, view: () => new ArrayBuffer(4096) };
/** The checked HostSys over the fake libc (the public hostSys() is the same wrapper over the real one). */
const onHost = (args: unknown[]) => () => ({ self: checkedHostSys(createSys(createFakeLibc())), args });

// ---- the table -------------------------------------------------------------------------------
const ROWS: Record<string, Row> = {
  // vfiokit: functions
  listDevices: { args: [{ sysfs: '/nonexistent' }], params: [P('opts', 'object', OPTIONAL), F(0, 'opts', 'sysfs', 'string', OPTIONAL)] },
  findDevice: { args: [PL031, {}], params: [P('name', 'name'), ...SYSFS_OPTS] },
  groupMembers: { args: [0, {}], params: [P('group', 'index'), ...SYSFS_OPTS] },
  bind: { args: [PL031, {}], params: [P('name', 'name'), ...SYSFS_OPTS] },
  unbind: { args: [PL031, {}], params: [P('name', 'name'), ...SYSFS_OPTS, F(1, 'opts', 'probe', 'bool', OPTIONAL)] },
  bindGroup: { args: [PL031, {}], params: [P('name', 'name'), ...SYSFS_OPTS] },
  unbindGroup: { args: [PL031, {}], params: [P('name', 'name'), ...SYSFS_OPTS] },
  validateDeviceName: { args: [PL031], params: [P('name', 'name')] },
  openDevice: { args: [PL031, { sysfs: '/nonexistent' }], params: [P('name', 'name'), { ...P('opts', 'object', OPTIONAL), pos: 1 }, F(1, 'opts', 'sysfs', 'string', OPTIONAL), F(1, 'opts', 'iommu', 'mode', OPTIONAL), F(1, 'opts', 'pageSize', 'index', OPTIONAL)] },
  allocDma: { args: [4096, {}], params: [P('size', 'index'), { ...P('opts', 'object', OPTIONAL), pos: 1 }, F(1, 'opts', 'backing', 'mode', OPTIONAL), F(1, 'opts', 'name', 'string', OPTIONAL)] },
  hugePageSize: none(),
  guestNodeFor: { args: [NODE_REQ], params: [P('req', 'object'), F(0, 'req', 'hostDtb', 'bytes'), F(0, 'req', 'placement', 'object'), ...NODE_FIELDS, F(0, 'req', 'firstPhandle', 'index', OPTIONAL)] },
  guestOverlayFor: { args: [{ ...NODE_REQ, label: 'rtc0' }], params: [P('req', 'object'), F(0, 'req', 'label', 'string'), F(0, 'req', 'hostDtb', 'bytes'), F(0, 'req', 'placement', 'object'), ...NODE_FIELDS] },
  hostNodeOfDevice: { args: [new Uint8Array(0), PL031], params: [P('hostDtb', 'bytes'), P('deviceName', 'string')] },
  parseFdt: { args: [new Uint8Array(0)], params: [P('bytes', 'bytes')] },
  mergeFdt: { args: [new Uint8Array(0), new Uint8Array(0), '/'], params: [P('base', 'bytes'), P('subtree', 'bytes'), P('parentPath', 'string')] },
  fdtMaxPhandle: { args: [new Uint8Array(0)], params: [P('blob', 'bytes')] },
  reportShown: { args: [1], params: [P('n', 'index')] },
  reportNote: { args: [1], params: [P('n', 'index')] },
  // vfiokit: classes
  'VfioError.constructor': { params: [], notWalked: 'the error class itself: it builds from what it is given' },
  'VfioDevice.constructor': none('private constructor behind the @internal VfioDevice.open'),
  'VfioDevice.open': none(INTERNAL),
  'VfioDevice.liveFd': none('@internal, no arguments'),
  'VfioDevice.adopt': none('@internal'),
  'VfioDevice.reset': none(),
  'VfioDevice.region': { setup: onDevice([0]), params: [P('index', 'index')] },
  'VfioDevice.routeIrqs': { setup: onDevice([{ setLine: () => {} }]), params: [P('opts', 'object'), F(0, 'opts', 'setLine', 'fn'), ...['onMmap', 'onAction', 'onError', 'now'].map((f) => F(0, 'opts', f, 'fn', OPTIONAL)), F(0, 'opts', 'timeoutNs', 'u64', OPTIONAL), F(0, 'opts', 'indexes', 'ints', OPTIONAL)] },
  'VfioDevice.route': none('@internal: the rooms\' way to routeIrqs, which is walked'),
  'VfioDevice.platform': {
    setup: withDevice(PL031, (dev) => ({ self: dev, args: [platformOpts()] })),
    params: [P('opts', 'object'), F(0, 'opts', 'bus', 'object'), F(0, 'opts', 'hostDtb', 'bytes'), F(0, 'opts', 'interruptParent', 'index'), F(0, 'opts', 'mapMemory', 'fn'), F(0, 'opts', 'unmapMemory', 'fn')],
  },
  'PlatformPassthrough.constructor': none('private constructor behind the @internal PlatformPassthrough.of; VfioDevice.platform is walked'),
  'PlatformPassthrough.of': none(INTERNAL),
  'PlatformPassthrough.dtNode': none(),
  'PlatformPassthrough.claims': { setup: onPlatform([0x0c00_0000n]), params: [P('gpa', 'u64', ANY_GPA)] },
  'PlatformPassthrough.mmioRead': { setup: onPlatform([0x0c00_0000n, 4]), params: [P('gpa', 'u64', ANY_GPA), P('width', 'width', GUEST_WIDTH)] },
  'PlatformPassthrough.mmioWrite': { setup: onPlatform([0x0c00_0000n, 4, 0n]), params: [P('gpa', 'u64', ANY_GPA), P('width', 'width', GUEST_WIDTH), P('value', 'u64', { values: [-1n, 2n ** 64n], why: 'documented as the low width bytes' })] },
  'PlatformPassthrough.stats': none(),
  'PlatformPassthrough.close': none(),
  'VfioDevice.onRequest': { setup: onDevice([() => {}]), params: [P('handler', 'fn')] },
  'VfioDevice.onError': { setup: onDevice([() => {}]), params: [P('handler', 'fn')] },
  'VfioDevice.pci': {
    setup: () => { const f = fakePci(); return { self: f.dev, args: [f.options()], done: () => { f.dev.close(); f.dispose(); } }; },
    params: [P('opts', 'object'), F(0, 'opts', 'mapMemory', 'fn'), F(0, 'opts', 'unmapMemory', 'fn'), F(0, 'opts', 'deliverMsi', 'fn', OPTIONAL), F(0, 'opts', 'setIntx', 'fn', OPTIONAL), F(0, 'opts', 'kvm', 'object', OPTIONAL)],
  },
  'VfioDevice.mapDma': { setup: onDevice([{ iova: 0x100000n, hostAddress: 0x10000n, size: 0x1000n }]), params: [P('req', 'object'), F(0, 'req', 'iova', 'u64'), F(0, 'req', 'size', 'u64'), F(0, 'req', 'hostAddress', 'u64'), F(0, 'req', 'read', 'bool', OPTIONAL), F(0, 'req', 'write', 'bool', OPTIONAL)] },
  'VfioDevice.mapDma(buffer)': { member: 'VfioDevice.mapDma', setup: onDevice([{ iova: 0x100000n, buffer: new Uint8Array(4096), size: 0x1000n }]), params: [F(0, 'req', 'buffer', 'bytes', { values: [undefined], why: 'left out: mapDma then asks for hostAddress, by name' })] },
  'VfioDevice.dmaInfo': none(),
  'VfioDevice.unmapDma': { setup: onDevice([0x100000n, 0x1000n]), params: [P('iova', 'u64'), P('size', 'u64')] },
  'VfioDevice.dmaMappings': none(),
  'VfioDevice.close': none(),
  'DeviceRegion.constructor': none('private constructor behind the @internal DeviceRegion.of'),
  'DeviceRegion.of': none(INTERNAL),
  'DeviceRegion.split': none(),
  'DeviceRegion.read': { setup: onRegion([0, 4]), params: [P('offset', 'index', REGION_OFFSET), P('width', 'width')] },
  'DeviceRegion.read32': { setup: onRegion([0]), params: [P('offset', 'index', REGION_OFFSET)] },
  'DeviceRegion.write': { setup: onRegion([0, 4, 1]), params: [P('offset', 'index', REGION_OFFSET), P('width', 'width'), P('value', 'int', { values: [...LOW_BITS.values, 1n], why: `${LOW_BITS.why}; a bigint is a value too` })] },
  'DeviceRegion.write32': { setup: onRegion([0, 1]), params: [P('offset', 'index', REGION_OFFSET), P('value', 'int', LOW_BITS)] },
  'DeviceRegion.counters': none(),
  'DeviceRegion.mapAll': none(),
  'DeviceRegion.map': none(),
  'Mapping.constructor': { args: [MAPPING_SYS, 3, 0n, 4096, 'test', 3], params: [P('sys', 'object'), P('fd', 'fd'), P('fileOffset', 'u64'), P('size', 'index'), P('label', 'string'), { ...P('prot', 'int', OPTIONAL), pos: 5 }] },
  'Mapping.read8': { setup: onMapping([0]), params: [P('offset', 'index')] },
  'Mapping.read16': { setup: onMapping([0]), params: [P('offset', 'index')] },
  'Mapping.read32': { setup: onMapping([0]), params: [P('offset', 'index')] },
  'Mapping.read64': { setup: onMapping([0]), params: [P('offset', 'index')] },
  'Mapping.write8': { setup: onMapping([0, 1]), params: [P('offset', 'index'), P('value', 'int', LOW_BITS)] },
  'Mapping.write16': { setup: onMapping([0, 1]), params: [P('offset', 'index'), P('value', 'int', LOW_BITS)] },
  'Mapping.write32': { setup: onMapping([0, 1]), params: [P('offset', 'index'), P('value', 'int', LOW_BITS)] },
  'Mapping.write64': { setup: onMapping([0, 1n]), params: [P('offset', 'index'), P('value', 'u64', { values: [-1n, 2n ** 64n], why: 'documented as taken modulo 2^64' })] },
  'Mapping.read': { setup: onMapping([0, 4]), params: [P('offset', 'index'), P('width', 'width')] },
  'Mapping.write': { setup: onMapping([0, 4, 1n]), params: [P('offset', 'index'), P('width', 'width'), P('value', 'u64', { values: [-1n, 2n ** 64n], why: 'documented as the low width bytes' })] },
  'Mapping.close': none(),
  'DeviceIrq.constructor': none('private constructor behind the @internal DeviceIrq.of'),
  'DeviceIrq.of': none(INTERNAL),
  'DeviceIrq.onTrigger': { setup: onIrq([() => {}]), params: [P('handler', 'fn')] },
  'DeviceIrq.triggerEventfd': { setup: onIrq([{ blocking: true }]), params: [P('opts', 'object', OPTIONAL), F(0, 'opts', 'blocking', 'bool', OPTIONAL)] },
  'DeviceIrq.mask': none(),
  'DeviceIrq.unmask': none(),
  'DeviceIrq.disable': none(),
  'IrqRouting.constructor': none('private constructor behind the @internal IrqRouting.of'),
  'IrqRouting.of': none(INTERNAL),
  'IrqRouting.trappedAccess': none(),
  'IrqRouting.wireIrqfd': { setup: onRouting([0, 5, 0]), params: [P('index', 'index'), P('vmFd', 'fd'), P('gsi', 'index')] },
  'IrqRouting.unwireIrqfd': { setup: onRouting([0]), params: [P('index', 'index')] },
  'IrqRouting.setPciMode': none('@internal: the PCI passthrough\'s'),
  'IrqRouting.close': none(),
  'IrqWaiter.constructor': { args: [{ sys: createSys(createFakeLibc()) }], params: [P('opts', 'object', { values: [undefined], why: 'the options are optional' })] },
  'IrqWaiter.wake': { args: [3, createSys(createFakeLibc())], params: [P('wakeFd', 'fd')] },
  'IrqWaiter.add': { setup: plain(() => waiter(), [0, 1]), params: [P('fd', 'fd'), { ...P('key', 'int', OPTIONAL), pos: 1 }] },
  'IrqWaiter.remove': { setup: plain(() => waiter(), [0]), params: [P('fd', 'fd')] },
  'IrqWaiter.wait': { setup: plain(() => waiter(), [0]), params: [P('timeoutMs', 'int', { values: [undefined], why: 'no timeout: wait until an event' })] },
  'IrqWaiter.close': none(),
  'IrqReader.constructor': (() => { const sys = createSys(createFakeLibc()); return { args: [sys.eventfd(0, 0), { sys }], params: [P('fd', 'fd'), P('opts', 'object', OPTIONAL)] }; })(),
  'IrqReader.wake': { args: [3, createSys(createFakeLibc())], params: [P('fd', 'fd')] },
  'IrqReader.wait': none(),
  'IrqReader.close': none(),
  'ReportThinner.constructor': { args: [() => {}], params: [P('pass', 'fn')] },
  'ReportThinner.report': { params: [], notWalked: 'any value is a report: it is counted and passed on as it is' },
  'DmaBuffer.constructor': none('private constructor behind the @internal DmaBuffer.alloc; allocDma is walked'),
  'DmaBuffer.alloc': none(INTERNAL),
  'DmaBuffer.close': none(),
  'PciConfig.constructor': { args: [pciConfig(), SIZES, { forward: { ranges: [], read: () => 0 } }], params: [P('config', 'bytes'), P('sizes', 'bigints'), P('opts', 'object', OPTIONAL), F(2, 'opts', 'device', 'string', OPTIONAL), F(2, 'opts', 'forward', 'object', OPTIONAL), F(2, 'opts', 'forward.ranges', 'object'), F(2, 'opts', 'forward.read', 'fn')] },
  'PciConfig.coreHandle': none('@internal, no arguments'),
  'PciConfig.read': { setup: plain(() => new publicApi.PciConfig(pciConfig(), SIZES), [0, 4]), params: [P('offset', 'index'), P('width', 'width', GUEST_WIDTH)] },
  'PciConfig.write': { setup: plain(() => new publicApi.PciConfig(pciConfig(), SIZES), [4, 2, 0]), params: [P('offset', 'index'), P('width', 'width', GUEST_WIDTH), P('value', 'index')] },
  'PciConfig.bar': { setup: plain(() => new publicApi.PciConfig(pciConfig(), SIZES), [0]), params: [P('index', 'index')] },
  'PciConfig.reset': { setup: plain(() => new publicApi.PciConfig(pciConfig(), SIZES), [pciConfig(), SIZES]), params: [P('config', 'bytes'), P('sizes', 'bigints')] },
  'PciConfig.bars': none(),
  'PciConfig.stats': none(),
  'PciConfig.close': none(),
  'PciConfig.live': none(PRIVATE),
  'PciMsix.constructor': { args: [undefined], params: [P('config', 'object')] },
  'PciMsix.read': { setup: onMsix(['table', 0, 4]), params: [P('part', 'string'), P('offset', 'index'), P('width', 'width', GUEST_MSIX)] },
  'PciMsix.write': { setup: onMsix(['table', 0, 4, 0n]), params: [P('part', 'string'), P('offset', 'index'), P('width', 'width', GUEST_MSIX), P('value', 'u64', { values: [1], why: 'a number value is accepted beside a bigint' })] },
  'PciMsix.fire': { setup: onMsix([0]), params: [P('vector', 'index')] },
  'PciMsix.vector': { setup: onMsix([0]), params: [P('vector', 'index')] },
  'PciMsix.stats': none(),
  'PciMsix.checkVector': none(PRIVATE),
  'PciPassthrough.constructor': none('private constructor behind the @internal PciPassthrough.of; VfioDevice.pci is walked'),
  'PciPassthrough.of': none(INTERNAL),
  'PciPassthrough.configRead': { setup: onPassthrough([0, 4]), params: [P('offset', 'index'), P('width', 'width', GUEST_WIDTH)] },
  'PciPassthrough.configWrite': { setup: onPassthrough([0x3c, 1, 0]), params: [P('offset', 'index'), P('width', 'width', GUEST_WIDTH), P('value', 'index')] },
  'PciPassthrough.claims': { setup: onPassthrough([0x1000n]), params: [P('gpa', 'u64')] },
  'PciPassthrough.mmioRead': { setup: onPassthrough([0x1000n, 4]), params: [P('gpa', 'u64'), P('width', 'width', GUEST_WIDTH)] },
  'PciPassthrough.mmioWrite': { setup: onPassthrough([0x1000n, 4, 0n]), params: [P('gpa', 'u64'), P('width', 'width', GUEST_WIDTH), P('value', 'u64')] },
  'PciPassthrough.reset': none(),
  'PciPassthrough.stats': none(),
  'PciPassthrough.close': none(),
  'KvmIrqRoutes.constructor': { setup: () => { const v = fakeVm(); return { args: [v.vmFd, { irqchipPins: 4, sys: v.sys }] }; }, params: [P('vmFd', 'fd'), P('opts', 'object'), F(1, 'opts', 'irqchipPins', 'index')] },
  'KvmIrqRoutes.addMsi': { setup: plain(routes, [MSI]), params: ROUTE(0, 'route') },
  'KvmIrqRoutes.updateMsi': { setup: () => { const r = routes(); const g = r.addMsi(MSI); return { self: r, args: [g, MSI], done: () => r.close() }; }, params: [P('gsi', 'index'), ...ROUTE(1, 'route')] },
  'KvmIrqRoutes.removeMsi': { setup: () => { const r = routes(); const g = r.addMsi(MSI); return { self: r, args: [g], done: () => r.close() }; }, params: [P('gsi', 'index')] },
  'KvmIrqRoutes.batch': { setup: plain(routes, [() => 0]), params: [P('f', 'fn')] },
  'KvmIrqRoutes.signalMsi': { setup: plain(routes, [MSI]), params: ROUTE(0, 'route') },
  'KvmIrqRoutes.close': none(),
  'PlatformBus.constructor': { args: [{ base: 0x1000_0000n, size: 0x100_0000n, spiFirst: 32, spiCount: 32 }], params: [P('opts', 'object'), F(0, 'opts', 'base', 'u64'), F(0, 'opts', 'size', 'u64'), F(0, 'opts', 'spiFirst', 'index'), F(0, 'opts', 'spiCount', 'index'), F(0, 'opts', 'pageSize', 'u64', OPTIONAL)] },
  'PlatformBus.newDevice': none(),
  'PlatformBus.placeRegion': { setup: plain(bus, [0x1000n, {}]), params: [P('size', 'u64'), P('opts', 'object', { values: [undefined], why: 'the options are optional' }), F(1, 'opts', 'device', 'index', OPTIONAL), F(1, 'opts', 'align', 'u64', OPTIONAL), ...['fixed', 'identity'].map((f) => ({ ...F(1, 'opts', f, 'u64', OPTIONAL), unnamed: { values: [-1n, 2n ** 64n], why: 'an address past 2^64 wraps (documented) and the core refuses where it lands, showing the address' } }))] },
  'PlatformBus.placeIrq': { setup: plain(bus, [33, {}]), params: [P('fixed', 'index', { values: [undefined], why: 'no fixed SPI: the next free one' }), P('opts', 'object', { values: [undefined], why: 'the options are optional' }), F(1, 'opts', 'device', 'index', OPTIONAL)] },
  'PlatformBus.free': { setup: () => { const b = bus(); return { self: b, args: [b.newDevice()], done: () => b.close() }; }, params: [P('device', 'index')] },
  'PlatformBus.spiOwner': { setup: plain(bus, [33]), params: [P('spi', 'index')] },
  'PlatformBus.info': none(),
  'PlatformBus.close': none(),
  'PlatformBus.live': none(PRIVATE),
  'PlatformBus.check': none(PRIVATE),
  'Fdt.constructor': none('private constructor behind the @internal Fdt.of; parseFdt is walked'),
  'Fdt.of': none(INTERNAL),
  'Fdt.nodes': none(),
  'Fdt.findNode': { setup: onFdt(['/']), params: [P('path', 'string')] },
  'Fdt.node': { setup: onFdt(['/']), params: [P('path', 'string')] },
  'Fdt.nodeByPhandle': { setup: onFdt([1]), params: [P('phandle', 'index')] },
  'Fdt.findCompatible': { setup: onFdt(['arm,pl031']), params: [P('compat', 'string')] },
  'Fdt.allCompatible': { setup: onFdt(['arm,pl031']), params: [P('compat', 'string')] },
  'Fdt.word': none('@internal'),
  'Fdt.nodeAt': none('@internal'),
  'Fdt.text': none('@internal'),
  'Fdt.propName': none('@internal'),
  'Fdt.propAt': none('@internal'),
  'Fdt.childrenOf': none('@internal'),
  'FdtNode.constructor': none('@internal: nodes come from an Fdt'),
  'FdtNode.children': none(),
  'FdtNode.child': { setup: onNode(['x']), params: [P('name', 'string')] },
  'FdtNode.properties': none(),
  'FdtNode.findProp': { setup: onNode(['reg']), params: [P('name', 'string')] },
  'FdtNode.prop': { setup: onNode(['reg']), params: [P('name', 'string')] },
  'FdtNode.has': { setup: onNode(['reg']), params: [P('name', 'string')] },
  'FdtNode.compatible': none(),
  'FdtNode.reg': none(),
  'FdtProperty.constructor': none('@internal: properties come from an FdtNode'),
  'FdtProperty.u32': none(), 'FdtProperty.u32s': none(), 'FdtProperty.u64': none(), 'FdtProperty.u64s': none(),
  'FdtProperty.string': none(), 'FdtProperty.strings': none(), 'FdtProperty.need': none(PRIVATE),
  'FdtBuilder.constructor': { args: [{}], params: [P('opts', 'object', { values: [undefined], why: 'the options are optional' }), F(0, 'opts', 'initialSize', 'index', OPTIONAL), F(0, 'opts', 'firstPhandle', 'index', OPTIONAL)] },
  'FdtBuilder.addReserve': { setup: plain(() => new publicApi.FdtBuilder(), [0x1000n, 0x1000n]), params: [P('address', 'u64'), P('size', 'u64')] },
  'FdtBuilder.beginNode': { setup: plain(() => new publicApi.FdtBuilder(), ['']), params: [P('name', 'string')] },
  'FdtBuilder.endNode': none(),
  'FdtBuilder.propU32': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x', 1]), params: [P('name', 'string'), P('values[0]', 'index')] },
  'FdtBuilder.propU64': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x', 1n]), params: [P('name', 'string'), P('values[0]', 'u64', { values: [-1n, 2n ** 64n], why: 'documented as taken modulo 2^64' })] },
  'FdtBuilder.propString': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x', 'y']), params: [P('name', 'string'), P('value', 'string')] },
  'FdtBuilder.propStrings': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x', ['y']]), params: [P('name', 'string'), P('values', 'strings')] },
  'FdtBuilder.propBytes': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x', new Uint8Array(4)]), params: [P('name', 'string'), P('value', 'bytes')] },
  'FdtBuilder.propEmpty': { setup: plain(() => new publicApi.FdtBuilder().beginNode(''), ['x']), params: [P('name', 'string')] },
  'FdtBuilder.allocPhandle': none(),
  'FdtBuilder.finish': none(),
  'FdtBuilder.close': none(),
  'FdtBuilder.release': none(PRIVATE), 'FdtBuilder.live': none(PRIVATE), 'FdtBuilder.call': none(PRIVATE),
  'FdtBuilder.grow': none(PRIVATE), 'FdtBuilder.putText': none(PRIVATE),
  // vfiokit/core
  decodeBars: { args: [pciConfig(), SIZES], params: [P('config', 'bytes'), P('sizes', 'bigints')] },
  decodeDeviceInfo: { args: [new Uint8Array(0)], params: [P('bytes', 'bytes')] },
  decodeRegionInfo: { args: [new Uint8Array(0)], params: [P('bytes', 'bytes')] },
  decodeIrqInfo: { args: [new Uint8Array(0)], params: [P('bytes', 'bytes')] },
  decodeIommuType1Info: { args: [new Uint8Array(0)], params: [P('bytes', 'bytes')] },
  encodeIrqSet: { args: [{ index: 0, action: 'trigger', count: 0 }], params: [P('req', 'object'), F(0, 'req', 'index', 'index'), F(0, 'req', 'action', 'mode'), F(0, 'req', 'start', 'index', OPTIONAL), F(0, 'req', 'count', 'index', OPTIONAL)] },
  'encodeIrqSet(fds)': { member: 'encodeIrqSet', args: [{ index: 0, action: 'trigger', fds: [3] }], params: [F(0, 'req', 'fds', 'fds')] },
  'encodeIrqSet(bools)': { member: 'encodeIrqSet', args: [{ index: 0, action: 'mask', bools: [true] }], params: [F(0, 'req', 'bools', 'bools')] },
  encodeDmaMap: { args: [{ vaddr: 0x10000n, iova: 0x100000n, size: 0x1000n }], params: [P('req', 'object'), E('vaddr', 'u64'), E('iova', 'u64'), E('size', 'u64'), ...['read', 'write', 'updateVaddr'].map((f) => F(0, 'req', f, 'bool', OPTIONAL))] },
  encodeDmaUnmap: { args: [{ iova: 0x100000n, size: 0x1000n }], params: [P('req', 'object'), E('iova', 'u64', OPTIONAL), E('size', 'u64', OPTIONAL), ...['all', 'vaddrOnly'].map((f) => F(0, 'req', f, 'bool', OPTIONAL))] },
  encodeIoasMap: { args: [{ ioasId: 1, userVa: 0x10000n, length: 0x1000n, iova: 0x100000n }], params: [P('req', 'object'), F(0, 'req', 'ioasId', 'index'), E('userVa', 'u64'), E('length', 'u64'), E('iova', 'u64', OPTIONAL), ...['read', 'write'].map((f) => F(0, 'req', f, 'bool', OPTIONAL))] },
  encodeIoasUnmap: { args: [{ ioasId: 1, iova: 0x100000n, length: 0x1000n }], params: [P('req', 'object'), F(0, 'req', 'ioasId', 'index'), E('iova', 'u64', OPTIONAL), { ...E('length', 'u64'), unnamed: { values: [...U64_RULE.values, undefined], why: `${U64_RULE.why}; a missing length is 0, refused by the same rule` } }, F(0, 'req', 'all', 'bool', OPTIONAL)] },
  findCapabilities: { args: [pciConfig()], params: [P('config', 'bytes')] },
  msixHoles: { args: [pciConfig(), SIZES, { pageSize: 4096 }], params: [P('config', 'bytes'), P('sizes', 'bigints'), P('opts', 'object'), F(2, 'opts', 'pageSize', 'index'), F(2, 'opts', 'mappable', 'ints', OPTIONAL)] },
  msixRelocation: { args: [pciConfig(), SIZES, { pageSize: 4096 }], params: [P('config', 'bytes'), P('sizes', 'bigints'), P('opts', 'object'), F(2, 'opts', 'pageSize', 'index'), F(2, 'opts', 'mappable', 'ints', OPTIONAL)] },
  msixGuestView: { args: [pciConfig(), SIZES, { pageSize: 4096 }], params: [P('config', 'bytes'), P('sizes', 'bigints'), P('opts', 'object'), F(2, 'opts', 'pageSize', 'index'), F(2, 'opts', 'mappable', 'ints', OPTIONAL)] },
  queryWithArgsz: { args: ['x', 16, () => {}, () => {}, () => 0], params: [P('label', 'string'), P('initialSize', 'index'), P('fill', 'fn'), P('query', 'fn'), P('decode', 'fn'), P('maxRetries', 'index', OPTIONAL), P('first', 'bytes', OPTIONAL)] },
  queryDeviceInfo: { args: [() => {}, {}], params: [P('query', 'fn'), ...QUERY_OPTS(1)] },
  queryRegionInfo: { args: [0, () => {}, {}], params: [P('index', 'index'), P('query', 'fn'), ...QUERY_OPTS(2), F(2, 'opts', 'table', 'object', OPTIONAL)] },
  queryIrqInfo: { args: [0, () => {}, {}], params: [P('index', 'index'), P('query', 'fn'), ...QUERY_OPTS(2)] },
  queryIommuType1Info: { args: [() => {}, {}], params: [P('query', 'fn'), ...QUERY_OPTS(1)] },
  'IrqMachine.constructor': { args: ['platform', {}], params: [P('kind', 'mode'), P('opts', 'object', OPTIONAL), F(1, 'opts', 'device', 'string', OPTIONAL), F(1, 'opts', 'timeoutNs', 'u64', OPTIONAL)] },
  'IrqMachine.declareLine': { setup: plain(() => new coreApi.IrqMachine('platform'), [0, { level: true }, 1]), params: [P('index', 'index'), P('flags', 'object', { values: [1], why: 'flags may be the VFIO_IRQ_INFO_* number itself' }), P('count', 'index', OPTIONAL), F(1, 'flags', 'level', 'bool')] },
  'IrqMachine.start': none(),
  'IrqMachine.fire': { setup: plain(() => new coreApi.IrqMachine('platform'), [0, 0n]), params: [P('index', 'index'), P('now', 'u64')] },
  'IrqMachine.trappedAccess': { setup: plain(() => new coreApi.IrqMachine('platform'), [0n]), params: [P('now', 'u64')] },
  'IrqMachine.timer': { setup: plain(() => new coreApi.IrqMachine('platform'), [0n]), params: [P('now', 'u64')] },
  'IrqMachine.wire': { setup: plain(() => new coreApi.IrqMachine('platform'), [0]), params: [P('index', 'index')] },
  'IrqMachine.unwire': { setup: plain(() => new coreApi.IrqMachine('platform'), [0]), params: [P('index', 'index')] },
  'IrqMachine.setPciMode': { setup: plain(() => new coreApi.IrqMachine('pci'), ['msi', 1]), params: [P('mode', 'mode'), P('count', 'index', OPTIONAL)] },
  'IrqMachine.line': { setup: plain(() => new coreApi.IrqMachine('platform'), [0]), params: [P('index', 'index')] },
  'IrqMachine.info': none(),
  'IrqMachine.close': none(),
  'IrqMachine.live': none(PRIVATE), 'IrqMachine.event': none(PRIVATE), 'IrqMachine.check': none(PRIVATE),
  'RegionTable.constructor': none(NOARGS),
  'RegionTable.fromQueries': { args: [1, () => ({})], params: [P('numRegions', 'index'), P('queryRegion', 'fn')] },
  'RegionTable.add': { setup: plain(() => new coreApi.RegionTable(), [0, { size: 0x1000n, offset: 0n, flags: 7 }]), params: [P('index', 'index'), P('info', 'object'), F(1, 'info', 'flags', 'index'), F(1, 'info', 'size', 'u64'), F(1, 'info', 'offset', 'u64')] },
  'RegionTable.addReply': { setup: plain(() => new coreApi.RegionTable(), [0, new Uint8Array(32)]), params: [P('index', 'index'), P('bytes', 'bytes')] },
  'RegionTable.addFailed': { setup: plain(() => new coreApi.RegionTable(), [0, -1]), params: [P('index', 'index'), P('status', 'int')] },
  'RegionTable.get': { setup: plain(() => new coreApi.RegionTable(), [0]), params: [P('index', 'index')] },
  'RegionTable.split': { setup: plain(() => new coreApi.RegionTable(), [0]), params: [P('index', 'index')] },
  'RegionTable.check': { setup: plain(() => new coreApi.RegionTable(), [0, 0n, 4]), params: [P('index', 'index'), P('offset', 'u64'), P('width', 'width')] },
  'RegionTable.counters': { setup: plain(() => new coreApi.RegionTable(), [0]), params: [P('index', 'index')] },
  'RegionTable.close': none(),
  'RegionTable.live': none(PRIVATE), 'RegionTable.err': none(PRIVATE),
  // vfiokit/sys
  _IO: { args: [0xaf, 1], params: [P('type', 'index'), P('nr', 'index')] },
  _IOR: { args: [0xaf, 1, 8], params: [P('type', 'index'), P('nr', 'index'), P('size', 'index')] },
  _IOW: { args: [0xaf, 1, 8], params: [P('type', 'index'), P('nr', 'index'), P('size', 'index')] },
  _IOWR: { args: [0xaf, 1, 8], params: [P('type', 'index'), P('nr', 'index'), P('size', 'index')] },
  encodeKvmIrqfd: { args: [{ fd: 3, gsi: 0 }, new Uint8Array(32)], params: [P('req', 'object'), F(0, 'req', 'fd', 'fd'), F(0, 'req', 'gsi', 'index'), F(0, 'req', 'resamplefd', 'fd', OPTIONAL), F(0, 'req', 'flags', 'index', OPTIONAL), { ...P('out', 'bytes', OPTIONAL), pos: 1 }] },
  encodeKvmIrqRouting: { args: [[{ gsi: 0, type: 'msi', address: 0n, data: 0 }]], params: [P('routes', 'object', { values: [{}], why: 'an object that is not an array is refused by the same check (named)' })] },
  encodeKvmMsi: { args: [{ address: 0n, data: 0 }], params: [P('msi', 'object'), F(0, 'msi', 'address', 'u64'), F(0, 'msi', 'data', 'index'), F(0, 'msi', 'devid', 'index', OPTIONAL)] },
  hostSys: none(),
  // The methods of the HostSys hostSys() returns (walked over the same checked wrapper, on the fake libc).
  'HostSys.open': { setup: onHost(['/nonexistent', 0, 0]), params: [P('path', 'string'), P('flags', 'index'), P('mode', 'index', OPTIONAL)] },
  'HostSys.close': { setup: onHost([3]), params: [P('fd', 'fd')] },
  'HostSys.ioctl': { setup: onHost([3, 0xaf01, null, 'X']), params: [P('fd', 'fd'), P('request', 'index'), P('arg', 'bytes', { values: [null], why: 'null: no argument' }), P('name', 'string', OPTIONAL)] },
  'HostSys.ioctlAsync': { setup: onHost([3, 0xaf01, null, 'X']), params: [P('fd', 'fd'), P('request', 'index'), P('arg', 'bytes', { values: [null], why: 'null: no argument' }), P('name', 'string', OPTIONAL)] },
  'HostSys.ioctlValue': { setup: onHost([3, 0xaf01, 0, 'X']), params: [P('fd', 'fd'), P('request', 'index'), P('value', 'int', { values: [1n], why: 'a bigint value is passed as it is' }), P('name', 'string', OPTIONAL)] },
  'HostSys.mmap': { setup: onHost([4096n, 3, 0x22, -1, 0n]), params: [P('len', 'u64'), P('prot', 'index'), P('flags', 'index'), P('fd', 'fd'), P('offset', 'u64')] },
  'HostSys.munmap': { setup: onHost([0x10000n, 4096n]), params: [P('addr', 'u64'), P('len', 'u64')] },
  'HostSys.view': { setup: onHost([0x10000n, 4096]), params: [P('addr', 'u64'), P('len', 'index')] },
  'HostSys.eventfd': { setup: onHost([0, 0]), params: [P('initval', 'index'), P('flags', 'index')] },
  'HostSys.eventfdRead': { setup: onHost([3]), params: [P('fd', 'fd')] },
  'HostSys.eventfdWrite': { setup: onHost([3, 1n]), params: [P('fd', 'fd'), P('value', 'u64')] },
  'HostSys.watch': { setup: onHost([3, () => {}]), params: [P('fd', 'fd'), P('onReadable', 'fn')] },
  'HostSys.tgkill': { setup: onHost([1234, 12]), params: [P('tid', 'index'), P('sig', 'index')] },
};

// ---- the walk ------------------------------------------------------------------------------
/** The HostSys object hostSys() returns: an interface, so its methods are read off the object. */
function hostSysMembers(): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const host = sysApi.hostSys() as unknown as Record<string, unknown>;
  for (const m of Object.keys(host)) if (typeof host[m] === 'function') out.set(`HostSys.${m}`, { name: m });
  return out;
}
const entries = new Map([...surface([publicApi, coreApi, sysApi] as Record<string, unknown>[]), ...hostSysMembers()]);

test('every exported function, constructor and method has a row in the table (and no row names a thing that is gone)', () => {
  const { withoutRow, forNothing } = unmatched(entries, ROWS);
  assert.equal(withoutRow, [], 'exported without a row');
  assert.equal(forNothing, [], 'rows for nothing exported');
});

test("hostSys() hands out the checked wrapper: a wrong argument is refused before any system call", () => {
  const sys = sysApi.hostSys();
  assert.is(sysApi.hostSys(), sys, 'one wrapper per process');
  for (const call of [() => sys.close('3' as never), () => sys.mmap(4096 as never, 3, 0x22, -1, 0n), () => sys.eventfdWrite(3, 1 as never)]) {
    assert.throws(call, (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument' && e.errno === undefined);
  }
});

test('every poisoned call answers VfioError bad-argument naming the argument', async () => {
  const { stats, failures } = await walk(ROWS, entries);
  console.log(`bad-arguments: ${stats.rows} rows, ${stats.walked} walked, ${stats.calls} poisoned calls, ${stats.accepted} accepted by the table`);
  assert.equal(failures, []);
});

test.run();

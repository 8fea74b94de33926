// The mini-vmm's thin KVM (examples/mini-vmm/kvm.ts) over a fake libc: the order the kernel
// requires is enforced (every call in a wrong state throws and issues no ioctl), close() undoes
// everything in the written-down order and leaves no fd or mapping, and a failure half-way
// through creating something leaks nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSys, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE, KVM_IRQFD, KVM_ARM_VCPU_INIT } from '../../../shim/index';
import { Vm } from '../../../src/vmm-api';
import { createFakeLibc, type FakeLibc } from '../../support/fake-libc';

const ENOMEM = 12, EINVAL = 22;
const RUN_SIZE = 4096;

/** A fake kernel that hands out fds for VMs, vCPUs and devices, and a kvm_run size. */
function fakeKvm(): FakeLibc {
  const libc = createFakeLibc();
  const newFd = (): number => libc.open('(kvm object)', 0, 0);
  libc.on.ioctlValue = (_fd, request) => (request === KVM_CREATE_VM || request === KVM_CREATE_VCPU ? newFd() : 0);
  libc.on.ioctl = (_fd, request, arg) => {
    if (request === KVM_GET_VCPU_MMAP_SIZE) return RUN_SIZE;
    if (request === KVM_CREATE_DEVICE) new DataView(arg!.buffer, arg!.byteOffset).setUint32(4, newFd(), true);
    return 0;
  };
  return libc;
}
const ioctls = (libc: FakeLibc): number => (libc.calls.ioctl ?? 0) + (libc.calls.ioctlValue ?? 0);
const GIC = { dist: 0x0800_0000n, redist: 0x080a_0000n, nrIrqs: 256 };

function readyVm(libc: FakeLibc): Vm {
  const vm = Vm.create(createSys(libc));
  vm.addGicV3(GIC);
  vm.addRam(0x4000_0000n, 0x1_0000n);
  vm.addVcpu();
  vm.initGic();
  return vm;
}

test('the full sequence, then close(): no fd left open, every mapping unmapped', () => {
  const libc = fakeKvm();
  const vm = readyVm(libc);
  const efd = libc.eventfd(0, 0), rfd = libc.eventfd(0, 0);
  vm.irqfd(efd, 112, rfd);
  assert.is(vm.state, 'ready');
  vm.close();
  libc.close(efd); libc.close(rfd);
  assert.is(libc.openFds.size, 0);
  assert.is(libc.calls.munmap, libc.calls.mmap, 'as many munmaps as mmaps');
});

test('close order: irqfd deassign, vCPU (kvm_run, fd), vGIC fd, VM fd, RAM, /dev/kvm last', () => {
  const libc = fakeKvm();
  const vm = readyVm(libc);
  const efd = libc.eventfd(0, 0);
  vm.irqfd(efd, 5);
  const from = libc.log.length;
  vm.close();
  const steps = libc.log.slice(from).map((c) => c.method === 'ioctl' && c.args[1] === KVM_IRQFD ? 'deassign'
    : c.method === 'close' ? `close ${c.args[0]}` : c.method === 'munmap' ? 'munmap' : c.method);
  // fds: /dev/kvm 100, vm 101, vgic 102, vcpu 103, eventfd 104 (handed out in that order)
  assert.equal(steps, ['deassign', 'munmap', 'close 103', 'close 102', 'close 101', 'munmap', 'munmap', 'close 100']);
});

test('addVfioFile: one KVM-VFIO device for the VM, FILE_ADD per file, and close() deletes each file before closing that device', () => {
  const libc = fakeKvm();
  const attrs: [number, bigint][] = [];
  const inner = libc.on.ioctl!;
  libc.on.ioctl = (fd, req, arg) => {
    // struct kvm_device_attr { u32 flags @0, group @4; u64 attr @8, addr @16 }
    if (req === KVM_SET_DEVICE_ATTR) { const dv = new DataView(arg!.buffer, arg!.byteOffset); attrs.push([fd, dv.getBigUint64(8, true)]); }
    return inner(fd, req, arg);
  };
  const vm = readyVm(libc);
  const a = libc.eventfd(0, 0), b = libc.eventfd(0, 0);   // stand-ins for two VFIO fds
  const creates = libc.log.filter((c) => c.method === 'ioctl' && c.args[1] === KVM_CREATE_DEVICE).length;
  attrs.length = 0;
  vm.addVfioFile(a); vm.addVfioFile(b);
  assert.is(libc.log.filter((c) => c.method === 'ioctl' && c.args[1] === KVM_CREATE_DEVICE).length, creates + 1, 'one KVM-VFIO device');
  const kvmVfio = attrs[0]![0];
  assert.equal(attrs, [[kvmVfio, 1n], [kvmVfio, 1n]], 'KVM_DEV_VFIO_FILE_ADD on the KVM-VFIO device, twice');
  const from = libc.log.length;
  vm.close();
  assert.equal(attrs.slice(2), [[kvmVfio, 2n], [kvmVfio, 2n]], 'KVM_DEV_VFIO_FILE_DEL for each file');
  const closes = libc.log.slice(from).filter((c) => c.method === 'close').map((c) => c.args[0]);
  assert.ok(closes.includes(kvmVfio), 'the KVM-VFIO fd is closed');
  libc.close(a); libc.close(b);
  assert.is(libc.openFds.size, 0);
  assert.throws(() => vm.addVfioFile(a), /after close\(\)/);
});

test('close twice is harmless; every call after close throws without an ioctl', () => {
  const libc = fakeKvm();
  const vm = readyVm(libc);
  const v = vm.vcpus[0]!;
  vm.close(); vm.close();
  const n = ioctls(libc);
  assert.throws(() => vm.addRam(0n, 0x1000n), /after close\(\)/);
  assert.throws(() => vm.mapHost(0n, 0x1000n, 0x1000n), /after close\(\)/);
  assert.throws(() => vm.addGicV3(GIC), /after close\(\)/);
  assert.throws(() => vm.addVcpu(), /after close\(\)/);
  assert.throws(() => vm.initGic(), /after close\(\)/);
  assert.throws(() => vm.irqfd(1, 1), /after close\(\)/);
  assert.throws(() => v.step(), /after close/);
  assert.throws(() => v.setReg(0n, 0n), /after close/);
  assert.is(ioctls(libc), n);
});

test('wrong order is refused before any ioctl: irqfd before initGic, initGic without a GIC or without vCPUs, vCPUs after init, a second GIC', () => {
  const libc = fakeKvm();
  const vm = Vm.create(createSys(libc));
  let n = ioctls(libc);
  assert.throws(() => vm.irqfd(1, 1), /irqfd in state created/);
  assert.throws(() => vm.initGic(), /initGic in state created/);
  assert.is(ioctls(libc), n);
  vm.addGicV3(GIC);
  n = ioctls(libc);
  assert.throws(() => vm.addGicV3(GIC), /addGicV3 in state gic-addressed/);
  assert.throws(() => vm.initGic(), /before any vCPU/);
  assert.throws(() => vm.irqfd(1, 1), /irqfd in state gic-addressed/);
  assert.is(ioctls(libc), n);
  vm.addVcpu();
  vm.initGic();
  n = ioctls(libc);
  assert.throws(() => vm.addVcpu(), /addVcpu in state ready/);
  assert.throws(() => vm.initGic(), /initGic in state ready/);
  assert.is(ioctls(libc), n);
  vm.close();
});

test('KVM_CREATE_VM failing closes /dev/kvm and keeps the errno in the error', () => {
  const libc = fakeKvm();
  libc.failOn('ioctlValue', ENOMEM);
  assert.throws(() => Vm.create(createSys(libc)), /KVM_CREATE_VM.*ENOMEM/);
  assert.is(libc.openFds.size, 0);
});

test('KVM_ARM_VCPU_INIT failing closes the vCPU fd; the VM stays usable and closes clean', () => {
  const libc = fakeKvm();
  const vm = Vm.create(createSys(libc));
  vm.addGicV3(GIC);
  const inner = libc.on.ioctl!;
  let fail = true;
  libc.on.ioctl = (fd, req, arg) => (req === KVM_ARM_VCPU_INIT && fail ? (fail = false, -EINVAL) : inner(fd, req, arg));
  assert.throws(() => vm.addVcpu(), /KVM_ARM_VCPU_INIT.*EINVAL/);
  assert.is(vm.vcpus.length, 0);
  vm.addVcpu();
  vm.initGic();
  vm.close();
  assert.is(libc.openFds.size, 0);
});

test('a memslot failing unmaps the RAM it was for', () => {
  const libc = fakeKvm();
  const vm = Vm.create(createSys(libc));
  libc.failOn('ioctl', EINVAL);   // KVM_SET_USER_MEMORY_REGION
  const before = libc.calls.munmap ?? 0;
  assert.throws(() => vm.addRam(0x4000_0000n, 0x1_0000n), /KVM_SET_USER_MEMORY_REGION/);
  assert.is(libc.calls.munmap, before + 1);
  vm.close();
  assert.is(libc.openFds.size, 0);
});

test('a vCPU step decodes what KVM left in kvm_run', () => {
  const libc = fakeKvm();
  const vm = readyVm(libc);
  const v = vm.vcpus[0]!;
  const dv = new DataView(v.run.buffer, v.run.byteOffset);
  dv.setUint32(8, 6, true); dv.setBigUint64(32, 0x0900_0000n, true); dv.setUint8(40, 0x21); dv.setUint32(48, 1, true); dv.setUint8(52, 1);
  assert.equal(v.step(), { kind: 'mmio', addr: 0x0900_0000n, len: 1, isWrite: true, data: 0x21n });
  assert.is(v.exits, 1);
  vm.close();
});

test('addIts: after the vGIC, one ITS at a 64 KiB-aligned address; initGic inits the vGIC, then the ITS; close() closes the ITS fd before the vGIC fd', () => {
  const libc = fakeKvm();
  const attrs: [number, number, bigint][] = [];
  const inner = libc.on.ioctl!;
  libc.on.ioctl = (fd, req, arg) => {
    // struct kvm_device_attr { u32 flags @0, group @4; u64 attr @8, addr @16 }
    if (req === KVM_SET_DEVICE_ATTR) { const dv = new DataView(arg!.buffer, arg!.byteOffset); attrs.push([fd, dv.getUint32(4, true), dv.getBigUint64(8, true)]); }
    return inner(fd, req, arg);
  };
  const vm = Vm.create(createSys(libc));
  assert.throws(() => vm.addIts(0x0808_0000n), /state created/, 'before the vGIC');
  vm.addGicV3(GIC);
  assert.throws(() => vm.addIts(0x0808_1000n), /64 KiB/);
  vm.addIts(0x0808_0000n);
  assert.ok(vm.hasIts);
  assert.throws(() => vm.addIts(0x0809_0000n), /already/);
  vm.addVcpu();
  attrs.length = 0;
  vm.initGic();
  // fds: /dev/kvm 100, vm 101, vgic 102, its 103, vcpu 104. Group 4 = CTRL, attr 0 = INIT.
  assert.equal(attrs, [[102, 4, 0n], [103, 4, 0n]], 'CTRL_INIT on the vGIC, then on the ITS');
  assert.throws(() => vm.addIts(0x0808_0000n), /state ready/);
  const from = libc.log.length;
  vm.close();
  const closes = libc.log.slice(from).filter((c) => c.method === 'close').map((c) => c.args[0]);
  assert.equal(closes, [104, 103, 102, 101, 100]);
  assert.is(libc.openFds.size, 0);
});

test('host memslots: unmapHost deletes the slot (size 0) and the next mapHost reuses the lowest free number; RAM slots are not unmapHost\'s', () => {
  const libc = fakeKvm();
  const regions: [number, bigint][] = [];
  const inner = libc.on.ioctl!;
  libc.on.ioctl = (fd, req, arg) => {
    // struct kvm_userspace_memory_region { u32 slot @0, flags @4; u64 guest_phys_addr @8, memory_size @16, userspace_addr @24 }
    if (req === KVM_SET_USER_MEMORY_REGION) { const dv = new DataView(arg!.buffer, arg!.byteOffset); regions.push([dv.getUint32(0, true), dv.getBigUint64(16, true)]); }
    return inner(fd, req, arg);
  };
  const vm = readyVm(libc);            // RAM is slot 0
  const a = vm.mapHost(0x1000_0000n, 0x1000n, 0x7000_0000n);
  const b = vm.mapHost(0x1000_4000n, 0x1000n, 0x7000_4000n);
  const c = vm.mapHost(0x1000_8000n, 0x1000n, 0x7000_8000n);
  assert.equal([a, b, c], [1, 2, 3]);
  assert.is(vm.slotsInUse, 4);
  vm.unmapHost(b); vm.unmapHost(a);
  assert.equal(regions.slice(-2), [[2, 0n], [1, 0n]], 'deleted with memory_size 0');
  assert.is(vm.slotsInUse, 2);
  assert.is(vm.mapHost(0x2000_0000n, 0x1000n, 0x7100_0000n), 1, 'the lowest free number');
  assert.is(vm.mapHost(0x2000_4000n, 0x1000n, 0x7100_4000n), 2);
  assert.is(vm.mapHost(0x2000_8000n, 0x1000n, 0x7100_8000n), 4, 'then a new one');
  assert.throws(() => vm.unmapHost(0), /not a slot of mapHost/);
  assert.throws(() => vm.unmapHost(9), /not a slot of mapHost/);
  vm.unmapHost(4);
  assert.throws(() => vm.unmapHost(4), /not a slot of mapHost/, 'twice');
  assert.throws(() => vm.setHostSlot(4, 0n, 0n, 0n), /not a slot of mapHost/);
  vm.close();
  assert.throws(() => vm.unmapHost(1), /after close\(\)/);
});

test.run();

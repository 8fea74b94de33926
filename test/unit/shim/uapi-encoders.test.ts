// The encoders of the small request structs in shim/uapi/ (the layouts they write through are
// pinned against C by ioctl-numbers.test.ts): each writes its size first, its fields where the
// layout says, and zeroes the rest, also when it reuses a dirty buffer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { u32 } from '../../../shim/bytes';
import { encodeGroupStatus, encodeBindIommufd, encodeAttachIommufdPt, encodeDetachIommufdPt, VFIO_LAYOUT, VFIO_CDEV_LAYOUT } from '../../../shim/uapi/vfio';
import { encodeIommuDestroy, encodeIoasAlloc, IOMMUFD_LAYOUT } from '../../../shim/uapi/iommufd';
import { encodeKvmIrqfd, encodeKvmIrqRouting, encodeKvmMsi, KVM_LAYOUT, KVM_IRQFD_FLAG_RESAMPLE, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI, KVM_MSI_VALID_DEVID } from '../../../shim/uapi/kvm';

const words = (b: Uint8Array) => Array.from({ length: b.length / 4 }, (_, i) => u32(b, i * 4));

test('VFIO: group status (reused buffer cleared), bind, attach, detach', () => {
  const dirty = new Uint8Array(VFIO_LAYOUT.vfio_group_status.size).fill(0xff);
  assert.is(encodeGroupStatus(dirty), dirty, 'into the buffer given');
  assert.equal(words(dirty), [8, 0]);
  assert.equal(words(encodeBindIommufd(7)), [VFIO_CDEV_LAYOUT.vfio_device_bind_iommufd.size, 0, 7, 0]);
  assert.equal(words(encodeAttachIommufdPt(3)), [12, 0, 3]);
  assert.equal(words(encodeDetachIommufdPt()), [8, 0]);
});

test('iommufd: destroy and IOAS alloc', () => {
  assert.equal(words(encodeIommuDestroy(5)), [IOMMUFD_LAYOUT.iommu_destroy.size, 5]);
  assert.equal(words(encodeIoasAlloc()), [12, 0, 0]);
});

test('KVM: kvm_irqfd with and without resample; pad zeroed in a reused buffer', () => {
  assert.equal(words(encodeKvmIrqfd({ fd: 9, gsi: 33 })), [9, 33, 0, 0, 0, 0, 0, 0]);
  const dirty = new Uint8Array(KVM_LAYOUT.kvm_irqfd.size).fill(0xaa);
  encodeKvmIrqfd({ fd: 9, gsi: 33, flags: KVM_IRQFD_FLAG_RESAMPLE, resamplefd: 10 }, dirty);
  assert.equal(words(dirty), [9, 33, KVM_IRQFD_FLAG_RESAMPLE, 10, 0, 0, 0, 0]);
});

test('KVM: kvm_irq_routing header then 48-byte entries: an irqchip pin, an MSI with and without devid', () => {
  const b = encodeKvmIrqRouting([
    { gsi: 3, type: 'irqchip', irqchip: 0, pin: 3 },
    { gsi: 96, type: 'msi', address: 0x1_0804_0040n, data: 0x21, devid: 0x18 },
    { gsi: 97, type: 'msi', address: 0x0804_0040n, data: 0x22 },
  ]);
  assert.is(b.length, 8 + 3 * 48);
  const w = words(b);
  assert.equal(w.slice(0, 2), [3, 0], 'nr, flags');
  //                     gsi  type                      flags                pad  u (8 words)
  assert.equal(w.slice(2, 14), [3, KVM_IRQ_ROUTING_IRQCHIP, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
  assert.equal(w.slice(14, 26), [96, KVM_IRQ_ROUTING_MSI, KVM_MSI_VALID_DEVID, 0, 0x0804_0040, 1, 0x21, 0x18, 0, 0, 0, 0]);
  assert.equal(w.slice(26, 38), [97, KVM_IRQ_ROUTING_MSI, 0, 0, 0x0804_0040, 0, 0x22, 0, 0, 0, 0, 0]);
  assert.is(encodeKvmIrqRouting([]).length, 8, 'an empty table is the header alone');
});

test('KVM: kvm_msi with devid (flag set) and into a dirty buffer without (flag and devid zero)', () => {
  assert.equal(words(encodeKvmMsi({ address: 0x2_0000_1000n, data: 7, devid: 0x10 })), [0x1000, 2, 7, KVM_MSI_VALID_DEVID, 0x10, 0, 0, 0]);
  const dirty = new Uint8Array(KVM_LAYOUT.kvm_msi.size).fill(0xaa);
  encodeKvmMsi({ address: 0x1000n, data: 7 }, dirty);
  assert.equal(words(dirty), [0x1000, 0, 7, 0, 0, 0, 0, 0]);
});

test.run();

// The encoders of the small request structs in shim/uapi/ (the layouts they write through are
// pinned against C by ioctl-numbers.test.ts): each writes its size first, its fields where the
// layout says, and zeroes the rest, also when it reuses a dirty buffer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { u32 } from '../../../shim/bytes';
import { encodeGroupStatus, encodeBindIommufd, encodeAttachIommufdPt, encodeDetachIommufdPt, VFIO_LAYOUT, VFIO_CDEV_LAYOUT } from '../../../shim/uapi/vfio';
import { encodeIommuDestroy, encodeIoasAlloc, IOMMUFD_LAYOUT } from '../../../shim/uapi/iommufd';
import { encodeKvmIrqfd, KVM_LAYOUT, KVM_IRQFD_FLAG_RESAMPLE } from '../../../shim/uapi/kvm';

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

test.run();

// lab-open, vfiokit: a device from nothing to ready and back: openDevice (sysfs checks,
// container, group, IOMMU, device fd, device info, every region's and IRQ's info decoded by the
// core), every mmappable region mapped (mapAll), then close() in its fixed order.
// argv: bus ('amba' | 'pci'), device, rounds. Twin: bench/native/lab/open.c.
import { openDevice } from '../../src/index';
import { arg, emit, now, percentile } from './common';

const bus = process.argv[2]!, name = process.argv[3]!;
const rounds = arg(2, 200);

function openReadyClose(): void {
  const dev = openDevice(name);
  try {
    for (const r of dev.regions) if (r.ok && r.mmappable) r.mapAll();
  } finally { dev.close(); }
}

for (let i = 0; i < 5; i++) openReadyClose(); // warm-up: the core's instance, the JIT
const rs: number[] = [];
for (let j = 0; j < rounds; j++) {
  const t0 = now();
  openReadyClose();
  rs.push(Number(now() - t0));
}
emit('lab-open', bus === 'pci' ? 'edu (vfio-pci, type1)' : 'pl031 (vfio-amba, noiommu)', 'ns', rs, percentile(rs, 0.99));

// Runs INSIDE the lab guest (L1): QEMU's NVMe controller (0000:00:03.0) as lab/init.sh leaves it
// for the nested guest: on vfio-pci, alone in its IOMMU group, with nothing of L1's own nvme driver
// left (the driver is built in and takes it at boot); and the layout a VMM passing it through has
// to deal with, read through VFIO: BAR0, the MSI-X capability, where its table and PBA sit and
// whether they share a page with the registers the guest's driver uses (docs/LAB.md records it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { openDevice, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX } from '../../src/index';
import { countFds } from '../support/fds';
import { NVME, NVME_ID, NVME_SYSFS, nvmeDriver, nvmeNodes } from '../support/nvme';

/** Config space registers (include/uapi/linux/pci_regs.h) and the NVMe controller registers (NVMe base spec 3.1). */
const PCI_COMMAND = 0x04, PCI_COMMAND_MEMORY = 0x2, PCI_STATUS = 0x06, PCI_STATUS_CAP_LIST = 0x10, PCI_CAPABILITY_LIST = 0x34;
const PCI_CAP_ID_MSI = 0x05, PCI_CAP_ID_MSIX = 0x11, PCI_MSIX_FLAGS = 2, PCI_MSIX_TABLE = 4, PCI_MSIX_PBA = 8, PCI_MSIX_ENTRY_SIZE = 16;
const NVME_REG_CAP = 0x00, NVME_REG_DBS = 0x1000;
/** QEMU's nvme: 64 I/O queue pairs and the admin queue, one MSI-X vector each (msix_qsize 65). */
const QEMU_NVME_VECTORS = 65;
/** Bounds on the capability walk: (256 - 0x40) / 4 capabilities fit in config space. */
const STD_CAPS_MAX = 48;

test(`${NVME} is QEMU's NVMe (${NVME_ID}), bound to vfio-pci at boot, alone in its IOMMU group; L1 keeps no /dev/nvme*`, () => {
  if (!existsSync(NVME_SYSFS)) { console.log(`  SKIP: no ${NVME} in this lab`); return; }
  const id = ['vendor', 'device'].map((f) => readFileSync(`${NVME_SYSFS}/${f}`, 'utf8').trim().slice(2)).join(':');
  assert.is(id, NVME_ID);
  assert.is(readFileSync(`${NVME_SYSFS}/class`, 'utf8').trim(), '0x010802', 'an NVM Express controller');
  assert.is(nvmeDriver(), 'vfio-pci');
  const group = basename(readlinkSync(`${NVME_SYSFS}/iommu_group`));
  assert.equal(readdirSync(`${NVME_SYSFS}/iommu_group/devices`), [NVME]);
  assert.ok(existsSync(`/dev/vfio/${group}`));
  assert.equal(nvmeNodes(), [], 'no /dev/nvme* (controller, namespace or generic node) of L1\'s driver left');
  assert.not.ok(existsSync(`${NVME_SYSFS}/nvme`), 'and no nvme controller under the function in sysfs');
});

test('through VFIO: a 16 KiB 64-bit BAR0; MSI-X with 65 vectors, table at BAR0+0x2000 and PBA at BAR0+0x3000, each on a 4 KiB page of its own; no MSI', () => {
  if (!existsSync(NVME_SYSFS)) { console.log(`  SKIP: no ${NVME} in this lab`); return; }
  const before = countFds();
  const dev = openDevice(NVME);
  let layout = '';
  try {
    const bar0 = dev.region(VFIO_PCI_BAR0_REGION_INDEX), cfg = dev.region(VFIO_PCI_CONFIG_REGION_INDEX);
    assert.is(bar0.size, 0x4000n);
    assert.ok(bar0.mmappable);
    assert.is(Number(cfg.read(0x10, 4)) & 0x7, 0x4, 'BAR0 is 64-bit memory');
    // The capability list, walked with a bound.
    assert.ok(Number(cfg.read(PCI_STATUS, 2)) & PCI_STATUS_CAP_LIST);
    const caps: [number, number][] = [];
    for (let off = Number(cfg.read(PCI_CAPABILITY_LIST, 1)) & 0xfc; off >= 0x40 && caps.length < STD_CAPS_MAX; off = Number(cfg.read(off + 1, 1)) & 0xfc) caps.push([off, Number(cfg.read(off, 1))]);
    const msix = caps.find(([, c]) => c === PCI_CAP_ID_MSIX)?.[0];
    assert.ok(msix !== undefined, `an MSI-X capability (caps ${caps.map(([o, c]) => `0x${o.toString(16)}:0x${c.toString(16)}`).join(' ')})`);
    assert.is(caps.find(([, c]) => c === PCI_CAP_ID_MSI), undefined, 'no MSI capability: MSI-X or INTx');
    const tableSize = (Number(cfg.read(msix + PCI_MSIX_FLAGS, 2)) & 0x7ff) + 1;
    const table = Number(cfg.read(msix + PCI_MSIX_TABLE, 4)), pba = Number(cfg.read(msix + PCI_MSIX_PBA, 4));
    assert.is(tableSize, QEMU_NVME_VECTORS);
    assert.is(dev.irqs[VFIO_PCI_MSIX_IRQ_INDEX]!.count, tableSize, 'VFIO offers as many MSI-X vectors as the table has');
    assert.is(dev.irqs[VFIO_PCI_MSI_IRQ_INDEX]!.count, 0);
    assert.equal([table & 7, table & ~7, pba & 7, pba & ~7], [0, 0x2000, 0, 0x3000], 'table and PBA both in BAR0');
    // The registers the guest's driver writes: the controller's (0..0xfff) and the doorbells after
    // them, one submission and one completion doorbell per queue, (4 << CAP.DSTRD) bytes apart.
    const cmd = Number(cfg.read(PCI_COMMAND, 2));
    cfg.write(PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY);
    const cap = bar0.read(NVME_REG_CAP, 8);
    cfg.write(PCI_COMMAND, 2, cmd);
    const stride = 4 << Number((cap >> 32n) & 0xfn);
    const registersEnd = NVME_REG_DBS + 2 * QEMU_NVME_VECTORS * stride; // exclusive
    const tableEnd = (table & ~7) + tableSize * PCI_MSIX_ENTRY_SIZE, pbaEnd = (pba & ~7) + Math.ceil(tableSize / 64) * 8;
    const pages = (from: number, to: number, page: number): number[] => { const p: number[] = []; for (let a = Math.floor(from / page); a <= Math.floor((to - 1) / page); a++) p.push(a); return p; };
    const shares = (page: number): boolean => pages(0, registersEnd, page).some((p) => pages(table & ~7, tableEnd, page).includes(p) || pages(pba & ~7, pbaEnd, page).includes(p));
    layout = `BAR0 0x4000 (64-bit, mmappable, sparse ${bar0.sparse ? bar0.sparse.map((a) => `0x${a.offset.toString(16)}+0x${a.size.toString(16)}`).join(' ') || 'none' : 'no cap'}, MSIX_MAPPABLE ${bar0.msixMappable}); `
      + `caps ${caps.map(([o, c]) => `0x${o.toString(16)}:0x${c.toString(16)}`).join(' ')}; registers 0x0..0x${(registersEnd - 1).toString(16)} (doorbell stride ${stride}); `
      + `MSI-X table 0x${(table & ~7).toString(16)}..0x${(tableEnd - 1).toString(16)} (${tableSize} vectors), PBA 0x${(pba & ~7).toString(16)}..0x${(pbaEnd - 1).toString(16)}; `
      + `shares a page with registers: 4 KiB ${shares(0x1000)}, 16 KiB ${shares(0x4000)}, 64 KiB ${shares(0x10000)}`;
    console.log(`  # ${layout}`);
    assert.is(stride, 4);
    assert.not.ok(shares(0x1000), 'at 4 KiB pages the table and the PBA each have a page of their own');
    assert.ok(shares(0x4000) && shares(0x10000), 'at 16 and 64 KiB pages the whole BAR is one page: a VMM must relocate the table (or trap the page)');
  } finally { dev.close(); }
  assert.is(countFds(), before, 'open fds equal before and after');
  assert.ok(layout);
});

test.run();

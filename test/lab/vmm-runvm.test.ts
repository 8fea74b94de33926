// Runs INSIDE the lab guest (L1): vfiokit/vmm's runVm itself, with 2 vCPUs and the three kinds of
// device together: the pl031 (AMBA, vfio-amba, memslot + irqfd), the virtio_mmio transport
// (platform, vfio-platform, a 0x200 region that is trapped, not mapped) and QEMU's NVMe (PCI,
// vfio-pci behind the SMMUv3, MSI-X on the ITS). The L2 Linux brings up its second CPU through
// KVM's in-kernel PSCI, its rtc-pl031 and nvme drivers run the devices, and its /init
// (examples/mini-vmm/linux/init.c) prints `l2:` lines and powers off. The console is kept to
// the kernel's whole log (one exit per byte: the UART's reads come from a read-only page).
// The lab kernel has no virtio-mmio driver: L2 gets the virtio_mmio's node and leaves it alone.
// The CLI's own lab tests (vfiokit run) are elsewhere; this is the library's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFdt } from '../../src/index';
import { runVm, type VmEvent } from '../../src/vmm-api';
import { openFds } from '../support/fds';
import { parseL2 } from '../support/l2-lines';
import { diskSha256, NVME, NVME_SYSFS } from '../support/nvme';

const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
const PL031 = '9010000.pl031', VIRTIO = 'a000000.virtio_mmio';
const SYSFS: Record<string, string> = { [PL031]: `/sys/bus/amba/devices/${PL031}`, [VIRTIO]: `/sys/bus/platform/devices/${VIRTIO}`, [NVME]: NVME_SYSFS };
const driverOf = (name: string): string => existsSync(`${SYSFS[name]}/driver`) ? readlinkSync(`${SYSFS[name]}/driver`).split('/').pop()! : 'none';

function skipReason(): string | undefined {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) return 'no l2/Image or l2/initrd.gz in this image';
  for (const d of [PL031, VIRTIO, NVME]) if (!existsSync(SYSFS[d]!)) return `no ${d} in L1`;
  if (!diskSha256()) return 'L1\'s command line has no vfiokit.disk_sha256=';
  return undefined;
}

test('runVm: 2 vCPUs, the pl031 + the platform virtio_mmio + the NVMe together; L2 brings up both CPUs, uses the devices, powers off; fds and drivers as before', async () => {
  const why = skipReason();
  if (why) { console.log(`  SKIP: ${why}`); return; }
  const devices = [PL031, VIRTIO, NVME];
  const driversBefore = devices.map(driverOf);
  const before = openFds();
  const events: VmEvent[] = [];
  let dtb: Uint8Array | undefined;
  let text = '';
  const t0 = process.hrtime.bigint();
  const r = await runVm({
    kernel: new Uint8Array(readFileSync(l2('Image'))), initrd: new Uint8Array(readFileSync(l2('initrd.gz'))),
    hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), memBytes: 0x1000_0000n, cpus: 2,
    devices: devices.map((name) => ({ name })), append: `l2.disk_sha256=${diskSha256()}`,
    console: (b) => { const s = Buffer.from(b).toString('latin1'); text += s; if (s === '\n') process.stdout.write(`  ${text.slice(text.lastIndexOf('\n', text.length - 2) + 1)}`); },
    onEvent: (ev) => { events.push(ev); console.log(`  event ${ev.kind}: ${ev.message}`); },
    dtbOut: (d) => { dtb = d; },
  });
  const wholeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = openFds();
  const con = text.replace(/\r\n/g, '\n');
  console.log(`  end ${r.end}${r.error ? ` (${r.error.message})` : ''}; ${r.exits} exits ${JSON.stringify(r.counts)}; vCPUs ${JSON.stringify(r.vcpus)}; mode ${r.runMode}; setup ${r.setupMs.toFixed(0)} ms, run ${r.runMs.toFixed(0)} ms, whole ${wholeMs.toFixed(0)} ms`);

  assert.is(r.end, 'poweroff', 'the guest powered off through PSCI SYSTEM_OFF');
  assert.is(r.runMode, 'main+pool');
  assert.ok(r.ticks);
  assert.equal(r.vcpus.map((v) => v.id), [0, 1]);
  // The tree the VMM built: two cpus, the two platform nodes, the host bridge.
  const t = parseFdt(dtb!);
  assert.equal(t.node('/cpus').children().map((c) => c.name).filter((n) => n.startsWith('cpu@')), ['cpu@0', 'cpu@1']);
  const pl031 = r.devices[0]!.platform!, virtio = r.devices[1]!.platform!;
  assert.ok(t.findNode(`/pl031@${pl031.regions[0]!.gpa.toString(16)}`), 'the pl031 node at its placed address');
  assert.ok(t.findNode(`/virtio_mmio@${virtio.regions[0]!.gpa.toString(16)}`), 'the virtio_mmio node at its placed address');
  assert.ok(t.node('/').children().some((c) => c.name.startsWith('pcie@')), 'the PCI host bridge');
  // L2's view: the second CPU came up by PSCI, the RTC and the disk worked.
  const l = parseL2(con);
  assert.match(con, /l2: PASS$/m);
  assert.is(l.nvmeVerdict, 'PASS');
  assert.is(l.pattern?.read, diskSha256());
  assert.match(con, /l2: rtc0-name rtc-pl031 /);
  assert.match(con, /smp: Brought up 1 node, 2 CPUs/, 'vCPU 1 came up through KVM\'s in-kernel PSCI CPU_ON');
  assert.ok(r.vcpus[1]!.exits > 0, 'vCPU 1 ran and exited to the VMM');
  assert.equal(virtio.irqs.length, 1, 'the virtio_mmio placed with its IRQ');
  assert.is(r.devices[1]!.irqPath, 'irqfd');
  assert.is(r.counts.stray, 0, `no stray access (${r.strayAddrs.join(' ')})`);
  assert.ok(r.devices[2]!.pci!.stats.irqfdAssigns > 0, 'MSI-X vectors on irqfds');
  // Every step was reported, before the first vCPU started.
  const kinds = events.map((e) => e.kind);
  assert.is(kinds.filter((k) => k === 'device-opened').length, 3);
  assert.is(kinds.filter((k) => k === 'device-wired').length, 3);
  assert.ok(kinds.indexOf('vcpu-started') > kinds.lastIndexOf('device-wired') && kinds.indexOf('vcpu-started') > kinds.indexOf('dtb-built'), 'devices wired and the tree built before any vCPU ran');
  assert.is(kinds.filter((k) => k === 'vcpu-started').length, 2);
  assert.ok(kinds.includes('guest-poweroff'));
  assert.equal(after, before, 'open fds equal before and after');
  assert.equal(devices.map(driverOf), driversBefore, 'every device bound as it was');
});

// The boot time by vCPU count: the same quiet boot (the pl031 alone) with 1 vCPU (KVM_RUN on the
// main thread) and 2 (each on a pool thread, exits handled on the event loop). Printed for the
// record (docs/mini-vmm.md); both must pass.
test('the quiet pl031 boot with 1 and with 2 vCPUs: both power off after /init passes; times printed', async () => {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) { console.log('  SKIP: no l2 payload'); return; }
  const kernel = new Uint8Array(readFileSync(l2('Image'))), initrd = new Uint8Array(readFileSync(l2('initrd.gz')));
  const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
  for (const cpus of [1, 2]) {
    const before = openFds();
    const t0 = process.hrtime.bigint();
    const r = await runVm({ kernel, initrd, hostDtb, memBytes: 0x1000_0000n, cpus, devices: [{ name: PL031 }], append: 'quiet', console: () => {} });
    const wholeMs = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`  cpus ${cpus}: end ${r.end}, ${r.runMode}, ${r.exits} exits (vCPUs ${r.vcpus.map((v) => v.exits).join('/')}), setup ${r.setupMs.toFixed(0)} ms, run ${r.runMs.toFixed(0)} ms (in KVM_RUN ${r.inKvmMs.toFixed(0)} ms), whole ${wholeMs.toFixed(0)} ms`);
    assert.is(r.end, 'poweroff', `${cpus} vCPU(s): /init passed and powered off`);
    assert.equal(openFds(), before);
  }
});

test.run();

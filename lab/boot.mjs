// Boots the lab guest under qemu-system-aarch64, streams its console, and ends it with a watchdog.
// The guest's command and its exit status travel through the marker protocol (lab/protocol.mjs).
import { spawn } from 'node:child_process';
import { ConsoleMonitor } from './protocol.mjs';

/** Seconds without any console output before the guest counts as hung. */
export const IDLE_LIMIT_S = 180;
/** Seconds a whole boot may take, whatever it prints. */
export const TOTAL_LIMIT_S = 1800;
/** Kernel parameters the lab needs (docs/LAB.md): noiommu for the platform/AMBA devices, no reset
 *  module; and room for 131,072 type1 DMA mappings per container (the default 65,535 is one short
 *  of the 256 MiB in 4 KiB pieces that the DMA benchmark maps, docs/BENCH.md). */
export const KERNEL_PARAMS = 'console=ttyAMA0 rdinit=/init vfio.enable_unsafe_noiommu_mode=1 vfio_platform.reset_required=0 vfio_iommu_type1.dma_entry_limit=131072 panic=-1 quiet';

/** The lab's PCI devices. edu at 00:02.0 is alone in its IOMMU group. Two more edu devices are
 *  functions 0 and 1 of one slot (00:04.0, 00:04.1): conventional PCI functions without ACS, which
 *  the kernel cannot isolate from each other and so puts in one IOMMU group, for the whole-group
 *  tests (test/lab/api-group.test.ts); the guest has no edu driver, /init leaves them on none.
 *  (Devices behind a conventional pci-bridge would be grouped too, but they share the bridge's
 *  requester ID, and Linux 6.12's SMMUv3 driver refuses a stream ID a second time: docs/LAB.md.)
 *  QEMU's NVMe controller at 00:03.0 (NVME_DEVICE) is the fourth, ivshmem at 00:05.0 (IVSHMEM_DEVICE)
 *  the fifth. Addresses are pinned so the names stay. */
export const PCI_DEVICES = [
  'edu,addr=02.0',
  'edu,addr=04.0,multifunction=on',
  'edu,addr=04.1',
];
/** QEMU's NVMe controller (1b36:0010) on the lab's disk image (lab/disk.mjs), for the nested
 *  guest's passed-through disk; alone in its IOMMU group; L1's /init hands it to vfio-pci. */
export const NVME_DEVICE = 'nvme,serial=vfiokit,drive=nvm,addr=03.0';
/** QEMU's ivshmem-plain (1af4:1110) at 00:05.0, alone in its IOMMU group; L1's /init hands it to
 *  vfio-pci. Its BAR 2 is 1 GiB of 64-bit memory (the backend below; RAM touched only where the
 *  guest writes), more than the mini-VMM's 32-bit PCI window holds: the nested guest's kernel must
 *  place it in the 64-bit window (test/lab/vmm-run-pci.test.ts). */
export const IVSHMEM_OBJECT = 'memory-backend-ram,id=ivshm,size=1G';
export const IVSHMEM_DEVICE = 'ivshmem-plain,memdev=ivshm,addr=05.0';
/** The disk behind it: raw, and snapshot=on, so the guest's writes go to a temporary overlay and
 *  never reach the image: every boot starts from the same pattern. (A comma in the path is
 *  doubled, QEMU's escape inside an option list.) */
export const nvmeDrive = (path) => `file=${path.replaceAll(',', ',,')},if=none,id=nvm,format=raw,snapshot=on`;
/** The kernel parameter that tells L1 (and through it the nested guest) the SHA-256 of the disk's
 *  pattern, as the host computed it when it made the image. */
export const DISK_SHA256_PARAM = 'vfiokit.disk_sha256';

/** The qemu-system-aarch64 argv for an Image, an initrd, the NVMe disk ({ path, sha256 } from
 *  lab/disk.mjs labDisk) and extra kernel parameters. Throws when the disk is missing: the lab's
 *  device set is fixed, and a boot without the NVMe would fail its tests for a reason far away. */
export function qemuArgs({ kernel, initrd, disk, append = '' }) {
  if (typeof disk?.path !== 'string' || !/^[0-9a-f]{64}$/.test(disk?.sha256 ?? '')) throw new Error('qemuArgs: disk must be { path, sha256 } (lab/disk.mjs labDisk)');
  return ['-M', 'virt,virtualization=on,gic-version=3,iommu=smmuv3', '-cpu', 'max', '-smp', '2', '-m', '2048',
    '-nographic', '-no-reboot', '-nic', 'none', '-kernel', kernel, '-initrd', initrd, ...PCI_DEVICES.flatMap((d) => ['-device', d]),
    '-drive', nvmeDrive(disk.path), '-device', NVME_DEVICE, '-object', IVSHMEM_OBJECT, '-device', IVSHMEM_DEVICE,
    '-append', `${KERNEL_PARAMS} ${DISK_SHA256_PARAM}=${disk.sha256} ${append}`.trim()];
}

/** Encodes a shell command for the kernel command line (base64url has no spaces or quotes). */
export function encodeCommand(cmd) { return Buffer.from(cmd, 'utf8').toString('base64url'); }

/**
 * Boots once and resolves { status, message, panic?, files, monitor }. Never rejects for guest
 * failures: a hang, a panic or a missing status become statuses (protocol.mjs EXIT).
 *   disk: { path, sha256 } (lab/disk.mjs labDisk), for qemuArgs().
 *   command: [file, ...args] to run instead of qemu (tests use a fake); default qemu-system-aarch64 + qemuArgs().
 *   onLine(text): every console line that is not a marker; onEvent(ev): every marker event.
 */
export function bootGuest({ kernel, initrd, disk, cmd, command, idleLimitS = IDLE_LIMIT_S, totalLimitS = TOTAL_LIMIT_S, onLine = () => {}, onEvent = () => {} }) {
  const argv = command ?? ['qemu-system-aarch64', ...qemuArgs({ kernel, initrd, disk, append: cmd === undefined ? '' : `lab.cmd=${encodeCommand(cmd)}` })];
  const monitor = new ConsoleMonitor();
  return new Promise((resolve) => {
    let hung; let done = false;
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (why) => { if (done || hung) return; hung = why; child.kill('SIGKILL'); };
    let idle = setTimeout(() => kill(`no console output for ${idleLimitS} s`), idleLimitS * 1000);
    const total = setTimeout(() => kill(`over the total limit of ${totalLimitS} s`), totalLimitS * 1000);
    let pending = '';
    const onData = (d) => {
      clearTimeout(idle);
      idle = setTimeout(() => kill(`no console output for ${idleLimitS} s`), idleLimitS * 1000);
      pending += d;
      const lines = pending.split('\n'); pending = lines.pop();
      for (const l of lines) {
        const text = l.replace(/\r$/, '');
        const ev = monitor.line(text);
        if (ev) onEvent(ev); else onLine(text);
        // The guest reported its status or panicked: nothing more to wait for (poweroff may linger).
        if (ev?.ev === 'exit' || (monitor.panic && !hung)) setTimeout(() => kill('ended after the final report'), 3000).unref();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => { hung = hung ?? `could not start ${argv[0]}: ${e.message}`; });
    child.on('close', () => {
      done = true; clearTimeout(idle); clearTimeout(total);
      if (pending) { const ev = monitor.line(pending.replace(/\r$/, '')); if (ev) onEvent(ev); else onLine(pending); pending = ''; }
      const r = monitor.finish(hung === 'ended after the final report' ? undefined : hung);
      resolve({ ...r, monitor });
    });
  });
}

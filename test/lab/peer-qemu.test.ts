// Runs INSIDE the lab guest (arm64, KVM under TCG-emulated EL2): QEMU as the peer VMM
// (docs/BENCH.md, "QEMU as the peer"). Debian's qemu-system-aarch64, with KVM, boots the same L2
// Image and initramfs as the mini-VMM's Linux demonstration, and passes the lab's edu through
// with its own vfio-pci; the L2 init (examples/mini-vmm/linux/init.c) reports its verdict on the
// console. Then QEMU is asked for the platform devices the mini-VMM passes through, and what it
// says is checked: rows of the feature table.
// The image carries QEMU only when built with VFIOKIT_LAB_QEMU=1 (lab/qemu-payload.mjs);
// without it every test here is skipped (uvu's skip, counted as such) and the file says why.
// The lab suite's image always carries it (lab/suite.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { EDU, peerMissing, qemuL2Argv, qemuPackages, runVmm, setupFigures, type VmmRun } from '../../bench/peer/vmm';

/** A whole L2 run under nested KVM on TCG: about 17 s measured; the limit leaves room for a busy machine. */
const L2_LIMIT_MS = 240_000;
/** QEMU refusing a device exits before the guest starts: seconds, not minutes. */
const REFUSAL_LIMIT_MS = 60_000;
/** edu's BAR 0 (QEMU's hw/misc/edu.c: 1 MiB of MMIO). */
const EDU_BAR0_BYTES = 0x10_0000;

const missing = peerMissing();
if (missing) console.log(`  !!! SKIPPED: ${missing} !!!`);
/** Each test here, or uvu's skip (counted as skipped, never as passed) when the image has no QEMU. */
const peerTest = missing ? test.skip : test;
const show = (r: VmmRun): string => r.lines.map((l) => `  [${(l.ms / 1000).toFixed(3)} s ${l.stream}] ${l.text}`).join('\n');
const driverOf = (bdf: string): string => { const p = `/sys/bus/pci/devices/${bdf}/driver`; return existsSync(p) ? basename(readlinkSync(p)) : ''; };

peerTest('QEMU in L1 boots the L2 with the edu passed through by its vfio-pci: the L2 enumerates it with its BAR, and the L2 init passes', async () => {
  console.log(`  QEMU payload: ${Object.entries(qemuPackages().packages).filter(([p]) => p.startsWith('qemu')).map(([p, v]) => `${p} ${v}`).join(', ')}`);
  assert.is(driverOf(EDU), 'vfio-pci', 'lab/init.sh bound the edu to vfio-pci');
  const argv = qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: EDU, addr: '02.0' }] });
  console.log(`  ${argv.join(' ')}`);
  const r = await runVmm(argv, { limitMs: L2_LIMIT_MS });
  console.log(show(r));
  const f = setupFigures(r);
  console.log(`  QEMU: exit ${r.code}${r.killed ? ` (${r.killed})` : ''}; start to the L2's first line ${f.firstLineMs?.toFixed(0)} ms, to the verdict ${f.verdictMs?.toFixed(0)} ms, to exit ${r.wallMs.toFixed(0)} ms; peak RSS ${(f.peakRssBytes / 2 ** 20).toFixed(1)} MiB (${r.rssSamples} samples)`);

  assert.is(r.killed, undefined, 'QEMU ended by itself');
  assert.is(r.code, 0, 'QEMU exited 0 (the guest powered off)');
  const console_ = r.lines.filter((l) => l.stream === 'out').map((l) => l.text).join('\n');
  assert.match(console_, /Booting Linux on physical CPU/, 'the L2 kernel booted');
  // The L2's PCI core found QEMU's view of the edu: vendor 1234, device 11e8, class 00ff00, and
  // its 1 MiB BAR 0, which it assigned in the host bridge's window.
  assert.match(console_, /pci 0000:00:02\.0: \[1234:11e8\] type 00 class 0x00ff00/, 'the L2 enumerated the passed-through edu at 00:02.0');
  const bar = console_.match(/pci 0000:00:02\.0: BAR 0 \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]: assigned/);
  assert.ok(bar, 'the L2 assigned the edu its BAR 0');
  assert.is(parseInt(bar![2]!, 16) - parseInt(bar![1]!, 16) + 1, EDU_BAR0_BYTES, 'BAR 0 is edu\'s 1 MiB');
  assert.is(f.verdict, 'PASS', 'the L2 init passed its checks');
  assert.match(console_, /l2: power-off/);
  assert.ok(f.firstLineMs !== undefined && f.verdictMs !== undefined && f.firstLineMs < f.verdictMs);
  // QEMU's own messages: only the edu's missing reset (edu has no FLR and no PM reset, and sits on
  // L1's root bus, where no bridge can reset it; said twice before the guest starts). Anything
  // else is news.
  const other = r.lines.filter((l) => l.stream === 'err' && !/vfio: Cannot reset device 0000:00:02\.0, no available reset mechanism\./.test(l.text));
  assert.equal(other.map((l) => l.text), [], 'QEMU printed nothing else on stderr');
  assert.ok(r.peakRssKb > 0 && r.rssSamples > 0, 'the runner read QEMU\'s peak RSS');
  assert.is(driverOf(EDU), 'vfio-pci', 'the edu is still on vfio-pci after QEMU');
});

// What QEMU 7.2 says to the platform devices the mini-VMM passes through (the feature table's
// QEMU column): each refusal exactly as printed, and QEMU exits 1 before any guest runs.
const PLATFORM_ROWS: { device: string; says: RegExp; why: string }[] = [
  { device: 'vfio-amba,host=9010000.pl031', says: /-device vfio-amba,host=9010000\.pl031: 'vfio-amba' is not a valid device model name/,
    why: 'QEMU has no AMBA passthrough device model' },
  { device: 'vfio-platform,host=9010000.pl031', says: /-device vfio-platform,host=9010000\.pl031: vfio 9010000\.pl031: failed to get the sysfs host device file status: No such file or directory/,
    why: 'vfio-platform looks for /sys/bus/platform/devices/9010000.pl031; the pl031 is an AMBA device' },
  { device: 'vfio-platform,host=a000000.virtio_mmio', says: /-device vfio-platform,host=a000000\.virtio_mmio: vfio a000000\.virtio_mmio: failed to open \/dev\/vfio\/\d+: No such file or directory/,
    why: 'the device is in a no-IOMMU group (/dev/vfio/noiommu-N), which QEMU does not open' },
];

peerTest('QEMU and the platform devices: vfio-amba is no device model, vfio-platform finds no platform device for the AMBA pl031, and cannot open the no-IOMMU group of virtio_mmio', async () => {
  for (const row of PLATFORM_ROWS) {
    const r = await runVmm(qemuL2Argv({ devices: [{ kind: row.device.split(',')[0]!, host: row.device.split('host=')[1]! }] }), { limitMs: REFUSAL_LIMIT_MS });
    const said = r.lines.map((l) => l.text).join('\n');
    console.log(`  -device ${row.device}: exit ${r.code} after ${r.wallMs.toFixed(0)} ms: ${said}`);
    assert.is(r.killed, undefined, `${row.device}: QEMU ended by itself`);
    assert.is(r.code, 1, `${row.device}: QEMU refused it`);
    assert.match(said, row.says, `${row.device}: ${row.why}`);
    assert.not.match(said, /Booting Linux/, `${row.device}: no guest ran`);
  }
});

test.run();

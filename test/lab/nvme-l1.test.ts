// Runs INSIDE the lab guest (L1): QEMU's NVMe controller (0000:00:03.0) driven by L1's own nvme
// driver, with the same program that is the nested guest's /init (examples/mini-vmm/linux/init.c,
// `init nvme`), so its checks and its line formats are proven here before the mini-VMM passes the
// device through: the pattern the host wrote reads back with the host's hash, 16 MiB written with
// O_DIRECT read back the same, MSI-X vectors count interrupts. /init leaves the function on
// vfio-pci; this test moves it to nvme and back, so it is left as found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseL2 } from '../support/l2-lines';
import { NVME, NVME_ID, NVME_SYSFS, diskSha256, nvmeDriver, nvmeNodes, rebindNvme } from '../support/nvme';

// The bundle lives in /opt/vfiokit/test/lab/; the L2 payload, /init included, in /opt/vfiokit/l2/.
const INIT = fileURLToPath(new URL('../../l2/init', import.meta.url));
/** The checks read 16 MiB, write 16 MiB and read them back in 1 MiB O_DIRECT transfers. */
const TRANSFERS = 48;
/** How long the nvme driver may take to show its namespace after the bind. */
const PROBE_LIMIT_MS = 30_000;
/** How long `init nvme` may take (its own wait for the disk is 60 s, the I/O a few seconds). */
const RUN_LIMIT_MS = 120_000;

const namespaceShown = (): boolean => existsSync(`${NVME_SYSFS}/nvme`) && readdirSync(`${NVME_SYSFS}/nvme`).some((c) => existsSync(`${NVME_SYSFS}/nvme/${c}/${c}n1`));

test('L1\'s nvme driver reads the host\'s pattern, writes and reads back 16 MiB with O_DIRECT, on MSI-X vectors; the function goes back to vfio-pci', async () => {
  if (!existsSync(NVME_SYSFS)) { console.log(`  SKIP: no ${NVME} in this lab (lab/boot.mjs adds QEMU's nvme there)`); return; }
  if (!existsSync(INIT)) { console.log('  SKIP: no l2/init in this image (lab/initramfs.mjs puts it there)'); return; }
  const expected = diskSha256();
  assert.ok(expected, 'L1\'s command line has vfiokit.disk_sha256=');
  assert.is(nvmeDriver(), 'vfio-pci', 'lab/init.sh left the function on vfio-pci');
  let out = '';
  let probeMs = -1;
  try {
    const t0 = Date.now();
    rebindNvme('nvme');
    while (!namespaceShown() && Date.now() - t0 < PROBE_LIMIT_MS) await new Promise((r) => setTimeout(r, 10));
    probeMs = Date.now() - t0;
    const r = spawnSync(INIT, ['nvme', '--bdf', NVME], { encoding: 'utf8', timeout: RUN_LIMIT_MS });
    out = r.stdout;
    console.log(out.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    if (r.stderr) console.log(`  stderr: ${r.stderr}`);
    assert.is(r.status, 0, `init nvme exited ${r.status}`);
  } finally {
    rebindNvme('vfio-pci');
  }
  const rep = parseL2(out);
  assert.ok(rep.pci.some((p) => p.bdf === NVME && p.id === NVME_ID), `it enumerated ${NVME} ${NVME_ID}`);
  assert.equal(rep.fails, []);
  assert.is(rep.nvmeVerdict, 'PASS');
  assert.equal(rep.pattern, { read: expected, expected }, 'the first 16 MiB hash to what the host computed when it made the image');
  assert.ok(rep.write && rep.write.wrote === rep.write.read, 'what was written reads back the same');
  assert.is.not(rep.write!.wrote, expected);
  assert.is(rep.disk?.bytes, 64 << 20);
  assert.is(rep.irqMode, 'msix');
  const view = rep.views.get(NVME)!;
  assert.is(view.driver, 'nvme');
  assert.ok(view.msix?.enabled, 'MSI-X is on');
  assert.ok(view.command?.memory && view.command.busMaster, 'memory decoding and bus mastering are on');
  assert.ok(rep.irqLines.length >= 2, `an admin and at least one I/O queue vector (${rep.irqLines.length} lines)`);
  assert.ok(rep.irqLines.every((l) => /MSI-X|MSIX/i.test(l.line)), 'every nvme line is an MSI-X vector');
  assert.ok(rep.irqLines.filter((l) => l.total > 0).length >= 2, 'more than one vector counted interrupts');
  const f = rep.figures!;
  assert.ok(f.ios >= TRANSFERS, `at least one I/O per 1 MiB transfer (${f.ios})`);
  assert.ok(f.irqs > 0, `the I/O raised interrupts (${f.irqs})`);
  assert.ok(f.readMbs > 0 && f.writeMbs > 0);
  console.log(`  # L1 figures: bind to namespace ${probeMs} ms; read ${f.readMbs} MB/s, write ${f.writeMbs} MB/s; ${f.ios} I/Os, ${f.irqs} interrupts (${(f.irqs / f.ios).toFixed(2)} per I/O)`);
  // Left as found: on vfio-pci, with no node of the controller or its namespace in L1.
  assert.is(nvmeDriver(), 'vfio-pci');
  assert.equal(nvmeNodes(), []);
});

test.run();

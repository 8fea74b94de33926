// Runs INSIDE the lab guest (L1: arm64, KVM under TCG-emulated EL2): the mini-vmm boots the L2
// Linux with QEMU's NVMe (L1's 0000:00:03.0, bound to vfio-pci at boot, behind the SMMUv3) passed
// through with vfiokit's PciPassthrough, at 00:01.0 behind the VMM's ECAM host bridge, its MSI-X
// delivered by KVM irqfds on MSI routes to the vGICv3's ITS (examples/mini-vmm/linux.ts,
// passthrough.ts, pci.ts). The L2 kernel's own nvme driver probes it; the L2 /init
// (examples/mini-vmm/linux/init.c) reads the disk's pattern, writes and reads back 16 MiB with
// O_DIRECT, and prints what it saw as `l2: ...` lines. A second boot with `pci=nomsi` reads the
// pattern through INTx (irqfd + resample on the interrupt-map SPI).
// The disk's expected hash comes from L1's command line (vfiokit.disk_sha256=, set by the lab).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runLinux, type LinuxExitCounts, type LinuxReport } from '../../examples/mini-vmm/linux';
import { BOARD } from '../../src/vmm-api';

/** The host bridge's windows (vfiokit/vmm's board). */
const PCI_LAYOUT = { mmio32: BOARD.pciMmio32, mmio64: BOARD.pciMmio64, intxSpis: BOARD.intxSpis };
/** Whether [addr, addr + size) lies inside one of the host bridge's windows (the 64-bit one where
 *  the VM's address space has it: the lab's has; Linux puts a 64-bit BAR there). */
const inWindow = (addr: bigint, size: bigint): boolean => [PCI_LAYOUT.mmio32, PCI_LAYOUT.mmio64].some((w) => addr >= w.base && addr + size <= w.base + w.size);
import { openFds } from '../support/fds';
import { parseL2, type L2Report } from '../support/l2-lines';
import { diskSha256, NVME, NVME_ID, NVME_SYSFS, nvmeDriver } from '../support/nvme';

const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
/** Where the VMM places the lab's NVMe (L1's NVME) for L2: the first slot behind its host bridge. */
const GUEST_BDF = '0000:00:01.0';
/** Config space: the capabilities pointer, the MSI-X capability's ID and its Message Control. */
const PCI_CAPABILITY_LIST = 0x34, PCI_CAP_ID_MSIX = 0x11, PCI_MSIX_FLAGS_QSIZE = 0x7ff;
/** Bounds on the capability walks (48 standard capabilities fit in 192 bytes; 4 KiB / 4 for extended). */
const MAX_CAPS = 48, MAX_ECAPS = 1024;

function skipReason(): string | undefined {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) return 'no l2/Image or l2/initrd.gz in this image (lab/initramfs.mjs puts them there)';
  if (!existsSync(NVME_SYSFS)) return `no ${NVME} in L1 (the lab's QEMU has no NVMe)`;
  if (!diskSha256()) return 'L1\'s command line has no vfiokit.disk_sha256= (the lab did not make the disk image)';
  return undefined;
}
const driverOf = (): string => nvmeDriver() ?? 'none';

/** The mappings of this process that belong to a device or KVM (VFIO BARs, kvm_run, the vGIC's),
 *  and anonymous ones of exactly guest RAM's size: none may outlive a run. */
function vmmMappings(ramBytes: bigint): string[] {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => {
    const [range, , , , , path = ''] = l.trim().split(/\s+/);
    if (!range) return false;
    const [a, b] = range.split('-').map((h) => BigInt(`0x${h}`));
    return /^(\/dev\/vfio\/|anon_inode:.*(vfio|kvm))/.test(path) || (path === '' && b! - a! === ramBytes);
  });
}

interface HostConfig { caps: { off: number; id: number }[]; ecaps: { off: number; id: number }[]; msixTableSize: number; bars: Map<number, bigint> }
/** The host's view of the function: its config space (root reads all 4 KiB through sysfs) and the
 *  BAR sizes from the resource file. */
function hostConfig(): HostConfig {
  const c = readFileSync(`${NVME_SYSFS}/config`);
  const caps: { off: number; id: number }[] = [];
  for (let off = c[PCI_CAPABILITY_LIST]! & ~3; off && caps.length < MAX_CAPS; off = c[off + 1]! & ~3) caps.push({ off, id: c[off]! });
  const ecaps: { off: number; id: number }[] = [];
  if (c.length >= 4096) {
    for (let off = 0x100; off && ecaps.length < MAX_ECAPS;) {
      const h = c.readUInt32LE(off);
      if (h === 0 || h === 0xffff_ffff) break;
      ecaps.push({ off, id: h & 0xffff });
      off = (h >>> 20) & ~3;
    }
  }
  const msix = caps.find((x) => x.id === PCI_CAP_ID_MSIX);
  const msixTableSize = msix ? (c.readUInt16LE(msix.off + 2) & PCI_MSIX_FLAGS_QSIZE) + 1 : 0;
  const bars = new Map<number, bigint>();
  readFileSync(`${NVME_SYSFS}/resource`, 'utf8').trim().split('\n').slice(0, 6).forEach((l, i) => {
    const [start, end] = l.split(/\s+/).map((h) => BigInt(h));
    if (end! > start!) bars.set(i, end! - start! + 1n);
  });
  return { caps, ecaps, msixTableSize, bars };
}

/** The disk checks of both runs: the pattern is the lab's, the write read back the same, the verdict. */
function checkDisk(l: L2Report, expected: string): void {
  assert.is(l.pattern?.expected, expected, 'L2 got the expected hash on its command line');
  assert.is(l.pattern?.read, expected, 'the first 16 MiB as L2 read them are the lab\'s pattern');
  assert.ok(l.write && /^[0-9a-f]{64}$/.test(l.write.wrote) && l.write.wrote === l.write.read, 'the 16 MiB L2 wrote read back the same');
  assert.is(l.nvmeVerdict, 'PASS');
}
/** The console line matching re: its ms since the first KVM_RUN, and the exit counts at that moment. */
const at = (r: LinuxReport, re: RegExp): { ms: number; counts: LinuxExitCounts } | undefined => r.lines.find((l) => re.test(l.text));
/** The I/O phase of L2's /init: from the line before `sha256 pattern` (its config-space reads
 *  through sysfs are done by then) to `sha256 write` (the three 16 MiB transfers and their hashing). */
function ioPhase(r: LinuxReport): { from: LinuxExitCounts; to: LinuxExitCounts } | undefined {
  const i = r.lines.findIndex((l) => /l2: sha256 pattern /.test(l.text));
  const to = at(r, /l2: sha256 write /);
  return i > 0 && to ? { from: r.lines[i - 1]!.counts, to: to.counts } : undefined;
}
/** Exits that were not the console's: the VMM's work for everything else. */
const nonConsole = (c: LinuxExitCounts): number => c.device + c.ecam + c.msix + c.barTraps + c.stray + c.retry;

async function boot(append: string): Promise<{ r: LinuxReport; wholeMs: number }> {
  const t0 = process.hrtime.bigint();
  const r = await runLinux({
    kernel: new Uint8Array(readFileSync(l2('Image'))), initrd: new Uint8Array(readFileSync(l2('initrd.gz'))),
    hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), pci: [NVME], append,
    onLine: (l, ms) => console.log(`  [${(ms / 1000).toFixed(3)} s] ${l}`),
  });
  const wholeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = r.counts;
  console.log(`  end: ${r.end}; ${r.exits} exits: uart DR ${c.uartWrites}, FR ${c.uartFrReads}, other uart ${c.uartOther}, pl031 ${c.device}, ECAM ${c.ecam} (${r.ecam.reads} reads, ${r.ecam.writes} writes, ${r.ecam.absent} to empty functions, ${r.ecam.bad} bad), MSI-X ${c.msix}, other BAR traps ${c.barTraps}, stray ${c.stray}${r.strayAddrs.length ? ` (${r.strayAddrs.join(' ')})` : ''}, retry ${c.retry}`);
  for (const p of r.pci) {
    console.log(`  ${p.name} as ${p.guestAddress}: devid 0x${p.devid.toString(16)}, INTx GSI ${p.intxGsi}; stats ${JSON.stringify(p.stats)}; VMM ${JSON.stringify(p.counts)}; DMA ${p.dma.map((m) => `IOVA 0x${m.iova.toString(16)}+0x${m.size.toString(16)}`).join(', ')}; GSI routing commits ${r.routeCommits}`);
  }
  console.log(`  timing: setup ${r.setupMs.toFixed(0)} ms, run ${r.runMs.toFixed(0)} ms (in KVM_RUN ${r.inKvmMs.toFixed(0)} ms), whole ${wholeMs.toFixed(0)} ms; console ${r.console.length} bytes`);
  return { r, wholeMs };
}

test('mini-vmm --pci: the L2 nvme driver reads the pattern, writes and reads back through MSI-X on the ITS; config view, vectors, fds and mappings checked', async () => {
  const why = skipReason();
  if (why) { console.log(`  SKIP: ${why}`); return; }
  const expected = diskSha256()!;
  const host = hostConfig();
  const driverBefore = driverOf();
  const fdsBefore = openFds();
  const ramBytes = 0x1000_0000n;
  const mapsBefore = vmmMappings(ramBytes);
  console.log(`  host ${NVME}: driver ${driverBefore}; caps ${host.caps.map((x) => `0x${x.off.toString(16)}:${x.id.toString(16)}`).join(' ')}; ecaps ${host.ecaps.map((x) => `0x${x.off.toString(16)}:${x.id.toString(16)}`).join(' ')}; MSI-X table ${host.msixTableSize}; BARs ${[...host.bars].map(([i, s]) => `${i}:0x${s.toString(16)}`).join(' ')}`);

  const { r } = await boot(`l2.disk_sha256=${expected}`);
  const fdsAfter = openFds(), mapsAfter = vmmMappings(ramBytes), driverAfter = driverOf();

  // Enumeration and the disk.
  const l = parseL2(r.console);
  assert.is(r.end, 'shutdown', 'L2 powered off through PSCI');
  assert.equal(l.pci, [{ bdf: GUEST_BDF, id: NVME_ID }], 'L2 enumerated the NVMe at the address the VMM placed it, and nothing else');
  checkDisk(l, expected);
  assert.is(l.irqMode, 'msix');
  assert.equal(l.fails, []);
  assert.match(r.console, /l2: PASS$/m);

  // Interrupts: MSI-X on the ITS, several vectors used.
  assert.ok(l.irqLines.length >= 2, `an admin queue and I/O queues (${l.irqLines.length} lines)`);
  for (const x of l.irqLines) assert.match(x.line, new RegExp(`ITS-PCI-MSIX-${GUEST_BDF.replace(/\./g, '\\.')}`), x.line);
  assert.ok(l.irqLines.filter((x) => x.total > 0).length > 1, `more than one vector took interrupts: ${l.irqLines.map((x) => x.total).join(', ')}`);

  // The guest's view of config space against the host's.
  const view = l.views.get(GUEST_BDF);
  assert.ok(view?.msix && view.command, `a config view of ${GUEST_BDF}`);
  assert.equal(view!.caps.map((c) => ({ off: c.offset, id: c.id })), host.caps, 'the same capability list, at the same offsets');
  assert.equal(view!.ecaps.map((c) => ({ off: c.offset, id: c.id })), host.ecaps, 'the same extended capabilities');
  const msix = view!.msix!;
  assert.is(msix.tableSize, host.msixTableSize, 'the MSI-X table size');
  assert.ok(msix.enabled);
  // The passthrough may move the MSI-X table and PBA in the guest's view (PciPassthrough.relocation):
  // 'extend' doubles the table's BAR and puts them in its upper half; 'new-bar' gives them a BAR of
  // their own; every other BAR is the host's size.
  const reloc = r.pci[0]!.relocation;
  for (const [i, size] of host.bars) {
    const g = view!.bars.get(i);
    assert.ok(g, `BAR ${i} is there in the guest`);
    const extended = reloc === 'extend' && msix.tableBar === i;
    assert.is(g!.size, extended ? 2n * size : size, `BAR ${i}: the guest sized 0x${g!.size.toString(16)}, the host has 0x${size.toString(16)}${extended ? ' (doubled for the MSI-X table)' : ''}`);
    assert.ok(inWindow(g!.addr, g!.size), `BAR ${i} placed by L2 inside one of the VMM's windows (0x${g!.addr.toString(16)})`);
    if (extended) assert.ok(BigInt(msix.tableOffset) >= size && BigInt(msix.pbaOffset) >= size, 'table and PBA in the upper half');
  }
  assert.is(view!.bars.size, host.bars.size + (reloc === 'new-bar' ? 1 : 0), 'the host\'s BARs (and one for the MSI-X table if it got its own)');
  assert.ok(view!.command!.memory && view!.command!.busMaster);
  assert.ok(view!.command!.intxDisable, 'INTx disabled with MSI-X on');
  console.log(`  guest view: MSI-X relocation ${reloc}; BARs ${[...view!.bars].map(([i, b]) => `${i}: 0x${b.addr.toString(16)}+0x${b.size.toString(16)}`).join(', ')}; MSI-X ${JSON.stringify(msix)}; ecaps ${view!.ecaps.length}`);

  // What the VMM did: ECAM for config, memslots for the BAR, the MSI-X table trapped, vectors
  // masked and unmasked without tearing their irqfds down.
  const p = r.pci[0]!;
  const s = p.stats;
  assert.is(p.guestAddress, GUEST_BDF);
  assert.is(p.devid, 0x08, 'requester ID of 00:01.0');
  assert.ok(r.counts.ecam > 0 && s.configReads > 0 && s.configWrites > 0, 'config space went through the ECAM window');
  assert.ok(p.counts.slotsMapped > 0 && s.slotsMapped === p.counts.slotsMapped, 'BAR pieces became memslots');
  assert.ok(r.counts.msix > 0 && s.msixAccesses >= r.counts.msix, 'the MSI-X table was trapped');
  assert.is(r.counts.stray, 0, 'no access the VMM could not place');
  assert.ok(s.vectorMasks > 0 && s.vectorUnmasks > 0, `the guest masked (${s.vectorMasks}) and unmasked (${s.vectorUnmasks}) vectors`);
  // One irqfd per vector the guest used, assigned once and kept through every mask and unmask
  // (and through the guest's MSI-X disable at power-off: they go at close).
  assert.is(s.irqfdAssigns, l.irqLines.length, `one irqfd per vector used (${l.irqLines.length}), never rebuilt`);
  assert.is(s.irqfdDeassigns, 0, 'no irqfd deassigned during the run');
  assert.ok(s.triggerSwitches >= 1, 'masks and unmasks switched the VFIO trigger instead');
  assert.equal(p.dma.map((m) => [m.iova, m.size]), [[0x4000_0000n, ramBytes]], 'guest RAM, and only it, mapped for DMA at IOVA = GPA');

  // Figures.
  const fig = l.figures!;
  const io = ioPhase(r);
  const probe = at(r, new RegExp(`nvme nvme0: pci function ${GUEST_BDF.replace(/\./g, '\\.')}`));
  const { ios, irqs: ints } = fig;
  assert.ok(io, 'the I/O phase is on the console');
  const d = (k: keyof LinuxExitCounts): number => io!.to[k] - io!.from[k];
  const vmmExits = nonConsole(io!.to) - nonConsole(io!.from);
  console.log(`  FIGURES: read ${fig.readMbs} MB/s, write ${fig.writeMbs} MB/s; ${ints} interrupts for ${ios} I/Os = ${(ints / ios).toFixed(2)} per I/O; ${vmmExits} non-console VMM exits during the I/O = ${(vmmExits / ios).toFixed(3)} per I/O (MSI-X ${d('msix')}, ECAM ${d('ecam')}, other BAR ${d('barTraps')}, stray ${d('stray')}, retry ${d('retry')}; console ${d('uartWrites') + d('uartFrReads') + d('uartOther')}); mini-VMM start to "nvme nvme0: pci function" ${probe ? (r.setupMs + probe.ms).toFixed(0) : '?'} ms (setup ${r.setupMs.toFixed(0)} ms + ${probe?.ms.toFixed(0)} ms of guest run); L2's own clock: probe-ms ${fig.probeMs}, seen-ms ${fig.seenMs}`);
  assert.ok(ios > 0 && ints > 0);
  // Doorbells through the BAR's memslot, completions through irqfds on the ITS: the I/O never
  // needed the VMM.
  assert.is(vmmExits, 0, 'no VMM exit but the console\'s during the I/O');
  // The random reads at queue depth 1 (nvme-randread): one interrupt per read, and no VMM exit
  // but the console's between the two marker lines.
  const rr = l.randread;
  const rrFrom = at(r, /l2: nvme-randread begin /), rrTo = at(r, /l2: nvme-randread iops /);
  assert.ok(rr && rrFrom && rrTo, 'the random reads and their markers are on the console');
  const rrExits = nonConsole(rrTo!.counts) - nonConsole(rrFrom!.counts);
  console.log(`  RANDOM READS: ${rr!.iops} IOPS (4 KiB, QD1), ${rr!.irqs} interrupts for ${rr!.ios} I/Os; ${rrExits} non-console VMM exits`);
  assert.ok(rr!.ios >= rr!.reads && rr!.irqs >= rr!.reads, `every read completed with an interrupt: ${JSON.stringify(rr)}`);
  assert.is(rrExits, 0, 'no VMM exit but the console\'s during the random reads');
  assert.ok(probe, 'the nvme driver\'s probe line is on the console');

  // Left as found.
  assert.equal(fdsAfter, fdsBefore, '/proc/self/fd of the VMM process: the same fds before and after');
  assert.equal(mapsAfter, mapsBefore, 'no VFIO, KVM or guest-RAM mapping left behind');
  assert.is(driverAfter, driverBefore, `${NVME} left bound to ${driverBefore}`);
  assert.is(driverAfter, 'vfio-pci');
});

test('mini-vmm --pci with pci=nomsi: the same pattern read through INTx (irqfd + resample on the interrupt-map SPI)', async () => {
  const why = skipReason();
  if (why) { console.log(`  SKIP: ${why}`); return; }
  const expected = diskSha256()!;
  const fdsBefore = openFds();
  const { r } = await boot(`pci=nomsi l2.disk_sha256=${expected}`);
  const l = parseL2(r.console);
  assert.is(r.end, 'shutdown');
  assert.is(l.irqMode, 'intx');
  checkDisk(l, expected);
  const p = r.pci[0]!;
  const spi = p.intxGsi!;
  assert.is(spi, PCI_LAYOUT.intxSpis[0], 'the NVMe\'s INTA is the interrupt-map\'s first SPI');
  console.log(`  INTx lines: ${l.irqLines.map((x) => x.line).join(' | ')}`);
  // The GICv3 driver names an SPI by its INTID (SPI + 32); the line is level.
  const intx = l.irqLines.find((x) => new RegExp(`GICv3\\s+${spi + 32}\\s+Level`).test(x.line));
  assert.ok(intx && intx.total > 1, `interrupts on SPI ${spi} (INTID ${spi + 32}), level: ${intx?.line}`);
  assert.is(r.counts.msix, 0, 'no MSI-X table access with pci=nomsi');
  assert.is(p.stats.mode, 'intx');
  assert.is(p.stats.irqfdAssigns, 0, 'no vector irqfd: INTx only');
  // Each interrupt of a level line is taken again only after the guest's EOI reached VFIO's unmask:
  // with no exit of the VMM's during the I/O, that went through KVM's resample eventfd.
  const io = ioPhase(r);
  assert.ok(io, 'the I/O phase is on the console');
  assert.is(nonConsole(io!.to) - nonConsole(io!.from), 0, 'no VMM exit but the console\'s during the I/O');
  const fig = l.figures!;
  console.log(`  FIGURES (INTx): read ${fig.readMbs} MB/s, write ${fig.writeMbs} MB/s; ${fig.irqs} interrupts for ${fig.ios} I/Os`);
  assert.equal(openFds(), fdsBefore, 'fds equal before and after');
  assert.is(driverOf(), 'vfio-pci');
});

test.run();

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
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLinux, type LinuxExitCounts, type LinuxReport } from '../../examples/mini-vmm/linux';
import { PCI_LAYOUT } from '../../examples/mini-vmm/pci';
import { openFds } from '../support/fds';

const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
/** The lab's NVMe in L1 (lab/boot.mjs), and where the VMM places it for L2. */
const HOST_BDF = '0000:00:03.0', GUEST_BDF = '0000:00:01.0';
const NVME_ID = '1b36:0010';
const sysfs = `/sys/bus/pci/devices/${HOST_BDF}`;
/** Config space: the capabilities pointer, the MSI-X capability's ID and its Message Control. */
const PCI_CAPABILITY_LIST = 0x34, PCI_CAP_ID_MSIX = 0x11, PCI_MSIX_FLAGS_QSIZE = 0x7ff;
/** Bounds on the capability walks (48 standard capabilities fit in 192 bytes; 4 KiB / 4 for extended). */
const MAX_CAPS = 48, MAX_ECAPS = 1024;

function skipReason(): string | undefined {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) return 'no l2/Image or l2/initrd.gz in this image (lab/initramfs.mjs puts them there)';
  if (!existsSync(sysfs)) return `no ${HOST_BDF} in L1 (the lab's QEMU has no NVMe)`;
  if (!expectedHash()) return 'L1\'s command line has no vfiokit.disk_sha256= (the lab did not make the disk image)';
  return undefined;
}
const expectedHash = (): string | undefined => readFileSync('/proc/cmdline', 'utf8').match(/(?:^|\s)vfiokit\.disk_sha256=([0-9a-f]{64})(?:\s|$)/)?.[1];
const driverOf = (): string => { try { return basename(readlinkSync(`${sysfs}/driver`)); } catch { return 'none'; } };

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
  const c = readFileSync(`${sysfs}/config`);
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
  readFileSync(`${sysfs}/resource`, 'utf8').trim().split('\n').slice(0, 6).forEach((l, i) => {
    const [start, end] = l.split(/\s+/).map((h) => BigInt(h));
    if (end! > start!) bars.set(i, end! - start! + 1n);
  });
  return { caps, ecaps, msixTableSize, bars };
}

/** The guest's `l2: KEY rest` lines (after printk's stamp), in order. */
const l2Lines = (r: LinuxReport, key: string): string[] =>
  [...r.console.matchAll(new RegExp(`(?:^|\\] )l2: ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?: (.*))?$`, 'gm'))].map((m) => m[1] ?? '');
const one = (r: LinuxReport, key: string): string => {
  const all = l2Lines(r, key);
  assert.is(all.length, 1, `one "l2: ${key}" line (got ${all.length})`);
  return all[0]!;
};
/** `key value key value ...` into a record. */
const pairs = (s: string): Record<string, string> => Object.fromEntries([...s.matchAll(/(\S+) (\S+)/g)].map((m) => [m[1]!, m[2]!]));
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
    hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), pci: [HOST_BDF], append,
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
  const expected = expectedHash()!;
  const host = hostConfig();
  const driverBefore = driverOf();
  const fdsBefore = openFds();
  const ramBytes = 0x1000_0000n;
  const mapsBefore = vmmMappings(ramBytes);
  console.log(`  host ${HOST_BDF}: driver ${driverBefore}; caps ${host.caps.map((x) => `0x${x.off.toString(16)}:${x.id.toString(16)}`).join(' ')}; ecaps ${host.ecaps.map((x) => `0x${x.off.toString(16)}:${x.id.toString(16)}`).join(' ')}; MSI-X table ${host.msixTableSize}; BARs ${[...host.bars].map(([i, s]) => `${i}:0x${s.toString(16)}`).join(' ')}`);

  const { r } = await boot(`l2.disk_sha256=${expected}`);
  const fdsAfter = openFds(), mapsAfter = vmmMappings(ramBytes), driverAfter = driverOf();

  // Enumeration and the disk.
  assert.is(r.end, 'shutdown', 'L2 powered off through PSCI');
  assert.equal(l2Lines(r, 'pci'), [`${GUEST_BDF} ${NVME_ID}`], 'L2 enumerated the NVMe at the address the VMM placed it, and nothing else');
  const pattern = one(r, 'sha256 pattern').match(/^([0-9a-f]{64}) expected ([0-9a-f]{64})$/);
  assert.ok(pattern, 'a pattern hash and an expected hash');
  assert.is(pattern![2], expected, 'L2 got the expected hash on its command line');
  assert.is(pattern![1], expected, 'the first 16 MiB as L2 read them are the lab\'s pattern');
  const wr = one(r, 'sha256 write').match(/^([0-9a-f]{64}) read ([0-9a-f]{64})$/);
  assert.ok(wr && wr[1] === wr[2], 'the 16 MiB L2 wrote read back the same');
  assert.is(one(r, 'nvme-irq-mode'), 'msix');
  assert.is(one(r, 'nvme-verdict'), 'PASS');
  assert.match(r.console, /l2: PASS$/m);

  // Interrupts: MSI-X on the ITS, several vectors used.
  const irqs = l2Lines(r, 'nvme-irq').map((l) => ({ line: l, count: Number(l.split(/\s+/)[1]) }));
  assert.ok(irqs.length >= 2, `an admin queue and I/O queues (${irqs.length} lines)`);
  for (const x of irqs) assert.match(x.line, new RegExp(`ITS-PCI-MSIX-${GUEST_BDF.replace(/\./g, '\\.')}`), x.line);
  assert.ok(irqs.filter((x) => x.count > 0).length > 1, `more than one vector took interrupts: ${irqs.map((x) => x.count).join(', ')}`);

  // The guest's view of config space against the host's.
  const view = l2Lines(r, 'pci-view').filter((l) => l.startsWith(`${GUEST_BDF} `)).map((l) => l.slice(GUEST_BDF.length + 1));
  const guestCaps = view.filter((l) => l.startsWith('cap ')).map((l) => l.match(/^cap 0x([0-9a-f]+) id 0x([0-9a-f]+)$/)!).map((m) => ({ off: parseInt(m[1]!, 16), id: parseInt(m[2]!, 16) }));
  assert.equal(guestCaps, host.caps, 'the same capability list, at the same offsets');
  const guestEcaps = view.filter((l) => l.startsWith('ecap ')).map((l) => l.match(/^ecap 0x([0-9a-f]+) id 0x([0-9a-f]+)/)!).map((m) => ({ off: parseInt(m[1]!, 16), id: parseInt(m[2]!, 16) }));
  console.log(`  guest ecaps: ${guestEcaps.map((x) => `0x${x.off.toString(16)}:${x.id.toString(16)}`).join(' ') || 'none'}`);
  const guestBars = new Map(view.filter((l) => l.startsWith('bar ')).map((l) => pairs(`n ${l.slice(4)}`)).map((p) => [Number(p.n), { addr: BigInt(p.addr!), size: BigInt(p.size!) }]));
  const msix = pairs(view.find((l) => l.startsWith('msix '))!.slice('msix '.length));
  assert.is(Number(msix['table-size']), host.msixTableSize, 'the MSI-X table size');
  assert.is(msix.enabled, '1');
  // The passthrough may move the MSI-X table and PBA in the guest's view (PciPassthrough.relocation):
  // 'extend' doubles the table's BAR and puts them in its upper half; 'new-bar' gives them a BAR of
  // their own; every other BAR is the host's size.
  const reloc = r.pci[0]!.relocation;
  console.log(`  MSI-X relocation: ${reloc}`);
  for (const [i, size] of host.bars) {
    const g = guestBars.get(i);
    assert.ok(g, `BAR ${i} is there in the guest`);
    const extended = reloc === 'extend' && Number(msix['table-bar']) === i;
    assert.is(g!.size, extended ? 2n * size : size, `BAR ${i}: the guest sized 0x${g!.size.toString(16)}, the host has 0x${size.toString(16)}${extended ? ' (doubled for the MSI-X table)' : ''}`);
    assert.ok(g!.addr >= PCI_LAYOUT.mmio32.base && g!.addr + g!.size <= PCI_LAYOUT.mmio32.base + PCI_LAYOUT.mmio32.size, `BAR ${i} placed by L2 inside the VMM's window (0x${g!.addr.toString(16)})`);
    if (extended) assert.ok(BigInt(msix['table-offset']!) >= size && BigInt(msix['pba-offset']!) >= size, 'table and PBA in the upper half');
  }
  if (reloc === 'new-bar') assert.is(guestBars.size, host.bars.size + 1, 'one BAR more: the MSI-X table\'s');
  else assert.is(guestBars.size, host.bars.size, 'no BAR more or less than the host\'s');
  const cmd = pairs(view.find((l) => l.startsWith('command '))!);
  assert.is(cmd.memory, '1'); assert.is(cmd['bus-master'], '1');
  assert.is(cmd['intx-disable'], '1', 'INTx disabled with MSI-X on');
  console.log(`  guest BARs: ${[...guestBars].map(([i, b]) => `${i}: 0x${b.addr.toString(16)}+0x${b.size.toString(16)}`).join(', ')}; MSI-X ${JSON.stringify(msix)}`);

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
  assert.is(s.irqfdAssigns, irqs.length, `one irqfd per vector used (${irqs.length}), never rebuilt`);
  assert.is(s.irqfdDeassigns, 0, 'no irqfd deassigned during the run');
  assert.ok(s.triggerSwitches >= 1, 'masks and unmasks switched the VFIO trigger instead');
  assert.equal(p.dma.map((m) => [m.iova, m.size]), [[0x4000_0000n, ramBytes]], 'guest RAM, and only it, mapped for DMA at IOVA = GPA');

  // Figures.
  const fig = pairs(one(r, 'nvme-figures'));
  const io = ioPhase(r);
  const probe = at(r, new RegExp(`nvme nvme0: pci function ${GUEST_BDF.replace(/\./g, '\\.')}`));
  const ios = Number(fig.ios), ints = Number(fig.irqs);
  assert.ok(io, 'the I/O phase is on the console');
  const d = (k: keyof LinuxExitCounts): number => io!.to[k] - io!.from[k];
  const vmmExits = nonConsole(io!.to) - nonConsole(io!.from);
  console.log(`  FIGURES: read ${fig['read-mbs']} MB/s, write ${fig['write-mbs']} MB/s; ${ints} interrupts for ${ios} I/Os = ${(ints / ios).toFixed(2)} per I/O; ${vmmExits} non-console VMM exits during the I/O = ${(vmmExits / ios).toFixed(3)} per I/O (MSI-X ${d('msix')}, ECAM ${d('ecam')}, other BAR ${d('barTraps')}, stray ${d('stray')}, retry ${d('retry')}; console ${d('uartWrites') + d('uartFrReads') + d('uartOther')}); mini-VMM start to "nvme nvme0: pci function" ${probe ? (r.setupMs + probe.ms).toFixed(0) : '?'} ms (setup ${r.setupMs.toFixed(0)} ms + ${probe?.ms.toFixed(0)} ms of guest run); L2's own clock: probe-ms ${fig['probe-ms']}, seen-ms ${fig['seen-ms']}`);
  assert.ok(ios > 0 && ints > 0);
  // Doorbells through the BAR's memslot, completions through irqfds on the ITS: the I/O never
  // needed the VMM.
  assert.is(vmmExits, 0, 'no VMM exit but the console\'s during the I/O');
  assert.ok(probe, 'the nvme driver\'s probe line is on the console');

  // Left as found.
  assert.equal(fdsAfter, fdsBefore, '/proc/self/fd of the VMM process: the same fds before and after');
  assert.equal(mapsAfter, mapsBefore, 'no VFIO, KVM or guest-RAM mapping left behind');
  assert.is(driverAfter, driverBefore, `${HOST_BDF} left bound to ${driverBefore}`);
  assert.is(driverAfter, 'vfio-pci');
});

test('mini-vmm --pci with pci=nomsi: the same pattern read through INTx (irqfd + resample on the interrupt-map SPI)', async () => {
  const why = skipReason();
  if (why) { console.log(`  SKIP: ${why}`); return; }
  const expected = expectedHash()!;
  const fdsBefore = openFds();
  const { r } = await boot(`pci=nomsi l2.disk_sha256=${expected}`);
  assert.is(r.end, 'shutdown');
  assert.is(one(r, 'nvme-irq-mode'), 'intx');
  const pattern = one(r, 'sha256 pattern').match(/^([0-9a-f]{64}) expected ([0-9a-f]{64})$/);
  assert.is(pattern?.[1], expected, 'the pattern read through INTx is the lab\'s');
  const wr = one(r, 'sha256 write').match(/^([0-9a-f]{64}) read ([0-9a-f]{64})$/);
  assert.ok(wr && wr[1] === wr[2], 'write and read back agree');
  assert.is(one(r, 'nvme-verdict'), 'PASS');
  const p = r.pci[0]!;
  const spi = p.intxGsi!;
  assert.is(spi, PCI_LAYOUT.intxSpis[0], 'the NVMe\'s INTA is the interrupt-map\'s first SPI');
  const irqs = l2Lines(r, 'nvme-irq');
  console.log(`  INTx lines: ${irqs.join(' | ')}`);
  // The GICv3 driver names an SPI by its INTID (SPI + 32); the line is level.
  const intx = irqs.find((l) => new RegExp(`GICv3\\s+${spi + 32}\\s+Level`).test(l));
  assert.ok(intx && Number(intx.split(/\s+/)[1]) > 1, `interrupts on SPI ${spi} (INTID ${spi + 32}), level: ${intx}`);
  assert.is(r.counts.msix, 0, 'no MSI-X table access with pci=nomsi');
  assert.is(p.stats.mode, 'intx');
  assert.is(p.stats.irqfdAssigns, 0, 'no vector irqfd: INTx only');
  // Each interrupt of a level line is taken again only after the guest's EOI reached VFIO's unmask:
  // with no exit of the VMM's during the I/O, that went through KVM's resample eventfd.
  const io = ioPhase(r);
  assert.ok(io, 'the I/O phase is on the console');
  assert.is(nonConsole(io!.to) - nonConsole(io!.from), 0, 'no VMM exit but the console\'s during the I/O');
  const fig = pairs(one(r, 'nvme-figures'));
  console.log(`  FIGURES (INTx): read ${fig['read-mbs']} MB/s, write ${fig['write-mbs']} MB/s; ${fig.irqs} interrupts for ${fig.ios} I/Os`);
  assert.equal(openFds(), fdsBefore, 'fds equal before and after');
  assert.is(driverOf(), 'vfio-pci');
});

test.run();

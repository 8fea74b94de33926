// The mini-vmm as a command, for a Linux arm64 host (or the lab guest) with /dev/kvm and the pl031
// bound to vfio-amba (or, with --edu, QEMU's edu at 0000:00:02.0 bound to vfio-pci behind an IOMMU):
//   node examples/mini-vmm/guest/build.mjs
//   npx esbuild examples/mini-vmm/main.ts --bundle --platform=node --format=esm --target=node20 \
//     --external:koffi --loader:.wasm=binary --loader:.bin=binary --outfile=build/mini-vmm.mjs
//   node build/mini-vmm.mjs [--trap | --machine | --edu | --latency | --hostile | --linux IMAGE INITRD [--pci BDF]... [--append ARGS] [--cpus N]]
// --trap: no memslot for the device (every access forwarded); --machine: the userspace IRQ mode
// (vfiokit's IRQ state machine, KVM_IRQ_LINE); --latency: guest/latency.S on the irqfd, machine
// and relay paths, with the medians and the ratios to irqfd. --hostile: guest/hostile.S against
// the edu and the pl031 (hostile.ts), with what the VMM counted beside what the guest says it did.
// Prints the guest's console as it comes, then what the VMM saw. Exit status 0 when the guest
// powered off through PSCI. --linux boots a Linux arm64 Image with a gzip'd cpio initramfs (in the
// lab: /opt/vfiokit/l2/Image and /opt/vfiokit/l2/initrd.gz), the pl031 passed through; with
// `--pci 0000:00:03.0` (repeatable) also that PCI function, at 00:01.0 behind a host bridge with
// an ITS (`--append "..."` adds to the kernel command line, e.g. `pci=nomsi`; `--cpus N` gives the
// guest N vCPUs). --linux runs on vfiokit's own VMM (vfiokit/vmm's runVm, through linux.ts).
import { readFileSync } from 'node:fs';
import pl031 from '../../build/guest/pl031.bin';
import edu from '../../build/guest/edu.bin';
import latency from '../../build/guest/latency.bin';
import hostile from '../../build/guest/hostile.bin';
import { runEduGuest } from './edu';
import { HOSTILE_SHORT, runHostile } from './hostile';
import { measureLatency, median } from './latency';
import { runLinux } from './linux';
import { runGuest, runGuestMachine, type RunOptions, type RunReport } from './vmm';

const onLine = (line: string, ms: number): void => console.log(`[${ms.toFixed(1)} ms] ${line}`);
const us = (ns: number): string => (ns / 1e3).toFixed(1);
const linuxAt = process.argv.indexOf('--linux');
/** The values of every `--name VALUE` on the command line, in order. */
const valuesOf = (name: string): string[] => process.argv.flatMap((a, i) => {
  if (a !== name) return [];
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return [v];
});
if (linuxAt >= 0) {
  const [image, initrd] = process.argv.slice(linuxAt + 1, linuxAt + 3);
  if (!image || !initrd) throw new Error('--linux IMAGE INITRD: the arm64 Image and a gzip\'d newc initramfs');
  const pci = valuesOf('--pci');
  const append = valuesOf('--append').join(' ');
  const cpus = Number(valuesOf('--cpus').at(-1) ?? 1);
  // The nvme driver's probe line, timed from this process's start (performance.now()).
  let probeMs: number | undefined;
  const r = await runLinux({
    kernel: new Uint8Array(readFileSync(image)), initrd: new Uint8Array(readFileSync(initrd)),
    hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), pci, cpus, ...(append ? { append } : {}),
    onLine: (l, ms) => {
      if (probeMs === undefined && /nvme nvme\d+: pci function/.test(l)) probeMs = performance.now();
      console.log(`[${(ms / 1000).toFixed(3)} s] ${l}`);
    },
  });
  const c = r.counts;
  console.log(`pl031 at 0x${r.placement.regionGpa.toString(16)}, INTID ${r.placement.intid}; end: ${r.end}; ${r.exits} exits (uart DR ${c.uartWrites}, FR ${c.uartFrReads}, device ${c.device}, ECAM ${c.ecam}, MSI-X ${c.msix}, other BAR traps ${c.barTraps}, stray ${c.stray}); setup ${(r.setupMs / 1000).toFixed(1)} s, run ${(r.runMs / 1000).toFixed(1)} s`);
  if (probeMs !== undefined) console.log(`mini-vmm start to the nvme driver's probe line: ${(probeMs / 1000).toFixed(2)} s`);
  for (const p of r.pci) {
    const s = p.stats;
    console.log(`${p.name} as ${p.guestAddress} (devid 0x${p.devid.toString(16)}, INTx GSI ${p.intxGsi ?? 'none'}, MSI-X relocation ${p.relocation}): config ${s.configReads} reads / ${s.configWrites} writes; BAR traps ${s.barTraps}, MSI-X accesses ${s.msixAccesses}; vector masks ${s.vectorMasks} / unmasks ${s.vectorUnmasks}, irqfd assigns ${s.irqfdAssigns} / deassigns ${s.irqfdDeassigns}, trigger switches ${s.triggerSwitches}, route updates ${s.routeUpdates}; memslots mapped ${s.slotsMapped} / unmapped ${s.slotsUnmapped}; GSI routing commits ${r.routeCommits}`);
  }
  process.exitCode = r.end === 'shutdown' && /l2: PASS$/m.test(r.console) ? 0 : 1;
} else if (process.argv.includes('--edu')) {
  const r = runEduGuest({ guest: edu, onLine });
  console.log(`edu BAR0 at 0x${r.barGpa.toString(16)}; ${r.exits.length} exits, ${r.deviceExits} for the device; VMM memory after guest RAM: ${r.canaryChanged} bytes changed; end: ${r.end}`);
  process.exitCode = r.end === 'shutdown' && r.canaryChanged === 0 ? 0 : 1;
} else if (process.argv.includes('--hostile')) {
  const r = await runHostile({ guest: hostile, hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), ...HOSTILE_SHORT, onLine });
  console.log(`end: ${r.end}; ${r.exits} exits in ${(r.runMs / 1000).toFixed(1)} s (${r.exitsPerSecond}/s), longest ${r.longestExit.ms.toFixed(2)} ms (${r.longestExit.what}); by class ${JSON.stringify(r.classes)}; errors ${r.errors.length}, refused deliveries ${r.notices.length}; canary bytes changed ${r.canaryChanged}; RSS ${r.rssKiB.before} -> ${r.rssKiB.firstExit} (first exit) -> ${r.rssKiB.after} KiB`);
  process.exitCode = r.end === 'shutdown' && r.errors.length === 0 && r.canaryChanged === 0 ? 0 : 1;
} else if (process.argv.includes('--latency')) {
  let base = 0;
  for (const mode of ['irqfd', 'machine', 'relay'] as const) {
    const r = await measureLatency(mode, { guest: latency });
    const m = (k: 'deliveryNs' | 'ackNs' | 'roundTripNs'): number => median(r.rounds.map((x) => x[k]));
    if (mode === 'irqfd') base = m('roundTripNs');
    console.log(`${mode}: delivery ${us(m('deliveryNs'))} us, acknowledge ${us(m('ackNs'))} us, round trip ${us(m('roundTripNs'))} us (medians of ${r.rounds.length}); ratio to irqfd ${(m('roundTripNs') / base).toFixed(2)}`);
  }
} else {
  const trap = process.argv.includes('--trap');
  const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
  const run = process.argv.includes('--machine') ? runGuestMachine : async (o: RunOptions): Promise<RunReport> => runGuest(o);
  // The guest's tree: the board with the passthrough's own node merged in (vmm.ts's default).
  const r = await run({ guest: pl031, deviceMmio: trap ? 'trap' : 'memslot', hostDtb, onLine });
  console.log(`pl031 at 0x${r.placement.regionGpa.toString(16)}, INTID ${r.placement.intid}; ${r.exits.length} exits, ${r.deviceExits} for the device; end: ${r.end}`);
  r.waits.forEach((w, i) => console.log(`wait ${i + 1}: ${w.wakeups} VMM wake-ups, ${(Number(w.blockedNs) / 1e6).toFixed(1)} ms in KVM_RUN`));
  if (r.relayWakeups.length) console.log(`IRQ events in the VMM: ${r.relayWakeups.map((w) => `${w.what}@${w.at}`).join(' ')}`);
  process.exitCode = r.end === 'shutdown' ? 0 : 1;
}

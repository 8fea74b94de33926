// `npm run bench -- peer`: QEMU as the peer VMM (docs/BENCH.md, "QEMU as the peer"). One lab
// boot whose image carries Debian's arm64 QEMU (VFIOKIT_LAB_QEMU=1, lab/qemu-payload.mjs); in it
// bench/peer/run.ts boots the same L2 guest on QEMU and on the mini-VMM, in passes, and prints one
// measurement line per run. Here the lines become bench/results/peer.json: for each figure the
// median of the passes for each way and the ratio mini-VMM / QEMU (fields named *_ratio). The
// reference pair is the lab's NVMe under both VMMs (QEMU's vfio-pci, the mini-VMM's --pci): VMM
// process start to the L2 kernel's first line, to the nvme probe, to the L2 init's verdict; the
// VMM's peak RSS; the L2's NVMe read and write MB/s, interrupts per I/O, 4 KiB random-read IOPS at
// QD1 with its interrupts per I/O, and the VMM's wake-ups per read (nvme_ratio), and the
// issue's goals on them, each met or missed (goals). The earlier ways (edu under QEMU, pl031 under
// the mini-VMM, QEMU with nothing) stay beside them.
// LAB_BENCH_PASSES (2); LAB_ECHO=1 shows the whole L1 console and every L2 line; it is kept in
// build/bench-peer.console.log either way. Like bench/lab.mjs it never builds the lab kernel:
// without one it says SKIPPED loudly and exits 0. `node bench/peer.mjs --from-log FILE` makes the
// results again from a kept console.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, writeResults } from './lib.mjs';
import { NVME_WAYS, parsePeerLine, summarizePeer, WAYS } from './peer/parse.mjs';

const log = (s) => process.stderr.write(s + '\n');
const out = join(root, 'build/bench-lab');
const labModule = (f) => import(pathToFileURL(join(root, 'lab', f)).href);
const passes = process.env.LAB_BENCH_PASSES ?? '2';
if (!/^\d+$/.test(passes)) { log(`bench: peer: LAB_BENCH_PASSES must be a number, not ${passes}`); process.exit(2); }

// `node bench/peer.mjs --from-log FILE`: the results again from a kept console (no build, no boot).
const fromLog = process.argv.includes('--from-log') ? process.argv[process.argv.indexOf('--from-log') + 1] : undefined;
const runs = [], problems = [];
const take = (l) => {
  const m = parsePeerLine(l);
  if (m?.error) problems.push(m.error);
  else if (m) {
    runs.push(m);
    const nvme = NVME_WAYS.includes(m.way) ? `, nvme probe ${m.probeMs} ms (L2 clock ${m.l2ProbeMs}: ${m.guestProbeMs} ms), read ${m.readMbs} MB/s, write ${m.writeMbs} MB/s, ${m.irqs} interrupts / ${m.ios} I/Os, random 4 KiB QD1 ${m.randIops} IOPS (${m.randIrqsPerIo} interrupts per I/O), ${m.wakeupsPerIo} VMM wake-ups per read (${m.topWakeupsPerIo} in ${m.topThread}; by thread ${m.threadSwitches})` : '';
    log(`bench: peer: pass ${m.pass} ${m.way}: first line ${m.firstLineMs} ms${nvme}, verdict ${m.verdictMs} ms, peak RSS ${(m.peakRssBytes / 2 ** 20).toFixed(1)} MiB, ${m.l2ConsoleLines} L2 lines`);
  }
};
if (fromLog) for (const l of readFileSync(fromLog, 'utf8').split('\n')) take(l);
else problems.push(...await measureInLab());

const { figures, goals, problems: missing } = summarizePeer(runs);
problems.push(...missing);
const probe = figures.nvme_probe;
const row = (way) => { const v = probe.values[way]; return { name: WAYS[way], median_ns: probe[way.replaceAll('-', '_')] * 1e6, passes: v.length, values: v.map((x) => x * 1e6) }; };
if (probe.qemu_nvme !== undefined && probe.mini_vmm_nvme !== undefined) {
  writeResults('peer', {
    what: 'the same L2 guest with the lab\'s NVMe passed through: VMM process start to the L2 nvme driver\'s probe, lab (mini-VMM / QEMU)',
    reference: `${WAYS['qemu-nvme']} (qemu-system-aarch64 -accel kvm -cpu host -M virt,gic-version=3 -smp 1 -m 256M, in L1)`,
    goal: 1.0,
    results: [row('qemu-nvme'), row('mini-vmm-nvme')],
    extra: { goals, figures, runs },
    note: `${runs.length} runs in one boot; every figure per way and its ratio in figures (nvme_ratio: the NVMe pair), the issue's goals in goals (docs/BENCH.md, "QEMU as the peer")`,
  });
}
for (const [name, f] of Object.entries(figures)) {
  const ways = Object.keys(f.values).map((w) => `${w} ${f[w.replaceAll('-', '_')]}`).join(', ');
  log(`bench: peer: ${name} (${f.unit}): ${ways}; NVMe mini-VMM / QEMU ${f.nvme_ratio}${'mini_vmm_over_qemu_ratio' in f ? `; pl031 / edu ${f.mini_vmm_over_qemu_ratio}, / QEMU (none) ${f.mini_vmm_over_qemu_none_ratio}` : ''}`);
}
for (const g of goals) log(`bench: peer: goal ${g.goal}: ${g.met ? 'met' : 'MISSED'} (mini-VMM ${g.mini_vmm}, QEMU ${g.qemu} ${g.unit}: ratio ${g.ratio})`);
for (const p of problems) log(`bench: peer: problem: ${p}`);
process.exit(problems.length ? 1 : 0);

/** Bundles the L1 half, boots once with QEMU in the image, collects the result lines into runs;
 *  returns the problems of the run. Exits 0 with a loud SKIPPED when the lab cannot run. */
async function measureInLab() {
  const { cacheDir } = await labModule('initramfs.mjs');
  const cfgHash = createHash('sha256').update(readFileSync(join(root, 'lab/kernel.config'))).digest('hex').slice(0, 16);
  const haveKernel = existsSync(cacheDir()) && readdirSync(cacheDir()).some((d) => d.startsWith('kernel-') && d.endsWith(`_${cfgHash}`) && existsSync(join(cacheDir(), d, 'Image')));
  if (!haveKernel) { log(`!!! peer benchmark SKIPPED: no lab kernel for lab/kernel.config (${cfgHash}) in ${cacheDir()}; run \`npm run lab\` once !!!`); process.exit(0); }
  // The L1 half, bundled into the directory lab/initramfs.mjs copies to /opt/vfiokit/bench/.
  rmSync(out, { recursive: true, force: true }); mkdirSync(out, { recursive: true });
  if (!existsSync(join(root, 'build/vfiokit-core.wasm'))) execFileSync('npm', ['run', '--silent', 'build:core'], { cwd: root, stdio: 'inherit' });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'bench/peer/run.ts')], outfile: join(out, 'peer.mjs'), bundle: true, platform: 'node', format: 'esm', target: 'node20',
    external: ['koffi'], loader: { '.wasm': 'binary', '.bin': 'binary' }, logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  });
  process.env.VFIOKIT_LAB_BENCH = '1';   // build/bench-lab/ into the image
  process.env.VFIOKIT_LAB_QEMU = '1';    // and QEMU for L1
  const { prepareLab } = await labModule('prepare.mjs');
  const { bootGuest } = await labModule('boot.mjs');
  const lab = await prepareLab({ log });
  if (lab.cannotRun) { log(`!!! peer benchmark SKIPPED: LAB CANNOT RUN: ${lab.cannotRun} !!!`); process.exit(0); }
  const cmd = `PASSES=${passes}${process.env.LAB_ECHO === '1' ? ' ECHO=1' : ''} node /opt/vfiokit/bench/peer.mjs`;
  log(`bench: peer: booting: ${cmd}`);
  const consoleLog = [];
  const t0 = Date.now();
  const r = await bootGuest({
    kernel: lab.kernel, initrd: lab.initrd, disk: lab.disk, cmd, idleLimitS: 600, totalLimitS: 3600,
    onLine: (l) => {
      consoleLog.push(l);
      take(l);
      if (process.env.LAB_ECHO === '1' || /^peer: .* \| /.test(l) || /Kernel panic|Oops/.test(l)) log(`lab: | ${l}`);
    },
  });
  log(`bench: peer: ${r.message} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  writeFileSync(join(root, 'build/bench-peer.console.log'), consoleLog.join('\n') + '\n');
  return r.status !== 0 ? [r.message] : [];
}

// QEMU as the peer VMM, inside the lab's L1 (docs/BENCH.md, "QEMU as the peer"): the argv that
// boots the mini-VMM's L2 guest (the same Image and initramfs, the same RAM and vCPU count, the
// same console) under qemu-system-aarch64 with KVM, and a runner that starts any VMM process and
// times what it prints. Shared by the lab test (test/lab/peer-qemu.test.ts) and the side-by-side
// benchmark (bench/peer/run.ts). Runs in L1; the image carries QEMU only when built with
// VFIOKIT_LAB_QEMU=1 (lab/qemu-payload.mjs).
// Not responsible for: judging the guest (the callers assert), or the mini-VMM itself
// (examples/mini-vmm; it is started as its own command here, as a user would start it).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { LINUX_BOOTARGS, LINUX_RAM_SIZE } from '../../examples/mini-vmm/linux';
import { NVME } from '../../test/support/nvme';

/** Where the lab image puts the peer's binary and the L2 payload (lab/initramfs.mjs). */
export const QEMU_BIN = '/usr/bin/qemu-system-aarch64';
export const L2_IMAGE = '/opt/vfiokit/l2/Image';
export const L2_INITRD = '/opt/vfiokit/l2/initrd.gz';
export const MINI_VMM = '/opt/vfiokit/mini-vmm/main.mjs';
/** The payload's manifest: the Debian packages and versions in the image. */
export const QEMU_MANIFEST = '/opt/vfiokit/qemu/manifest.json';
/** The lab's edu, bound to vfio-pci behind the SMMUv3 by lab/init.sh. */
export const EDU = '0000:00:02.0';

/** Why this image cannot run the peer, or undefined when it can. */
export function peerMissing(): string | undefined {
  if (!existsSync(QEMU_BIN)) return `no ${QEMU_BIN} in this lab image: build it with VFIOKIT_LAB_QEMU=1 (or npm run lab -- --qemu ...; lab/qemu-payload.mjs)`;
  if (!existsSync(L2_IMAGE) || !existsSync(L2_INITRD)) return `no L2 payload (${L2_IMAGE}, ${L2_INITRD}) in this lab image`;
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm in L1';
  return undefined;
}

/** The Debian packages (name -> version) of the QEMU payload in this image; empty without one. */
export function qemuPackages(): { packages: Record<string, string> } {
  return existsSync(QEMU_MANIFEST) ? JSON.parse(readFileSync(QEMU_MANIFEST, 'utf8')) : { packages: {} };
}

/** The L2's kernel command line under QEMU: the mini-VMM's (the same pl011 earlycon at 0x9000000,
 *  where QEMU's virt machine has its PL011 too) with console=ttyAMA0 for keep_bootcon. Under the
 *  mini-VMM the boot console is the only one (its tree has no UART node), so it is kept. QEMU's
 *  tree has the PL011, and without console= the kernel first enables tty0 (which ends the boot
 *  console) and then ttyAMA0, which prints the whole log again from the start (measured: 229 L2
 *  lines a run, against 168 with console=ttyAMA0). Named, ttyAMA0 is the preferred console and
 *  takes over from the boot console without printing the log again. */
export const QEMU_L2_BOOTARGS = LINUX_BOOTARGS.replace(/\bkeep_bootcon\b/, 'console=ttyAMA0');

/** QEMU's -name: the threads named after their work (QEMU names them only when asked). */
export const QEMU_NAME = 'debug-threads=on';

/** One -device option per passed-through device: `{ kind: 'vfio-pci', host: EDU, addr: '02.0' }`. */
export interface PeerDevice { kind: string; host: string; addr?: string }

/**
 * The qemu-system-aarch64 argv for the L2: KVM with the host's CPU, the virt machine with the
 * in-kernel GICv3, one vCPU and the L2's RAM size (as runLinux), no default devices (no NIC, so
 * no option ROM; no firmware: -kernel boots the Image directly), the serial port on stdout,
 * -no-reboot so a guest reset (the L2 init's FAIL, or a panic with panic=-1) ends QEMU too, and
 * `-name debug-threads=on`, which names QEMU's threads after their work (the vCPU's `CPU 0/KVM`),
 * so that the runner's wake-ups can be told apart per thread (threadSwitches) as the mini-VMM's.
 */
export function qemuL2Argv({ devices = [], bootargs = QEMU_L2_BOOTARGS, image = L2_IMAGE, initrd = L2_INITRD }: { devices?: PeerDevice[]; bootargs?: string; image?: string; initrd?: string } = {}): string[] {
  return [QEMU_BIN, '-accel', 'kvm', '-cpu', 'host', '-M', 'virt,gic-version=3', '-smp', '1', '-m', `${LINUX_RAM_SIZE / 2n ** 20n}M`,
    '-nographic', '-nodefaults', '-no-reboot', '-serial', 'stdio', '-nic', 'none', '-name', QEMU_NAME,
    '-kernel', image, '-initrd', initrd, '-append', bootargs,
    ...devices.flatMap((d) => ['-device', `${d.kind},host=${d.host}${d.addr ? `,addr=${d.addr}` : ''}`])];
}

/** The mini-VMM's argv for the same L2 (its --linux mode: the pl031 passed through; `pci`: PCI
 *  functions passed through too, `--pci` each; `append`: added to the L2's command line). */
export const miniVmmL2Argv = ({ pci = [], append }: { pci?: string[]; append?: string } = {}): string[] =>
  [process.execPath, MINI_VMM, '--linux', L2_IMAGE, L2_INITRD, ...pci.flatMap((b) => ['--pci', b]), ...(append ? ['--append', append] : [])];

/** The lab's NVMe in L1 (QEMU's nvme, bound to vfio-pci at boot; test/support/nvme.ts), and where
 *  QEMU's virt machine puts it for the L2 (`addr=`): its own slot number. The mini-VMM puts its
 *  first --pci function at 00:01.0. */
export const NVME_HOST = NVME;
export const QEMU_NVME_ADDR = '03.0';
export const QEMU_NVME_BDF = '0000:00:03.0';
export const MINI_VMM_NVME_BDF = '0000:00:01.0';
/** The L2 command line's word that gives the L2 init the disk's expected pattern hash. */
export const diskHashArg = (hex: string): string => `l2.disk_sha256=${hex}`;

/** The lab's edu beside the NVMe: QEMU puts it at the `addr=` given, the mini-VMM at its second
 *  slot (the NVMe's --pci comes first), so both L2s see it at 00:02.0, where L1 has it too. */
export const QEMU_EDU_ADDR = '02.0';
export const QEMU_EDU_BDF = '0000:00:02.0';
export const MINI_VMM_EDU_BDF = '0000:00:02.0';
/** The functions whose guest views are compared (bench/peer/view.ts compareViews). */
export const NVME_VIEW = Object.freeze({ name: 'nvme', qemuBdf: QEMU_NVME_BDF, miniBdf: MINI_VMM_NVME_BDF });
export const EDU_VIEW = Object.freeze({ name: 'edu', qemuBdf: QEMU_EDU_BDF, miniBdf: MINI_VMM_EDU_BDF });

/** The same L2 with the lab's NVMe passed through, under each VMM: QEMU's vfio-pci, and the
 *  mini-VMM's --pci; both with the disk's expected hash on the L2's command line. `edu`: the lab's
 *  edu passed through beside it, the same way (the guest-view test; the benchmark's pair is the
 *  NVMe alone). */
export const qemuNvmeArgv = (diskHash: string, { edu = false }: { edu?: boolean } = {}): string[] =>
  qemuL2Argv({ devices: [{ kind: 'vfio-pci', host: NVME_HOST, addr: QEMU_NVME_ADDR }, ...(edu ? [{ kind: 'vfio-pci', host: EDU, addr: QEMU_EDU_ADDR }] : [])], bootargs: `${QEMU_L2_BOOTARGS} ${diskHashArg(diskHash)}` });
export const miniVmmNvmeArgv = (diskHash: string, { edu = false }: { edu?: boolean } = {}): string[] =>
  miniVmmL2Argv({ pci: [NVME_HOST, ...(edu ? [EDU] : [])], append: diskHashArg(diskHash) });

export interface TimedLine { ms: number; text: string; stream: 'out' | 'err' }
export interface VmmRun {
  argv: string[];
  code: number | null;
  signal: string | null;
  /** Every line either stream printed, with the ms since just before spawn() when it arrived. */
  lines: TimedLine[];
  /** Process start to its exit. */
  wallMs: number;
  /** The largest VmHWM (peak resident set, KiB) read from /proc/<pid>/status while it ran. */
  peakRssKb: number;
  /** How many times /proc/<pid>/status was read. */
  rssSamples: number;
  /** Why the runner ended it (time limit), if it did. */
  killed?: string;
}

/** How often the runner reads the VMM's /proc/<pid>/status. VmHWM is the kernel's own peak, so a
 *  sample only has to come after the peak: the last one before exit, at most this late. */
export const RSS_SAMPLE_MS = 50;

/** VmHWM of a process in KiB, or undefined once it is gone. */
function vmHwmKb(pid: number): number | undefined {
  try { const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m); return m ? Number(m[1]) : undefined; } catch { return undefined; }
}

/** The context switches of each thread of a process (voluntary + involuntary, /proc/<pid>/task/
 *  <tid>/status), by thread id, with the thread's name; undefined once the process is gone. A
 *  voluntary switch is the thread going to sleep: for a vCPU thread, KVM blocking it while the
 *  guest waits (WFI) until an interrupt (an irqfd) wakes it; for any other thread, a wait for work.
 *  These are the VMM's wake-ups, countable alike for any VMM without debugfs (KVM's own exit
 *  counters need CONFIG_DEBUG_FS, or the VM's stats fd, which only the VMM holds). */
export function threadSwitches(pid: number): Map<number, { name: string; switches: number }> | undefined {
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return undefined; }
  const out = new Map<number, { name: string; switches: number }>();
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const v = s.match(/^voluntary_ctxt_switches:\s+(\d+)/m), n = s.match(/^nonvoluntary_ctxt_switches:\s+(\d+)/m);
      out.set(Number(t), { name: s.match(/^Name:\s+(.*)$/m)?.[1] ?? '?', switches: Number(v?.[1] ?? 0) + Number(n?.[1] ?? 0) });
    } catch { /* the thread ended between the listing and the read */ }
  }
  return out;
}

/** The switches between two readings of threadSwitches: the total over all threads (a thread born
 *  in between counts from 0), the busiest thread's count and name, and the count of every thread
 *  name (threads of one name summed; every thread listed, 0 included, so a vCPU thread that never
 *  slept shows as 0). */
export function switchesBetween(a: Map<number, { name: string; switches: number }>, b: Map<number, { name: string; switches: number }>): { total: number; top: number; topName: string; byName: Record<string, number> } {
  let total = 0, top = 0, topName = '';
  const byName: Record<string, number> = {};
  for (const [tid, t] of b) {
    const d = t.switches - (a.get(tid)?.switches ?? 0);
    total += d;
    byName[t.name] = (byName[t.name] ?? 0) + d;
    if (d > top) { top = d; topName = t.name; }
  }
  return { total, top, topName, byName };
}

/** Starts a VMM process, timestamps every line it prints, samples its peak RSS, and resolves when
 *  it exits (or is killed after limitMs). onLine sees each line as it comes, with the VMM's pid. */
export function runVmm(argv: string[], { limitMs = 600_000, onLine = () => {} }: { limitMs?: number; onLine?: (l: TimedLine, pid: number | undefined) => void } = {}): Promise<VmmRun> {
  return new Promise((resolve) => {
    const lines: TimedLine[] = [];
    let peakRssKb = 0, rssSamples = 0, killed: string | undefined;
    const t0 = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/opt/vfiokit' });
    const sample = (): void => { if (child.pid === undefined) return; const k = vmHwmKb(child.pid); if (k !== undefined) { rssSamples++; peakRssKb = Math.max(peakRssKb, k); } };
    const timer = setInterval(sample, RSS_SAMPLE_MS);
    const limit = setTimeout(() => { killed = `over the limit of ${limitMs} ms`; child.kill('SIGKILL'); }, limitMs);
    const reader = (stream: 'out' | 'err') => {
      let pending = '';
      return (d: Buffer): void => {
        pending += d.toString();
        const parts = pending.split('\n'); pending = parts.pop()!;
        for (const p of parts) { const l = { ms: ms(), text: p.replace(/\r$/, ''), stream }; lines.push(l); onLine(l, child.pid); }
      };
    };
    child.stdout.on('data', reader('out'));
    child.stderr.on('data', reader('err'));
    child.on('error', (e) => { killed = `could not start ${argv[0]}: ${e.message}`; });
    child.on('close', (code, signal) => {
      clearInterval(timer); clearTimeout(limit);
      resolve({ argv, code, signal, lines, wallMs: ms(), peakRssKb, rssSamples, ...(killed ? { killed } : {}) });
    });
  });
}

/** The L2 kernel's first console line ("Booting Linux on physical CPU ..."). */
export const FIRST_LINE = /Booting Linux on physical CPU/;
/** The L2 nvme driver's probe ("nvme nvme0: pci function 0000:00:03.0"): the driver found the
 *  function and starts the controller. */
export const PROBE_LINE = /nvme nvme\d+: pci function /;
/** The L2 init's verdict (examples/mini-vmm/linux/init.c): its last result line. */
export const VERDICT = /l2: (PASS|FAIL)\b/;

/** The L2 kernel's console lines of a run (printk's "[    1.234567] " stamp first, after the
 *  mini-VMM's own "[1.234 s] " when it has one): the same measure of console output for both VMMs. */
export const l2Lines = (r: VmmRun): TimedLine[] => r.lines.filter((l) => l.stream === 'out' && /^(\[\d+\.\d+ s\] )?\[\s*\d+\.\d+\] /.test(l.text));

/** The setup figures of a run: ms from process start to the L2's first line, to the nvme probe (when
 *  the L2 has an NVMe) and to the init's
 *  verdict, the verdict itself, the peak RSS in bytes, and how many lines the L2 kernel printed. */
export function setupFigures(r: VmmRun): { firstLineMs?: number; verdictMs?: number; verdict?: string; probeMs?: number; peakRssBytes: number; l2ConsoleLines: number } {
  const first = r.lines.find((l) => FIRST_LINE.test(l.text));
  const v = r.lines.find((l) => VERDICT.test(l.text));
  const probe = r.lines.find((l) => PROBE_LINE.test(l.text));
  return { firstLineMs: first?.ms, verdictMs: v?.ms, verdict: v?.text.match(VERDICT)?.[1], ...(probe ? { probeMs: probe.ms } : {}), peakRssBytes: r.peakRssKb * 1024, l2ConsoleLines: l2Lines(r).length };
}

// What the lab tests of `vfiokit run` share (test/lab/vmm-run*.test.ts): running it in this process
// or as its own process, the L2 /init's checks, the step lines, the devices' drivers, and the
// pl031's line asserted from L1 before a run. Runs INSIDE the lab guest.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDevice } from '../../src/index';
import { runCli } from '../../src/cli/main';
import { parseL2, type L2Report } from './l2-lines';
import { diskSha256, NVME, NVME_SYSFS } from './nvme';

export const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
export const PL031 = '9010000.pl031', VIRTIO = 'a000000.virtio_mmio';
/** QEMU's edu in the lab (vfio-pci, behind the SMMUv3 like the NVMe): a second IOMMU-backed PCI function. */
export const EDU = '0000:00:02.0', EDU_ID = '1234:11e8';
/** QEMU's ivshmem-plain in the lab (lab/boot.mjs): BAR 2 is 1 GiB of 64-bit memory. */
export const IVSHMEM = '0000:00:05.0', IVSHMEM_ID = '1af4:1110';
const SYSFS: Record<string, string> = { [PL031]: `/sys/bus/amba/devices/${PL031}`, [VIRTIO]: `/sys/bus/platform/devices/${VIRTIO}`, [NVME]: NVME_SYSFS, [EDU]: `/sys/bus/pci/devices/${EDU}`, [IVSHMEM]: `/sys/bus/pci/devices/${IVSHMEM}` };
/** Alarms the L2 /init waits for (ALARMS in init.c). */
export const ALARMS = 2, RTC_AF = 0x20;
/** pl031 registers (ARM DDI 0224): data, match, interrupt mask, raw status, clear. */
export const DR = 0x00, MR = 0x04, IMSC = 0x10, RIS = 0x14, ICR = 0x1c;
/** How long the pl031's match may take to fire after MR = now + 1 (one-second resolution, slow TCG). */
const MATCH_WAIT_MS = 5000;
/** A whole `vfiokit run` of L2 (boot, two 2 s alarms, the NVMe checks) under nested TCG, with margin. */
export const RUN_TIMEOUT_MS = 300_000;
/** `vfiokit run`'s exit statuses (docs/VMM.md). */
export const EXIT = { poweroff: 0, error: 1, usage: 2, reboot: 3 } as const;

export function skipReason(): string | undefined {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) return 'no l2/Image or l2/initrd.gz in this image (lab/initramfs.mjs puts them there)';
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm in L1';
  return undefined;
}
export const driverOf = (name: string): string | null => { try { return readlinkSync(`${SYSFS[name]}/driver`).split('/').pop()!; } catch { return null; } };
export const BASE = (): string[] => ['run', '--kernel', l2('Image'), '--initrd', l2('initrd.gz')];
export const append = (...words: string[]): string[] => ['--append', ['loglevel=6', ...words].join(' ')];

export interface Run { code: number; out: string; err: string; ms: number; l: L2Report }

/** `vfiokit run ARGS` in this process (runCli, as bin/vfiokit does), its stdout and stderr captured
 *  and echoed: the fds it leaves are this process's. */
export async function runHere(args: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
  const tee = (into: string[], real: typeof o) => ((chunk: string | Uint8Array) => { const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1'); into.push(s); return real(s); }) as typeof process.stdout.write;
  process.stdout.write = tee(out, o); process.stderr.write = tee(err, e);
  const t0 = process.hrtime.bigint();
  let code: number;
  try { code = await runCli(args); } finally { process.stdout.write = o; process.stderr.write = e; }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { code, out: out.join(''), err: err.join(''), ms, l: parseL2(out.join('')) };
}

/** `vfiokit ARGS` as its own process (the installed command). */
export function runCommand(args: string[], timeout = RUN_TIMEOUT_MS): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('vfiokit', args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(r.stderr.split('\n').map((x) => `  ${x}`).join('\n'));
  console.log(r.stdout.split('\n').filter((x) => /l2: /.test(x)).map((x) => `  ${x}`).join('\n'));
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, ms, l: parseL2(r.stdout) };
}

/** The RTC part of a run: the time read, both alarms taken, the count gone up by at least ALARMS. */
export function checkRtc(l: L2Report): void {
  assert.ok(l.rtc.name?.startsWith('rtc-pl031'), `the guest's rtc0 is the pl031: ${l.rtc.name}`);
  assert.match(l.rtc.time ?? '', /^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d$/, 'the guest read the time');
  assert.equal(l.rtc.alarms.map((a) => [a.n, (a.flags & RTC_AF) !== 0]), [[1, true], [2, true]], 'both alarms read back as alarm events');
  assert.ok(l.rtc.irqBefore !== undefined && l.rtc.irqAfter !== undefined && l.rtc.irqAfter >= l.rtc.irqBefore + ALARMS, `the rtc-pl031 line counted the alarms: ${l.rtc.irqBefore} -> ${l.rtc.irqAfter}`);
}
export function checkNvme(l: L2Report, expected: string): void {
  assert.is(l.pattern?.expected, expected, 'the guest got the disk\'s hash on its command line');
  assert.is(l.pattern?.read, expected, 'the guest\'s nvme driver read the lab\'s pattern');
  assert.ok(l.write && l.write.wrote === l.write.read, 'what it wrote read back the same');
  assert.is(l.nvmeVerdict, 'PASS');
}
export function checkPowerOff(r: Run): void {
  assert.is(r.code, EXIT.poweroff, `exit ${r.code}: ${r.err.split('\n').slice(-5).join(' | ')}`);
  assert.is(r.l.verdict, 'PASS');
  assert.equal(r.l.fails, []);
  assert.match(r.err, /vfiokit run: the guest powered off/);
}
/** The step lines vfiokit run printed for a device: checked, opened, wired (in this order). */
export function checkSteps(r: Run, name: string, irqPath?: 'irqfd' | 'userspace'): void {
  const at = (re: RegExp): number => r.err.split('\n').findIndex((x) => re.test(x));
  const esc = name.replace(/[.:]/g, '\\$&');
  const checked = at(new RegExp(`vfiokit run: ${esc}: \\w+ device on vfio-\\w+, .*viable`));
  const opened = at(new RegExp(`vfiokit run: ${esc}: opened`));
  const vcpu = at(/vfiokit run: vCPU 0: KVM_RUN/);
  assert.ok(checked >= 0 && opened > checked && vcpu > opened, `${name}: checked (${checked}), opened (${opened}) before the vCPU ran (${vcpu})`);
  if (irqPath) assert.match(r.err, new RegExp(`${esc}.*${irqPath === 'irqfd' ? 'irqfd' : 'userspace'}`), `${name}: its IRQ on the ${irqPath} path`);
}

/** The pl031's line asserted and left so, from L1 through vfiokit: MR = now + 1 with the alarm
 *  interrupt unmasked, the line seen firing (its VFIO eventfd), the device closed without clearing
 *  it. Returns RIS after close as the host sees it through a second open (1: still asserted). */
export async function assertPl031Line(): Promise<{ firedMs: number; ris: number }> {
  const dev = openDevice(PL031);
  let firedMs = -1;
  try {
    const m = dev.regions[0]!.map();
    m.write32(IMSC, 0); m.write32(ICR, 1);
    const fired = new Promise<number>((resolve, reject) => {
      const t0 = Date.now();
      const timer = setTimeout(() => reject(new Error(`the pl031's match did not fire within ${MATCH_WAIT_MS} ms`)), MATCH_WAIT_MS);
      dev.irqs[0]!.onTrigger(() => { clearTimeout(timer); resolve(Date.now() - t0); });
    });
    m.write32(MR, m.read32(DR) + 1);
    m.write32(IMSC, 1);
    firedMs = await fired;
  } finally { dev.close(); }
  // Read back without touching it: RIS through the trap path of a fresh open (no IRQ set up).
  const again = openDevice(PL031);
  try { return { firedMs, ris: again.region(0).read32(RIS) & 1 }; } finally { again.close(); }
}


/** The early-asserted IRQ case on one path (test/lab/vmm-run-irq*.test.ts): the pl031's line asserted
 *  from L1, then a run with the pl031 alone; the guest takes that interrupt and both alarms after. */
export async function earlyAssertedIrq(irqfd: 'on' | 'off'): Promise<void> {
  const why = skipReason();
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const { firedMs, ris } = await assertPl031Line();
  console.log(`  the pl031's match fired after ${firedMs} ms; RIS after close: ${ris}`);
  assert.is(ris, 1, 'the line is still asserted when vfiokit run starts');
  const spec = irqfd === 'on' ? PL031 : `${PL031},irqfd=off,mmap-timeout=200`;
  const r = runCommand([...BASE(), '--device', spec, ...append()]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; rtc-pl031 count ${r.l.rtc.irqBefore} before the alarms, ${r.l.rtc.irqAfter} after`);
  checkPowerOff(r);
  checkSteps(r, PL031, irqfd === 'on' ? 'irqfd' : 'userspace');
  // The early interrupt: counted before /init set any alarm (the guest took it when rtc-pl031's
  // request_irq enabled the SPI and cleared it through its handler).
  assert.ok((r.l.rtc.irqBefore ?? 0) >= 1, `the guest took the early interrupt: rtc-pl031 count ${r.l.rtc.irqBefore} before any alarm`);
  checkRtc(r.l);
  assert.is(driverOf(PL031), 'vfio-amba');
  const again = openDevice(PL031);
  try { assert.is(again.region(0).read32(RIS) & 1, 0, 'nothing left pending on the host after the run'); } finally { again.close(); }
}

export { NVME, NVME_SYSFS, diskSha256 };

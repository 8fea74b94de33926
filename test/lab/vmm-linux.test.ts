// Runs INSIDE the lab guest (arm64, KVM under TCG-emulated EL2): the mini-vmm boots the lab's own
// kernel Image as a nested (L2) Linux guest, with the pl031 passed through (memslot over the VFIO
// mapping, IRQ via routeIrqs().wireIrqfd()), and a DTB from linuxGuestDtb (FdtBuilder +
// guestNodeFor + mergeFdt). The L2 kernel's own rtc-pl031 driver binds to the device; the L2
// /init (examples/mini-vmm/linux/init.c) reads the time, waits for two alarms through blocking
// read()s on /dev/rtc0, reports through /dev/kmsg (the VMM's pl011 earlycon), and powers off.
// The payload (opt/vfiokit/l2/Image and initrd.gz) is put into the lab image by lab/initramfs.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LINUX_BOOTARGS, runLinux, type LinuxReport } from '../../examples/mini-vmm/linux';
import { openFds } from '../support/fds';

// The bundle lives in /opt/vfiokit/test/lab/; the payload in /opt/vfiokit/l2/.
const l2 = (f: string): string => fileURLToPath(new URL(`../../l2/${f}`, import.meta.url));
/** 2024-01-01T00:00:00Z: a time read back before this is not the host's clock. */
const EPOCH_2024 = 1_704_067_200;
/** Alarms /init waits for (ALARMS in linux/init.c); RTC_AF, the alarm flag in what read() returns. */
const ALARMS = 2, RTC_AF = 0x20;
/** The shortest wait for the alarm /init sets (now + 2 s at one-second resolution), with margin. */
const ALARM_WAIT_MIN_MS = 500;
/** How far the guest's RTC reading may be from the host's reads of the same register around the run. */
const RTC_SLACK_S = 2;

/** The value after "l2: KEY " on the guest console (after printk's "[   t] " stamp), or undefined. */
const field = (r: LinuxReport, key: string): string | undefined => r.console.match(new RegExp(`(?:^|\\] )l2: ${key} (.*)$`, 'm'))?.[1];
/** The ms at which the first console line matching re completed. */
const lineMs = (r: LinuxReport, re: RegExp): number | undefined => r.lines.find((l) => re.test(l.text))?.ms;

test('mini-vmm boots Linux as the nested guest: its rtc-pl031 driver runs the passed-through pl031, reads the time, takes two alarm IRQs, powers off', async () => {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) { console.log('  SKIP: no l2/Image or l2/initrd.gz in this image (lab/initramfs.mjs puts them there)'); return; }
  const kernel = new Uint8Array(readFileSync(l2('Image')));
  const initrd = new Uint8Array(readFileSync(l2('initrd.gz')));
  const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
  const before = openFds();
  const t0 = process.hrtime.bigint();
  const r = await runLinux({ kernel, initrd, hostDtb, onLine: (l, ms) => console.log(`  [${(ms / 1000).toFixed(3)} s] ${l}`) });
  const wholeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const l1Now = Math.floor(Date.now() / 1000);
  const after = openFds();

  const c = r.counts;
  console.log(`  pl031 at 0x${r.placement.regionGpa.toString(16)}, SPI ${r.placement.spi} (INTID ${r.placement.intid}); Image at 0x${r.layout.kernel.toString(16)}, initrd at 0x${r.layout.initrd.start.toString(16)} (${initrd.byteLength} bytes), DTB at 0x${r.layout.dtb.toString(16)} (${r.dtbBytes} bytes)`);
  console.log(`  end: ${r.end}; ${r.exits} exits: uart DR writes ${c.uartWrites}, FR reads ${c.uartFrReads}, other uart ${c.uartOther}, device ${c.device}, stray ${c.stray}${r.strayAddrs.length ? ` (${r.strayAddrs.join(' ')})` : ''}, retry ${c.retry}`);
  const initMs = lineMs(r, /l2: init running/);
  console.log(`  timing: first console line ${(r.lines[0]?.ms ?? NaN).toFixed(0)} ms, /init ${initMs?.toFixed(0)} ms, run ${r.runMs.toFixed(0)} ms (in KVM_RUN ${r.inKvmMs.toFixed(0)} ms), whole runLinux ${wholeMs.toFixed(0)} ms; console ${r.console.length} bytes`);
  console.log(`  longest KVM_RUN ${r.longestRun.ms.toFixed(0)} ms, before the line: ${r.longestRun.before}`);
  console.log(`  host RTC (DR via the VMM's mapping): ${r.hostRtc.before} .. ${r.hostRtc.after}; L1 clock now ${l1Now}`);
  console.log(`  open fds: ${before.length} before, ${after.length} after`);

  assert.is(r.end, 'shutdown', 'the guest powered off through PSCI SYSTEM_OFF');
  assert.match(r.console, /Booting Linux on physical CPU/, 'the L2 kernel booted');
  assert.match(r.console, /rtc-pl031 c000000\.pl031: registered as rtc0/, 'rtc-pl031 probed the passed-through device at the placed address');
  assert.is(field(r, 'rtc0-name'), 'rtc-pl031 c000000.pl031');
  const epoch = Number(field(r, 'rtc-time')?.match(/epoch (\d+)/)?.[1]);
  assert.ok(epoch >= EPOCH_2024, `the time read back is sane (epoch ${epoch})`);
  assert.ok(epoch >= r.hostRtc.before - RTC_SLACK_S && epoch <= r.hostRtc.after + RTC_SLACK_S, `the guest's RTC_RD_TIME (${epoch}) is the host's RTC (${r.hostRtc.before}..${r.hostRtc.after})`);
  assert.ok(Math.abs(epoch - l1Now) <= Math.ceil(wholeMs / 1000) + RTC_SLACK_S, `and L1's clock agrees (${l1Now})`);
  // Two alarms: the second only comes if the first one's EOI reached VFIO (resample -> unmask).
  const alarms = [...r.console.matchAll(/l2: alarm-read (\d) flags 0x([0-9a-f]+) count (\d+)/g)];
  assert.is(alarms.length, ALARMS, 'each blocking read() on /dev/rtc0 returned');
  for (const a of alarms) {
    assert.is(parseInt(a[2]!, 16) & RTC_AF, RTC_AF, `read ${a[1]} reported RTC_AF: the alarm`);
    assert.ok(Number(a[3]) >= 1);
  }
  const irqBefore = Number(field(r, 'irq-before')), irqAfter = Number(field(r, 'irq-after'));
  assert.ok(irqBefore >= 0 && irqAfter >= irqBefore + ALARMS, `the rtc-pl031 line counted both interrupts in /proc/interrupts (${irqBefore} -> ${irqAfter})`);
  assert.match(r.console, /l2: PASS$/m);
  assert.is(c.device, 0, 'no MMIO exit for the device: the driver went through the memslot');
  // Every exit was the earlycon's (one DR write per byte: its FR polls read the read-only page
  // runVm puts over the UART) or the power-off: the VMM
  // never woke for the device or its interrupt, the alarm wait included.
  assert.is(r.exits, c.uartWrites + c.uartFrReads + 1, 'exits = console accesses + SYSTEM_OFF');
  assert.is(c.uartFrReads, 0, 'FR polls read the read-only page: no exit');
  assert.match(r.longestRun.before, /l2: alarm-read/, 'the longest KVM_RUN was the wait for the alarm');
  // The alarm is set for RTC second + 2 from a reading taken somewhere inside that second, and
  // /init prints two lines (about 40 ms each here) before it blocks: the wait is 0.8 to 2 s.
  assert.ok(r.longestRun.ms >= ALARM_WAIT_MIN_MS, `and it lasted the alarm's delay (${r.longestRun.ms.toFixed(0)} ms)`);
  assert.equal(after, before, 'open fds equal before and after');
});

// The same boot with `quiet`: the kernel prints nothing below KERN_WARNING, so the console costs
// (three exits per byte) drop out and what is left is the nested boot itself. The verdict comes
// from how the guest ends: /init powers off on PASS and resets on FAIL.
test('the same boot with a quiet console: /init still passes its RTC checks (PSCI SYSTEM_OFF, not a reset), in fewer exits', async () => {
  if (!existsSync(l2('Image')) || !existsSync(l2('initrd.gz'))) { console.log('  SKIP: no l2 payload'); return; }
  const before = openFds();
  const r = await runLinux({
    kernel: new Uint8Array(readFileSync(l2('Image'))), initrd: new Uint8Array(readFileSync(l2('initrd.gz'))),
    hostDtb: new Uint8Array(readFileSync('/sys/firmware/fdt')), bootargs: `${LINUX_BOOTARGS} quiet`,
    onLine: (l, ms) => console.log(`  [${(ms / 1000).toFixed(3)} s] ${l}`),
  });
  const c = r.counts;
  console.log(`  quiet: end ${r.end}; ${r.exits} exits (uart DR ${c.uartWrites}, FR ${c.uartFrReads}, device ${c.device}, stray ${c.stray}); run ${r.runMs.toFixed(0)} ms (in KVM_RUN ${r.inKvmMs.toFixed(0)} ms), longest KVM_RUN ${r.longestRun.ms.toFixed(0)} ms; console ${r.console.length} bytes`);
  assert.is(r.end, 'shutdown', '/init passed its checks and powered off');
  assert.is(c.device, 0);
  assert.is(c.stray, 0);
  assert.ok(r.exits < 3000, `a quiet boot makes few exits (${r.exits})`);
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

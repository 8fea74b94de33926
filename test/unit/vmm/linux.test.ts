// The host-independent parts of the mini-vmm's Linux guest (examples/mini-vmm/linux.ts, pl011.ts,
// dtb.ts's linuxGuestDtb): the earlycon's UART model, the arm64 Image header, where the Image,
// initrd and DTB go in RAM, the tree a Linux guest gets (read back by dtc and fdtget), and the
// L2 initramfs's newc writer (read back by GNU cpio).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Pl011Console, UART_FR_RXFE, UART_FR_TXFE } from '../../../src/vmm/pl011';
import { linuxLayout, parseImageHeader, LINUX_BOOTARGS, LINUX_RAM_SIZE } from '../../../examples/mini-vmm/linux';
import { linuxGuestDtb } from '../../../examples/mini-vmm/dtb';
import { LAYOUT } from '../../../examples/mini-vmm/vmm';
import { virtDtb } from '../dtnode/virt-dtb';
// @ts-ignore: a plain ESM module of the lab scripts
import { newc } from '../../../examples/mini-vmm/linux/newc.mjs';

test('pl011 model: FR reads TXFE|RXFE (never TXFF or BUSY), each 32-bit DR write is a byte, "\\r\\n" ends a line', () => {
  const lines: string[] = [];
  const u = new Pl011Console(0x0900_0000n, (l) => lines.push(l));
  assert.equal(u.handle(0x0900_0018n, 4, false, 0n), { handled: true, reply: BigInt(UART_FR_TXFE | UART_FR_RXFE) });
  assert.is((UART_FR_TXFE | UART_FR_RXFE) & 0x28, 0, 'TXFF (0x20) and BUSY (0x08) clear: the earlycon never spins');
  for (const b of Buffer.from('ok\r\nx\r\n')) u.handle(0x0900_0000n, 4, true, BigInt(b) | 0xabcd_0000n);
  assert.equal(lines, ['ok', 'x']);
  assert.is(u.text(), 'ok\nx\n');
  assert.is(u.frReads, 1);
});

test('pl011 model: other registers read 0, other writes and odd widths are dropped and counted; outside the window is not its', () => {
  const u = new Pl011Console(0x0900_0000n);
  assert.equal(u.handle(0x0900_0fe0n, 4, false, 0n), { handled: true, reply: 0n });
  assert.equal(u.handle(0x0900_0030n, 4, true, 0x301n), { handled: true });
  assert.equal(u.handle(0x0900_0000n, 8, true, 0x41n), { handled: true, reply: undefined });
  assert.equal(u.handle(0x0900_0002n, 4, false, 0n), { handled: true, reply: 0n });
  assert.is(u.ignored, 3);
  assert.is(u.length, 0);
  assert.equal(u.handle(0x0900_1000n, 4, true, 0x41n), { handled: false });
  assert.equal(u.handle(0x08ff_fffcn, 4, false, 0n), { handled: false });
});

/** A 64-byte arm64 Image header with the given text_offset and image_size. */
function header(textOffset: bigint, imageSize: bigint, magic = 0x644d_5241): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(8, textOffset, true); dv.setBigUint64(16, imageSize, true); dv.setUint32(56, magic, true);
  return b;
}

test('Image header: text_offset and image_size read at 8 and 16; no "ARM\\x64" magic or image_size 0 is refused', () => {
  assert.equal(parseImageHeader(header(0n, 0xa0_0000n)), { textOffset: 0n, imageSize: 0xa0_0000n });
  assert.throws(() => parseImageHeader(header(0n, 0xa0_0000n, 0x1234)), /no arm64 magic/);
  assert.throws(() => parseImageHeader(header(0x8_0000n, 0n)), /image_size is 0/);
  assert.throws(() => parseImageHeader(new Uint8Array(10)), /shorter than the 64-byte/);
});

test('layout: the Image 2 MiB into RAM, the DTB 2 MiB below the top, the initrd page-aligned just under it; too small RAM is refused', () => {
  const ram = { gpa: 0x4000_0000n, size: LINUX_RAM_SIZE };
  const l = linuxLayout(ram, { textOffset: 0n, imageSize: 0xb0_0000n }, 0x80_0000, 0x5_0123);
  assert.is(l.kernel, 0x4020_0000n);
  assert.is(l.kernelEnd, 0x40d0_0000n, 'image_size, not the file size, is the footprint (bss)');
  assert.is(l.dtb, 0x4fe0_0000n);
  assert.is(l.initrd.start, (0x4fe0_0000n - 0x5_0123n) & ~0xfffn);
  assert.is(l.initrd.end, l.initrd.start + 0x5_0123n);
  assert.ok(l.initrd.end <= l.dtb);
  assert.throws(() => linuxLayout({ gpa: 0x4000_0000n, size: 0x100_0000n }, { textOffset: 0n, imageSize: 0xb0_0000n }, 0x80_0000, 0x30_0000), /too small/);
});

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-vmm-linux-'));
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

test('the Linux guest tree: the timer PPIs, the initrd and bootargs in chosen, the pl031 from guestNodeFor; dtc warns only about the bus', () => {
  const dtb = linuxGuestDtb({
    hostDtb: virtDtb(), deviceName: '9010000.pl031', regionGpa: 0x0c00_0000n, spi: 112, irqFlags: 7, bus: LAYOUT.bus,
    ram: { gpa: 0x4000_0000n, size: LINUX_RAM_SIZE }, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr },
    bootargs: LINUX_BOOTARGS, initrd: { start: 0x4fd0_0000n, end: 0x4fd5_0123n },
  });
  const f = join(dir, 'linux.dtb'); writeFileSync(f, dtb);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', f], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim().split('\n').filter(Boolean), ['/dev/null: Warning (unit_address_vs_reg): /platform-bus@c000000: node has a unit name, but no reg or ranges property']);
  assert.is(tool('fdtget', ['-t', 's', f, '/timer', 'compatible']), 'arm,armv8-timer');
  assert.is(tool('fdtget', ['-t', 'u', f, '/timer', 'interrupts']), '1 13 4 1 14 4 1 11 4 1 10 4');
  assert.is(tool('fdtget', ['-t', 'x', f, '/chosen', 'linux,initrd-start']), '0 4fd00000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/chosen', 'linux,initrd-end']), '0 4fd50123');
  assert.match(tool('fdtget', ['-t', 's', f, '/chosen', 'bootargs']), /^earlycon=pl011,mmio32,0x9000000 keep_bootcon rdinit=\/init/);
  assert.is(tool('fdtget', ['-t', 'x', f, '/memory@40000000', 'reg']), '0 40000000 0 10000000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/platform-bus@c000000/pl031@c000000', 'interrupts']), '0 70 4');
});

test('the L2 initramfs writer: GNU cpio (an independent reader) lists each newc entry with its type, mode and device numbers', () => {
  const archive = newc([
    { name: 'dev', mode: 0o040755 }, { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'init', mode: 0o100755, data: Buffer.from('odd-length!') },
  ]);
  assert.is(archive.byteLength % 4, 0, 'newc pads every header, name and file to 4 bytes');
  const r = spawnSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split(/\s+/));
  assert.equal(rows.map((c) => [c[0], c.at(-1)]), [['drwxr-xr-x', 'dev'], ['crw-------', 'dev/console'], ['-rwxr-xr-x', 'init']]);
  assert.match(r.stdout, /5,\s+1 .* dev\/console/);
  const x = spawnSync('sh', ['-c', `cd ${dir} && cpio -i --quiet --to-stdout init`], { input: archive });
  assert.is(x.stdout.toString(), 'odd-length!');
});

test.run();

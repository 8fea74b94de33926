// The lab's QEMU command line (lab/boot.mjs qemuArgs): the devices, the NVMe disk and the kernel
// parameter that carries its hash; and bootGuest running "qemu-system-aarch64" from PATH, here a
// fake that records the argv it was given. No real boot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
// @ts-ignore: plain ESM modules of the lab scripts
import { qemuArgs, bootGuest, encodeCommand, KERNEL_PARAMS, IVSHMEM_DEVICE, IVSHMEM_OBJECT, NVME_DEVICE, PCI_DEVICES, DISK_SHA256_PARAM } from '../../../lab/boot.mjs';
// @ts-ignore
import { MARKER } from '../../../lab/protocol.mjs';

const SHA = 'ab'.repeat(32);
const DISK = { path: '/cache/nvme-disk-v1.raw', sha256: SHA };
/** The value after `flag` each time it occurs in argv. */
const after = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

test('qemuArgs: the NVMe controller at 00:03.0 on the disk image, raw and snapshot=on, beside the three edu devices', () => {
  const argv: string[] = qemuArgs({ kernel: '/k/Image', initrd: '/k/initrd.gz', disk: DISK });
  assert.equal(after(argv, '-drive'), ['file=/cache/nvme-disk-v1.raw,if=none,id=nvm,format=raw,snapshot=on']);
  assert.equal(after(argv, '-device'), [...PCI_DEVICES, NVME_DEVICE, IVSHMEM_DEVICE]);
  assert.equal(after(argv, '-object'), [IVSHMEM_OBJECT]);
  assert.is(NVME_DEVICE, 'nvme,serial=vfiokit,drive=nvm,addr=03.0');
  const addrs = after(argv, '-device').map((d) => d.match(/addr=([0-9a-f.]+)/)?.[1]);
  assert.is(new Set(addrs).size, addrs.length, `every device has its own address (${addrs.join(' ')})`);
  assert.ok(argv.indexOf('-drive') < argv.indexOf(NVME_DEVICE), 'the drive is defined before the device that uses it');
});

test('qemuArgs: the kernel command line carries the disk hash after the lab parameters, then the extra ones', () => {
  const argv: string[] = qemuArgs({ kernel: '/k/Image', initrd: '/k/initrd.gz', disk: DISK, append: 'lab.cmd=abc' });
  assert.equal(after(argv, '-append'), [`${KERNEL_PARAMS} ${DISK_SHA256_PARAM}=${SHA} lab.cmd=abc`]);
  assert.is(DISK_SHA256_PARAM, 'vfiokit.disk_sha256');
});

test('qemuArgs: no disk, or a disk without a SHA-256, is refused (the device set is fixed)', () => {
  assert.throws(() => qemuArgs({ kernel: 'k', initrd: 'i' }), /disk must be \{ path, sha256 \}/);
  assert.throws(() => qemuArgs({ kernel: 'k', initrd: 'i', disk: { path: '/d.raw', sha256: 'xyz' } }), /disk must be/);
  assert.throws(() => qemuArgs({ kernel: 'k', initrd: 'i', disk: { sha256: SHA } }), /disk must be/);
});

test('qemuArgs: a comma in the disk path is doubled (QEMU\'s escape in an option list)', () => {
  const argv: string[] = qemuArgs({ kernel: 'k', initrd: 'i', disk: { path: '/a,b/disk.raw', sha256: SHA } });
  assert.is(after(argv, '-drive')[0], 'file=/a,,b/disk.raw,if=none,id=nvm,format=raw,snapshot=on');
});

test('bootGuest without a command runs qemu-system-aarch64 from PATH with qemuArgs, the disk and the encoded command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-fake-qemu-'));
  const record = join(dir, 'argv.json');
  const fake = join(dir, 'qemu-system-aarch64');
  writeFileSync(fake, `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)));\n`
    + `console.log(${JSON.stringify(`${MARKER} {"ev":"init"}`)}); console.log(${JSON.stringify(`${MARKER} {"ev":"exit","code":0}`)});\n`);
  chmodSync(fake, 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  try {
    const r = await bootGuest({ kernel: '/k/Image', initrd: '/k/initrd.gz', disk: DISK, cmd: 'echo hi', idleLimitS: 10 });
    assert.is(r.status, 0);
  } finally { process.env.PATH = path; }
  const argv = JSON.parse(readFileSync(record, 'utf8'));
  assert.equal(argv, qemuArgs({ kernel: '/k/Image', initrd: '/k/initrd.gz', disk: DISK, append: `lab.cmd=${encodeCommand('echo hi')}` }));
  assert.ok(argv.includes(NVME_DEVICE));
});

test.run();

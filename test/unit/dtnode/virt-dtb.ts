// QEMU virt's own DTB (GICv3, -cpu max), dumped once into build/virt.dtb, for the dtnode tests.
// Not a test file itself.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

export const VIRT_DTB = 'build/virt.dtb';

export function virtDtb(): Uint8Array {
  if (!existsSync(VIRT_DTB)) {
    mkdirSync('build', { recursive: true });
    // -nodefaults: without it Debian's QEMU looks for efi-virtio.rom before dumping.
    const r = spawnSync('qemu-system-aarch64', ['-M', `virt,gic-version=3,dumpdtb=${VIRT_DTB}`, '-cpu', 'max', '-nographic', '-nodefaults', '-net', 'none'], { encoding: 'utf8', timeout: 30_000 });
    if (!existsSync(VIRT_DTB)) throw new Error(`qemu-system-aarch64 did not dump the DTB: ${r.stderr}`);
  }
  return new Uint8Array(readFileSync(VIRT_DTB));
}

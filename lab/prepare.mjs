// Gets the lab ready to boot: Debian packages, the kernel Image, the initramfs, the NVMe disk image.
// Resolves { kernel, initrd, disk, tests, qemu?, times } or { cannotRun: 'exact reason' }; never
// throws for a lab that cannot run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs, cacheDir } from './initramfs.mjs';
import { labDisk } from './disk.mjs';

const here = dirname(fileURLToPath(import.meta.url));
/** Free space the cache needs for a cold kernel build (source + objects), in GiB. */
export const MIN_FREE_GIB = 6;

/** Runs a script, forwarding its stderr lines to log; resolves { code, stdout }. */
function script(file, log) {
  return new Promise((resolve) => {
    const child = spawn('bash', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', err = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { err += d; const lines = err.split('\n'); err = lines.pop(); for (const l of lines) if (l.trim()) log(l); });
    child.on('close', (code) => { if (err.trim()) log(err); resolve({ code, stdout: stdout.trim() }); });
  });
}

export async function prepareLab({ log }) {
  if (process.platform !== 'linux') return { cannotRun: `the lab needs Linux (this is ${process.platform})` };
  if (!existsSync('/etc/debian_version')) return { cannotRun: 'the lab needs Debian (apt, dpkg and its arm64 packages); /etc/debian_version is missing' };
  const deps = spawnSync('bash', [join(here, 'deps.sh')], { encoding: 'utf8' });
  if (deps.status !== 0) return { cannotRun: (deps.stderr.trim().split('\n').pop() || `lab/deps.sh exited with ${deps.status}`) };
  if (spawnSync('qemu-system-aarch64', ['--version']).status !== 0) return { cannotRun: 'qemu-system-aarch64 is not installed (apt-get install qemu-system-arm)' };
  const cache = cacheDir(); mkdirSync(cache, { recursive: true });
  const times = {};
  let t = Date.now();
  const k = await script(join(here, 'kernel.sh'), log);
  times.kernelS = (Date.now() - t) / 1000;
  if (k.code !== 0 || !existsSync(k.stdout)) {
    const fs = statfsSync(cache); const freeGiB = (fs.bavail * fs.bsize) / 2 ** 30;
    if (freeGiB < MIN_FREE_GIB) return { cannotRun: `not enough disk space in ${cache}: ${freeGiB.toFixed(1)} GiB free, a kernel build needs ${MIN_FREE_GIB}` };
    return { cannotRun: `the kernel build failed (lab/kernel.sh exited with ${k.code})` };
  }
  t = Date.now();
  let initrd;
  try { initrd = await buildInitramfs({ log, kernel: k.stdout }); } catch (e) { return { cannotRun: `the initramfs could not be built: ${String(e.stderr ?? '').trim().split('\n').pop() || e.message}` }; }
  times.initramfsS = (Date.now() - t) / 1000;
  t = Date.now();
  let disk;
  try { disk = labDisk(cache); } catch (e) { return { cannotRun: `the NVMe disk image could not be made in ${cache}: ${e.message}` }; }
  if (disk.made) log(`lab: [disk] made ${disk.path} (sha256 of the pattern ${disk.sha256})`);
  times.diskS = (Date.now() - t) / 1000;
  return { kernel: k.stdout, initrd: initrd.path, disk: { path: disk.path, sha256: disk.sha256 }, tests: initrd.tests, rebuilt: initrd.rebuilt, qemu: initrd.qemu, times };
}

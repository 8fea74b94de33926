#!/usr/bin/env node
// Builds the L2 initramfs of the mini-vmm's Linux guest (demonstration 3): linux/init.c (with the
// other .c files beside it: nvme.c, sha256.c) compiled static for aarch64 (Debian's gcc-aarch64-linux-gnu +
// libc6-dev-arm64-cross), as /init in a
// gzip'd newc cpio written in JS (newc.mjs: a handful of entries; no cpio tool, no root for the
// /dev/console node, byte-identical output for the same init so the lab's image hash is stable).
//   node examples/mini-vmm/linux/build.mjs        prints the path of build/linux/initrd.gz
// The static program stays beside it (build/linux/init): the lab image carries it for L1 too,
// where `init nvme` runs the same NVMe checks with L1's own driver (init.c's header).
// Not responsible for: the kernel (lab/kernel.sh builds the one Image both L1 and L2 boot).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { newc } from './newc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');

/** The C files of /init, compiled together: every .c file here, in name order. */
export const initSources = () => readdirSync(here).filter((f) => f.endsWith('.c')).sort();

export function buildLinuxInitrd({ out = join(root, 'build/linux') } = {}) {
  mkdirSync(out, { recursive: true });
  const init = join(out, 'init');
  try {
    execFileSync('aarch64-linux-gnu-gcc', ['-O2', '-static', '-Wall', '-Werror', '-o', init, ...initSources().map((f) => join(here, f))], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error('aarch64-linux-gnu-gcc not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross');
    throw new Error(`aarch64-linux-gnu-gcc ${initSources().join(' ')}: ${e.stderr?.toString() ?? e.message}`);
  }
  execFileSync('aarch64-linux-gnu-strip', [init]);
  const cpio = newc([
    { name: 'dev', mode: 0o040755 }, { name: 'proc', mode: 0o040755 }, { name: 'sys', mode: 0o040755 },
    // The kernel opens /dev/console for init's stdio before init mounts devtmpfs.
    { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'init', mode: 0o100755, data: readFileSync(init) },
  ]);
  const path = join(out, 'initrd.gz');
  // mtime 0 in the gzip header (zlib's default): the same init gives the same bytes.
  writeFileSync(path, gzipSync(cpio, { level: 9 }));
  return path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(buildLinuxInitrd());

#!/usr/bin/env node
// Assembles every examples/mini-vmm/guest/*.S into a flat binary build/guest/<name>.bin with
// Debian's cross binutils (binutils-aarch64-linux-gnu): as (with console.inc, the shared console
// routines, on the include path), then ld at address 0 (the code is
// position-independent: adr and literal pools only), then objcopy -O binary.
//   node examples/mini-vmm/guest/build.mjs        prints the paths it wrote
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
/** The guest binaries are meant to stay tiny: the nested guest runs under TCG-emulated EL2. */
export const MAX_GUEST_BYTES = 4096;

export function buildGuests({ out = join(root, 'build/guest') } = {}) {
  mkdirSync(out, { recursive: true });
  const built = [];
  for (const src of readdirSync(here).filter((f) => f.endsWith('.S')).sort()) {
    const name = src.slice(0, -2);
    const obj = join(out, `${name}.o`), elf = join(out, `${name}.elf`), bin = join(out, `${name}.bin`);
    const run = (cmd, args) => {
      try { execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }); } catch (e) {
        if (e.code === 'ENOENT') throw new Error(`${cmd} not found: apt-get install binutils-aarch64-linux-gnu`);
        throw new Error(`${cmd} ${src}: ${e.stderr?.toString() ?? e.message}`);
      }
    };
    run('aarch64-linux-gnu-as', ['-I', here, '-o', obj, join(here, src)]);
    run('aarch64-linux-gnu-ld', ['-Ttext=0', '-o', elf, obj]);
    run('aarch64-linux-gnu-objcopy', ['-O', 'binary', elf, bin]);
    const size = statSync(bin).size;
    if (size > MAX_GUEST_BYTES) throw new Error(`${bin}: ${size} bytes, over MAX_GUEST_BYTES (${MAX_GUEST_BYTES})`);
    built.push({ name, bin, size });
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const b of buildGuests()) console.log(`${b.bin} ${b.size} bytes`);
}

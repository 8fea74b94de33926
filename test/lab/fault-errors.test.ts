// Runs INSIDE the lab guest: the kernel's own error paths, provoked for real, each answered by a
// VfioError with a message and a hint that says what to do, and nothing left behind (the fds of
// the process as before, the device opening and mapping afterwards). The non-root cases run this
// file again as a child under uid/gid 65534 (nobody). Covered here: EACCES on /dev/vfio/N and
// /dev/iommu for a user without access; EPERM on a no-IOMMU group node even when the user owns
// it (CAP_SYS_RAWIO); ENOSPC from VFIO_IOMMU_MAP_DMA at vfio_iommu_type1.dma_entry_limit; ENOMEM
// from VFIO_IOMMU_MAP_DMA and IOMMU_IOAS_MAP past RLIMIT_MEMLOCK for a non-root user; and the
// kernel keeping an IOMMU group viable: while a member is open, no other driver can take the
// other member. EBUSY on a held group node is test/lab/api-errors.test.ts's, and between two
// processes fault-kill.test.ts's race.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { allocDma, bind, openDevice, unbind, VfioError, type IommuKind } from '../../src/index';
import { EDU, ID } from '../support/edu';
import { countFds } from '../support/fds';
import { CHILD_ARGS, CHILD_ROLE, startChild } from '../support/child';
import { report } from '../support/load';

const PL031 = '9010000.pl031';
const NOBODY = 65534;
const DMA_ENTRY_LIMIT = '/sys/module/vfio_iommu_type1/parameters/dma_entry_limit';
const groupOf = (bus: string, dev: string): string => basename(readlinkSync(`/sys/bus/${bus}/devices/${dev}/iommu_group`));
/** Every error met, for the summary: kind, errno, call. */
const met: string[] = [];

interface Outcome { ok: boolean; kind?: string; errnoName?: string; syscall?: string; message?: string; hint?: string; fdsLeft: number; after?: string }

/** Runs f, catches its VfioError, and says how many fds it left open. */
function attempt(f: () => unknown): Outcome {
  const before = countFds();
  try { f(); return { ok: true, fdsLeft: countFds() - before }; } catch (e) {
    if (!(e instanceof VfioError)) throw e;
    return { ok: false, kind: e.kind, errnoName: e.errnoName, syscall: e.syscall, message: e.message, hint: e.hint, fdsLeft: countFds() - before };
  }
}

// ---- the child's side (a non-root user) -----------------------------------------------------
function child(role: string, args: string[]): void {
  const out: Record<string, Outcome> = {};
  if (role === 'open') {
    out.type1 = attempt(() => openDevice(EDU).close());
    out.iommufd = attempt(() => openDevice(EDU, { iommu: 'iommufd' }).close());
    out.noiommu = attempt(() => openDevice(PL031).close());
  } else if (role === 'memlock') {
    // RLIMIT_MEMLOCK is set by the shell that started us (ulimit -l, in KiB).
    const kib = Number(args[0]);
    for (const iommu of ['type1', 'iommufd'] as IommuKind[]) {
      const dev = openDevice(EDU, { iommu });
      const big = allocDma(4 * kib * 1024), small = allocDma(kib * 1024 / 2);
      try {
        out[iommu] = attempt(() => dev.mapDma({ iova: 0x10_0000n, buffer: big.bytes, size: BigInt(big.bytes.length) }));
        // What failed is not half pinned: half the limit maps, and unmaps, afterwards.
        const r = attempt(() => { dev.mapDma({ iova: 0x10_0000n, buffer: small.bytes, size: BigInt(small.bytes.length) }); dev.unmapDma(0x10_0000n, BigInt(small.bytes.length)); });
        out[iommu]!.after = r.ok ? 'half the limit mapped afterwards' : `half the limit failed too: ${r.message}`;
      } finally { dev.close(); big.close(); small.close(); }
    }
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

// ---- the parent's side ----------------------------------------------------------------------
async function asNobody(role: string, args: string[] = [], ulimitKiB?: number): Promise<Record<string, Outcome>> {
  const c = startChild(role, args, { uid: NOBODY, gid: NOBODY }, ulimitKiB === undefined ? undefined : `ulimit -l ${ulimitKiB}`);
  const line = await c.waitFor(/^\{/, 30_000);
  await c.exit;
  return JSON.parse(line) as Record<string, Outcome>;
}

function expectRefused(o: Outcome | undefined, what: string, kind: string, errnoName: string, hintHas: RegExp): void {
  assert.ok(o && !o.ok, `${what}: refused`);
  assert.is(o!.kind, kind, `${what}: kind (${o!.message})`);
  assert.is(o!.errnoName, errnoName, `${what}: errno`);
  assert.ok(o!.hint && hintHas.test(o!.hint), `${what}: the hint says what to do: ${o!.hint}`);
  assert.is(o!.fdsLeft, 0, `${what}: no fd left open`);
  met.push(`${what}: ${kind} ${errnoName}`);
  console.log(`  ${what}: ${o!.message} -- hint: ${o!.hint}`);
}

/** The device's VFIO cdev node: its number is the kernel's own count of cdevs (sysfs
 *  vfio-dev/vfioN), not its IOMMU group's. */
const cdevOf = (bdf: string): string => `/dev/vfio/devices/${readdirSync(`/sys/bus/pci/devices/${bdf}/vfio-dev`)[0]}`;

test('a user without access: EACCES on /dev/vfio/N and /dev/iommu, kind permission, a hint naming the node', async () => {
  const r = await asNobody('open');
  expectRefused(r.type1, 'type1 as nobody', 'permission', 'EACCES', /permissions of \/dev\/vfio\/\d+/);
  expectRefused(r.iommufd, 'iommufd as nobody', 'permission', 'EACCES', /\/dev\/iommu/);
  expectRefused(r.noiommu, 'no-IOMMU as nobody', 'permission', 'EACCES', /noiommu/);
});

test('a user who owns the nodes: type1 and iommufd open; a no-IOMMU group still answers EPERM (CAP_SYS_RAWIO), and the hint says so', async () => {
  const g = groupOf('pci', EDU), n = groupOf('amba', PL031);
  const nodes = [`/dev/vfio/${g}`, cdevOf(EDU), `/dev/vfio/noiommu-${n}`];
  const iommuMode = statSync('/dev/iommu').mode & 0o777;
  try {
    for (const p of nodes) chownSync(p, NOBODY, NOBODY);
    chmodSync('/dev/iommu', 0o666);
    const r = await asNobody('open');
    assert.ok(r.type1!.ok, `type1: ${r.type1!.message}`);
    assert.ok(r.iommufd!.ok, `iommufd: ${r.iommufd!.message}`);
    expectRefused(r.noiommu, 'no-IOMMU as its owner', 'permission', 'EPERM', /CAP_SYS_RAWIO/);
  } finally {
    for (const p of nodes) chownSync(p, 0, 0);
    chmodSync('/dev/iommu', iommuMode);
  }
});

test('RLIMIT_MEMLOCK as a non-root user: ENOMEM from type1 and iommufd, a hint with the limit; half the limit maps afterwards', async () => {
  const g = groupOf('pci', EDU);
  const nodes = [`/dev/vfio/${g}`, cdevOf(EDU)];
  const iommuMode = statSync('/dev/iommu').mode & 0o777;
  const KIB = 256;
  try {
    for (const p of nodes) chownSync(p, NOBODY, NOBODY);
    chmodSync('/dev/iommu', 0o666);
    const r = await asNobody('memlock', [String(KIB)], KIB);
    for (const iommu of ['type1', 'iommufd']) {
      expectRefused(r[iommu], `${iommu} past RLIMIT_MEMLOCK`, 'syscall', 'ENOMEM', new RegExp(`RLIMIT_MEMLOCK ${KIB} KiB`));
      assert.is(r[iommu]!.after, 'half the limit mapped afterwards');
    }
  } finally {
    for (const p of nodes) chownSync(p, 0, 0);
    chmodSync('/dev/iommu', iommuMode);
  }
});

test('vfio_iommu_type1.dma_entry_limit: ENOSPC at the limit, kind no-space, a hint naming the limit; every mapping undone by close', () => {
  const before = countFds();
  const saved = readFileSync(DMA_ENTRY_LIMIT, 'utf8').trim();
  const LIMIT = 4;
  writeFileSync(DMA_ENTRY_LIMIT, String(LIMIT)); // read by a container when it is created
  try {
    const dev = openDevice(EDU);
    const buf = allocDma((LIMIT + 1) * 4096);
    try {
      for (let i = 0; i < LIMIT; i++) dev.mapDma({ iova: 0x10_0000n + BigInt(i * 4096), buffer: buf.bytes.subarray(i * 4096, (i + 1) * 4096), size: 4096n });
      const o = attempt(() => dev.mapDma({ iova: 0x10_0000n + BigInt(LIMIT * 4096), buffer: buf.bytes.subarray(LIMIT * 4096), size: 4096n }));
      expectRefused(o, 'the mapping past dma_entry_limit', 'no-space', 'ENOSPC', new RegExp(`dma_entry_limit allows \\(${LIMIT}\\)`));
      assert.is(dev.dmaMappings().length, LIMIT, 'the refused one is not recorded');
    } finally { dev.close(); buf.close(); }
  } finally { writeFileSync(DMA_ENTRY_LIMIT, saved); }
  const dev = openDevice(EDU);
  const buf = allocDma((LIMIT + 1) * 4096);
  try {
    dev.mapDma({ iova: 0x10_0000n, buffer: buf.bytes, size: BigInt((LIMIT + 1) * 4096) });
    assert.is(dev.regions[0]!.map().read32(ID), 0x010000ed);
  } finally { dev.close(); buf.close(); }
  assert.is(countFds(), before);
});

test('the kernel keeps an IOMMU group viable: while a member is open, no other driver can take the other member', () => {
  const A = '0000:00:04.0', B = '0000:00:04.1';
  const drv = (n: string): string | null => existsSync(`/sys/bus/pci/devices/${n}/driver`) ? basename(readlinkSync(`/sys/bus/pci/devices/${n}/driver`)) : null;
  bind(A);
  try {
    const dev = openDevice(A);
    let refused: string | undefined;
    try {
      writeFileSync(`/sys/bus/pci/devices/${B}/driver_override`, 'nvme');
      try { writeFileSync('/sys/bus/pci/drivers_probe', B); } catch (e) { refused = (e as NodeJS.ErrnoException).code; }
      writeFileSync(`/sys/bus/pci/devices/${B}/driver_override`, '\n');
      assert.is(drv(B), null, 'nvme did not take the other member');
      assert.is(dev.regions[0]!.read32(ID), 0x010000ed, 'the open member works on');
    } finally { dev.close(); }
    console.log(`  binding ${B} to nvme while ${A} was open: drivers_probe answered ${refused ?? 'nothing'}, ${B} stayed on ${drv(B) ?? 'no driver'}`);
    met.push(`another driver for a group member while one is open: ${refused ?? 'refused silently'}`);
    assert.ok(refused !== undefined, 'the kernel refused the probe');
  } finally { unbind(A); }
  report('fault kernel errors', { paths: met.length, met: met.join('; '), ok: true });
});

if (CHILD_ROLE) child(CHILD_ROLE, CHILD_ARGS);
else test.run();

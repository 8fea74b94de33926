// The package as a user gets it: `npm pack` (which builds dist/ through the prepare script, so it
// is fresh), the tarball installed with npm into a scratch project, and then, from that project:
// each entry point's types checked under moduleResolution node16, nodenext and bundler with
// skipLibCheck off and on (a file that uses the API compiles; a file with a deliberate type error
// fails at that line, so the types are real and not `any`); the runtime entry imported from plain
// JS; the installed CLI run; the lab's layout resolved from the installed files (koffi where npm
// put it). typescript and @types/node are the project's own (linked into the scratch project).
// Needs the npm registry for koffi (npm's cache when it has it).
// Not responsible for: what the API does (the other unit tests and the lab).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFakeSysfs } from '../../support/fake-sysfs';

/** A package entry point a consumer imports: `use` must compile, `wrong` must fail at its last
 *  line with `wrongCode`. Add a subpath export here (e.g. 'vfiokit/core') and it is checked the
 *  same way under every mode. `runtime`: names the plain-JS import must find as functions. */
interface EntryPoint { specifier: string; use: string; wrong: string; wrongCode: string; runtime: string[] }

const ENTRY_POINTS: EntryPoint[] = [
  {
    specifier: 'vfiokit',
    use: `import { openDevice, allocDma, PlatformBus, parseFdt, FdtBuilder, mergeFdt, guestNodeFor, VfioError } from 'vfiokit';
import type { VfioDevice, DeviceRegion, DeviceIrq, DmaBuffer, Fdt, PlacedRegion, VfioErrorKind } from 'vfiokit';

export function session(name: string, hostDtb: Uint8Array, boardDtb: Uint8Array): Uint8Array {
  using dev: VfioDevice = openDevice(name, { iommu: 'auto' });
  const region: DeviceRegion | undefined = dev.regions[0];
  const map = region?.map();
  const id: number | undefined = map?.read32(0xfe0);
  const viaTrap: bigint | undefined = region?.read(0xfe0, 4);
  const irq: DeviceIrq | undefined = dev.irqs[0];
  irq?.onTrigger((n: number | bigint) => { void n; irq.unmask(); });
  const buf: DmaBuffer = allocDma(4096);
  dev.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 4096n });
  const bus = new PlatformBus({ base: 0xc000000n, size: 0x2000000n, spiFirst: 112, spiCount: 32 });
  const where: PlacedRegion = bus.placeRegion(BigInt(map?.size ?? 0x1000));
  const spi = bus.placeIrq(undefined, { device: where.device });
  const node = guestNodeFor({ hostDtb, deviceName: dev.name, placement: { regions: [where.address], spis: [spi.spi] }, irqFlags: [irq?.flags ?? 0] });
  const fdt: Fdt = parseFdt(boardDtb);
  using b = new FdtBuilder({ firstPhandle: fdt.maxPhandle + 1 });
  b.beginNode('').endNode();
  void id; void viaTrap;
  return mergeFdt(boardDtb, node.dtb, '/');
}

export function kindOf(e: unknown): VfioErrorKind | undefined { return e instanceof VfioError ? e.kind : undefined; }
`,
    wrong: `import { openDevice } from 'vfiokit';
openDevice(42);
`,
    wrongCode: 'TS2345',
    runtime: ['openDevice', 'allocDma', 'parseFdt', 'listDevices'],
  },
  {
    specifier: 'vfiokit/core',
    use: `import { decodeRegionInfo, encodeIrqSet, RegionTable, IrqMachine, vfioUapi } from 'vfiokit/core';
import type { RegionInfo, IrqSetRequest } from 'vfiokit/core';

export function unmaskRequest(index: number): Uint8Array {
  const req: IrqSetRequest = { index, start: 0, count: 1, action: 'unmask' };
  return encodeIrqSet(req);
}
export function size(reply: Uint8Array): bigint { const info: RegionInfo = decodeRegionInfo(reply); return info.size; }
export const tables = [RegionTable, IrqMachine] as const;
export const setIrqs: number = vfioUapi.VFIO_DEVICE_SET_IRQS;
`,
    wrong: `import { decodeRegionInfo } from 'vfiokit/core';
decodeRegionInfo('not bytes');
`,
    wrongCode: 'TS2345',
    runtime: ['decodeRegionInfo', 'encodeIrqSet', 'RegionTable', 'IrqMachine'],
  },
  {
    specifier: 'vfiokit/sys',
    use: `import { hostSys, O_RDWR, O_CLOEXEC, EFD_CLOEXEC, KVM_CREATE_VM } from 'vfiokit/sys';
import type { HostSys } from 'vfiokit/sys';

export function kvm(): number {
  const sys: HostSys = hostSys();
  const fd: number = sys.open('/dev/kvm', O_RDWR | O_CLOEXEC);
  const efd: number = sys.eventfd(0, EFD_CLOEXEC);
  sys.close(efd);
  return sys.ioctlValue(fd, KVM_CREATE_VM, 0, 'KVM_CREATE_VM');
}
`,
    wrong: `import { hostSys } from 'vfiokit/sys';
hostSys().open(42, 0);
`,
    wrongCode: 'TS2345',
    runtime: ['hostSys'],
  },
  {
    specifier: 'vfiokit/vmm',
    use: `import { runVm, Vm, BOARD, MAX_VCPUS } from 'vfiokit/vmm';
import type { VmConfig, VmReport, VmEvent } from 'vfiokit/vmm';

export async function boot(kernel: Uint8Array, hostDtb: Uint8Array): Promise<VmReport> {
  const config: VmConfig = {
    kernel, hostDtb, memBytes: 256n << 20n, cpus: 2, devices: [{ name: '9010000.pl031', irqfd: false, mmapTimeoutMs: 1100 }, { name: '0000:00:03.0' }],
    onEvent: (ev: VmEvent) => console.error(ev.kind, ev.message),
  };
  return runVm(config);
}
export const most: number = MAX_VCPUS;
export const uart: bigint = BOARD.uart;
export const vmClass = Vm;
`,
    wrong: `import { runVm } from 'vfiokit/vmm';
runVm({ kernel: new Uint8Array(1), hostDtb: new Uint8Array(1), memBytes: 1, cpus: 1, devices: [] });
`,
    wrongCode: 'TS2322',
    runtime: ['runVm', 'Vm', 'Vcpu', 'boardDtb', 'parseImageHeader'],
  },
];

/** The resolution modes a consumer's tsconfig may use, each with the `module` it requires. */
const MODES: { moduleResolution: string; module: string }[] = [
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'nodenext', module: 'nodenext' },
  { moduleResolution: 'bundler', module: 'esnext' },
];
/** The lab files `vfiokit lab` runs from an installed package (src/cli/lab.ts starts lab/run.mjs). */
const LAB_FILES = ['run.mjs', 'prepare.mjs', 'boot.mjs', 'suite.mjs', 'protocol.mjs', 'initramfs.mjs', 'apt.mjs', 'qemu-payload.mjs', 'deps.sh', 'kernel.sh', 'source.sh', 'kernel.config', 'init.sh', 'lab-suite.sh'];

const root = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'vfiokit-consumer-'));
const installed = join(scratch, 'node_modules/vfiokit');
const tscJs = join(root, 'node_modules/typescript/bin/tsc');
const run = (cmd: string, args: string[], cwd = scratch): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' } });
const shown = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

test.before(() => {
  const pack = run('npm', ['pack', '--json', '--pack-destination', scratch], root);
  assert.is(pack.status, 0, shown(pack));
  const tgz = join(scratch, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string }[])[0]!.filename);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const inst = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tgz]);
  assert.is(inst.status, 0, shown(inst));
  // The project's own compiler and Node types, linked after npm install (which would prune them).
  mkdirSync(join(scratch, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules/@types/node'), join(scratch, 'node_modules/@types/node'));
  symlinkSync(join(root, 'node_modules/undici-types'), join(scratch, 'node_modules/undici-types'));
});

test.after(() => { rmSync(scratch, { recursive: true, force: true }); });

/** Type-checks `files` together in the scratch project under one mode; returns tsc's result. One
 *  tsc per mode for every entry point's file (not one per file): the program's setup (lib, Node's
 *  types) is most of a run, and this test ran 60 of them. Each test then reads its own file's lines. */
function check(kind: string, files: string[], mode: { moduleResolution: string; module: string }, skipLibCheck: boolean): SpawnSyncReturns<string> {
  const name = `tsconfig.${mode.moduleResolution}.${skipLibCheck ? 'skip' : 'full'}.${kind}.json`;
  writeFileSync(join(scratch, name), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: mode.module, moduleResolution: mode.moduleResolution, lib: ['es2023', 'esnext.disposable'],
      types: ['node'], strict: true, noUncheckedIndexedAccess: true, skipLibCheck, noEmit: true,
    },
    files,
  }));
  return run(process.execPath, [tscJs, '-p', name, '--pretty', 'false']);
}

const tagOf = (ep: EntryPoint): string => ep.specifier.replace(/\W/g, '_');
const checked = new Map<string, SpawnSyncReturns<string>>();
/** tsc over every entry point's `use` (or `wrong`) file under one mode, run once and remembered. */
function checkedAll(kind: 'use' | 'wrong', mode: { moduleResolution: string; module: string }, skipLibCheck: boolean): SpawnSyncReturns<string> {
  const key = `${kind}.${mode.moduleResolution}.${skipLibCheck}`;
  let r = checked.get(key);
  if (r === undefined) {
    const files = ENTRY_POINTS.map((ep) => { const f = `${kind}_${tagOf(ep)}.ts`; writeFileSync(join(scratch, f), ep[kind]); return f; });
    r = check(kind, files, mode, skipLibCheck);
    checked.set(key, r);
  }
  return r;
}
/** tsc's diagnostic lines about one file (`file(line,col): error TSxxxx: ...`). */
const linesAbout = (r: SpawnSyncReturns<string>, file: string): string[] => r.stdout.split('\n').filter((l) => l.startsWith(`${file}(`));

test('the tarball holds what an installed package needs: dist, LICENSE, the lab runner, os linux', () => {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { os?: string[]; license?: string };
  assert.equal(pkg.os, ['linux']);
  assert.is(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  for (const f of ['dist/index.js', 'dist/cli.js', 'dist/types/src/index.d.ts', ...LAB_FILES.map((l) => `lab/${l}`)]) assert.ok(existsSync(join(installed, f)), `${f} is in the package`);
  assert.not.ok(existsSync(join(installed, 'src')), 'no TypeScript sources ship');
});

for (const ep of ENTRY_POINTS) {
  const tag = tagOf(ep);
  for (const mode of MODES) {
    for (const skipLibCheck of [false, true]) {
      const label = `${ep.specifier}, moduleResolution ${mode.moduleResolution}, skipLibCheck ${skipLibCheck}`;
      test(`${label}: a file using the API type-checks`, () => {
        const r = checkedAll('use', mode, skipLibCheck);
        assert.equal(linesAbout(r, `use_${tag}.ts`), [], shown(r));
        // Errors in the package's own .d.ts files (skipLibCheck false) name no consumer file.
        assert.is(r.status, 0, shown(r));
      });
      test(`${label}: a deliberate type error fails at its line (the types are not any)`, () => {
        const r = checkedAll('wrong', mode, skipLibCheck);
        const line = ep.wrong.trimEnd().split('\n').length;
        const mine = linesAbout(r, `wrong_${tag}.ts`);
        assert.is.not(r.status, 0, shown(r));
        assert.ok(mine.length > 0 && mine.every((l) => l.startsWith(`wrong_${tag}.ts(${line},`)), shown(r));
        assert.ok(mine.some((l) => l.includes(`error ${ep.wrongCode}`)), shown(r));
      });
    }
  }
  test(`${ep.specifier}: plain JS imports the runtime entry and finds its functions`, () => {
    writeFileSync(join(scratch, `import_${tag}.mjs`), `const m = await import(${JSON.stringify(ep.specifier)});\nconsole.log(JSON.stringify(${JSON.stringify(ep.runtime)}.map((n) => typeof m[n])));\n`);
    const r = run(process.execPath, [`import_${tag}.mjs`]);
    assert.is(r.status, 0, shown(r));
    assert.equal(JSON.parse(r.stdout), ep.runtime.map(() => 'function'));
  });
}

test('the installed CLI: vfiokit --help prints the usage; vfiokit list --sysfs lists a fake tree', () => {
  // The bin link npm made, run by this node (not the one on PATH): CI runs the suite on each line.
  const bin = join(scratch, 'node_modules/.bin/vfiokit');
  const help = run(process.execPath, [bin, '--help']);
  assert.is(help.status, 0, shown(help));
  assert.match(help.stdout + help.stderr, /usage: vfiokit/);
  const sys = makeFakeSysfs([{ bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0, compatible: ['arm,pl031', 'arm,primecell'] }]);
  try {
    const list = run(process.execPath, [bin, 'list', '--sysfs', sys.root]);
    assert.is(list.status, 0, shown(list));
    assert.match(list.stdout, /9010000\.pl031/);
    assert.match(list.stdout, /vfio-amba/);
  } finally { sys.dispose(); }
});

test('the lab from the installed package: the published dist/, koffi found where npm put it', async () => {
  const { labLayout } = await import(join(installed, 'lab/initramfs.mjs')) as { labLayout(): { root: string; fromSource: boolean; koffiDir: string; koffiVersion: string; dist: string; labTests?: string } };
  const l = labLayout();
  assert.is(realpathSync(l.root), realpathSync(installed));
  assert.is(l.fromSource, false);
  assert.is(realpathSync(l.koffiDir), realpathSync(join(scratch, 'node_modules/koffi')));
  assert.is(l.koffiVersion, (JSON.parse(readFileSync(join(root, 'node_modules/koffi/package.json'), 'utf8')) as { version: string }).version);
  assert.ok(existsSync(join(l.dist, 'cli.js')));
  assert.is(l.labTests, undefined);
});

test('the lab from a checkout: built from source, koffi from the checkout', async () => {
  const { labLayout } = await import(join(root, 'lab/initramfs.mjs')) as { labLayout(): { fromSource: boolean; koffiDir: string; labTests?: string } };
  const l = labLayout();
  assert.is(l.fromSource, true);
  assert.is(realpathSync(l.koffiDir), realpathSync(join(root, 'node_modules/koffi')));
  assert.is(l.labTests, join(root, 'test/lab'));
});

test.run();

// The published surface, pinned: the names each entry point exports (values and types apart), so
// that a change to the public API is a deliberate edit of this file; and the declarations the
// package ships (tsc -p tsconfig.build.json, stripInternal) checked from the outside: no
// `@internal` member of src/ or shim/ is in them, and every project type that a public
// declaration names is itself exported by an entry point (a user can name what they are handed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as publicApi from '../../../src/index';
import * as coreApi from '../../../src/core-api';
import * as sysApi from '../../../src/sys-api';
import * as vmmApi from '../../../src/vmm-api';

const ENTRIES = {
  'vfiokit': {
    module: publicApi, file: 'src/index',
    values: [
      'DeviceIrq', 'DeviceRegion', 'DmaBuffer', 'Fdt', 'FdtBuilder', 'FdtNode', 'FdtProperty', 'IRQ_READER_WAKE_UNIT', 'IRQ_WAITER_MAX_EVENTS', 'IrqReader', 'IrqRouting',
      'IrqWaiter', 'KvmIrqRoutes', 'Mapping', 'PciConfig', 'PciMsix', 'PciPassthrough', 'PlatformBus', 'PlatformPassthrough', 'REPORT_BURST', 'ReportThinner', 'VFIO_DRIVER',
      'VFIO_PCI_BAR0_REGION_INDEX', 'VFIO_PCI_CONFIG_REGION_INDEX',
      'VFIO_PCI_ERR_IRQ_INDEX', 'VFIO_PCI_INTX_IRQ_INDEX', 'VFIO_PCI_MSIX_IRQ_INDEX', 'VFIO_PCI_MSI_IRQ_INDEX', 'VFIO_PCI_REQ_IRQ_INDEX',
      'VFIO_PCI_ROM_REGION_INDEX', 'VFIO_PCI_VGA_REGION_INDEX', 'VfioDevice', 'VfioError', 'allocDma', 'bind', 'bindGroup', 'fdtMaxPhandle',
      'findDevice', 'groupMembers', 'guestNodeFor', 'guestOverlayFor', 'hostNodeOfDevice', 'hugePageSize', 'listDevices', 'mergeFdt', 'openDevice',
      'parseFdt', 'reportNote', 'reportShown', 'unbind', 'unbindGroup', 'validateDeviceName',
    ],
    types: [
      'AllocDmaOptions', 'Bar', 'BarKind', 'BarSlotKind', 'BarState', 'BindResult', 'Bus', 'BusInfo', 'Capabilities', 'Capability',
      'DeviceEntry', 'DeviceHandle', 'DmaBacking', 'DmaInfo', 'DmaMapOptions', 'DmaMappingRecord', 'FdtBuilderOptions', 'FdtRegEntry', 'FdtReservation',
      'ForwardOptions', 'GroupBindResult', 'GuestMemorySlot', 'GuestNode', 'GuestNodeRequest', 'GuestOverlay', 'GuestOverlayRequest', 'IommuKind',
      'IommuOption', 'IrqAction', 'IrqActionKind', 'IrqFired', 'IrqHandler', 'IrqReaderOptions', 'IrqRoutingOptions', 'IrqWaiterOptions', 'KvmIrqRoutesOptions',
      'MappingSys', 'MsiCapability', 'MsiRoute', 'MsixAction', 'MsixCapability', 'MsixHole', 'MsixPart', 'MsixStats', 'MsixVectorState',
      'OpenOptions', 'PciAction', 'PciConfigOptions', 'PciConfigStats', 'PciKvmOptions', 'PciPassthroughOptions', 'PciPassthroughStats',
      'PlaceRegionOptions', 'PlacedIrq', 'PlacedPlatformIrq', 'PlacedPlatformRegion', 'PlacedRegion', 'PlatformBusOptions', 'PlatformMemorySlot',
      'PlatformNodeOptions', 'PlatformPassthroughOptions', 'PlatformPassthroughStats', 'PlatformPlacement', 'PlatformPlacementOptions', 'RegionMap',
      'SysfsOptions', 'TriggerEventfdOptions',
      'UnbindOptions', 'UnbindResult', 'VfioDeviceInfo', 'VfioDeviceKind', 'VfioErrorInit', 'VfioErrorKind', 'Width',
    ],
  },
  'vfiokit/core': {
    module: coreApi, file: 'src/core-api',
    values: [
      'IrqMachine', 'MAX_ARGSZ_RETRIES', 'MAX_REPLY_BYTES', 'PCI_CAP_ID_MSI', 'PCI_CAP_ID_MSIX', 'RegionTable', 'decodeBars',
      'decodeDeviceInfo', 'decodeIommuType1Info', 'decodeIrqInfo', 'decodeRegionInfo', 'encodeDmaMap', 'encodeDmaUnmap', 'encodeIoasMap',
      'encodeIoasUnmap', 'encodeIrqSet', 'findCapabilities', 'msixGuestView', 'msixHoles', 'msixRelocation', 'queryDeviceInfo', 'queryIommuType1Info', 'queryIrqInfo',
      'queryRegionInfo', 'queryWithArgsz', 'vfioUapi',
    ],
    types: [
      'AccessResult', 'DeviceApi', 'DeviceInfo', 'DeviceKind', 'DmaMapRequest', 'DmaUnmapRequest', 'Hole', 'IoasMapRequest', 'IommuType1Info',
      'IovaRange', 'IrqInfo', 'IrqSetAction', 'IrqSetRequest', 'LineInfo', 'LineState', 'MachineInfo', 'MachineState', 'MsixGuestView', 'MsixRelocation', 'MsixShared', 'PciIrqMode',
      'QueryOptions', 'RegionCounters', 'RegionQueryOptions', 'RegionEntry', 'RegionInfo', 'RegionSpec', 'SparseArea', 'SplitRange',
    ],
  },
  'vfiokit/sys': {
    module: sysApi, file: 'src/sys-api',
    values: [
      'EFD_CLOEXEC', 'EFD_NONBLOCK', 'MAP_ANONYMOUS', 'MAP_PRIVATE', 'MAP_SHARED', 'O_CLOEXEC', 'O_RDWR', 'PROT_READ', 'PROT_WRITE',
      '_IO', '_IOR', '_IOW', '_IOWR', 'hostSys', 'encodeKvmIrqfd',
      'KVMIO', 'KVM_API_VERSION', 'KVM_ARM_PREFERRED_TARGET', 'KVM_ARM_VCPU_INIT', 'KVM_CAP_DEVICE_CTRL', 'KVM_CAP_IRQFD',
      'KVM_CAP_IRQFD_RESAMPLE', 'KVM_CHECK_EXTENSION', 'KVM_CREATE_DEVICE', 'KVM_CREATE_DEVICE_TEST', 'KVM_CREATE_VCPU', 'KVM_CREATE_VM',
      'KVM_DEV_TYPE_VFIO', 'KVM_DEV_VFIO_FILE', 'KVM_DEV_VFIO_FILE_ADD', 'KVM_DEV_VFIO_FILE_DEL', 'KVM_GET_API_VERSION', 'KVM_GET_ONE_REG',
      'KVM_GET_VCPU_MMAP_SIZE', 'KVM_IRQFD', 'KVM_IRQFD_FLAG_DEASSIGN', 'KVM_IRQFD_FLAG_RESAMPLE', 'KVM_IRQ_LINE', 'KVM_RUN',
      'KVM_SET_DEVICE_ATTR', 'KVM_SET_ONE_REG', 'KVM_SET_USER_MEMORY_REGION', 'SIZEOF_KVM_CREATE_DEVICE', 'SIZEOF_KVM_DEVICE_ATTR',
      'SIZEOF_KVM_IRQFD', 'SIZEOF_KVM_IRQ_LEVEL', 'SIZEOF_KVM_ONE_REG', 'SIZEOF_KVM_USERSPACE_MEMORY_REGION', 'SIZEOF_KVM_VCPU_INIT',
      'KVM_SET_GSI_ROUTING', 'KVM_SIGNAL_MSI', 'KVM_CAP_IRQ_ROUTING', 'KVM_CAP_SIGNAL_MSI', 'KVM_CAP_MSI_DEVID', 'KVM_IRQ_ROUTING_IRQCHIP',
      'KVM_IRQ_ROUTING_MSI', 'KVM_MSI_VALID_DEVID', 'SIZEOF_KVM_IRQ_ROUTING', 'SIZEOF_KVM_IRQ_ROUTING_ENTRY', 'SIZEOF_KVM_MSI',
      'KVM_ENABLE_CAP', 'KVM_SET_VCPU_EVENTS', 'KVM_CAP_ARM_NISV_TO_USER', 'KVM_CAP_ARM_INJECT_EXT_DABT', 'SIZEOF_KVM_ENABLE_CAP', 'SIZEOF_KVM_VCPU_EVENTS',
      'encodeKvmIrqRouting', 'encodeKvmMsi',
    ],
    types: ['HostSys', 'KvmIrqRoute', 'KvmIrqfd', 'KvmMsi', 'WatchFn'],
  },
  'vfiokit/vmm': {
    module: vmmApi, file: 'src/vmm-api',
    values: [
      'BOARD', 'BarSlots', 'EcamHost', 'FIRST_DEVICE_PHANDLE', 'MAX_VCPUS', 'MIN_RAM_BYTES', 'PCI_INTERRUPT_PIN', 'REG_PC', 'VM_DEFAULT_BOOTARGS', 'Vcpu', 'Vm',
      'boardDtb', 'bootLayout', 'completeMmioRead', 'intxSpi', 'parseImageHeader', 'requesterId', 'runVm', 'xreg',
      'DEVICE_OPTIONS', 'Preflight', 'parseDeviceSpec', 'preflight', 'NISV_POLICIES', 'answerNisv', 'nisvPolicy', 'setUpNisv',
    ],
    types: [
      'BarSlotCounts', 'BoardDtbRequest', 'BootLayout', 'ConfigSpace', 'EcamCounts', 'Exit', 'GicLayout', 'GuestRam', 'ImageHeader', 'PciFunctionCounts', 'PciHostDt', 'RunMode', 'VmConfig',
      'VmDeviceReport', 'VmDeviceSpec', 'VmEnd', 'VmEvent', 'VmExitCounts', 'VmReport', 'VmState',
      'DeviceOptionRow', 'ParsedDeviceSpec', 'PreflightDevice', 'PreflightOptions', 'RestoreResult', 'NisvPolicy',
    ],
  },
} as const;

const root = process.cwd();
const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** The exported names of an entry's declaration file, values and types apart. */
function exportsOf(dts: string): { values: Set<string>; types: Set<string> } {
  const values = new Set<string>(), types = new Set<string>();
  for (const m of dts.matchAll(/^export (type )?\{([^}]*)\}/gm)) {
    for (const part of m[2]!.split(',').map((x) => x.trim()).filter(Boolean)) {
      const typeOnly = m[1] !== undefined || part.startsWith('type ');
      const name = part.replace(/^type /, '').split(/\s+as\s+/).pop()!;
      (typeOnly ? types : values).add(name);
    }
  }
  for (const m of dts.matchAll(/^export \* as (\w+)/gm)) values.add(m[1]!);
  for (const m of dts.matchAll(/^export (?:declare )?(class|function|const|let|enum|interface|type) (\w+)/gm)) {
    (m[1] === 'interface' || m[1] === 'type' ? types : values).add(m[2]!);
  }
  return { values, types };
}

/** Every file under dir ending in ext. */
function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

// The declarations as the package builds them, into a directory of our own.
const out = mkdtempSync(join(tmpdir(), 'vfiokit-dts-'));
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, encoding: 'utf8' });
const dtsOf = (file: string): string => readFileSync(join(out, `${file}.d.ts`), 'utf8');

test('the declarations build (tsconfig.build.json) succeeds', () => {
  assert.is(tsc.status, 0, `tsc -p tsconfig.build.json: ${tsc.stdout}${tsc.stderr}`);
});

for (const [entry, e] of Object.entries(ENTRIES)) {
  test(`${entry}: the exported names are the pinned ones (declarations and runtime)`, () => {
    const got = exportsOf(dtsOf(e.file));
    assert.equal(sorted(got.values), sorted(e.values), `${entry}: values`);
    assert.equal(sorted(got.types), sorted(e.types), `${entry}: types`);
    assert.equal(sorted(Object.keys(e.module)), sorted(e.values), `${entry}: what the module exports at run time`);
  });
}

test('package.json maps each entry point to its bundle and its declarations', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; scripts: Record<string, string> };
  for (const [entry, e] of Object.entries(ENTRIES)) {
    const key = entry === 'vfiokit' ? '.' : `./${entry.slice('vfiokit/'.length)}`;
    const base = e.file.slice('src/'.length);
    assert.equal(pkg.exports[key], { types: `./dist/types/${e.file}.d.ts`, default: `./dist/${base}.js` }, `exports["${key}"]`);
    assert.ok(pkg.scripts['build:js']!.includes(`${e.file}.ts`), `build:js bundles ${e.file}.ts`);
  }
});

/** Declarations marked @internal in the sources: [file without extension, name]. */
function internalNames(): [string, string][] {
  const out: [string, string][] = [];
  for (const f of [...files(join(root, 'src'), '.ts'), ...files(join(root, 'shim'), '.ts')]) {
    if (f.endsWith('.d.ts')) continue;
    const text = readFileSync(f, 'utf8');
    // The doc comment holding @internal, then the declaration it documents (modifiers skipped).
    for (const m of text.matchAll(/\/\*\*(?:(?!\*\/)[\s\S])*?@internal[\s\S]*?\*\/\s*(?:(?:export|declare|public|static|readonly|get|set|async|abstract|override|interface|class|type|function|enum|const|let)\s+)*([A-Za-z_$][\w$]*)/g)) {
      // A constructor is named by its class (the nearest class declaration above it).
      const cls = m[1] === 'constructor' ? [...text.slice(0, m.index).matchAll(/\bclass (\w+)/g)].pop()?.[1] : undefined;
      out.push([relative(root, f).replace(/\.ts$/, ''), cls ? `${cls}.constructor` : m[1]!]);
    }
  }
  return out;
}

test('no @internal member of src/ or shim/ is in the built declarations', () => {
  const internal = internalNames();
  assert.ok(internal.some(([, n]) => n === 'liveFd') && internal.some(([, n]) => n === 'adopt'), 'the scan finds the known @internal members');
  const leaks: string[] = [];
  for (const [file, name] of internal) {
    const p = join(out, `${file}.d.ts`);
    if (!existsSync(p)) continue;
    const dts = readFileSync(p, 'utf8');
    if (name.endsWith('.constructor')) {
      // Stripped, or private (built by an @internal factory): no constructor a user can call with arguments.
      const cls = name.slice(0, -'.constructor'.length);
      const block = new RegExp(`^export declare class ${cls}\\b[\\s\\S]*?^\\}`, 'm').exec(dts)?.[0] ?? '';
      if (/^\s*(?:public |protected )?constructor\(/m.test(block)) leaks.push(`${file}: ${name}`);
      continue;
    }
    // A member: the declarations of that name in the .d.ts are at most the source's public ones
    // (an overload set's implementation signature is not emitted).
    const member = new RegExp(`^\\s*(?:\\/\\*\\*.*?\\*\\/\\s*)?(?:(?:export|declare|public|private|protected|static|readonly|get|set|abstract|async|override|interface|class|type|function|enum|const|let)\\s+)*${name.replace(/\$/g, '\\$')}\\??\\s*[(<:{=]`, 'gm');
    const source = readFileSync(join(root, `${file}.ts`), 'utf8');
    const inSource = source.match(member)?.length ?? 0;
    const internalHere = internal.filter(([f, n]) => f === file && n === name).length;
    const implementation = inSource > 1 && internalHere < inSource ? 1 : 0;
    if ((dts.match(member)?.length ?? 0) > inSource - internalHere - implementation) leaks.push(`${file}: ${name}`);
  }
  assert.equal(leaks, [], 'declared in dist/types although marked @internal');
});

/** A declaration's text with comments and string literals removed, from its export line to its end. */
function declarations(dts: string): Map<string, string> {
  const body = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/'[^'\n]*'|"[^"\n]*"/g, "''");
  const out = new Map<string, string>();
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^export (?:declare )?(?:abstract )?(?:class|function|const|let|enum|interface|type) (\w+)/.exec(lines[i]!);
    if (!m) continue;
    let j = i, text = lines[i]!;
    // A block ends at a closing brace in column 0; a one-liner ends with ';'.
    if (/\{\s*$/.test(lines[i]!)) { while (j + 1 < lines.length && !/^\}/.test(lines[j]!)) { j++; text += '\n' + lines[j]; } }
    else { while (!/;\s*$/.test(lines[j]!) && j + 1 < lines.length) { j++; text += '\n' + lines[j]; } }
    out.set(m[1]!, (out.get(m[1]!) ?? '') + text);
    i = j;
  }
  return out;
}

test('every project type a public declaration names is exported by an entry point', () => {
  // Where each public name is declared: follow the entry's re-exports to their files.
  const publicNames = new Set<string>();
  const declared = new Map<string, string[]>();   // name -> declaration texts, from every project .d.ts
  // src/cli/ is the command, not an entry point (its command objects share names with functions).
  for (const f of files(out, '.d.ts').filter((x) => !relative(out, x).startsWith('src/cli'))) for (const [name, text] of declarations(readFileSync(f, 'utf8'))) declared.set(name, [...(declared.get(name) ?? []), text]);
  for (const e of Object.values(ENTRIES)) for (const n of [...e.values, ...e.types]) publicNames.add(n);
  const problems: string[] = [];
  const seen = new Set<string>();
  const queue = [...publicNames].filter((n) => declared.has(n));
  while (queue.length) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const text of declared.get(name) ?? []) {
      for (const [ref] of text.matchAll(/\b[A-Z][A-Za-z0-9]*\b/g)) {
        if (ref === name || !declared.has(ref) || /^[A-Z0-9_]+$/.test(ref)) continue;   // not a project type, or a constant
        if (!publicNames.has(ref)) problems.push(`${name} names ${ref}`);
      }
    }
  }
  assert.equal(sorted(new Set(problems)), [], 'project types in public signatures that no entry point exports');
});

test('every public class declares its constructor: public, or private behind an @internal factory, never an implicit one', () => {
  // A stripped @internal constructor would leave the class with an implicit public `constructor()`.
  const implicit: string[] = [];
  for (const f of files(out, '.d.ts')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^export declare class (\w+)[\s\S]*?^\}/gm)) {
      const isPublic = Object.values(ENTRIES).some((e) => (e.values as readonly string[]).includes(m[1]!));
      if (isPublic && !/^\s*(?:private |protected )?constructor\(/m.test(m[0])) implicit.push(m[1]!);
    }
  }
  assert.equal(implicit, []);
});

test.after(() => rmSync(out, { recursive: true, force: true }));

test.run();

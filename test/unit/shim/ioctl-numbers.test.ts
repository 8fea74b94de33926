// Pins every ioctl request number and uapi constant of shim/ioctl.ts against C: a program that
// includes the kernel's uapi headers is compiled (into build/shim-uapi/) and its values compared
// with ours. Up to three header sets:
//   host     cc against /usr/include (Debian's linux-libc-dev, 6.1 on this machine): compiled and run.
//   x86_64   cc against the 6.12 uapi tree of the lab's kernel source (iommufd.h, the 6.6+ VFIO cdev
//            ioctls and KVM_DEV_VFIO_FILE are not in 6.1), compiled and run.
//   arm64    aarch64-linux-gnu-gcc -S against the same 6.12 tree with arch/arm64's asm headers: the
//            values are read from the generated assembly (nothing runs), so the arm64-only
//            KVM_ARM_* numbers and the guest's struct sizes are checked as the guest compiler sees them.
// The 6.12 tree is $VFIOKIT_UAPI_SRC, which test/run.mjs sets from lab/uapi.sh (extracted once from
// the same linux-source deb the lab kernel is built from); without it the tests that need it are
// SKIPPED, loudly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ioc from '../../../shim/ioctl';
import { SIZEOF_EPOLL_EVENT } from '../../../shim/libc';
import * as vfioUapi from '../../../shim/uapi/vfio';
import * as iommufdUapi from '../../../shim/uapi/iommufd';
import * as kvmUapi from '../../../shim/uapi/kvm';

const out = join(process.cwd(), 'build/shim-uapi');
mkdirSync(out, { recursive: true });

/** Our name -> the C spellings to try, first found wins (older headers use older names). */
const C_NAMES: Record<string, string[]> = {
  KVM_DEV_VFIO_FILE: ['KVM_DEV_VFIO_FILE', 'KVM_DEV_VFIO_GROUP'],
  KVM_DEV_VFIO_FILE_ADD: ['KVM_DEV_VFIO_FILE_ADD', 'KVM_DEV_VFIO_GROUP_ADD'],
  KVM_DEV_VFIO_FILE_DEL: ['KVM_DEV_VFIO_FILE_DEL', 'KVM_DEV_VFIO_GROUP_DEL'],
};
/** Enum constants (not macros, so #ifdef cannot see them) and the header guard they need. */
const ENUMS: Record<string, string> = {
  KVM_DEV_TYPE_VFIO: '1',
  ...Object.fromEntries(['VFIO_PCI_BAR0_REGION_INDEX', 'VFIO_PCI_ROM_REGION_INDEX', 'VFIO_PCI_CONFIG_REGION_INDEX',
    'VFIO_PCI_VGA_REGION_INDEX', 'VFIO_PCI_NUM_REGIONS', 'VFIO_PCI_INTX_IRQ_INDEX', 'VFIO_PCI_MSI_IRQ_INDEX',
    'VFIO_PCI_MSIX_IRQ_INDEX', 'VFIO_PCI_ERR_IRQ_INDEX', 'VFIO_PCI_REQ_IRQ_INDEX', 'VFIO_PCI_NUM_IRQS'].map((n) => [n, '1'])),
  IOMMUFD_CMD_BASE: 'HAVE_IOMMUFD', IOMMUFD_CMD_DESTROY: 'HAVE_IOMMUFD', IOMMUFD_CMD_IOAS_ALLOC: 'HAVE_IOMMUFD',
  IOMMUFD_CMD_IOAS_IOVA_RANGES: 'HAVE_IOMMUFD', IOMMUFD_CMD_IOAS_MAP: 'HAVE_IOMMUFD', IOMMUFD_CMD_IOAS_UNMAP: 'HAVE_IOMMUFD',
  IOMMU_IOAS_MAP_FIXED_IOVA: 'HAVE_IOMMUFD', IOMMU_IOAS_MAP_WRITEABLE: 'HAVE_IOMMUFD', IOMMU_IOAS_MAP_READABLE: 'HAVE_IOMMUFD',
};
/** Struct sizes behind the _IOW/_IOR numbers, compared as SIZEOF_* names. */
const SIZES: Record<string, string> = {
  SIZEOF_KVM_IRQFD: 'struct kvm_irqfd', SIZEOF_KVM_CREATE_DEVICE: 'struct kvm_create_device',
  SIZEOF_KVM_DEVICE_ATTR: 'struct kvm_device_attr', SIZEOF_KVM_USERSPACE_MEMORY_REGION: 'struct kvm_userspace_memory_region',
  SIZEOF_KVM_ONE_REG: 'struct kvm_one_reg', SIZEOF_KVM_IRQ_LEVEL: 'struct kvm_irq_level',
  SIZEOF_KVM_VCPU_INIT: 'struct kvm_vcpu_init', SIZEOF_EPOLL_EVENT: 'struct epoll_event',
  SIZEOF_KVM_IRQ_ROUTING: 'struct kvm_irq_routing', SIZEOF_KVM_IRQ_ROUTING_ENTRY: 'struct kvm_irq_routing_entry', SIZEOF_KVM_MSI: 'struct kvm_msi',
  SIZEOF_KVM_ENABLE_CAP: 'struct kvm_enable_cap', SIZEOF_KVM_VCPU_EVENTS: 'struct kvm_vcpu_events',
};
/** arm64-only: x86's kvm.h defines the macros too, but struct kvm_vcpu_init exists only in arm64's asm/kvm.h. */
const ARM64_ONLY = new Set(['KVM_ARM_VCPU_INIT', 'KVM_ARM_PREFERRED_TARGET', 'SIZEOF_KVM_VCPU_INIT', 'KVM_SET_VCPU_EVENTS', 'SIZEOF_KVM_VCPU_EVENTS']);
/** struct kvm_vcpu_events is arm64's here (x86's has other fields under the same name). */
const SIZE_GUARD: Record<string, string> = { SIZEOF_KVM_VCPU_INIT: 'defined(__aarch64__)', SIZEOF_KVM_VCPU_EVENTS: 'defined(__aarch64__)' };

/** Struct layouts of shim/uapi/ (sizes and offsets), each under the guard of the header that has
 *  it: `LAYOUT_<struct>_<field>` (the size as `_sizeof`; a field written `size_` is C's `size`). */
const LAYOUT_SETS: { guard: string; layout: Record<string, Record<string, number>> }[] = [
  { guard: '1', layout: vfioUapi.VFIO_LAYOUT },
  { guard: 'defined(VFIO_DEVICE_BIND_IOMMUFD)', layout: vfioUapi.VFIO_CDEV_LAYOUT },
  { guard: 'HAVE_IOMMUFD', layout: iommufdUapi.IOMMUFD_LAYOUT },
  { guard: '1', layout: kvmUapi.KVM_LAYOUT },
];
const LAYOUTS: Record<string, { expr: string; guard: string; value: number }> = {};
for (const { guard, layout } of LAYOUT_SETS) {
  for (const [struct, fields] of Object.entries(layout)) {
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'min') continue; // the kernel's argsz minimum: not a C layout fact (test/unit/vfio/layout.test.ts)
      const expr = field === 'size' ? `sizeof(struct ${struct})` : `offsetof(struct ${struct}, ${field.replace(/_$/, '')})`;
      LAYOUTS[`LAYOUT_${struct}_${field === 'size' ? 'sizeof' : field}`] = { expr, guard, value };
    }
  }
}

/** Every number shim/uapi/ exports (flags, indexes, numbers, sizes), by its uapi name. */
const numbersOf = (m: object): Record<string, number> =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number')) as Record<string, number>;

const ours: Record<string, number> = {
  ...numbersOf(vfioUapi), ...numbersOf(iommufdUapi), ...numbersOf(kvmUapi),
  ...Object.fromEntries(Object.entries(LAYOUTS).map(([n, l]) => [n, l.value])),
  ...ioc.IOCTL_NUMBERS, ...ioc.UAPI_CONSTANTS,
  SIZEOF_KVM_IRQFD: ioc.SIZEOF_KVM_IRQFD, SIZEOF_KVM_CREATE_DEVICE: ioc.SIZEOF_KVM_CREATE_DEVICE,
  SIZEOF_KVM_DEVICE_ATTR: ioc.SIZEOF_KVM_DEVICE_ATTR, SIZEOF_KVM_USERSPACE_MEMORY_REGION: ioc.SIZEOF_KVM_USERSPACE_MEMORY_REGION,
  SIZEOF_KVM_ONE_REG: ioc.SIZEOF_KVM_ONE_REG, SIZEOF_KVM_IRQ_LEVEL: ioc.SIZEOF_KVM_IRQ_LEVEL, SIZEOF_KVM_VCPU_INIT: ioc.SIZEOF_KVM_VCPU_INIT,
};

function cSource(withMain: boolean): string {
  const lines = [
    '#include <stddef.h>', '#include <linux/types.h>', '#include <linux/vfio.h>', '#include <linux/kvm.h>', '#include <linux/eventpoll.h>',
    '#if __has_include(<linux/iommufd.h>)', '#include <linux/iommufd.h>', '#define HAVE_IOMMUFD 1', '#else', '#define HAVE_IOMMUFD 0', '#endif',
    withMain ? '#include <stdio.h>' : '',
    // Each value becomes a global the assembly shows (arm64) and main prints (host).
    '#define V(ours, expr) __attribute__((used)) const unsigned long long vfiokit_v_##ours = (unsigned long long)(expr);',
  ];
  const emitted: string[] = [];
  for (const name of [...Object.keys(ours), 'SIZEOF_EPOLL_EVENT']) {
    if (name in LAYOUTS) {
      lines.push(`#if ${LAYOUTS[name]!.guard}`, `V(${name}, ${LAYOUTS[name]!.expr})`, '#endif');
      emitted.push(name);
    } else if (name in SIZES) {
      lines.push(`#if ${SIZE_GUARD[name] ?? '1'}`, `V(${name}, sizeof(${SIZES[name]}))`, '#endif');
      emitted.push(name);
    } else if (name in ENUMS) {
      lines.push(`#if ${ENUMS[name]}`, `V(${name}, ${name})`, '#endif');
      emitted.push(name);
    } else {
      const spellings = C_NAMES[name] ?? [name];
      const arch = ARM64_ONLY.has(name) ? 'defined(__aarch64__) && ' : '';
      spellings.forEach((c, i) => lines.push(`#${i === 0 ? 'if' : 'elif'} ${arch}defined(${c})`, `V(${name}, ${c})`));
      lines.push('#endif');
      emitted.push(name);
    }
  }
  if (withMain) {
    lines.push('int main(void) {');
    for (const name of emitted) {
      const guard = name in LAYOUTS ? LAYOUTS[name]!.guard : name in SIZES ? SIZE_GUARD[name] ?? '1' : name in ENUMS ? ENUMS[name]!
        : `${ARM64_ONLY.has(name) ? 'defined(__aarch64__) && ' : ''}(${(C_NAMES[name] ?? [name]).map((c) => `defined(${c})`).join(' || ')})`;
      lines.push(`#if ${guard}`, `  printf("${name} %llu\\n", vfiokit_v_${name});`, '#endif');
    }
    lines.push('  return 0;', '}');
  }
  return lines.join('\n') + '\n';
}

function have(cmd: string): boolean { return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0; }

/** The lab kernel's 6.12 uapi tree: test/run.mjs extracts it (lab/uapi.sh) and passes it here. */
function uapiTree(): string | undefined {
  return process.env.VFIOKIT_UAPI_SRC || undefined;
}

const SKIP_WHY = 'SKIPPED: no 6.12 uapi tree (VFIOKIT_UAPI_SRC unset: run through test/run.mjs, which extracts it with lab/uapi.sh); '
  + 'only the host 6.1 headers are compared';

/** The asm/ headers Kbuild generates for an arch (`#include <asm-generic/X.h>` for each generic
 *  header the arch does not provide), as scripts/Makefile.asm-headers does. */
function genericAsm(tree: string, arch: string): string {
  const dir = join(out, `gen-${arch}`), asmDir = join(dir, 'asm');
  mkdirSync(asmDir, { recursive: true });
  const own = new Set(readdirSync(join(tree, `arch/${arch}/include/uapi/asm`)));
  for (const h of readdirSync(join(tree, 'include/uapi/asm-generic')).filter((f) => f.endsWith('.h'))) {
    if (!own.has(h)) writeFileSync(join(asmDir, h), `#include <asm-generic/${h}>\n`);
  }
  // headers_install deletes the includes of linux/compiler.h and compiler_types.h; empty ones do the same here.
  mkdirSync(join(dir, 'linux'), { recursive: true });
  for (const h of ['compiler.h', 'compiler_types.h']) writeFileSync(join(dir, 'linux', h), '');
  return dir;
}

/** What headers_install does to the raw uapi tree, as flags: drop the kernel-only annotations and
 *  say the headers are exported (silences linux/types.h's #warning). */
const RAW_UAPI_FLAGS = ['-D__user=', '-D__force=', '-D__iomem=', '-D__attribute_const__=', '-D__packed=__attribute__((packed))', '-D__EXPORTED_HEADERS__'];

type Values = Map<string, number>;

function runHost(tag: string, includes: string[]): Values {
  const src = join(out, `${tag}.c`), bin = join(out, tag);
  writeFileSync(src, cSource(true));
  const cc = spawnSync('cc', ['-std=gnu11', '-Wall', ...RAW_UAPI_FLAGS, ...includes.flatMap((i) => ['-I', i]), '-o', bin, src], { encoding: 'utf8' });
  assert.is(cc.status, 0, `cc failed for ${tag}:\n${cc.stderr}`);
  const run = spawnSync(bin, { encoding: 'utf8' });
  assert.is(run.status, 0, `${bin} failed`);
  const m = new Map<string, number>();
  for (const line of run.stdout.trim().split('\n')) { const [k, v] = line.split(' '); m.set(k!, Number(v)); }
  return m;
}

function runArm64(tree: string): Values {
  const src = join(out, 'arm64.c'), asm = join(out, 'arm64.s');
  writeFileSync(src, cSource(false));
  const includes = [...['include/uapi', 'arch/arm64/include/uapi'].map((d) => join(tree, d)), genericAsm(tree, 'arm64')];
  const cc = spawnSync('aarch64-linux-gnu-gcc', ['-std=gnu11', ...RAW_UAPI_FLAGS, ...includes.flatMap((i) => ['-I', i]), '-S', '-o', asm, src], { encoding: 'utf8' });
  assert.is(cc.status, 0, `aarch64-linux-gnu-gcc failed:\n${cc.stderr}`);
  const m = new Map<string, number>();
  // Each global is `vfiokit_v_NAME:` followed by `.xword N` (or `.zero 8` for 0).
  for (const hit of readFileSync(asm, 'utf8').matchAll(/^vfiokit_v_(\w+):\s*\n\s*\.(xword|dword|quad|zero)\s+(\d+)/gm)) {
    m.set(hit[1]!, hit[2] === 'zero' ? 0 : Number(hit[3]));
  }
  return m;
}

const tree = uapiTree();
const sets: { tag: string; arch: 'x64' | 'arm64'; values: Values }[] = [];

test('the host program compiles against /usr/include/linux and prints the values', () => {
  const values = runHost('host', []);
  assert.ok(values.size > 40, `only ${values.size} values`);
  sets.push({ tag: 'host /usr/include', arch: 'x64', values });
});

if (!tree) console.log(`  !!! ${SKIP_WHY} !!!`);
const withTree = tree ? test : test.skip;

withTree('the 6.12 uapi tree of the lab kernel compiles for x86_64 (cc) and arm64 (aarch64-linux-gnu-gcc -S)', () => {
  if (!tree) return;
  sets.push({ tag: `x86_64 ${tree}`, arch: 'x64', values: runHost('x86_64-6.12', [join(tree, 'include/uapi'), join(tree, 'arch/x86/include/uapi'), genericAsm(tree, 'x86')]) });
  if (!have('aarch64-linux-gnu-gcc')) { console.log('  NOTE: aarch64-linux-gnu-gcc missing: arm64 values not compared'); return; }
  sets.push({ tag: `arm64 ${tree}`, arch: 'arm64', values: runArm64(tree) });
});

/** Facts that changed between header versions, each with C's other value and why ours stands. */
const GREW: Record<string, { c: number; why: string }> = {
  LAYOUT_vfio_device_info_sizeof: { c: 24, why: 'Linux 6.8 appended `__u32 pad` to struct vfio_device_info; vfiokit asks with argsz 20 (the end of cap_offset), which the kernel reads in full' },
};

test('every request number and constant equals what C computes, in every header set that defines it', () => {
  assert.ok(sets.length >= 1, 'no header set compiled');
  const mismatches: string[] = [];
  for (const { tag, arch, values } of sets) {
    for (const [name, c] of values) {
      if (!(name in ours) && name !== 'SIZEOF_EPOLL_EVENT') continue;
      const mine = name === 'SIZEOF_EPOLL_EVENT' ? (arch === process.arch ? SIZEOF_EPOLL_EVENT : arch === 'x64' ? 12 : 16) : ours[name];
      if (mine !== c && GREW[name]?.c !== c) mismatches.push(`${name}: ours ${mine} (0x${mine?.toString(16)}), C ${c} (0x${c.toString(16)}) [${tag}]`);
    }
  }
  assert.equal(mismatches, []);
});

withTree('every name is pinned by at least one header set (arm64-only ones by the arm64 set)', () => {
  const covered = new Set(sets.flatMap((s) => [...s.values.keys()]));
  const missing = Object.keys(ours).filter((n) => !covered.has(n));
  assert.equal(missing, [], `no header set defines: ${missing.join(' ')}`);
  const arm = sets.find((s) => s.arch === 'arm64');
  if (arm) for (const n of ['KVM_ARM_VCPU_INIT', 'KVM_ARM_PREFERRED_TARGET', 'SIZEOF_KVM_VCPU_INIT', 'KVM_SET_VCPU_EVENTS', 'SIZEOF_KVM_VCPU_EVENTS']) assert.ok(arm.values.has(n), `${n} missing from the arm64 set`);
});

withTree('x86_64 and arm64 agree on every number both define (the _IOC encoding is asm-generic on both)', () => {
  const x = sets.find((s) => s.tag.startsWith('x86_64')), a = sets.find((s) => s.arch === 'arm64');
  if (!x || !a) return;
  const differ = [...x.values].filter(([n, v]) => a.values.has(n) && a.values.get(n) !== v && n !== 'SIZEOF_EPOLL_EVENT');
  assert.equal(differ, []);
  assert.is(x.values.get('SIZEOF_EPOLL_EVENT'), 12, 'x86_64 packs struct epoll_event');
  assert.is(a.values.get('SIZEOF_EPOLL_EVENT'), 16);
});

test('known values: VFIO_GET_API_VERSION = 15204 (_IO(0x3b, 100)) and the direction/size bits of _IOW/_IOR/_IOWR', () => {
  assert.is(ioc.VFIO_GET_API_VERSION, 15204);
  assert.is(ioc._IOC(0, 0x3b, 100, 0), 0x3b64);
  assert.is(ioc.KVM_SET_USER_MEMORY_REGION, 0x4020ae46);   // _IOW: dir 1 << 30, size 32 << 16
  assert.is(ioc.KVM_ARM_PREFERRED_TARGET, 0x8020aeaf);     // _IOR: dir 2 << 30, above int32
  assert.is(ioc.KVM_CREATE_DEVICE, 0xc00caee0);            // _IOWR: dir 3 << 30, size 12 << 16
  assert.ok(ioc.KVM_ARM_PREFERRED_TARGET > 0, 'unsigned, never negative');
  assert.throws(() => ioc._IOC(0, 0x3b, 0, 1 << 14), /does not fit/);
});

test('no two requests share a number, so ioctlName() is exact', () => {
  const seen = new Map<number, string>();
  for (const [n, v] of Object.entries(ioc.IOCTL_NUMBERS)) {
    assert.not.ok(seen.has(v), `${n} and ${seen.get(v)} are both 0x${v.toString(16)}`);
    seen.set(v, n);
    assert.is(ioc.ioctlName(v), n);
  }
  assert.is(ioc.ioctlName(0x1234), '0x1234');
});

test.run();

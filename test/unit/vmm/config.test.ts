// vfiokit/vmm's config (src/vmm/config.ts), the per-kind attach table (attach.ts), the run mode
// and pool check (run.ts), the kick's thread finder (kick.ts), and runVm's refusals before anything
// is opened: defaults filled in, every bad field a VfioError 'bad-argument' naming it with a hint,
// a device option its kind does not take refused with its name, and no fd left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VfioError } from '../../../src/index';
import { KVM_RUN } from '../../../src/sys-api';
import { MAX_MMAP_TIMEOUT_MS, VM_DEFAULT_BOOTARGS, checkConfig, runModeFor, type VmConfig } from '../../../src/vmm/config';
import { ATTACH_ROWS, attachRowFor } from '../../../src/vmm/attach';
import { checkPool, runVm, UV_DEFAULT_POOL } from '../../../src/vmm/run';
import { KICK_SIGNAL, startTicker, threadsInKvmRun } from '../../../src/vmm/kick';

const MiB = 1n << 20n;
/** A minimal arm64 Image header: magic at 56, image_size at 16. */
function image(): Uint8Array {
  const b = new Uint8Array(4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(56, 0x644d_5241, true);
  dv.setBigUint64(16, 4096n, true);
  return b;
}
const base = (o: Partial<VmConfig> = {}): VmConfig => ({ kernel: image(), memBytes: 64n * MiB, cpus: 1, devices: [], hostDtb: new Uint8Array(64), ...o });
const badArg = (name: string) => (e: unknown): boolean => e instanceof VfioError && e.kind === 'bad-argument' && e.message.includes(name) && !!e.hint;
const fds = (): string[] => readdirSync('/proc/self/fd').sort();

test('defaults: irqfd on, no identity, no addr, no timeout; the default command line names the board\'s UART', () => {
  assert.equal(checkConfig(base({ devices: [{ name: '9010000.pl031' }] })), [{ name: '9010000.pl031', irqfd: true, identity: false }]);
  assert.match(VM_DEFAULT_BOOTARGS, /earlycon=pl011,mmio32,0x9000000 /);
  assert.match(VM_DEFAULT_BOOTARGS, /panic=-1/);
});

test('every bad field is refused, naming it', () => {
  const rows: [Partial<VmConfig>, string][] = [
    [{ kernel: 'x' as never }, 'config.kernel'], [{ hostDtb: undefined as never }, 'config.hostDtb'], [{ initrd: [] as never }, 'config.initrd'],
    [{ cpus: 0 }, 'config.cpus'], [{ cpus: 17 }, 'config.cpus'], [{ cpus: 1.5 }, 'config.cpus'], [{ memBytes: 1 as never }, 'config.memBytes'],
    [{ append: 1 as never }, 'config.append'], [{ console: 'x' as never }, 'config.console'], [{ signal: {} as never }, 'config.signal'],
    [{ maxExits: 0 }, 'config.maxExits'], [{ devices: undefined as never }, 'config.devices'],
    [{ devices: [{ name: '' }] }, 'config.devices[0].name'], [{ devices: [{ name: 'a' }, { name: 'a' }] }, 'config.devices[1].name'],
    [{ devices: [{ name: 'a', irqfd: 1 as never }] }, 'config.devices[0].irqfd'], [{ devices: [{ name: 'a', addr: 0x1001n }] }, 'config.devices[0].addr'],
    [{ devices: [{ name: 'a', addr: 0x1000n, identity: true }] }, 'config.devices[0].addr'],
    [{ devices: [{ name: 'a', irqfd: false, mmapTimeoutMs: 0 }] }, 'config.devices[0].mmapTimeoutMs'],
    [{ devices: [{ name: 'a', irqfd: false, mmapTimeoutMs: MAX_MMAP_TIMEOUT_MS + 1 }] }, 'config.devices[0].mmapTimeoutMs'],
    [{ devices: [{ name: 'a', mmapTimeoutMs: 1100 }] }, 'config.devices[0].mmapTimeoutMs'],
  ];
  for (const [o, name] of rows) assert.throws(() => checkConfig(base(o)), badArg(name), name);
});

test('the attach table: one row per room, each kind in exactly one row, options a kind does not take refused with their name', () => {
  const kinds = ATTACH_ROWS.flatMap((r) => r.kinds);
  assert.equal([...kinds].sort(), ['amba', 'pci', 'platform']);
  assert.is(new Set(kinds).size, kinds.length);
  const s = { name: '0000:00:03.0', irqfd: true, identity: false };
  assert.is(attachRowFor('pci', s, 'config.devices[0]').kinds[0], 'pci');
  assert.is(attachRowFor('amba', { ...s, name: '9010000.pl031', identity: true }, 'x'), attachRowFor('platform', s, 'x'));
  assert.throws(() => attachRowFor('pci', { ...s, addr: 0x1000n }, 'config.devices[2]'), badArg('config.devices[2].addr'));
  assert.throws(() => attachRowFor('pci', { ...s, identity: true }, 'config.devices[0]'), badArg('config.devices[0].identity'));
  assert.throws(() => attachRowFor('other', s, 'config.devices[0]'), (e: unknown) => e instanceof VfioError && e.kind === 'not-supported');
});

test('run mode: vCPU 0 on the main thread, the others on the pool; ticks for several vCPUs or a userspace IRQ path', () => {
  const d = { name: 'a', irqfd: true, identity: false };
  assert.equal(runModeFor(1, [d]), { mode: 'main-thread', ticks: false });
  assert.equal(runModeFor(2, [d]), { mode: 'main+pool', ticks: true });
  assert.equal(runModeFor(1, [d, { ...d, name: 'b', irqfd: false }]), { mode: 'main-thread', ticks: true });
  checkPool(1, { UV_THREADPOOL_SIZE: '1' });
  checkPool(UV_DEFAULT_POOL, {});
  assert.throws(() => checkPool(UV_DEFAULT_POOL + 1, {}), (e: unknown) => badArg('config.cpus')(e) && /UV_THREADPOOL_SIZE=5/.test((e as VfioError).hint!));
  checkPool(8, { UV_THREADPOOL_SIZE: '8' });
});

test('runVm refuses a bad config and a missing device before any KVM call, and leaves no fd behind', async () => {
  const before = fds();
  await runVm(base({ cpus: 0 })).then(() => assert.unreachable(), (e: unknown) => assert.ok(badArg('config.cpus')(e)));
  await runVm(base({ kernel: new Uint8Array(64) })).then(() => assert.unreachable(), (e: unknown) => assert.ok(e instanceof VfioError && e.kind === 'bad-argument' && /magic/.test(e.message)));
  await runVm(base({ devices: [{ name: '9999999.nothing' }] })).then(() => assert.unreachable(), (e: unknown) => assert.ok(e instanceof VfioError, String(e)));
  assert.equal(fds(), before);
});

test('the kick finds the threads blocked in ioctl(vcpu fd, KVM_RUN) and nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-task-'));
  try {
    const thread = (tid: number, line: string): void => { mkdirSync(join(dir, String(tid))); writeFileSync(join(dir, String(tid), 'syscall'), `${line}\n`); };
    const run = `0x${KVM_RUN.toString(16)}`;
    thread(100, 'running');
    thread(101, `29 0x7 ${run} 0x0 0x0 0x0 0x0 0xffff 0xaaaa`);     // vCPU fd 7 in KVM_RUN (arm64)
    thread(102, `29 0x8 0xae41 0x0 0x0 0x0 0x0 0xffff 0xaaaa`);      // another ioctl on fd 8
    thread(103, `22 0x5 0x0 0x0 0x0 0x0 0x0 0xffff 0xaaaa`);         // epoll_pwait
    thread(104, `29 0x9 ${run} 0x0 0x0 0x0 0x0 0xffff 0xaaaa`);     // fd 9: not one of ours
    assert.equal(threadsInKvmRun(new Set([7, 8]), 'arm64', dir), [101]);
    assert.equal(threadsInKvmRun(new Set([7, 9]), 'arm64', dir).sort(), [101, 104]);
    assert.equal(threadsInKvmRun(new Set([7]), 'x64', dir), [], 'x86-64\'s ioctl is 16');
  } finally { rmSync(dir, { recursive: true }); }
});

test('the ticker signals this process every few ms until stopped', async () => {
  let n = 0;
  const onSig = (): void => { n++; };
  process.on(KICK_SIGNAL, onSig);
  try {
    const t = startTicker(2);
    // A Worker takes a while to start on a loaded machine: wait for three ticks, 10 s at most.
    for (let waited = 0; n < 3 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await t.stop();
    assert.ok(n >= 3, `${n} ticks`);
    // A signal sent just before the Worker ended may still be on its way through libuv's signal
    // pipe when stop() resolves: let it land, then a ticker still running would add ~50 in 100 ms.
    await new Promise((r) => setTimeout(r, 50));
    const at = n;
    await new Promise((r) => setTimeout(r, 100));
    assert.is(n, at, 'none after stop()');
  } finally { process.off(KICK_SIGNAL, onSig); }
});

test.run();

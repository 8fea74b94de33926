// `vfiokit run`: boots a guest kernel on KVM with host devices passed through by name (runVm,
// src/vmm/), the product's own VMM. In order: the command line read into a plan (run-options.ts:
// every bad option is a usage error, before anything is read or opened), the files read, the
// devices checked (and with --bind bound) by preflight, then the guest run with its console on
// stdout and each step on stderr; after it ends (power-off, reset, an error, a signal) the bindings
// --bind made are put back. Exit status: RUN_EXIT (0 power-off, 3 reset, 4 machine error, 128+n
// a signal), or main.ts's 1 for a VfioError before the guest started.
// Not responsible for: the machine (runVm), the checks themselves (preflight.ts), the syntax
// (run-options.ts).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { VfioError } from '../errors.js';
import { preflight, runVm, type Preflight, type VmEvent, type VmReport } from '../vmm-api.js';
import type { Command } from './command.js';
import { exitStatusOf, runPlan, RUN_SPEC, STOP_SIGNALS, type RunPlan } from './run-options.js';

/** Where the host's device tree is (the platform devices' nodes are generated from it). */
const HOST_DTB = '/sys/firmware/fdt';

const step = (line: string): void => { process.stderr.write(`vfiokit run: ${line}\n`); };
const mib = (n: number | bigint): string => `${(Number(n) / 2 ** 20).toFixed(1)} MiB`;

/** A file an option names, read whole; a VfioError naming the option when it cannot be. */
function readOption(option: string, path: string, what: string): Uint8Array {
  try { return new Uint8Array(readFileSync(path)); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new VfioError({ kind: err.code === 'ENOENT' ? 'not-found' : err.code === 'EACCES' ? 'permission' : 'syscall', message: `${option} ${path}: cannot read it`, syscall: 'open', errnoName: err.code, cause: e, hint: `give ${what}` });
  }
}

/** The files of the plan, read before any device is touched. */
function readInputs(plan: RunPlan): { kernel: Uint8Array; initrd?: Uint8Array } {
  const kernel = readOption('--kernel', plan.kernel, 'the path of an arm64 Image (arch/arm64/boot/Image)');
  const initrd = plan.initrd === undefined ? undefined : readOption('--initrd', plan.initrd, 'the path of an initramfs (a newc cpio)');
  if (plan.dtbOut !== undefined) {
    const dir = dirname(plan.dtbOut);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new VfioError({ kind: 'not-found', message: `--dtb-out ${plan.dtbOut}: no directory ${dir}`, hint: 'create it, or write the tree somewhere that exists' });
  }
  return { kernel, ...(initrd ? { initrd } : {}) };
}

/** The host's device tree: the platform and AMBA devices' guest nodes are generated from their
 *  host nodes; a machine with PCI devices only does without (an empty tree). */
function hostDtbFor(checked: Preflight): Uint8Array {
  const platform = checked.devices.filter((d) => d.bus !== 'pci');
  if (!existsSync(HOST_DTB) && platform.length === 0) return new Uint8Array(0);
  return readOption(`the host device tree of ${platform.map((d) => d.name).join(', ')}:`, HOST_DTB, 'a host booted with a device tree: a platform or AMBA device\'s guest node is generated from its host node');
}

/** One line per machine event, as it happens. */
function describe(ev: VmEvent): string {
  return 'message' in ev && typeof ev.message === 'string' ? ev.message : JSON.stringify(ev, (_k, v: unknown) => typeof v === 'bigint' ? `0x${v.toString(16)}` : v);
}

function summary(r: VmReport): string {
  const how = { poweroff: 'the guest powered off', reboot: 'the guest asked for a reset', stopped: 'stopped by a signal', error: 'the machine failed' }[r.end];
  return `${how}: ${r.exits} exits, setup ${(r.setupMs / 1000).toFixed(1)} s, run ${(r.runMs / 1000).toFixed(1)} s${r.error ? `: ${r.error.message}` : ''}`;
}

export const run: Command = {
  summary: 'boot a guest kernel on KVM with host devices passed through (platform, AMBA, PCI)',
  spec: RUN_SPEC,
  async run(args) {
    const plan = runPlan(args);
    const inputs = readInputs(plan);
    step(`kernel ${plan.kernel} (${mib(inputs.kernel.byteLength)})${inputs.initrd ? `, initrd ${plan.initrd} (${mib(inputs.initrd.byteLength)})` : ''}, ${mib(plan.memBytes)} RAM, ${plan.cpus} vCPU${plan.cpus === 1 ? '' : 's'}, ${plan.devices.length} device${plan.devices.length === 1 ? '' : 's'}`);

    // A signal stops the guest (runVm's signal); before the guest runs it stops the checks, and
    // either way the bindings are put back.
    const abort = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSignal = (s: NodeJS.Signals): void => { stoppedBy ??= s; step(`${s}: stopping`); abort.abort(); };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
    let checked: Preflight | undefined;
    try {
      checked = preflight(plan.devices, { bind: plan.bind, onStep: step, ...(plan.sysfs === undefined ? {} : { sysfs: plan.sysfs }) });
      if (abort.signal.aborted) { step('stopped before the guest started'); return exitStatusOf('stopped', stoppedBy); }
      const report = await runVm({
        kernel: inputs.kernel, ...(inputs.initrd ? { initrd: inputs.initrd } : {}), ...(plan.append === undefined ? {} : { append: plan.append }),
        memBytes: plan.memBytes, cpus: plan.cpus, devices: plan.devices, hostDtb: hostDtbFor(checked),
        console: (b) => { process.stdout.write(b); },
        onEvent: (ev) => step(describe(ev)),
        ...(plan.dtbOut === undefined ? {} : { dtbOut: (dtb: Uint8Array) => { writeFileSync(plan.dtbOut!, dtb); step(`the guest's device tree (${dtb.byteLength} bytes) written to ${plan.dtbOut}`); } }),
        signal: abort.signal,
      });
      step(summary(report));
      return exitStatusOf(report.end, stoppedBy);
    } finally {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
      checked?.restore();
    }
  },
};

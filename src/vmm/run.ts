// runVm: the product's VMM. It boots an arm64 Linux Image with any number of host devices passed
// through by name, on a machine of N vCPUs, a vGICv3 with an ITS, KVM's in-kernel PSCI, a PL011
// earlycon console, a platform bus for platform/AMBA devices and a generic ECAM host bridge for
// PCI functions. Built on vfiokit's public API only (vfiokit, vfiokit/sys).
//
// Order (every device opened, checked and wired before any vCPU runs):
//   1. the config checked (config.ts), the Image's header read (image.ts)
//   2. every device opened in command-line order (openDevice: not bound, group not viable, no
//      IOMMU and no noiommu fail here with their hint), its kind looked up in the attach table
//   3. the VM: its IPA size (the most KVM_CAP_ARM_VM_IPA_SIZE allows), the layout for it
//      (layout.ts), the vGICv3 and its ITS, RAM with the Image and the initrd, the vCPUs (all but
//      vCPU 0 powered off, for PSCI CPU_ON), the vGIC's init, the GSI routing table (with PCI)
//   4. the board's tree (board.ts: its phandles come first), the platform bus with the board's
//      ranges reserved, then the devices attached (attach.ts): platform devices at a fixed or 1:1
//      address first, then the holes below the first-fit floor filled, then the rest in order
//   5. the tree: the board with each platform node merged under "/"; into RAM; dtbOut
//   6. vCPU 0's registers (x0 = DTB, pc = Image), then every vCPU's KVM_RUN loop (run mode:
//      config.ts runModeFor) until one of them ends the run
// Close order (close(), also after a failure at any step): every vCPU out of KVM_RUN (immediate_exit
// and a kick), each device's passthrough (irqfds deassigned, memslots removed: the VM is open),
// the routing table, the VM (KVM-VFIO files deleted, vCPUs, vGIC, VM fd, RAM, /dev/kvm), the
// platform bus, each device (DMA mapping, regions, fds). Each step is a 'closed' event.
// Reboot: a guest's SYSTEM_RESET ends the run with end 'reboot'; runVm does not restart the
// guest (a caller that wants that calls runVm again).
// Not responsible for: binding devices to their VFIO driver (the CLI), the KVM calls (kvm.ts),
// the exit's decoding (abi.ts), a device kind's wiring (attach.ts).
import { KvmIrqRoutes, mergeFdt, openDevice, PlatformBus, ReportThinner, VfioError, reportNote, type VfioDevice } from '../index.js';
import { hostSys, KVM_CAP_MSI_DEVID } from '../sys-api.js';
import { completeMmioRead, REG_PC, xreg, type Exit } from './abi.js';
import { BarSlots } from './bar-slots.js';
import { attachRowFor, type AttachContext, type AttachedDevice, type AttachRow } from './attach.js';
import { boardDtb } from './board.js';
import { checkConfig, runModeFor, VM_DEFAULT_BOOTARGS, zeroCounts, type ResolvedDeviceSpec, type RunMode, type VmConfig, type VmEnd, type VmEvent, type VmExitCounts, type VmReport } from './config.js';
import { EcamHost } from './ecam.js';
import { bootLayout, DTB_MAX, parseImageHeader } from './image.js';
import { Vm, type Vcpu } from './kvm.js';
import { layoutFor, type VmLayout } from './layout.js';
import { FIRST_DEVICE_PHANDLE } from './board.js';
import { answerNisv, ENOSYS, nisvUnreported, setUpNisv, type NisvPolicy } from './nisv.js';
import { pl011ReadPage, Pl011Console, PL011_SIZE, UART_DR, UART_FR } from './pl011.js';
import { installKickHandler, kickVcpus, startTicker } from './kick.js';

/** With KVM_RUN on the main thread, the event loop gets a turn (one setImmediate) before each exit
 *  that is not the console's and at least this often between console exits, so that vfiokit's
 *  eventfd watchers (a masked MSI-X vector's pending bit) have run before the guest's next access. */
export const EVENT_LOOP_TURN_MS = 50;
/** Stray accesses kept for the report. */
export const MAX_STRAY_ADDRS = 8;
/** libuv's thread pool size when UV_THREADPOOL_SIZE is not set. */
export const UV_DEFAULT_POOL = 4;
/** Pool threads left for Node's own work (fs, dns, crypto) beside the vCPUs' KVM_RUNs. */
export const POOL_THREADS_SPARE = 1;

const loopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const now = (): bigint => process.hrtime.bigint();
const msSince = (t: bigint): number => Number(now() - t) / 1e6;
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const EINTR = 4;

/** The pool threads a run needs: one per vCPU but vCPU 0, each blocked in KVM_RUN, and the spare.
 *  @throws VfioError 'bad-argument' (config.cpus) when UV_THREADPOOL_SIZE is too small. */
export function checkPool(cpus: number, env: NodeJS.ProcessEnv = process.env): void {
  const need = cpus - 1 + POOL_THREADS_SPARE;
  if (cpus === 1) return;
  const size = Number(env.UV_THREADPOOL_SIZE ?? UV_DEFAULT_POOL);
  if (!(size >= need)) {
    throw new VfioError({
      kind: 'bad-argument', message: `config.cpus: ${cpus - 1} vCPUs each hold one of libuv's ${size} pool threads in KVM_RUN, and Node needs ${POOL_THREADS_SPARE} more`,
      hint: `start node with UV_THREADPOOL_SIZE=${need} or more in its environment (it is read once, before the pool's first use)`,
    });
  }
}

/** Everything a run owns; close() undoes it in the documented order (every step tried, the first
 *  error returned). Exported for its unit test (test/unit/vmm/close.test.ts), not by vfiokit/vmm. */
export class Machine {
  readonly devices: VfioDevice[] = [];
  readonly attached: AttachedDevice[] = [];
  vm: Vm | undefined;
  routes: KvmIrqRoutes | undefined;
  bus: PlatformBus | undefined;
  constructor(private readonly emit: (ev: VmEvent) => void) {}
  /** Closes in order, every step tried; returns the first error. */
  close(): unknown {
    let first: unknown;
    const step = (what: string, f: () => void): void => {
      try { f(); this.emit({ kind: 'closed', step: what, message: `closed: ${what}` }); } catch (e) { first ??= e; }
    };
    for (const a of this.attached) step(`${a.name} passthrough (irqfds, memslots)`, () => a.closePassthrough());
    if (this.routes) step('GSI routing table', () => this.routes!.close());
    if (this.vm) step('VM (KVM-VFIO files, vCPUs, vGIC, RAM, /dev/kvm)', () => this.vm!.close());
    if (this.bus) step('platform bus', () => this.bus!.close());
    for (const d of this.devices) step(`${d.name} (DMA mapping, regions, fds)`, () => d.close());
    return first;
  }
}

/** The exit handler and the run's counters, shared by every vCPU's loop (one JS thread).
 *  @internal exported for its unit test (test/unit/vmm/nisv.test.ts). */
export class Exits {
  readonly counts: VmExitCounts = zeroCounts();
  readonly strayAddrs: string[] = [];
  /** The guest's accesses nothing answers, as thinned 'guest-access' events (one per access would
   *  let the guest fill the log). */
  readonly #stray = this.#accesses('stray');
  readonly #undecodable = this.#accesses('undecodable');
  exits = 0;
  inKvmNs = 0n;
  longest = { ns: 0n, endMs: 0, vcpu: 0 };
  end: { end: VmEnd; error?: Error; stopReason?: 'signal' | 'max-exits' } | undefined;
  readonly t0 = now();
  readonly uart: Pl011Console;
  constructor(private readonly layout: VmLayout, private readonly ecam: EcamHost, private readonly devices: readonly AttachedDevice[],
              private readonly config: VmConfig, private readonly emit: (ev: VmEvent) => void, readonly nisv: NisvPolicy) {
    const out = config.console ?? ((b: Uint8Array): void => { process.stdout.write(b); });
    this.uart = new Pl011Console(layout.uart, undefined, (byte) => out(Uint8Array.of(byte), { ms: msSince(this.t0), counts: this.counts }));
  }
  #accesses(access: 'stray' | 'undecodable'): ReportThinner<{ vcpu: number; address: bigint; what: string }> {
    return new ReportThinner((a, count) => this.emit({
      kind: 'guest-access', access, vcpu: a.vcpu, address: a.address, count,
      message: `vCPU ${a.vcpu}: ${a.what} at ${hex(a.address)}${access === 'stray' ? ', where nothing is: a read gets all-ones, a write is dropped' : ' that KVM could not decode (KVM_EXIT_ARM_NISV: no instruction syndrome, e.g. a load or store pair): an external abort for the guest'}${reportNote(count)}`,
    }));
  }
  isConsole(e: Exit): boolean { return e.kind === 'mmio' && e.addr >= this.layout.uart && e.addr - this.layout.uart < PL011_SIZE; }
  finish(end: VmEnd, extra: { error?: Error; stopReason?: 'signal' | 'max-exits' } = {}): void { this.end ??= { end, ...extra }; }

  /** One exit of `vcpu`, which ran `ns` inside KVM_RUN. */
  handle(vcpu: Vcpu, e: Exit, ns: bigint): void {
    this.exits++;
    this.inKvmNs += ns;
    if (ns > this.longest.ns) this.longest = { ns, endMs: msSince(this.t0), vcpu: vcpu.id };
    if (e.kind === 'mmio') {
      let reply: bigint | undefined;
      const u = this.uart.handle(e.addr, e.len, e.isWrite, e.data);
      if (u.handled) {
        reply = u.reply;
        const off = Number(e.addr - this.layout.uart);
        if (e.isWrite && off === UART_DR) this.counts.uartWrites++; else if (!e.isWrite && off === UART_FR) this.counts.uartFrReads++; else this.counts.uartOther++;
      } else if (this.ecam.contains(e.addr)) {
        this.counts.ecam++;
        reply = this.ecam.handle(e.addr, e.len, e.isWrite, e.data).reply;
      } else {
        let hit: ReturnType<AttachedDevice['mmio']>;
        for (const d of this.devices) if ((hit = d.mmio(e.addr, e.len, e.isWrite, e.data))) break;
        if (hit) { this.counts[hit.cause]++; reply = hit.reply; } else {
          this.counts.stray++;
          if (this.strayAddrs.length < MAX_STRAY_ADDRS) this.strayAddrs.push(`${e.isWrite ? 'W' : 'R'}${e.len}@${hex(e.addr)}`);
          this.#stray.report({ vcpu: vcpu.id, address: e.addr, what: `a ${e.len}-byte ${e.isWrite ? 'write' : 'read'}` });
        }
      }
      if (!e.isWrite) completeMmioRead(vcpu.run, e.len, reply ?? (1n << BigInt(8 * e.len)) - 1n);
    } else if (e.kind === 'nisv') {
      // What a bus answers to an access nothing decodes; the policy's other rows end the run.
      try {
        answerNisv(vcpu, this.nisv, e.faultIpa);
        this.counts.nisv++;
        this.#undecodable.report({ vcpu: vcpu.id, address: e.faultIpa, what: 'an access' });
      } catch (err) { this.counts.end++; this.finish('error', { error: err as Error }); }
    } else if (e.kind === 'retry') this.counts.retry++;
    else if (e.kind === 'system-event' && (e.event === 'wakeup' || e.event === 'suspend')) this.counts.retry++;
    else {
      this.counts.end++;
      if (e.kind === 'system-event' && e.event === 'shutdown') {
        this.emit({ kind: 'guest-poweroff', vcpu: vcpu.id, message: `vCPU ${vcpu.id}: the guest powered off (PSCI SYSTEM_OFF)` });
        this.finish('poweroff');
      } else if (e.kind === 'system-event' && e.event === 'reset') {
        this.emit({ kind: 'guest-reboot', vcpu: vcpu.id, message: `vCPU ${vcpu.id}: the guest asked for a reboot (PSCI SYSTEM_RESET); the run ends, the caller decides` });
        this.finish('reboot');
      } else {
        const why = e.kind === 'system-event' ? `system event ${e.event}` : e.kind === 'fail' ? `${e.reason} (${hex(e.detail)})` : 'unknown exit';
        this.finish('error', { error: new VfioError({ kind: 'not-supported', message: `vCPU ${vcpu.id}: KVM_RUN ended with ${why}`, hint: 'the guest did something the VMM does not emulate; see the console' }) });
      }
    }
    if (!this.end && this.config.maxExits !== undefined && this.exits >= this.config.maxExits) this.finish('stopped', { stopReason: 'max-exits' });
  }
}

/** One KVM_RUN (vCPU 0 on this thread, the others on a pool thread): the exit, or a retry when a
 *  signal interrupted it (EINTR: a tick, a kick, or SIGINT). ENOSYS on a VM that cannot get NISV
 *  exits is the guest's undecodable access, said so. */
async function step(vcpu: Vcpu, nisv: NisvPolicy): Promise<Exit> {
  try { return vcpu.id === 0 ? vcpu.step() : await vcpu.stepAsync(); } catch (e) {
    if (e instanceof VfioError && e.errno === EINTR) return { kind: 'retry', reason: 'EINTR' };
    if (e instanceof VfioError && e.errno === ENOSYS && nisv.onAccess === 'no-exit') throw nisvUnreported(vcpu.id, e);
    throw e;
  }
}

/** Boots config.kernel with config.devices passed through and runs it until the guest powers off
 *  or reboots, config.signal aborts, maxExits, or an error; then closes everything.
 *  @throws VfioError for a bad config or a device that cannot be used, before any vCPU runs (and
 *    with everything opened so far closed again). A failure while the guest runs is end 'error'. */
export async function runVm(config: VmConfig): Promise<VmReport> {
  const t00 = now();
  const specs = checkConfig(config);
  const emit = (ev: VmEvent): void => { config.onEvent?.(ev); };
  const header = parseImageHeader(config.kernel);
  const { mode, ticks } = runModeFor(config.cpus, specs);
  checkPool(config.cpus);
  const m = new Machine(emit);
  let report: VmReport | undefined;
  try {
    // 2. every device, before anything else
    const rows: AttachRow[] = [];
    specs.forEach((spec, i) => {
      const dev = openDevice(spec.name);
      m.devices.push(dev);
      emit({ kind: 'device-opened', device: dev.name, deviceKind: dev.info.kind, iommu: dev.iommu, message: `${dev.name}: opened (${dev.info.kind}, ${dev.iommu}, ${dev.regions.length} regions, ${dev.irqs.length} IRQs)` });
      rows.push(attachRowFor(dev.info.kind, spec, `config.devices[${i}]`));
    });
    const hasPci = m.devices.some((d) => d.info.kind === 'pci');

    // 3. the VM
    const vm = m.vm = Vm.create(hostSys(), { ipaBits: 'max' });
    const layout = layoutFor({ cpus: config.cpus, memBytes: config.memBytes, ipaBits: vm.ipaBits });
    const initrd = config.initrd ?? new Uint8Array(0);
    const boot = bootLayout(layout.ram, header, config.kernel.byteLength, initrd.byteLength);
    vm.addGicV3({ dist: layout.gicd, redist: layout.gicr.base, nrIrqs: layout.nrIrqs });
    vm.addIts(layout.its);
    // Undecodable MMIO (a load/store pair at a device address): an external abort for the guest.
    const nisv = setUpNisv(vm);
    // With an ITS, KVM wants the requester ID with every MSI: what KvmIrqRoutes' devid is for.
    if (hasPci && vm.checkExtension(KVM_CAP_MSI_DEVID) !== 1) throw new VfioError({ kind: 'not-supported', message: 'KVM does not take a device ID with MSIs although the VM has an ITS (KVM_CAP_MSI_DEVID)', hint: 'a host kernel with the vGICv3 ITS' });
    const ram = vm.addRam(layout.ram.gpa, layout.ram.size);
    // The UART's reads from a read-only page (FR never busy): only the guest's writes exit.
    vm.addRam(layout.uart, PL011_SIZE, { readOnly: true }).bytes.set(pl011ReadPage());
    const at = (gpa: bigint): number => Number(gpa - layout.ram.gpa);
    ram.bytes.set(config.kernel, at(boot.kernel));
    if (initrd.byteLength) ram.bytes.set(initrd, at(boot.initrd.start));
    const vcpus = Array.from({ length: config.cpus }, (_, i) => vm.addVcpu({ powerOff: i > 0 }));
    vm.initGic();   // irqfds and the routing table need the vGIC ready
    // After initGic: the vGIC's init installs KVM's default table, which would replace ours.
    if (hasPci) m.routes = new KvmIrqRoutes(vm.fd, { irqchipPins: layout.nrIrqs - 32 });
    emit({ kind: 'vm-created', ipaBits: vm.ipaBits, message: `VM: ${config.cpus} vCPU(s), ${layout.ram.size} bytes of RAM at ${hex(layout.ram.gpa)}, vGICv3 + ITS, ${vm.ipaBits}-bit guest address space; platform bus ${hex(layout.bus.base)}..${hex(layout.bus.base + layout.bus.size - 1n)}` });

    // 4. the board's tree, the bus, the devices
    const bootargs = [config.bootargs ?? VM_DEFAULT_BOOTARGS, config.append].filter(Boolean).join(' ');
    const board = boardDtb({
      ram: layout.ram, gic: { dist: layout.gicd, redist: layout.gicr.base }, cpus: config.cpus, bootargs, timer: true,
      ...(initrd.byteLength ? { initrd: boot.initrd } : {}),
      ...(hasPci ? { pci: { its: layout.its, ecam: layout.ecam, mmio32: layout.pciMmio32, ...(layout.pciMmio64 ? { mmio64: layout.pciMmio64 } : {}), intxSpis: layout.intxSpis } } : {}),
    });
    const bus = m.bus = new PlatformBus(layout.bus);
    const boardHandle = bus.newDevice();
    for (const r of layout.busReserved) bus.placeRegion(r.size, { device: boardHandle, fixed: r.base, align: 0x1000n });
    const ecam = new EcamHost(layout.ecam.base, layout.ecam.buses);
    const barRefused = new ReportThinner<string>((message, count) => emit({ kind: 'bar-refused', count, message: `${message}${reportNote(count)}` }));
    const ctx: AttachContext = {
      vm, ram, layout, bus, hostDtb: config.hostDtb, gicPhandle: board.gicPhandle, routes: m.routes, ecam,
      phandle: FIRST_DEVICE_PHANDLE, pciSlot: layout.firstPciSlot, emit, ramMappedBy: [],
      barSlots: new BarSlots(vm, [layout.pciMmio32, ...(layout.pciMmio64 ? [layout.pciMmio64] : [])], (s, why) => barRefused.report(`a guest BAR piece at 0x${s.gpa.toString(16)} (0x${s.size.toString(16)} bytes) not backed: ${why}`)),
    };
    const order = attachOrder(specs);
    const attached = new Map<number, AttachedDevice>();
    for (const i of order.pinned) attached.set(i, rows[i]!.attach(m.devices[i]!, specs[i]!, ctx));
    fillBelowFloor(bus, layout);
    for (const i of order.rest) attached.set(i, rows[i]!.attach(m.devices[i]!, specs[i]!, ctx));
    for (let i = 0; i < specs.length; i++) m.attached.push(attached.get(i)!);

    // 5. the tree
    let dtb = board.dtb;
    for (const a of m.attached) if (a.dtNode) dtb = mergeFdt(dtb, a.dtNode, '/');
    if (BigInt(dtb.byteLength) > DTB_MAX) throw new VfioError({ kind: 'no-space', message: `the guest DTB of ${dtb.byteLength} bytes is over the ${DTB_MAX} bytes the boot protocol allows`, hint: 'pass fewer devices' });
    ram.bytes.set(dtb, at(boot.dtb));
    config.dtbOut?.(dtb);
    emit({ kind: 'dtb-built', bytes: dtb.byteLength, message: `device tree: ${dtb.byteLength} bytes at ${hex(boot.dtb)} (${config.cpus} cpu(s), ${m.attached.filter((a) => a.dtNode).length} platform node(s)${hasPci ? ', the PCI host bridge' : ''})` });

    // 6. run
    const v0 = vcpus[0]!;
    for (const [id, v] of [[xreg(0), boot.dtb], [xreg(1), 0n], [xreg(2), 0n], [xreg(3), 0n], [REG_PC, boot.kernel]] as [bigint, bigint][]) v0.setReg(id, v);
    const exits = new Exits(layout, ecam, m.attached, config, emit, nisv);
    const setupMs = msSince(t00);
    await runVcpus(vcpus, ticks, exits, config, emit);
    const runMs = msSince(exits.t0);
    const e = exits.end ?? { end: 'stopped' as const };
    report = {
      end: e.end, ...(e.error ? { error: e.error } : {}), ...(e.stopReason ? { stopReason: e.stopReason } : {}),
      exits: exits.exits, counts: { ...exits.counts }, devices: m.attached.map((a) => a.report()), setupMs, runMs,
      inKvmMs: Number(exits.inKvmNs) / 1e6, longestRun: { ms: Number(exits.longest.ns) / 1e6, endMs: exits.longest.endMs, vcpu: exits.longest.vcpu },
      runMode: mode, ticks, vcpus: vcpus.map((v) => ({ id: v.id, exits: v.exits })),
      boot: { kernel: boot.kernel, kernelEnd: boot.kernelEnd, ...(initrd.byteLength ? { initrd: boot.initrd } : {}), dtb: boot.dtb, dtbBytes: dtb.byteLength, bootargs, ipaBits: vm.ipaBits, bus: { base: layout.bus.base, size: layout.bus.size } },
      ecam: { ...ecam.counts }, routeCommits: m.routes?.commits ?? 0, strayAddrs: exits.strayAddrs,
    };
  } finally {
    const first = m.close();
    // A setup failure's own error wins; a run that cannot close cleanly fails with the first.
    if (report && first !== undefined) throw first;   // eslint-disable-line no-unsafe-finally
  }
  return report;
}

/** Platform devices at a fixed or 1:1 address are placed first (what they ask for must be free),
 *  the others after the floor is filled; each group in command-line order. */
export function attachOrder(specs: readonly ResolvedDeviceSpec[]): { pinned: number[]; rest: number[] } {
  const pinned: number[] = [], rest: number[] = [];
  specs.forEach((s, i) => (s.identity || s.addr !== undefined ? pinned : rest).push(i));
  return { pinned, rest };
}

/** Reserves every hole of the bus below the first-fit floor, so that first fit starts at the floor
 *  (QEMU virt's platform bus, where a guest finds devices) while fixed and 1:1 placements may use
 *  the room below. */
export function fillBelowFloor(bus: PlatformBus, layout: VmLayout): void {
  const floor = layout.bus.base;
  const top = layout.firstFitFloor;
  const taken = bus.info().regions.filter((r) => r.first < top).map((r) => ({ first: r.first, last: r.last })).sort((a, b) => (a.first < b.first ? -1 : 1));
  const handle = bus.newDevice();
  let at = floor;
  for (const r of [...taken, { first: top, last: top }]) {
    if (r.first > at) bus.placeRegion(r.first - at, { device: handle, fixed: at, align: 0x1000n });
    if (r.last + 1n > at) at = r.last + 1n;
  }
}

/** Every vCPU's KVM_RUN loop until the run ends; then every vCPU out of KVM_RUN. vCPU 0 runs on
 *  this thread and gives the event loop a turn before each exit that is not the console's (a
 *  tick's EINTR is one) and at least every EVENT_LOOP_TURN_MS; the others run on pool threads. */
async function runVcpus(vcpus: readonly Vcpu[], ticks: boolean, exits: Exits, config: VmConfig, emit: (ev: VmEvent) => void): Promise<void> {
  const inRun = new Set<Vcpu>();
  const stopAll = (): void => {
    for (const v of vcpus) v.requestExit();
    kickVcpus([...inRun].filter((v) => v.id !== 0));
  };
  const onAbort = (): void => { exits.finish('stopped', { stopReason: 'signal' }); stopAll(); };
  if (config.signal?.aborted) { exits.finish('stopped', { stopReason: 'signal' }); return; }
  config.signal?.addEventListener('abort', onAbort, { once: true });
  const removeHandler = installKickHandler();
  const ticker = ticks ? startTicker(TICK_MS) : undefined;
  let kicker: NodeJS.Timeout | undefined;
  const ended = (): void => {
    // The first vCPU to end the run stops the others (they may sleep in KVM_RUN for good: a
    // powered-off vCPU, or one parked by the guest).
    stopAll();
    kicker ??= setInterval(stopAll, KICK_INTERVAL_MS);
  };
  try {
    const loop = async (v: Vcpu): Promise<void> => {
      emit({ kind: 'vcpu-started', vcpu: v.id, mode: v.id === 0 ? 'main-thread' : 'main+pool', message: `vCPU ${v.id}: KVM_RUN ${v.id === 0 ? 'on the main thread' : 'on a libuv pool thread'}${v.id > 0 ? ' (powered off until the guest\'s PSCI CPU_ON)' : ''}${v.id === 0 && ticks ? `, the event loop's turn at least every ${TICK_MS} ms` : ''}` });
      let lastTurn = now();
      while (!exits.end) {
        const r0 = now();
        inRun.add(v);
        let e: Exit;
        try { e = await step(v, exits.nisv); } finally { inRun.delete(v); }
        const r1 = now();
        if (exits.end) break;
        exits.handle(v, e, r1 - r0);
        if (v.id === 0 && (!exits.isConsole(e) || r1 - lastTurn > BigInt(EVENT_LOOP_TURN_MS) * 1_000_000n)) {
          await loopTurn();
          lastTurn = now();
        }
      }
      ended();
    };
    const loops = vcpus.map((v) => loop(v).catch((err: unknown) => {
      exits.finish('error', { error: err instanceof Error ? err : new Error(String(err)) });
      ended();
    }));
    await Promise.all(loops);
  } finally {
    if (kicker) clearInterval(kicker);
    await ticker?.stop();
    removeHandler();
    config.signal?.removeEventListener('abort', onAbort);
    emit({ kind: 'stopping', reason: exits.end?.end ?? 'stopped', message: `every vCPU is out of KVM_RUN (${exits.end?.end ?? 'stopped'})` });
  }
}
/** How often vCPUs still in KVM_RUN are kicked again once the run ends (a kick can miss a thread
 *  between two syscalls; immediate_exit catches the next entry). */
export const KICK_INTERVAL_MS = 20;
/** The tick: how long vCPU 0 may stay in the guest before the event loop gets a turn, when other
 *  vCPUs or a userspace IRQ path need it. Each tick is one exit (EINTR) of vCPU 0. */
export const TICK_MS = 5;

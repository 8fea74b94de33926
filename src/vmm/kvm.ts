// A thin KVM of the mini-vmm's own, over vfiokit's system calls for a VMM's own fds (vfiokit/sys:
// ioctl, mmap, views, and the KVM numbers vfiokit pins; errors keep errno and name the ioctl) and
// the structs of abi.ts: a VM
// with an in-kernel GICv3 (and optionally its ITS), guest RAM, memslots over any host mapping (a
// VFIO region's mmap is just another one; slot numbers of removed ones are reused), irqfds, and
// vCPUs with the kvm_run mapping and its exit decoder (abi.ts).
//
// Order the kernel requires, enforced by the state field and written down here:
//   createVm -> addGicV3 (addresses) -> [addIts (address)] -> addVcpu... -> initGic
//   (KVM_DEV_ARM_VGIC_CTRL_INIT on the vGIC, then on the ITS) -> irqfd / run / GSI routing.
//   Memslots and RAM at any time before run (host memslots also while a vCPU runs elsewhere).
// KVM_SET_GSI_ROUTING (vfiokit's KvmIrqRoutes) belongs after initGic: the vGIC's init installs
// KVM's default table and would replace one set before it.
// The KVM-VFIO device (addVfioFile) may be added in any state before close.
// Close order (close()): irqfds deassigned, VFIO files deleted from the KVM-VFIO device (the
// caller's VFIO fds must still be open), vCPUs (munmap kvm_run, close fd), the KVM-VFIO fd, the
// ITS fd, the vGIC fd, the VM fd, then the RAM mappings, then /dev/kvm. Memslots need no undo: they die with the VM. The caller's own mappings
// installed as memslots (a VFIO region) must be unmapped by their owner AFTER this close().
// Not responsible for: what an exit means (run.ts, exits.ts), the devices (vfiokit's openDevice), the
// guest's layout (layout.ts).
import {
  hostSys, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, type HostSys,
  KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT, KVM_CHECK_EXTENSION, KVM_CREATE_DEVICE, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE,
  KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL, KVM_GET_ONE_REG, KVM_GET_VCPU_MMAP_SIZE, KVM_IRQ_LINE, KVM_IRQFD, KVM_IRQFD_FLAG_DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE, KVM_RUN, KVM_SET_DEVICE_ATTR, KVM_SIGNAL_MSI, encodeKvmMsi, KVM_SET_ONE_REG, KVM_SET_USER_MEMORY_REGION, SIZEOF_KVM_VCPU_INIT, encodeKvmIrqfd,
} from '../sys-api.js';
import {
  createDevice, decodeExit, deviceAttr, irqLevel, GICD_SIZE, GICR_SIZE_PER_CPU, GITS_SIZE, KVM_ARM_VCPU_PSCI_0_2, KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_ARM_VCPU_POWER_OFF, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, KVM_DEV_TYPE_ARM_VGIC_ITS, KVM_DEV_TYPE_ARM_VGIC_V3,
  KVM_VGIC_ITS_ADDR_TYPE, KVM_VGIC_V3_ADDR_TYPE_DIST, KVM_VGIC_V3_ADDR_TYPE_REDIST, memoryRegion, oneReg, RUN_DECODED_BYTES, RUN_IMMEDIATE_EXIT, withFeature, type Exit,
} from './abi.js';
import { VfioError } from '../index.js';
import { badArgument, checkBigU64, checkBool, checkFd, checkInt, checkObject, checkOptBool, checkOptObject } from '../../shim/args.js';
import { getU32 } from './le.js';

export { hostSys };

/** KVM_CHECK_EXTENSION on /dev/kvm: the most IPA bits a VM may ask for (0: only the default). */
export const KVM_CAP_ARM_VM_IPA_SIZE = 165;
/** The IPA size of a VM created with type 0. */
export const KVM_DEFAULT_IPA_BITS = 40;
/** kvm_userspace_memory_region.flags: the slot is read-only to the guest (writes exit as MMIO). */
export const KVM_MEM_READONLY = 1 << 1;

/** The vGICv3's interrupt lines (KVM_DEV_ARM_VGIC_GRP_NR_IRQS): SGIs and PPIs (32) plus SPIs, a
 *  multiple of 32 from 64 to 1024 (the GICv3 architecture's 1020 INTIDs, rounded up). */
export const MIN_GIC_IRQS = 64, MAX_GIC_IRQS = 1024;
/** A u32 field (an MSI's data, a requester ID, a capability number). */
const U32_MAX = 0xffff_ffff;

/** A Vm's state (its order: this file's header). */
export type VmState = 'created' | 'gic-addressed' | 'ready' | 'closed';

/** A page of our own whose address KVM reads values from (SET_ONE_REG, SET_DEVICE_ATTR take pointers). */
class Scratch {
  readonly addr: bigint;
  readonly q: BigUint64Array;
  constructor(private readonly sys: HostSys) {
    this.addr = sys.mmap(4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
    this.q = new BigUint64Array(sys.view(this.addr, 4096));
  }
  /** Puts v at slot i, returns its address. */
  put(i: number, v: bigint): bigint { this.q[i] = v; return this.addr + BigInt(8 * i); }
  close(): void { this.sys.munmap(this.addr, 4096n); }
}

/** A range of guest RAM (Vm.addRam): where the guest sees it, where the VMM has it. */
export interface GuestRam {
  /** Guest physical address of its first byte. */
  gpa: bigint;
  /** Bytes. */
  size: bigint;
  /** The VMM's host virtual address of it (a memslot's userspace_addr; for mapDma's hostAddress). */
  hva: bigint;
  /** A zero-copy view of it, valid until the VM is closed. */
  bytes: Uint8Array;
  /** Its memslot number. */
  slot: number;
}

/** One vCPU of a {@link Vm} (Vm.addVcpu): its registers and KVM_RUN. Closed by the VM's close(). */
export class Vcpu {
  #closed = false;
  /** The first RUN_DECODED_BYTES of kvm_run, zero-copy: read after each run(). */
  readonly run: Uint8Array;
  /** Times KVM_RUN returned to us: each one is a VMM wake-up. */
  exits = 0;
  /** The vCPU fd. */
  readonly fd: number;
  /** The vCPU's index (0 boots; its MPIDR Aff0). */
  readonly id: number;
  /** Made by Vm.addVcpu only (the vCPU fd, its index, its kvm_run mapping, the VM's scratch page):
   *  a VMM gets its vCPUs from there, never from this constructor. */
  constructor(private readonly sys: HostSys, fd: number, id: number,
              private readonly runAddr: bigint, private readonly runSize: number, private readonly scratch: Scratch) {
    this.fd = fd;
    this.id = id;
    this.run = new Uint8Array(sys.view(runAddr, runSize), 0, RUN_DECODED_BYTES);
  }
  #live(what: string): void { if (this.#closed) throw new VfioError({ kind: 'closed', message: `vcpu ${this.id}: ${what} after close()`, hint: 'a closed vCPU cannot run again: make a new VM' }); }
  /** KVM_SET_ONE_REG: sets register `id` (xreg(n), REG_PC) to `value`. */
  setReg(id: bigint, value: bigint): void { checkBigU64('id', id); checkBigU64('value', value); this.#live('setReg'); this.sys.ioctl(this.fd, KVM_SET_ONE_REG, oneReg(id, this.scratch.put(1, value)), 'KVM_SET_ONE_REG'); }
  /** KVM_GET_ONE_REG: the value of register `id`. */
  getReg(id: bigint): bigint { checkBigU64('id', id); this.#live('getReg'); this.sys.ioctl(this.fd, KVM_GET_ONE_REG, oneReg(id, this.scratch.addr + 16n), 'KVM_GET_ONE_REG'); return this.scratch.q[2]!; }
  /** KVM_RUN: blocks this thread until the guest exits to us, then decodes the exit. */
  step(): Exit { this.#live('run'); this.sys.ioctl(this.fd, KVM_RUN, null, 'KVM_RUN'); this.exits++; return decodeExit(this.run); }
  /** KVM_RUN on a libuv thread-pool thread (vfiokit/sys ioctlAsync), so the event loop goes on
   *  while the guest runs; then decodes the exit. A failure is the VfioError of KVM_RUN, errno kept. */
  async stepAsync(): Promise<Exit> {
    this.#live('run');
    await this.sys.ioctlAsync(this.fd, KVM_RUN, null, 'KVM_RUN');
    this.exits++;
    return decodeExit(this.run);
  }
  /** Sets kvm_run.immediate_exit: every KVM_RUN from now on returns EINTR at once (a thread
   *  already inside needs a signal as well: kick.ts). */
  requestExit(): void { if (!this.#closed) this.run[RUN_IMMEDIATE_EXIT] = 1; }
  /** Unmaps kvm_run and closes the vCPU fd (the VM's close() does it). Twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sys.munmap(this.runAddr, BigInt(this.runSize));
    this.sys.close(this.fd);
  }
}

/** Where the vGICv3 goes (Vm.addGicV3). */
export interface GicLayout {
  /** The distributor's guest address (64 KiB). */
  dist: bigint;
  /** The redistributors' guest address (128 KiB per vCPU). */
  redist: bigint;
  /** Total interrupt lines (multiple of 32, >= 64). */
  nrIrqs: number;
}

/** A KVM VM (Vm.create): vGICv3 and ITS, RAM, memslots, irqfds, the KVM-VFIO device, vCPUs, in
 *  the order the kernel needs (this file's header); close() undoes it. */
export class Vm {
  #state: VmState = 'created';
  /** Memslot numbers handed out so far, and those of removed host slots, reused lowest first. */
  #slots = 0;
  #freeSlots: number[] = [];
  /** Slots from mapHost (RAM slots are not the caller's to remove). */
  #hostSlots = new Set<number>();
  #vcpus: Vcpu[] = [];
  #ram: GuestRam[] = [];
  #irqfds: { fd: number; gsi: number }[] = [];
  #gic = -1;
  /** The ITS device's fd (-1: none). */
  #its = -1;
  /** The KVM-VFIO device's fd (-1: not created yet) and the VFIO files added to it. */
  #kvmVfio = -1;
  #vfioFiles: number[] = [];
  readonly #scratch: Scratch;
  /** The VM fd. */
  readonly fd: number;
  /** The guest physical address space, in bits (KVM_VM_TYPE_ARM_IPA_SIZE). */
  readonly ipaBits: number;
  private constructor(private readonly sys: HostSys, private readonly kvmFd: number, fd: number, ipaBits: number) {
    this.fd = fd;
    this.ipaBits = ipaBits;
    this.#scratch = new Scratch(sys);
  }

  /** Opens /dev/kvm and creates a VM. `ipaBits`: the guest physical address space, in bits
   *  (KVM_VM_TYPE_ARM_IPA_SIZE); 'max' asks KVM_CAP_ARM_VM_IPA_SIZE for the most the host allows;
   *  0 or left out: KVM's default, 40 bits (KVM_CREATE_VM type 0). */
  static create(sys: HostSys = hostSys(), opts: { ipaBits?: number | 'max' } = {}): Vm {
    checkObject('sys', sys);
    checkOptObject('opts', opts);
    if (opts.ipaBits !== undefined && opts.ipaBits !== 'max') checkInt('opts.ipaBits', opts.ipaBits, 0, 64);
    const kvmFd = sys.open('/dev/kvm', O_RDWR | O_CLOEXEC);
    let vm = -1;
    try {
      let type = opts.ipaBits === 'max' ? sys.ioctlValue(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE, 'KVM_CHECK_EXTENSION') : (opts.ipaBits ?? 0);
      // A kernel without the capability answers 0: only the default 40-bit space exists there.
      if (type < 0 || type > 0xff) type = 0;
      vm = sys.ioctlValue(kvmFd, KVM_CREATE_VM, type, 'KVM_CREATE_VM');
      return new Vm(sys, kvmFd, vm, type === 0 ? KVM_DEFAULT_IPA_BITS : type);
    } catch (e) {
      if (vm >= 0) sys.close(vm);
      sys.close(kvmFd);
      throw e;
    }
  }
  /** Where the VM is in its order ('created', 'gic-addressed', 'ready', 'closed'). */
  get state(): VmState { return this.#state; }
  /** The vCPUs, by index. */
  get vcpus(): readonly Vcpu[] { return this.#vcpus; }
  #need(states: VmState[], what: string): void {
    if (this.#state === 'closed') throw new VfioError({ kind: 'closed', message: `vm: ${what} after close()`, hint: 'make a new VM' });
    if (!states.includes(this.#state)) throw new VfioError({ kind: 'bad-state', message: `vm: ${what} in state ${this.#state} (allowed: ${states.join(', ')})`, hint: 'the order is create, addGicV3, addIts, addVcpu, initGic, then irqfds and running (kvm.ts)' });
  }

  /** Guest RAM: an anonymous mapping installed as the next memslot. `readOnly`
   *  (KVM_MEM_READONLY): the guest reads the bytes with no exit and each write is an MMIO exit,
   *  which is how a device whose reads are constant (the PL011's FR) costs no exit to poll. */
  addRam(gpa: bigint, size: bigint, opts: { readOnly?: boolean } = {}): GuestRam {
    checkBigU64('gpa', gpa); checkBigU64('size', size); checkOptObject('opts', opts); checkOptBool('opts.readOnly', opts.readOnly);
    this.#need(['created', 'gic-addressed', 'ready'], 'addRam');
    const hva = this.sys.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
    const slot = this.#slots;
    const flags = opts.readOnly ? KVM_MEM_READONLY : 0;
    try { this.sys.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, memoryRegion(slot, gpa, size, hva, flags), 'KVM_SET_USER_MEMORY_REGION'); } catch (e) { this.sys.munmap(hva, size); throw e; }
    this.#slots++;
    const ram = { gpa, size, hva, bytes: new Uint8Array(this.sys.view(hva, Number(size))), slot };
    this.#ram.push(ram);
    return ram;
  }

  /** A memslot over a host mapping the caller owns (a VFIO region's mmap): guest accesses to
   *  [gpa, gpa+size) go straight to it with no exit. Returns the slot number. */
  mapHost(gpa: bigint, size: bigint, hva: bigint): number {
    checkBigU64('gpa', gpa); checkBigU64('size', size); checkBigU64('hva', hva);
    this.#need(['created', 'gic-addressed', 'ready'], 'mapHost');
    const reuse = this.#freeSlots.length > 0;
    const slot = reuse ? Math.min(...this.#freeSlots) : this.#slots;
    this.sys.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, memoryRegion(slot, gpa, size, hva), 'KVM_SET_USER_MEMORY_REGION');
    if (reuse) this.#freeSlots.splice(this.#freeSlots.indexOf(slot), 1); else this.#slots++;
    this.#hostSlots.add(slot);
    return slot;
  }

  /** Removes memslot `slot` (from mapHost) for good: KVM_SET_USER_MEMORY_REGION with size 0; the
   *  next mapHost reuses the number. The guest's accesses there exit to the VMM again. */
  unmapHost(slot: number): void {
    checkInt('slot', slot);
    this.#need(['created', 'gic-addressed', 'ready'], 'unmapHost');
    if (!this.#hostSlots.has(slot)) throw new VfioError({ kind: 'not-found', message: `vm: unmapHost(${slot}): not a slot of mapHost's`, hint: 'pass the number mapHost returned' });
    this.sys.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, memoryRegion(slot, 0n, 0n, 0n), 'KVM_SET_USER_MEMORY_REGION');
    this.#hostSlots.delete(slot);
    this.#freeSlots.push(slot);
  }

  /** Memslots in use (RAM and host slots), for a report. */
  get slotsInUse(): number { return this.#slots - this.#freeSlots.length; }

  /** KVM_CHECK_EXTENSION on the VM fd: the capability's value for this VM (0: absent). Some are
   *  per VM: KVM_CAP_MSI_DEVID is 1 on arm64 only once the VM has an ITS. */
  checkExtension(cap: number): number {
    checkInt('cap', cap, 0, U32_MAX);
    this.#need(['created', 'gic-addressed', 'ready'], 'checkExtension');
    return this.sys.ioctlValue(this.fd, KVM_CHECK_EXTENSION, cap, 'KVM_CHECK_EXTENSION');
  }

  /** Re-points memslot `slot` (from mapHost) at `hva`, or deletes it with size 0n: the guest's
   *  accesses to [gpa, gpa+size) then exit to the VMM. Safe while a vCPU runs on another thread:
   *  KVM kicks it and the next access faults in the new layout. */
  setHostSlot(slot: number, gpa: bigint, size: bigint, hva: bigint): void {
    checkInt('slot', slot); checkBigU64('gpa', gpa); checkBigU64('size', size); checkBigU64('hva', hva);
    this.#need(['created', 'gic-addressed', 'ready'], 'setHostSlot');
    if (!this.#hostSlots.has(slot)) throw new VfioError({ kind: 'not-found', message: `vm: setHostSlot(${slot}): not a slot of mapHost's`, hint: 'pass the number mapHost returned' });
    this.sys.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, memoryRegion(slot, gpa, size, size === 0n ? 0n : hva), 'KVM_SET_USER_MEMORY_REGION');
  }

  /** KVM_IRQ_LINE: raises or lowers SPI `spi` (INTID spi+32) of the vGIC, as a device model in
   *  the VMM does. arm64 encodes the line as (type SPI << 24) | INTID. */
  irqLine(spi: number, level: boolean): void {
    checkInt('spi', spi, 0, MAX_GIC_IRQS - 32 - 1); checkBool('level', level);
    this.#need(['ready'], 'irqLine');
    this.sys.ioctl(this.fd, KVM_IRQ_LINE, irqLevel(spi, level), 'KVM_IRQ_LINE');
  }

  /** KVM_SIGNAL_MSI: injects one MSI (through the ITS: `devid` is the requester ID) from userspace,
   *  the PCI passthrough's delivery when a function does not use irqfds. */
  signalMsi(address: bigint, data: number, devid: number): void {
    checkBigU64('address', address); checkInt('data', data, 0, U32_MAX); checkInt('devid', devid, 0, U32_MAX);
    this.#need(['ready'], 'signalMsi');
    this.sys.ioctl(this.fd, KVM_SIGNAL_MSI, encodeKvmMsi({ address, data, devid }), 'KVM_SIGNAL_MSI');
  }

  /** KVM_CREATE_DEVICE(VGIC_V3) and its addresses; nrIrqs total lines. */
  addGicV3(layout: GicLayout): void {
    checkObject('layout', layout); checkBigU64('layout.dist', layout.dist); checkBigU64('layout.redist', layout.redist);
    if (checkInt('layout.nrIrqs', layout.nrIrqs, MIN_GIC_IRQS, MAX_GIC_IRQS) % 32 !== 0) badArgument('layout.nrIrqs', layout.nrIrqs, `a multiple of 32 from ${MIN_GIC_IRQS} to ${MAX_GIC_IRQS}`);
    this.#need(['created'], 'addGicV3');
    const cd = createDevice(KVM_DEV_TYPE_ARM_VGIC_V3);
    this.sys.ioctl(this.fd, KVM_CREATE_DEVICE, cd, 'KVM_CREATE_DEVICE');
    this.#gic = getU32(cd, 4);
    const s = this.#scratch;
    this.sys.ioctl(this.#gic, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, s.put(0, layout.dist)), 'KVM_SET_DEVICE_ATTR');
    this.sys.ioctl(this.#gic, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, s.put(0, layout.redist)), 'KVM_SET_DEVICE_ATTR');
    // GRP_NR_IRQS reads a u32 at addr.
    s.put(0, BigInt(layout.nrIrqs));
    this.sys.ioctl(this.#gic, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, s.addr), 'KVM_SET_DEVICE_ATTR');
    this.#state = 'gic-addressed';
  }

  /** KVM_CREATE_DEVICE(VGIC_ITS) at `base` (its 128 KiB frame, 64 KiB aligned), after the vGICv3
   *  and before initGic. KVM then wants a requester ID with every MSI (KVM_CAP_MSI_DEVID becomes 1
   *  on the VM): the ITS's DeviceID. The guest finds it in the DT (dtb.ts). */
  addIts(base: bigint): void {
    if (checkBigU64('base', base) % 0x1_0000n !== 0n) badArgument('base', base, 'a 64 KiB aligned address (the ITS frame)');
    this.#need(['gic-addressed'], 'addIts');
    if (this.#its >= 0) throw new VfioError({ kind: 'bad-state', message: 'vm: addIts: the VM has an ITS already', hint: 'one ITS per VM' });
    const cd = createDevice(KVM_DEV_TYPE_ARM_VGIC_ITS);
    this.sys.ioctl(this.fd, KVM_CREATE_DEVICE, cd, 'KVM_CREATE_DEVICE');
    this.#its = getU32(cd, 4);
    this.sys.ioctl(this.#its, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, this.#scratch.put(0, base)), 'KVM_SET_DEVICE_ATTR');
  }
  /** True once addIts made the ITS. */
  get hasIts(): boolean { return this.#its >= 0; }

  /** A vCPU: KVM_CREATE_VCPU, ARM_PREFERRED_TARGET, ARM_VCPU_INIT with PSCI 0.2, kvm_run mapped.
   *  `powerOff`: the vCPU starts powered off (KVM_ARM_VCPU_POWER_OFF), and KVM's in-kernel PSCI
   *  starts it when the guest calls CPU_ON: every secondary vCPU of an SMP guest. */
  addVcpu(opts: { powerOff?: boolean } = {}): Vcpu {
    checkOptObject('opts', opts); checkOptBool('opts.powerOff', opts.powerOff);
    this.#need(['created', 'gic-addressed'], 'addVcpu');
    const id = this.#vcpus.length;
    const fd = this.sys.ioctlValue(this.fd, KVM_CREATE_VCPU, id, 'KVM_CREATE_VCPU');
    let runAddr = 0n, runSize = 0;
    try {
      const init = new Uint8Array(SIZEOF_KVM_VCPU_INIT);
      this.sys.ioctl(this.fd, KVM_ARM_PREFERRED_TARGET, init, 'KVM_ARM_PREFERRED_TARGET');
      const psci = withFeature(init, KVM_ARM_VCPU_PSCI_0_2);
      this.sys.ioctl(fd, KVM_ARM_VCPU_INIT, opts.powerOff ? withFeature(psci, KVM_ARM_VCPU_POWER_OFF) : psci, 'KVM_ARM_VCPU_INIT');
      runSize = this.sys.ioctl(this.kvmFd, KVM_GET_VCPU_MMAP_SIZE, null, 'KVM_GET_VCPU_MMAP_SIZE');
      runAddr = this.sys.mmap(BigInt(runSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    } catch (e) { this.sys.close(fd); throw e; }
    const v = new Vcpu(this.sys, fd, id, runAddr, runSize, this.#scratch);
    this.#vcpus.push(v);
    return v;
  }

  /** KVM_DEV_ARM_VGIC_CTRL_INIT: after every vCPU exists; then the ITS's (where there is one). */
  initGic(): void {
    this.#need(['gic-addressed'], 'initGic');
    if (this.#vcpus.length === 0) throw new VfioError({ kind: 'bad-state', message: 'vm: initGic before any vCPU', hint: 'add the vCPUs first: the redistributors are per vCPU' });
    this.sys.ioctl(this.#gic, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, 0n), 'KVM_SET_DEVICE_ATTR');
    if (this.#its >= 0) this.sys.ioctl(this.#its, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, 0n), 'KVM_SET_DEVICE_ATTR');
    this.#state = 'ready';
  }

  /** KVM_IRQFD: a write to `fd` raises SPI `gsi` (INTID gsi+32); with `resamplefd` the line is
   *  level: it stays high until the guest EOIs it, then KVM lowers it and signals resamplefd. */
  irqfd(fd: number, gsi: number, resamplefd?: number): void {
    checkFd('fd', fd); checkInt('gsi', gsi, 0, U32_MAX); if (resamplefd !== undefined) checkFd('resamplefd', resamplefd);
    this.#need(['ready'], 'irqfd');
    this.sys.ioctl(this.fd, KVM_IRQFD, encodeKvmIrqfd({ fd, gsi, flags: resamplefd === undefined ? 0 : KVM_IRQFD_FLAG_RESAMPLE, resamplefd: resamplefd ?? 0 }), 'KVM_IRQFD');
    this.#irqfds.push({ fd, gsi });
  }

  /** KVM_DEV_VFIO_FILE_ADD: tells KVM about a VFIO file (a group fd, or since Linux 6.6 a device
   *  fd) through the VM's one KVM-VFIO device (KVM_CREATE_DEVICE KVM_DEV_TYPE_VFIO, created on
   *  first use). KVM then knows the VM has a passed-through device (DMA coherency on x86, the
   *  device's `kvm` pointer for drivers that need it). The fd must stay open until close(),
   *  which deletes it again. */
  addVfioFile(fd: number): void {
    checkFd('fd', fd);
    this.#need(['created', 'gic-addressed', 'ready'], 'addVfioFile');
    if (this.#kvmVfio < 0) {
      const cd = createDevice(KVM_DEV_TYPE_VFIO);
      this.sys.ioctl(this.fd, KVM_CREATE_DEVICE, cd, 'KVM_CREATE_DEVICE');
      this.#kvmVfio = getU32(cd, 4);
    }
    // attr.addr points at an s32 holding the fd.
    const s = this.#scratch;
    new Int32Array(s.q.buffer, s.q.byteOffset, 2)[0] = fd;
    this.sys.ioctl(this.#kvmVfio, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, s.addr), 'KVM_SET_DEVICE_ATTR');
    this.#vfioFiles.push(fd);
  }

  /** Deassigns the irqfds, closes vCPUs, the vGIC, the VM, unmaps RAM, closes /dev/kvm. Twice is harmless. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const errors: unknown[] = [];
    const attempt = (f: () => void): void => { try { f(); } catch (e) { errors.push(e); } };
    for (const { fd, gsi } of this.#irqfds) attempt(() => this.sys.ioctl(this.fd, KVM_IRQFD, encodeKvmIrqfd({ fd, gsi, flags: KVM_IRQFD_FLAG_DEASSIGN }), 'KVM_IRQFD'));
    for (const fd of this.#vfioFiles) {
      attempt(() => {
        new Int32Array(this.#scratch.q.buffer, this.#scratch.q.byteOffset, 2)[0] = fd;
        this.sys.ioctl(this.#kvmVfio, KVM_SET_DEVICE_ATTR, deviceAttr(KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_DEL, this.#scratch.addr), 'KVM_SET_DEVICE_ATTR');
      });
    }
    for (const v of [...this.#vcpus].reverse()) attempt(() => v.close());
    if (this.#kvmVfio >= 0) attempt(() => this.sys.close(this.#kvmVfio));
    if (this.#its >= 0) attempt(() => this.sys.close(this.#its));
    if (this.#gic >= 0) attempt(() => this.sys.close(this.#gic));
    attempt(() => this.sys.close(this.fd));
    for (const r of this.#ram) attempt(() => this.sys.munmap(r.hva, r.size));
    attempt(() => this.#scratch.close());
    attempt(() => this.sys.close(this.kvmFd));
    if (errors.length) throw errors[0];
  }
  /** close(). */
  [Symbol.dispose](): void { this.close(); }
}

export { GICD_SIZE, GICR_SIZE_PER_CPU, GITS_SIZE };

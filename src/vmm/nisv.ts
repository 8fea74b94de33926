// An MMIO access KVM cannot decode: a data abort at an address no memslot backs whose syndrome
// has no valid instruction information (ISV=0: a load or store pair, a writeback form, a
// register-offset SIMD access...). KVM cannot tell the VMM which register to read or write, so
// it cannot report a KVM_EXIT_MMIO. What the VMM can do depends on two capabilities, decided
// once per VM by the table below (decisions as data; test/unit/vmm/nisv.test.ts walks it):
//   KVM_CAP_ARM_NISV_TO_USER   enabled (KVM_ENABLE_CAP), KVM reports the access as
//                              KVM_EXIT_ARM_NISV with its address; without it KVM_RUN fails
//                              with ENOSYS and the VMM never learns where.
//   KVM_CAP_ARM_INJECT_EXT_DABT  the VMM answers the exit with an external data abort for the
//                              guest (KVM_SET_VCPU_EVENTS ext_dabt_pending), as a bus answers an
//                              access nothing decodes: the guest's abort handler runs at the
//                              faulting instruction, the VMM counts it and goes on.
// Anything else ends the run with a VfioError that names the vCPU, the guest address when known
// and what to do. The guest never makes the VMM fail otherwise (docs/VMM.md, "What the guest gets").
// Not responsible for: decoding the exit (abi.ts), the ioctls (kvm.ts), counting (the caller).
import { VfioError } from '../index.js';
import { KVM_CAP_ARM_INJECT_EXT_DABT, KVM_CAP_ARM_NISV_TO_USER } from '../sys-api.js';
import { badArgument, checkBigU64, checkBool, checkObject, checkOneOf } from '../../shim/args.js';
import { Vcpu, Vm } from './kvm.js';

/** What the VMM does about undecodable MMIO on one VM. */
export interface NisvPolicy {
  /** KVM_ENABLE_CAP(KVM_CAP_ARM_NISV_TO_USER) on the VM: such an access exits to the VMM. */
  enable: boolean;
  /** At a KVM_EXIT_ARM_NISV: 'external-abort' injects one into the guest and runs on; 'fail'
   *  ends the run. 'no-exit': KVM cannot report the access (KVM_RUN fails with ENOSYS). */
  onAccess: 'external-abort' | 'fail' | 'no-exit';
}

/** The decision table: the row for the capabilities KVM offers. */
export const NISV_POLICIES: readonly { nisvToUser: boolean; injectExtDabt: boolean; policy: NisvPolicy }[] = Object.freeze([
  { nisvToUser: true, injectExtDabt: true, policy: { enable: true, onAccess: 'external-abort' } },
  // Reported, but no way to tell the guest: its instruction cannot complete.
  { nisvToUser: true, injectExtDabt: false, policy: { enable: true, onAccess: 'fail' } },
  // Nothing to enable: an injection alone is no help when the access never reaches the VMM.
  { nisvToUser: false, injectExtDabt: true, policy: { enable: false, onAccess: 'no-exit' } },
  { nisvToUser: false, injectExtDabt: false, policy: { enable: false, onAccess: 'no-exit' } },
]);

/** The row of NISV_POLICIES for what KVM offers. */
export function nisvPolicy(nisvToUser: boolean, injectExtDabt: boolean): NisvPolicy {
  checkBool('nisvToUser', nisvToUser); checkBool('injectExtDabt', injectExtDabt);
  return NISV_POLICIES.find((r) => r.nisvToUser === nisvToUser && r.injectExtDabt === injectExtDabt)!.policy;
}

/** Asks KVM for both capabilities on `vm` and carries out the policy's one setup step (enabling
 *  KVM_CAP_ARM_NISV_TO_USER); before any vCPU runs. Returns the policy for answerNisv. */
export function setUpNisv(vm: Vm): NisvPolicy {
  if (!(vm instanceof Vm)) badArgument('vm', vm, 'a Vm (Vm.create)');
  const p = nisvPolicy(vm.checkExtension(KVM_CAP_ARM_NISV_TO_USER) > 0, vm.checkExtension(KVM_CAP_ARM_INJECT_EXT_DABT) > 0);
  if (p.enable) vm.enableCap(KVM_CAP_ARM_NISV_TO_USER);
  return p;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** Answers one KVM_EXIT_ARM_NISV of `vcpu` at `faultIpa`: with 'external-abort', makes the abort
 *  pending (the guest takes it when the vCPU runs again) and returns.
 *  @throws VfioError 'not-supported' when the policy cannot answer the guest (the run must end). */
export function answerNisv(vcpu: Vcpu, policy: NisvPolicy, faultIpa: bigint): void {
  if (!(vcpu instanceof Vcpu)) badArgument('vcpu', vcpu, 'a Vcpu (Vm.addVcpu)');
  checkObject('policy', policy); checkOneOf('policy.onAccess', policy.onAccess, ['external-abort', 'fail', 'no-exit'] as const); checkBigU64('faultIpa', faultIpa);
  if (policy.onAccess === 'external-abort') { vcpu.injectExternalDataAbort(); return; }
  throw new VfioError({
    kind: 'not-supported', offset: faultIpa,
    message: `vCPU ${vcpu.id}: the guest accessed ${hex(faultIpa)}, where no memory is, with an instruction KVM cannot decode (no valid syndrome: a load/store pair or a writeback form), and this KVM cannot inject an external data abort to answer it (no KVM_CAP_ARM_INJECT_EXT_DABT)`,
    hint: 'make the guest use single loads and stores without writeback on device memory (as Linux\'s readl/writel do), or run on a host kernel with KVM_CAP_ARM_INJECT_EXT_DABT (Linux 5.5 and later)',
  });
}

/** ENOSYS from KVM_RUN on arm64 (errno 38). */
export const ENOSYS = 38;

/** KVM_RUN failed with ENOSYS (`cause`) on a VM whose policy is 'no-exit': the error to end the run
 *  with, errno and syscall kept. */
export function nisvUnreported(vcpuId: number, cause: VfioError): VfioError {
  return new VfioError({
    kind: 'not-supported', errno: cause.errno, errnoName: cause.errnoName, syscall: cause.syscall, cause,
    message: `vCPU ${vcpuId}: the guest accessed an address where no memory is with an instruction KVM cannot decode (no valid syndrome: a load/store pair or a writeback form), and this KVM cannot report which address (no KVM_CAP_ARM_NISV_TO_USER)`,
    hint: 'make the guest use single loads and stores without writeback on device memory (as Linux\'s readl/writel do), or run on a host kernel with KVM_CAP_ARM_NISV_TO_USER (Linux 5.5 and later)',
  });
}

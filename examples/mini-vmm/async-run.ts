// KVM_RUN off the main thread, for the relay comparison (vmm.ts runGuestRelay): the same ioctl the
// shim makes, called through koffi's `.async` so it blocks a libuv threadpool thread and the
// event loop stays free to carry IRQ events. The shim has no async calls (its functions are
// synchronous by design), so this lives in the example; it is the one koffi use outside shim/.
// errno does not cross threads: a failure reports the return value only.
// Not responsible for: decoding the exit (abi.ts), kicking a running vCPU (nothing here can).
import koffi from 'koffi';
import { KVM_RUN } from '../../shim/index';

type AsyncIoctl = { async(fd: number, req: number, arg: null, cb: (err: unknown, res: number) => void): void };
let ioctl: AsyncIoctl | undefined;

/** KVM_RUN on a libuv thread; resolves with the ioctl's return value (0 on an exit to userspace). */
export function kvmRunAsync(vcpu: number): Promise<number> {
  ioctl ??= koffi.load('libc.so.6').func('ioctl', 'int', ['int', 'unsigned long', 'void *']) as unknown as AsyncIoctl;
  return new Promise((resolve, reject) => ioctl!.async(vcpu, KVM_RUN, null, (err, res) => (err ? reject(err) : resolve(res))));
}

// The lab's NVMe controller (QEMU's nvme, 1b36:0010, lab/boot.mjs) as the lab tests in L1 see it:
// its address, its sysfs paths, and moving it between drivers (lab/init.sh leaves it on vfio-pci).
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

export const NVME = '0000:00:03.0';
export const NVME_SYSFS = `/sys/bus/pci/devices/${NVME}`;
/** Vendor and device ID of QEMU's NVMe controller. */
export const NVME_ID = '1b36:0010';
/** The SHA-256 of the disk's pattern the host put on L1's command line (lab/boot.mjs). */
export function diskSha256(): string | undefined {
  return readFileSync('/proc/cmdline', 'utf8').match(/(?:^|\s)vfiokit\.disk_sha256=([0-9a-f]{64})(?:\s|$)/)?.[1];
}

export const nvmeDriver = (): string | undefined => existsSync(`${NVME_SYSFS}/driver`) ? readlinkSync(`${NVME_SYSFS}/driver`).split('/').pop() : undefined;

/** Moves the function to `driver` (unbind from the current one, driver_override, drivers_probe). */
export function rebindNvme(driver: string): void {
  if (existsSync(`${NVME_SYSFS}/driver`)) writeFileSync(`${NVME_SYSFS}/driver/unbind`, NVME);
  writeFileSync(`${NVME_SYSFS}/driver_override`, driver);
  writeFileSync('/sys/bus/pci/drivers_probe', NVME);
}

/** The /dev/nvme* nodes L1 has. */
export const nvmeNodes = (): string[] => readdirSync('/dev').filter((n) => n.startsWith('nvme') || /^ng\d/.test(n));

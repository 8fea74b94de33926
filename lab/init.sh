#!/bin/busybox sh
# The lab guest's /init: mounts, binds the lab devices to VFIO, runs the command given on the
# kernel command line (lab.cmd=<base64url>), reports its exit status with a marker, powers off.
/bin/busybox --install -s /bin
export PATH=/opt/vfiokit/bin:/bin:/usr/bin HOME=/root NO_COLOR=1 FORCE_COLOR=0
M='@@VFIOKIT-LAB@@'
mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null; mount -t tmpfs tmpfs /tmp
echo "$M {\"ev\":\"init\",\"kernel\":\"$(uname -r)\"}"
bind() { # bus device driver
  d=/sys/bus/$1/devices/$2
  [ -e "$d" ] || { echo "lab: $2 not present"; return; }
  # A builtin driver may have taken the device at boot (rtc-pl031 takes the pl031): let it go first.
  [ -e "$d/driver" ] && echo "$2" > "$d/driver/unbind"
  echo "$3" > "$d/driver_override"; echo "$2" > "/sys/bus/$1/drivers_probe" 2>/dev/null
  drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
  echo "$M {\"ev\":\"bound\",\"dev\":\"$2\",\"driver\":\"$drv\"}"
}
# The two edu functions of slot 04 (lab/boot.mjs): probed once by vfio-pci and let go, so they end
# on no driver but in their IOMMU group (on this device-tree machine the SMMU takes a device into
# its group when a driver probes it; the guest has no edu driver that would).
release() { # bus device driver
  d=/sys/bus/$1/devices/$2
  [ -e "$d" ] || { echo "lab: $2 not present"; return; }
  echo "$3" > "$d/driver_override"; echo "$2" > "/sys/bus/$1/drivers_probe" 2>/dev/null
  [ -e "$d/driver" ] && echo "$2" > "$d/driver/unbind"
  echo > "$d/driver_override"
  drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
  echo "$M {\"ev\":\"bound\",\"dev\":\"$2\",\"driver\":\"$drv\"}"
}
bind amba 9010000.pl031 vfio-amba
bind platform a000000.virtio_mmio vfio-platform
bind pci 0000:00:02.0 vfio-pci
# QEMU's NVMe (lab/boot.mjs), for the nested guest's disk: L1's own nvme driver is built in (L1 and
# L2 boot one Image) and takes it at boot; unbinding it removes L1's controller and namespace, and
# L1 must keep no node of them.
bind pci 0000:00:03.0 vfio-pci
for n in /dev/nvme* /dev/ng[0-9]*; do [ -e "$n" ] && echo "lab: L1 still has $n after 0000:00:03.0 went to vfio-pci"; done
# ivshmem (lab/boot.mjs): its 1 GiB 64-bit BAR for the nested guest's 64-bit PCI window.
bind pci 0000:00:05.0 vfio-pci
release pci 0000:00:04.0 vfio-pci
release pci 0000:00:04.1 vfio-pci
cmd=lab-suite
for a in $(cat /proc/cmdline); do case "$a" in lab.cmd=*) cmd=$(echo "${a#lab.cmd=}" | tr '_-' '/+' | awk '{ n = length($0) % 4; if (n == 2) $0 = $0 "=="; else if (n == 3) $0 = $0 "="; print }' | base64 -d) ;; esac; done
echo "$M {\"ev\":\"cmd\"}"
cd /opt/vfiokit
sh -c "$cmd"
echo "$M {\"ev\":\"exit\",\"code\":$?}"
sync
poweroff -f

// The mini-vmm as a command, for a Linux arm64 host (or the lab guest) with /dev/kvm and the pl031
// bound to vfio-amba:
//   node examples/mini-vmm/guest/build.mjs
//   npx esbuild examples/mini-vmm/main.ts --bundle --platform=node --format=esm --target=node20 \
//     --external:koffi --loader:.wasm=binary --loader:.bin=binary --outfile=build/mini-vmm.mjs
//   node build/mini-vmm.mjs [--trap]
// Prints the guest's console as it comes, then what the VMM saw. Exit status 0 when the guest
// powered off through PSCI.
import { readFileSync } from 'node:fs';
import guest from '../../build/guest/pl031.bin';
import { guestDtb } from './dtb';
import { LAYOUT, runGuest } from './vmm';

const trap = process.argv.includes('--trap');
const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
const r = runGuest({
  guest, deviceMmio: trap ? 'trap' : 'memslot',
  dtb: (p, dev) => guestDtb({ hostDtb, deviceName: '9010000.pl031', regionGpa: p.regionGpa, spi: p.spi, irqFlags: dev.irqs[0]!.flags,
    ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bus: LAYOUT.bus }),
  onLine: (line, ms) => console.log(`[${ms.toFixed(1)} ms] ${line}`),
});
console.log(`pl031 at 0x${r.placement.regionGpa.toString(16)}, INTID ${r.placement.intid}; ${r.exits.length} exits, ${r.deviceExits} for the device; end: ${r.end}`);
r.waits.forEach((w, i) => console.log(`wait ${i + 1}: ${w.wakeups} VMM wake-ups, ${(Number(w.blockedNs) / 1e6).toFixed(1)} ms in KVM_RUN`));
process.exitCode = r.end === 'shutdown' ? 0 : 1;

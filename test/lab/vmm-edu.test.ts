// Runs INSIDE the lab guest (arm64, KVM under TCG-emulated EL2): the mini-vmm's second
// demonstration (examples/mini-vmm/edu.ts). QEMU's edu (0000:00:02.0) through vfio-pci behind
// the SMMUv3: guest RAM mapped with mapDma at IOVA = guest physical address, BAR0 a memslot. The
// guest (guest/edu.S) copies a pattern RAM -> edu -> RAM with edu's DMA engine and prints it; then
// aims a DMA at the IOVA right after its RAM, which the IOMMU does not translate: the VMM's memory
// there keeps its canary, and the host kernel logs the SMMU's fault.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import guest from '../../build/guest/edu.bin';
import { EDU_LAYOUT, runEduGuest } from '../../examples/mini-vmm/edu';
import { openFds } from '../support/fds';
import { kmsgFrom, smmuFaults } from '../support/kmsg';

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

test('mini-vmm + edu: the guest DMAs a pattern RAM -> edu -> RAM through the SMMUv3; a DMA outside its RAM writes nothing', () => {
  const before = openFds();
  const log = kmsgFrom();
  const t0 = process.hrtime.bigint();
  const r = runEduGuest({ guest, onLine: (l, t) => console.log(`  [${t.toFixed(1)} ms] guest: ${l}`) });
  const kernel = log();
  console.log(`  run: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);
  console.log(`  edu BAR0 at 0x${r.barGpa.toString(16)}; PCI_COMMAND 0x${r.command.toString(16)}; DMA mappings ${r.dmaMappings.map((m) => `IOVA 0x${m.iova.toString(16)}+0x${m.size.toString(16)}`).join(', ')}`);
  console.log(`  guest console:\n${r.console.replace(/^/gm, '    | ')}`);
  console.log(`  exits: ${r.exits.length}; console bytes ${r.console.length}; device exits ${r.deviceExits}; stray ${r.strayExits}; end ${r.end}`);
  console.log(`  VMM after the run: RAM+0x${EDU_LAYOUT.src.toString(16)} ${hex(r.pattern)}; RAM+0x${EDU_LAYOUT.dst.toString(16)} ${hex(r.copied)}; canary bytes changed ${r.canaryChanged}`);
  // arm-smmu-v3 prints "event 0x10 received:" (F_TRANSLATION) and the event's four dwords;
  // the third holds the faulting input address (the IOVA).
  const { lines: smmu, iovas: faultIovas } = smmuFaults(kernel);
  console.log(`  host kernel log during the run: ${smmu.length} arm-smmu-v3 lines, ${faultIovas.length} translation faults at IOVA ${[...new Set(faultIovas)].map((a) => `0x${a.toString(16)}`).join(', ')}`);
  console.log(smmu.slice(0, 5).map((l) => `    ${l}`).join('\n'));

  assert.is(r.end, 'shutdown', 'PSCI SYSTEM_OFF ended the run');
  assert.ok(r.console.startsWith('edu id 010000ed\n'), 'edu identified through the BAR0 memslot');
  assert.is(r.deviceExits, 0, 'no MMIO exit for edu: the guest drove it through the memslot');
  assert.is(r.strayExits, 0);
  assert.is(r.exits.length, r.console.length + 1, 'exits = console bytes + SYSTEM_OFF');
  assert.is(r.command & 0x6, 0x6, 'Memory + BusMaster enabled by the VMM');
  assert.equal(r.dmaMappings.map((m) => [m.iova, m.size]), [[EDU_LAYOUT.ram.gpa, EDU_LAYOUT.ram.size]], 'guest RAM is the only DMA mapping');
  const pattern = Buffer.from('vfiokit edu dma!');
  assert.equal([...r.pattern], [...pattern], 'the guest wrote its pattern');
  assert.equal([...r.copied], [...pattern], 'the DMA round trip landed in guest RAM');
  assert.ok(r.console.includes(`RAM -> edu -> RAM: ${hex(pattern)}\nsame as the pattern\n`), 'the guest printed the copied bytes');
  assert.ok(r.console.includes(`edu -> IOVA ${EDU_LAYOUT.outside.toString(16).padStart(8, '0')} (outside RAM): done\n`), 'the stray DMA was programmed and edu finished it');
  assert.is(r.canaryChanged, 0, 'the VMM memory right after guest RAM was not written');
  assert.ok(faultIovas.length >= 1, 'the SMMU reported a translation fault for the stray DMA');
  for (const a of faultIovas) assert.ok(a >= EDU_LAYOUT.outside && a < EDU_LAYOUT.outside + BigInt(EDU_LAYOUT.len), `fault at 0x${a.toString(16)}: the stray DMA's IOVA, nothing else`);
  assert.equal(openFds(), before, 'open fds equal before and after');
});

test.run();

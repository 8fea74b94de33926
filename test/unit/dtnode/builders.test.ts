// Device-specific builders (assembly/dtnode/builders.ts, table keyed by compatible): calxeda,hb-xgmac
// and amd,xgbe-seattle-v1a as QEMU's sysbus-fdt.c described them, on a host tree compiled by dtc
// from the source below (modelled on the Seattle and Midway device trees), checked with fdtget.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { guestNodeFor } from '../../../src/core/dtnode';
import { VfioError } from '../../../src/errors';

const HOST_DTS = `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  dmaclk: clk-dma { compatible = "fixed-clock"; #clock-cells = <0>; clock-frequency = <250000000>; clock-output-names = "xgbe_dma_clk"; };
  ptpclk: clk-ptp { compatible = "fixed-clock"; #clock-cells = <0>; clock-frequency = <125000000>; clock-output-names = "xgbe_ptp_clk"; };
  ethernet@e0700000 {
    compatible = "amd,xgbe-seattle-v1a";
    reg = <0 0xe0700000 0 0x80000>, <0 0xe0780000 0 0x80000>, <0 0xe1240800 0 0x400>,
          <0 0xe1250000 0 0x60>, <0 0xe12500f8 0 0x4>;
    interrupts = <0 325 4>, <0 346 1>;
    amd,per-channel-interrupt;
    amd,speed-set = <0>;
    amd,serdes-blwc = <1 1 0>;
    phy-mode = "xgmii";
    mac-address = [02 a1 a2 a3 a4 a5];
    clocks = <&dmaclk>, <&ptpclk>;
    clock-names = "dma_clk", "ptp_clk";
    dma-coherent;
  };
  ethernet@fff50000 {
    compatible = "calxeda,hb-xgmac";
    reg = <0 0xfff50000 0 0x1000>;
    interrupts = <0 77 4>, <0 78 4>, <0 79 4>;
  };
};
`;
const dir = mkdtempSync(join(tmpdir(), 'vfiokit-builders-'));
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
writeFileSync(join(dir, 'host.dts'), HOST_DTS);
tool('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', join(dir, 'host.dtb'), join(dir, 'host.dts')]);
const host = new Uint8Array(readFileSync(join(dir, 'host.dtb')));
const save = (n: string, b: Uint8Array) => { const p = join(dir, n); writeFileSync(p, b); return p; };
const statusOf = (fn: () => unknown) => { try { fn(); return 'OK'; } catch (e) { return (e as VfioError).statusName ?? String(e); } };
const xgbeRegions = [0x0c00_0000n, 0x0c08_0000n, 0x0c10_0000n, 0x0c10_1000n, 0x0c10_2000n];

test('amd,xgbe-seattle-v1a: five regs, both clocks copied with new phandles, host properties copied', () => {
  const g = guestNodeFor({ hostDtb: host, hostNodePath: '/ethernet@e0700000', placement: { regions: xgbeRegions, spis: [10, 11] }, irqFlags: [7, 1], bus: { base: 0x0c00_0000n, size: 0x0200_0000n }, firstPhandle: 0x100 });
  const f = save('xgbe.dtb', g.dtb);
  const dev = '/platform-bus@c000000/ethernet@c000000';
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'reg']), '0 c000000 0 80000 0 c080000 0 80000 0 c100000 0 400 0 c101000 0 60 0 c102000 0 4');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'interrupts']), '0 a 4 0 b 1');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'clocks']), '100 101');
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'clock-names']), 'dma_clk ptp_clk');
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'phy-mode']), 'xgmii');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'amd,serdes-blwc']), '1 1 0');
  assert.is(tool('fdtget', ['-t', 'bx', f, dev, 'mac-address']), '2 a1 a2 a3 a4 a5');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'amd,per-channel-interrupt']), '');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'dma-coherent']), '');
  assert.is(tool('fdtget', ['-t', 'u', f, '/clk-dma', 'clock-frequency']), '250000000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/clk-ptp', 'phandle']), '101');
  assert.is(g.phandlesUsed, 2);
});

test('amd,xgbe-seattle-v1a refuses a node without phy-mode and a placement with four regions', () => {
  assert.is(statusOf(() => guestNodeFor({ hostDtb: host, hostNodePath: '/ethernet@e0700000', placement: { regions: xgbeRegions.slice(0, 4), spis: [] }, irqFlags: [] })), 'DTNODE_REG_COUNT');
  const f0 = save('nophy.dtb', host);
  tool('fdtput', ['-d', f0, '/ethernet@e0700000', 'phy-mode']);
  assert.is(statusOf(() => guestNodeFor({ hostDtb: new Uint8Array(readFileSync(f0)), hostNodePath: '/ethernet@e0700000', placement: { regions: xgbeRegions, spis: [] }, irqFlags: [] })), 'DTNODE_MISSING_PROP');
});

test('calxeda,hb-xgmac: dma-coherent added, every interrupt level-high even for edge flags', () => {
  const g = guestNodeFor({ hostDtb: host, deviceName: 'fff50000.ethernet', placement: { regions: [0x0c20_0000n], spis: [20, 21, 22] }, irqFlags: [1, 1, 7] });
  const f = save('xgmac.dtb', g.dtb);
  assert.is(tool('fdtget', ['-t', 's', f, '/ethernet@c200000', 'compatible']), 'calxeda,hb-xgmac');
  assert.is(tool('fdtget', ['-t', 'x', f, '/ethernet@c200000', 'interrupts']), '0 14 4 0 15 4 0 16 4');
  assert.is(tool('fdtget', ['-t', 'x', f, '/ethernet@c200000', 'dma-coherent']), '');
  rmSync(dir, { recursive: true, force: true });
});

test.run();

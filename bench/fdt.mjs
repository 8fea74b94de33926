// FDT build and parse: vfiokit (FdtBuilder, parseFdt over the Wasm core) against Debian's libfdt
// (bench/native/fdt_bench.c, the same work) in the same run. The work: a platform-bus tree of
// DEVICES device nodes, each with compatible, reg and interrupts, built with the sequential writer;
// then parsed back: the whole blob validated, every node walked and its reg read with the parent's
// cells. Medians of SAMPLES rounds after warm-up; writes bench/results/fdt.json. Absolute times on
// a shared machine mean little: the ratio to C is the figure.
//   node bench/fdt.mjs            (DEVICES=1000 SAMPLES=200 by default)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, writeResults } from './lib.mjs';
import { FdtBuilder, parseFdt } from '../src/fdt/index';

const DEVICES = Number(process.env.DEVICES ?? 1000);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const WARMUP = 20;


function build() {
  const b = new FdtBuilder({ initialSize: 128 << 10 });
  b.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2).propString('compatible', 'linux,dummy-virt');
  b.beginNode('platform-bus@c000000').propStrings('compatible', ['qemu,platform', 'simple-bus'])
    .propU32('#address-cells', 2).propU32('#size-cells', 2).propEmpty('ranges');
  for (let i = 0; i < DEVICES; i++) {
    const addr = 0x0c00_0000n + BigInt(i) * 0x1000n;
    b.beginNode(`dev@${addr.toString(16)}`).propString('compatible', 'vfiokit,bench-dev')
      .propU64('reg', addr, 0x1000n).propU32('interrupts', 0, 112 + (i % 64), 4).endNode();
  }
  b.endNode().endNode();
  return b.finish();
}

function parse(blob) {
  const fdt = parseFdt(blob);
  let sum = 0n, regs = 0;
  for (const n of fdt.nodes()) for (const r of n.reg()) { sum += r.address + r.size; regs++; }
  return { regs, sum };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const tb = [], tp = [];
let blob, out;
for (let i = 0; i < SAMPLES + WARMUP; i++) {
  const t0 = process.hrtime.bigint();
  blob = build();
  const t1 = process.hrtime.bigint();
  out = parse(blob);
  const t2 = process.hrtime.bigint();
  if (i >= WARMUP) { tb.push(Number(t1 - t0)); tp.push(Number(t2 - t1)); }
}
if (out.regs !== DEVICES) throw new Error(`parsed ${out.regs} reg entries, expected ${DEVICES}`);

const exe = join(root, 'build', 'bench', 'fdt_bench');
mkdirSync(join(root, 'build', 'bench'), { recursive: true });
execFileSync('cc', ['-O2', '-o', exe, join(root, 'bench', 'native', 'fdt_bench.c'), '-lfdt']);
const c = JSON.parse(execFileSync(exe, [String(DEVICES), String(SAMPLES)], { encoding: 'utf8' }));
if (c.regs !== DEVICES) throw new Error(`libfdt parsed ${c.regs} reg entries`);

const work = `${DEVICES} device nodes (compatible, reg, interrupts) under a platform bus, ${SAMPLES} rounds`;
writeResults('fdt-build', {
  what: `FDT build with the sequential writer: ${work}`, reference: 'libfdt fdt_sw (Debian libfdt-dev)', goal: 2.0,
  results: [{ name: 'libfdt', median_ns: c.build_median_ns }, { name: 'vfiokit FdtBuilder', median_ns: median(tb) }],
  note: `blob ${blob.length} bytes (libfdt ${c.blob_bytes})`,
});
writeResults('fdt-parse', {
  what: `FDT parse: validate the blob, walk every node, read reg (${work})`, reference: 'libfdt (fdt_check_full + walk)', goal: 2.0,
  results: [{ name: 'libfdt', median_ns: c.parse_median_ns }, { name: 'vfiokit parseFdt', median_ns: median(tp) }],
  note: `build and parse back together (the issue's work): ratio ${((median(tb) + median(tp)) / (c.build_median_ns + c.parse_median_ns)).toFixed(2)}`,
});

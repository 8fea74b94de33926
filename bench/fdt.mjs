// FDT build and parse: vfiokit (FdtBuilder, parseFdt over the Wasm core) against Debian's libfdt
// (bench/native/fdt_bench.c, the same work) in the same run. The work: a platform-bus tree of
// DEVICES device nodes, each with compatible, reg and interrupts, built with the sequential writer;
// then parsed back: the whole blob validated, every node walked and its reg read with the parent's
// cells. Medians of SAMPLES rounds after warm-up; writes bench/results/fdt.json. Absolute times on
// a shared machine mean little: the ratio to C is the figure.
//   node bench/fdt.mjs            (DEVICES=1000 SAMPLES=200 by default)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const DEVICES = Number(process.env.DEVICES ?? 1000);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const WARMUP = 20;

// The API, bundled from source with the core inlined (as the package build does).
const bundle = join(root, 'build', 'bench', 'fdt-api.mjs');
mkdirSync(dirname(bundle), { recursive: true });
execFileSync('npx', ['asc', 'assembly/index.ts', '--target', 'release'], { cwd: root, stdio: 'inherit' });
const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: [join(root, 'src', 'fdt', 'index.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'esm',
  target: 'node20', loader: { '.wasm': 'binary' }, logLevel: 'warning',
});
const { FdtBuilder, parseFdt } = await import(pathToFileURL(bundle).href);

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
execFileSync('cc', ['-O2', '-o', exe, join(here, 'native', 'fdt_bench.c'), '-lfdt']);
const c = JSON.parse(execFileSync(exe, [String(DEVICES), String(SAMPLES)], { encoding: 'utf8' }));
if (c.regs !== DEVICES) throw new Error(`libfdt parsed ${c.regs} reg entries`);

const js = { build_median_ns: median(tb), parse_median_ns: median(tp), blob_bytes: blob.length };
const result = {
  bench: 'fdt', date: new Date().toISOString(), node: process.version, devices: DEVICES, samples: SAMPLES,
  work: 'build: platform bus of DEVICES nodes (compatible, reg, interrupts) with the sequential writer; parse: validate the whole blob, walk every node, read reg with the parent cells',
  vfiokit: js,
  libfdt: { build_median_ns: c.build_median_ns, parse_median_ns: c.parse_median_ns, blob_bytes: c.blob_bytes },
  ratio_to_c: {
    build: +(js.build_median_ns / c.build_median_ns).toFixed(2),
    parse: +(js.parse_median_ns / c.parse_median_ns).toFixed(2),
    total: +((js.build_median_ns + js.parse_median_ns) / (c.build_median_ns + c.parse_median_ns)).toFixed(2),
  },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'fdt.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));

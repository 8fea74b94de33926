// The regression corpus: every committed input of every fuzz target (test/fuzz/corpus/<target>/)
// replayed through the fuzz build of the core (build/vfiokit-fuzz.wasm, the same module and the
// same byte decoder libFuzzer runs, see fuzz/run.mjs). An input that traps is a regression: the
// shipped core must never trap on input; one that runs past REPLAY_HANG_MS is a hang. Linear
// memory must not grow over the whole replay. The inputs a fuzzing run found (a crash, a hang)
// are kept in the corpus by fuzz/run.mjs as found-<kind>-<date>-<hash>, and fail here until the
// core is fixed; then they are renamed for what they found and stay as regressions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CORPUS = 'test/fuzz/corpus';
/** ms one input may take in the replay: the slowest committed input replays in a few ms, and
 *  libFuzzer's own bound (fuzz/run.mjs HANG_S) is 10 s under AddressSanitizer. */
const REPLAY_HANG_MS = 2000;
const bytes = readFileSync('build/vfiokit-fuzz.wasm');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
const x = instance.exports as Record<string, unknown> & { memory: WebAssembly.Memory; scratch_ptr(): number };
const targets = existsSync(CORPUS) ? readdirSync(CORPUS).sort() : [];

test('every fuzz target has a committed corpus and an export in the fuzz core', () => {
  const exported = Object.keys(x).filter((k) => k.startsWith('fuzz_')).map((k) => k.slice(5)).sort();
  assert.ok(exported.length >= 2, `fuzz exports: ${exported.join(', ')}`);
  assert.equal(targets, exported, 'one corpus directory per fuzz export');
});

for (const t of targets) {
  test(`corpus of ${t}: every input runs without a trap or a hang, and memory stays fixed`, () => {
    const run = x[`fuzz_${t}`] as (p: number, n: number) => number;
    const files = readdirSync(join(CORPUS, t)).sort();
    assert.ok(files.length > 0, `test/fuzz/corpus/${t} is empty`);
    const before = x.memory.buffer.byteLength;
    for (const f of files) {
      const input = readFileSync(join(CORPUS, t, f));
      const p = x.scratch_ptr() >>> 0;
      new Uint8Array(x.memory.buffer).set(input, p);
      const t0 = performance.now();
      try { run(p, input.length); } catch (e) { assert.unreachable(`${t}/${f} trapped: ${(e as Error).message}`); }
      const ms = performance.now() - t0;
      assert.ok(ms <= REPLAY_HANG_MS, `${t}/${f} ran ${ms.toFixed(0)} ms (a hang: bound ${REPLAY_HANG_MS} ms)`);
    }
    assert.is(x.memory.buffer.byteLength, before);
  });
}

test.run();

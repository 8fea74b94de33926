// Host side of the lab benchmarks: the console measurement lines and how they become results
// (bench/lab/parse.mjs). No boot, no timing asserted: the numbers here are made up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore: a plain ESM module of the bench scripts
import { MARK, parseLine, summarize, fileName } from '../../../bench/lab/parse.mjs';

const line = (o: object): string => `${MARK} ${JSON.stringify(o)}`;
const m = (impl: string, rounds: number[], more: object = {}) => ({ bench: 'lab-trap', case: 'read32 DR', impl, unit: 'ns', rounds, ...more });

test('a console line without the marker is not a measurement', () => {
  assert.is(parseLine('[    1.234] vfio-pci 0000:00:02.0: enabling device'), undefined);
  assert.is(parseLine(''), undefined);
});

test('a marker line is read wherever it starts on the line (the console may prefix it)', () => {
  const v = parseLine(`\r${line(m('c', [1, 2]))}`);
  assert.equal(v, m('c', [1, 2]));
});

test('a marker line that is not JSON, or lacks bench/case/impl/rounds, is an error, not a result', () => {
  assert.ok(parseLine(`${MARK} {"bench":`).error.includes('unreadable'));
  assert.ok(parseLine(line({ bench: 'lab-trap', case: 'x', impl: 'c' })).error.includes('without'));
  assert.ok(parseLine(line({ bench: 'lab-trap', case: 'x', impl: 'c', rounds: [1, 'a'] })).error.includes('without'));
  assert.equal(parseLine(line({ error: 'trap-c exited with status 1' })), { error: 'trap-c exited with status 1' });
});

test('the C reference comes first; the passes are pooled; the largest p99 is kept', () => {
  const { docs, problems } = summarize([m('js', [30, 10], { p99: 90 }), m('c', [2, 4], { p99: 5 }), m('c', [3], { p99: 7 }), m('js', [20], { p99: 60 })]);
  assert.equal(problems, []);
  assert.is(docs.length, 1);
  const { file, doc } = docs[0];
  assert.is(file, 'lab-trap', 'one case: the file is named for the bench');
  assert.is(doc.goal, null, 'issue 13 retired the trap path\'s goal against C (1.1x the floor instead)');
  assert.match(doc.results[0].name, /^C reference/);
  assert.is(doc.results[0].median_ns, 3);
  assert.is(doc.results[0].p99_ns, 7);
  assert.is(doc.results[0].passes, 2);
  assert.is(doc.results[1].median_ns, 20);
  assert.is(doc.results[1].p99_ns, 90);
  assert.match(doc.note, /p99 of single operations/);
});

test('a case measured on one side only is a problem, not a result', () => {
  const { docs, problems } = summarize([m('c', [1])]);
  assert.is(docs.length, 0);
  assert.equal(problems, ['lab-trap read32 DR: no vfiokit measurement']);
});

test('error lines become problems', () => {
  const { problems } = summarize([{ error: 'dma.mjs exited with status 1' }, m('c', [1]), m('js', [2])]);
  assert.equal(problems, ['dma.mjs exited with status 1']);
});

test('several cases of a bench get a file each, named for the case', () => {
  assert.is(fileName('lab-trap', 'write32 IMSC', 2), 'lab-trap-write32-imsc');
  assert.is(fileName('lab-open', 'edu (vfio-pci, type1)', 2), 'lab-open-edu');
  assert.is(fileName('lab-dma', 'map 4 KiB pieces', 4), 'lab-dma-map-4k');
  assert.is(fileName('lab-dma', 'unmap 2048 KiB pieces', 4), 'lab-dma-unmap-2m');
  assert.is(fileName('lab-memory', 'pl031 open and mapped', 1), 'lab-memory');
});

test('memory: the bare node baseline and the core size go into the note', () => {
  const mem = (impl: string, bytes: number, more: object = {}) => ({ bench: 'lab-memory', case: 'pl031 open and mapped', impl, unit: 'bytes', rounds: [bytes], ...more });
  const { docs } = summarize([mem('c', 600 << 10, { before_bytes: 500 << 10 }), mem('js', 48 << 20, { core_memory_bytes: 16 << 20 }), mem('node', 36 << 20)]);
  assert.is(docs[0].doc.goal, null);
  assert.is(docs[0].doc.results.length, 2, 'the baseline is a note, not a row');
  assert.match(docs[0].doc.note, /node alone .*36\.0 MiB; vfiokit over bare node: 12\.0 MiB/);
  assert.match(docs[0].doc.note, /linear memory: 16\.0 MiB/);
});

test('diagnostic lines (impl diag) are pooled by case and kept apart from the results', () => {
  const d = (rounds: number[]) => ({ bench: 'diag', case: 'koffi pread', impl: 'diag', unit: 'ns', rounds });
  const { docs, problems, diagnostics } = summarize([d([5, 9]), d([7])]);
  assert.is(docs.length, 0);
  assert.equal(problems, []);
  assert.equal(diagnostics, [{ case: 'koffi pread', median_ns: 7 }]);
});

test('guest RAM mapping: one file per way, the time for all of it becomes GiB/s, the goal is 1.05 for one mapping', () => {
  const r = (impl: string, rounds: number[], bench = 'lab-ram-map', cas = 'iommufd hugetlb') => ({ bench, case: cas, impl, unit: 'ns', rounds, total: 2 ** 30, piece: 2 ** 30, ops: 1, iommu: 'iommufd', memory: 'hugetlb', runs: impl === 'c' ? 512 : 513 });
  const floor = { bench: 'lab-ram-map', case: 'lab-ram-map iommufd hugetlb: bare koffi (floor)', impl: 'diag', unit: 'ns', rounds: [0.2e9] };
  const { docs, problems } = summarize([r('c', [0.5e9, 0.5e9]), r('js', [0.25e9]), floor, r('c', [1e9], 'lab-ram-map-pieces'), r('js', [2e9], 'lab-ram-map-pieces'),
    ...['c', 'js'].flatMap((i) => [r(i, [1e9], 'lab-ram-map', 'type1 anonymous'), r(i, [1e9], 'lab-ram-map-pieces', 'type1 anonymous')])]);
  assert.equal(problems, []);
  const one = docs.find((d: { file: string }) => d.file === 'lab-ram-map-iommufd-hugetlb');
  const pieces = docs.find((d: { file: string }) => d.file === 'lab-ram-map-pieces-iommufd-hugetlb');
  assert.ok(one && pieces, docs.map((d: { file: string }) => d.file).join(', '));
  assert.is(one.doc.goal, 1.05);
  assert.is(pieces.doc.goal, null);
  assert.is(one.doc.results[0].gib_per_s, 2, '1 GiB in 0.5 s');
  assert.is(one.doc.results[1].gib_per_s, 4);
  assert.is(pieces.doc.results[1].gib_per_s, 0.5);
  assert.match(one.doc.note, /iommufd, hugetlb memory; physically contiguous runs: C 512, vfiokit 513/);
  assert.equal(one.doc.diagnostics, [{ name: 'bare koffi (floor)', median_ns: 0.2e9 }], 'the case\'s floor goes into its file');
  assert.is(one.doc.results[1].floor, 'bare koffi (floor)');
  assert.is(pieces.doc.diagnostics, undefined);
});

test('lab-open: its bare-koffi floor (the first diagnostic named for the case) and the goal of 1.1x the floor go into its file, the other diagnostics of the case beside it', () => {
  const cas = 'edu (vfio-pci, type1)';
  const m = (impl: string, rounds: number[], c = cas) => ({ bench: impl === 'diag' ? 'diag' : 'lab-open', case: c, impl, unit: 'ns', rounds });
  const { docs } = summarize([m('c', [1e6]), m('js', [3e6]), m('diag', [2e6], `lab-open ${cas}: bare koffi (the floor)`), m('diag', [6e4], `lab-open ${cas}: sysfs lookups as openDevice makes them (x)`),
    m('diag', [1.5e5], `lab-open ${cas}: the same sysfs lookups through node's fs (y)`)]);
  const d = docs.find((x: { file: string }) => x.file === 'lab-open')!.doc;
  assert.is(d.floorGoal, 1.1);
  assert.is(d.results[1].floor, 'bare koffi (the floor)');
  assert.equal(d.diagnostics.map((x: { name: string }) => x.name), ['bare koffi (the floor)', 'sysfs lookups as openDevice makes them (x)', 'the same sysfs lookups through node\'s fs (y)']);
  // The ratios named in BENCHES: those whose rows exist (no bare-koffi lookups here: left out).
  assert.equal(d.extra, { goal_before_issue_13: 2, sysfs_shim_to_fs_ratio: 0.4, sysfs_fs_share_of_cycle_ratio: 0.05, sysfs_shim_share_of_cycle_ratio: 0.02 });
});

test.run();

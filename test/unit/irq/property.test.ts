// Property tests of the IRQ machine over random event sequences (fast-check). A host stand-in
// carries out the actions and checks the invariants; a reference model written from the state
// table (assembly/irq/machine.ts) predicts every action list exactly.
//   - no IRQ is lost: each fire is delivered or coalesced by the documented rule, or still queued
//   - none is delivered twice: no ASSERT of a line that is already asserted; deliveries == fires
//     minus coalesced once drained
//   - an automasked (level) line is unmasked exactly once per EOI, an edge line never
//   - mapping is never enabled while a line is asserted; at most one line is asserted
//   - a too-small output buffer changes nothing; linear memory does not grow
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { IrqMachine, LEVEL_FLAGS, EDGE_FLAGS, VFIO_IRQ_INFO_NORESIZE, type IrqAction, type PciIrqMode } from '../../../src/core/irq-machine';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { rawIrq } from './raw-exports';

const RUNS = Number(process.env.IRQ_PROPERTY_RUNS ?? 500);
const TIMEOUT = 1_100_000_000n;
const str = (a: IrqAction) => (a.arg === 0n ? `${a.kind}(${a.index})` : `${a.kind}(${a.index},${a.arg})`);
const memoryBefore = core().exports.memory.buffer.byteLength;

type Cmd =
  | { t: 'fire'; line: number; dt: number }
  | { t: 'access'; dt: number }
  | { t: 'timer'; early: boolean }
  | { t: 'wire'; line: number }
  | { t: 'unwire'; line: number };

const cmd = (lines: number): fc.Arbitrary<Cmd> => fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('fire' as const), line: fc.nat(lines - 1), dt: fc.nat(2_000_000_000) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('access' as const), dt: fc.nat(2_000_000_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('timer' as const), early: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('wire' as const), line: fc.nat(lines - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unwire' as const), line: fc.nat(lines - 1) }) },
);

type LS = 'I' | 'P' | 'A' | 'AP' | 'W';

/** The reference model: the state table, written again independently of the core. */
class Model {
  st: LS[];
  queue: number[] = [];
  active: number | undefined;
  mapped = true;
  armed = false;
  deadline = 0n;
  fires: number[]; coalesced: number[];
  constructor(readonly level: boolean[]) { this.st = level.map(() => 'I'); this.fires = level.map(() => 0); this.coalesced = level.map(() => 0); }

  inject(l: number, out: string[]): void {
    if (this.mapped) { out.push('mmap-disable(0)'); this.mapped = false; }
    this.st[l] = 'A'; this.active = l; out.push(`assert-line(${l})`);
  }
  fire(l: number): string[] | 'IRQ_WIRED' {
    const out: string[] = [];
    const s = this.st[l]!;
    if (s === 'W') return 'IRQ_WIRED';
    this.fires[l]!++;
    if (s === 'I') {
      if (this.active === undefined) this.inject(l, out); else { this.st[l] = 'P'; this.queue.push(l); }
    } else if (s === 'A' && !this.level[l]) { this.st[l] = 'AP'; this.queue.push(l); }
    else this.coalesced[l]!++;
    return out;
  }
  access(now: bigint): string[] {
    const out: string[] = [];
    const l = this.active;
    if (l === undefined) return out;
    out.push(`deassert-line(${l})`);
    if (this.level[l]) out.push(`unmask(${l})`);
    this.st[l] = this.st[l] === 'AP' ? 'P' : 'I';
    this.active = undefined;
    const next = this.queue.shift();
    if (next !== undefined) this.inject(next, out);
    else { this.armed = true; this.deadline = now + TIMEOUT; out.push(`arm-timer(0,${this.deadline})`); }
    return out;
  }
  timer(now: bigint): string[] | 'IRQ_NO_TIMER' {
    if (!this.armed) return 'IRQ_NO_TIMER';
    if (this.active !== undefined) { this.deadline = now + TIMEOUT; return [`arm-timer(0,${this.deadline})`]; }
    if (now < this.deadline) return [`arm-timer(0,${this.deadline})`];
    this.armed = false;
    if (!this.mapped) { this.mapped = true; return ['mmap-enable(0)']; }
    return [];
  }
  wire(l: number): string[] | 'IRQ_WIRED' | 'IRQ_LINE_BUSY' {
    const s = this.st[l]!;
    if (s === 'W') return 'IRQ_WIRED';
    if (s !== 'I') return 'IRQ_LINE_BUSY';
    this.st[l] = 'W';
    return this.level[l]
      ? [`mask(${l})`, `kvm-irqfd-assign(${l},1)`, `set-trigger(${l},1)`, `set-unmask-fd(${l},1)`, `unmask(${l})`]
      : [`kvm-irqfd-assign(${l})`, `set-trigger(${l},1)`];
  }
  unwire(l: number): string[] | 'IRQ_NOT_WIRED' {
    if (this.st[l] !== 'W') return 'IRQ_NOT_WIRED';
    this.st[l] = 'I';
    return this.level[l]
      ? [`mask(${l})`, `set-unmask-fd(${l})`, `set-trigger(${l})`, `kvm-irqfd-deassign(${l})`, `unmask(${l})`]
      : [`set-trigger(${l})`, `kvm-irqfd-deassign(${l})`];
  }
}

/** The host stand-in: carries out actions and checks the invariants that do not need the model. */
class Host {
  asserted = new Set<number>();
  mapped = true;
  timer: bigint | undefined;
  delivered: number[]; unmasks: number[]; eois: number[];
  constructor(readonly level: boolean[]) { this.delivered = level.map(() => 0); this.unmasks = level.map(() => 0); this.eois = level.map(() => 0); }

  /** Carries out the actions of one userspace event (fire, access, timer). */
  apply(acts: IrqAction[]): void {
    const unmaskedNow = new Map<number, number>();
    const deasserted: number[] = [];
    for (const a of acts) {
      switch (a.kind) {
        case 'assert-line':
          assert.not.ok(this.asserted.has(a.index), `line ${a.index} asserted twice without an EOI`);
          assert.not.ok(this.mapped, 'a line was asserted while MMIO was still mapped (its EOI would be missed)');
          this.asserted.add(a.index); this.delivered[a.index]!++;
          assert.ok(this.asserted.size <= 1, 'more than one line ACTIVE');
          break;
        case 'deassert-line':
          assert.ok(this.asserted.delete(a.index), `line ${a.index} deasserted but not asserted`);
          deasserted.push(a.index); this.eois[a.index]!++;
          break;
        case 'unmask': unmaskedNow.set(a.index, (unmaskedNow.get(a.index) ?? 0) + 1); this.unmasks[a.index]!++; break;
        case 'mmap-disable': assert.ok(this.mapped, 'mmap-disable while already disabled'); this.mapped = false; break;
        case 'mmap-enable':
          assert.is(this.asserted.size, 0, 'mapping enabled while an IRQ is ACTIVE');
          assert.not.ok(this.mapped, 'mmap-enable while already enabled'); this.mapped = true; break;
        case 'arm-timer': this.timer = a.arg; break;
        case 'cancel-timer': this.timer = undefined; break;
        default: assert.unreachable(`unexpected action ${a.kind} for a userspace event`);
      }
    }
    // Exactly one UNMASK per EOI of a level line, none for an edge line, none without an EOI.
    for (const l of deasserted) assert.is(unmaskedNow.get(l) ?? 0, this.level[l] ? 1 : 0, `unmasks at the EOI of line ${l}`);
    for (const l of unmaskedNow.keys()) assert.ok(deasserted.includes(l), `line ${l} unmasked without an EOI`);
  }
}

function statusOf(f: () => IrqAction[]): IrqAction[] | string {
  try { return f(); } catch (e) { if (e instanceof VfioError && e.statusName) return e.statusName; throw e; }
}

test('random event sequences on a platform device keep every invariant and match the model', () => {
  fc.assert(fc.property(
    fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }).chain((level) => fc.tuple(fc.constant(level), fc.array(cmd(level.length), { maxLength: 120, size: 'max' }))),
    ([level, cmds]) => {
      using m = new IrqMachine('platform');
      level.forEach((lv, i) => m.declareLine(i, lv ? LEVEL_FLAGS : EDGE_FLAGS));
      m.start();
      using bystander = new IrqMachine('platform');
      bystander.declareLine(0, LEVEL_FLAGS);
      bystander.start();
      bystander.fire(0, 5n);
      const bystanderBefore = JSON.stringify([bystander.info(), bystander.line(0)], (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      const model = new Model(level);
      const host = new Host(level);
      let now = 0n;
      for (const c of cmds) {
        let want: string[] | string, got: IrqAction[] | string;
        if (c.t === 'fire') { now += BigInt(c.dt); want = model.fire(c.line); got = statusOf(() => m.fire(c.line, now)); }
        else if (c.t === 'access') { now += BigInt(c.dt); want = model.access(now); got = statusOf(() => m.trappedAccess(now)); }
        else if (c.t === 'timer') {
          // The host's timer fires at its deadline, or (early) a little before it.
          if (host.timer !== undefined) { const at = c.early ? host.timer - 1n : host.timer; if (at > now) now = at; host.timer = undefined; }
          want = model.timer(now); got = statusOf(() => m.timer(now));
        }
        else if (c.t === 'wire') { want = model.wire(c.line); got = statusOf(() => m.wire(c.line)); }
        else { want = model.unwire(c.line); got = statusOf(() => m.unwire(c.line)); }
        assert.equal(typeof got === 'string' ? got : got.map(str), want, JSON.stringify(c));
        if (typeof got !== 'string' && (c.t === 'fire' || c.t === 'access' || c.t === 'timer')) host.apply(got);
        // Device-level invariants of the state table.
        const info = m.info();
        if (info.state === 'idle-trapped') assert.ok(info.timerArmed, 'IDLE_TRAPPED always has a timer armed');
        if (info.state === 'busy') assert.not.ok(info.mapped, 'BUSY never has the mapping on');
        if (info.queueLength > 0) assert.is(info.state, 'busy', 'a non-empty queue only while a line is ACTIVE');
        // Nothing lost so far: every fire is delivered, coalesced, or queued.
        for (let l = 0; l < level.length; l++) {
          const li = m.line(l);
          const queued = li.state === 'pending' || li.state === 'active-pending' ? 1 : 0;
          assert.is(li.fires, li.delivered + li.coalesced + BigInt(queued), `line ${l} accounts for every fire`);
          assert.is(Number(li.delivered), host.delivered[l], `line ${l}: the core's delivery count is the host's`);
        }
      }
      // Drain: EOI everything still active or queued; then every fire was delivered or coalesced.
      for (let i = 0; host.asserted.size > 0; i++) { now += 1n; const acts = m.trappedAccess(now); model.access(now); host.apply(acts); assert.ok(i < 100, 'drained'); }
      for (let l = 0; l < level.length; l++) {
        const li = m.line(l);
        assert.is(li.fires, li.delivered + li.coalesced, `line ${l} after draining`);
        assert.is(Number(li.coalesced), model.coalesced[l], `line ${l} coalesced by the documented rule`);
        assert.is(li.eois, li.delivered, `line ${l}: one EOI per delivery`);
        assert.is(li.unmasks, level[l] ? li.eois : 0n, `line ${l}: unmasks per EOI`);
      }
      const bystanderAfter = JSON.stringify([bystander.info(), bystander.line(0)], (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      assert.is(bystanderAfter, bystanderBefore, 'another device\'s machine is untouched');
    },
  ), { numRuns: RUNS });
});

type PciCmd = { t: 'mode'; mode: PciIrqMode; count: number } | { t: 'fire'; dt: number } | { t: 'access'; dt: number } | { t: 'wire' } | { t: 'unwire' };
const pciCmd: fc.Arbitrary<PciCmd> = fc.oneof(
  fc.record({ t: fc.constant('mode' as const), mode: fc.constantFrom<PciIrqMode>('none', 'intx', 'msi', 'msix'), count: fc.nat(40) }),
  fc.record({ t: fc.constant('fire' as const), dt: fc.nat(1000) }),
  fc.record({ t: fc.constant('access' as const), dt: fc.nat(1000) }),
  fc.constant({ t: 'wire' as const }),
  fc.constant({ t: 'unwire' as const }),
);

test('PCI mode switches: one index enabled at a time, the old one off first, counts within the declared ones', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.array(pciCmd, { maxLength: 80, size: 'max' }),
    (msiCount, msixCount, msixResizable, cmds) => {
      using m = new IrqMachine('pci');
      m.declareLine(0, LEVEL_FLAGS, 1);
      m.declareLine(1, EDGE_FLAGS | VFIO_IRQ_INFO_NORESIZE, msiCount);
      m.declareLine(2, EDGE_FLAGS | (msixResizable ? 0 : VFIO_IRQ_INFO_NORESIZE), msixCount);
      m.start();
      const enabled = new Map<number, number>(); // index -> vectors
      let asserted = false, mapped = true, wired = false, now = 0n;
      const declared = [1, msiCount, msixCount];
      for (const c of cmds) {
        if (c.t === 'mode') {
          const idx = { none: -1, intx: 0, msi: 1, msix: 2 }[c.mode];
          const valid = c.mode === 'none' ? c.count === 0 : c.mode === 'intx' ? c.count === 1 : c.count >= 1 && c.count <= declared[idx]!;
          const r = statusOf(() => m.setPciMode(c.mode, c.count));
          if (!valid) { assert.is(r, 'IRQ_COUNT', JSON.stringify(c)); continue; }
          assert.ok(typeof r !== 'string', `${JSON.stringify(c)}: ${String(r)}`);
          for (const a of r as IrqAction[]) {
            if (a.kind === 'disable-index') assert.ok(enabled.delete(a.index), `disable of index ${a.index} that was not enabled`);
            else if (a.kind === 'enable-index') {
              for (const k of enabled.keys()) assert.is(k, a.index, `index ${a.index} enabled while ${k} is still on`);
              assert.ok(a.arg >= 1n && a.arg <= BigInt(declared[a.index]!), 'vector count within the declared count');
              enabled.set(a.index, Number(a.arg));
            }
            else if (a.kind === 'deassert-line') { assert.ok(asserted); asserted = false; }
            else if (a.kind === 'mmap-enable') { assert.not.ok(asserted, 'mapping enabled while INTx is asserted'); mapped = true; }
            else if (a.kind === 'kvm-irqfd-deassign') { assert.ok(wired); assert.not.ok(enabled.has(0), 'irqfd removed after the index is off'); wired = false; }
            else if (a.kind !== 'cancel-timer') assert.unreachable(`unexpected ${a.kind}`);
          }
          if (c.mode !== 'none') assert.equal([...enabled.entries()], [[idx, c.count]], 'exactly the new index is on');
          else assert.is(enabled.size, 0);
          assert.is(m.info().pciMode, c.mode);
        } else {
          const intx = m.info().pciMode === 'intx';
          const r = c.t === 'fire' ? statusOf(() => m.fire(0, (now += BigInt(c.dt))))
            : c.t === 'access' ? statusOf(() => m.trappedAccess((now += BigInt(c.dt))))
            : c.t === 'wire' ? statusOf(() => m.wire(0)) : statusOf(() => m.unwire(0));
          if (!intx && c.t !== 'access') { assert.is(r, 'IRQ_INTX_OFF'); continue; }
          if (typeof r === 'string') { assert.ok(['IRQ_WIRED', 'IRQ_NOT_WIRED', 'IRQ_LINE_BUSY'].includes(r), r); continue; }
          for (const a of r) {
            if (a.kind === 'assert-line') { assert.not.ok(asserted); asserted = true; }
            if (a.kind === 'deassert-line') { assert.ok(asserted); asserted = false; }
            if (a.kind === 'mmap-disable') mapped = false;
            if (a.kind === 'mmap-enable') { assert.not.ok(asserted); mapped = true; }
          }
          if (c.t === 'wire') wired = true;
          if (c.t === 'unwire') wired = false;
        }
        assert.ok(mapped || m.info().state !== 'idle-mapped');
      }
    }), { numRuns: RUNS });
});

test('a too-small action buffer returns NO_SPACE with the size needed and changes nothing, for every event', () => {
  const irq = rawIrq();
  const { c, create, free, declare, start, fire, access } = irq;
  const observe = (h: number) => irq.observe(h, 3);
  const OUT = c.scratchPtr + 8192;
  const { timer, wire, unwire } = irq;
  const ops = ['fire', 'fire', 'access', 'access', 'timer', 'wire', 'unwire'] as const;
  fc.assert(fc.property(fc.array(fc.record({ op: fc.constantFrom(...ops), line: fc.nat(2), dt: fc.nat(2_000_000_000), cap: fc.nat(96) }), { maxLength: 60, size: 'max' }), (steps) => {
    const big = create(0), small = create(0);
    for (const h of [big, small]) { for (let l = 0; l < 3; l++) declare(h, l, l === 1 ? 0x1 : 0x7, 1); start(h); }
    let now = 0n;
    for (const s of steps) {
      now += BigInt(s.dt);
      const run = (h: number, cap: number) =>
        s.op === 'fire' ? fire(h, s.line, now, OUT, cap) : s.op === 'access' ? access(h, now, OUT, cap)
        : s.op === 'timer' ? timer(h, now, OUT, cap) : s.op === 'wire' ? wire(h, s.line, OUT, cap) : unwire(h, s.line, OUT, cap);
      const before = observe(small);
      const n = run(big, 256);
      if (n < 0) {
        // A refused event is refused whatever the buffer, and changes nothing.
        assert.is(run(small, s.cap), n, `${s.op}: same refusal with a small buffer`);
        assert.is(observe(small), before);
        continue;
      }
      const want = [...c.take(OUT, n * 16)];
      const r = run(small, s.cap);
      if (n * 16 > s.cap) {
        assert.is(c.statusName(r).split(':')[0], 'NO_SPACE');
        assert.is(c.result(0), BigInt(n * 16), 'result 0 holds the bytes needed');
        assert.is(observe(small), before, 'NO_SPACE left the machine unchanged');
        assert.is(run(small, n * 16), n, 'the retry with the size needed succeeds');
      } else assert.is(r, n);
      assert.equal([...c.take(OUT, n * 16)], want, 'same actions as the twin with a big buffer');
    }
    assert.is(observe(small), observe(big), 'the twins end in the same state');
    free(big); free(small);
  }), { numRuns: RUNS });
});

test('an output buffer outside scratch is refused with BAD_ARG', () => {
  const { c, create, fire, free, nameOf } = rawIrq();
  const h = create(0);
  assert.is(nameOf(fire(h, 0, 0n, 0, 16)), 'BAD_ARG', 'pointer 0');
  assert.is(nameOf(fire(h, 0, 0n, c.scratchPtr + c.scratchSize - 8, 16)), 'BAD_ARG', 'runs past the end of scratch');
  free(h);
});

test('linear memory did not grow over all the runs above', () => {
  assert.is(core().exports.memory.buffer.byteLength, memoryBefore);
});

test.run();

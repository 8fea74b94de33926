// Every event of the IRQ machine in every state, as a table (like dtc's tests/sw_states.c): each
// row names a state built from a fresh machine, then the status each event must return there.
// Refused events must leave the machine exactly as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rawIrq } from './raw-exports';

const irq = rawIrq();
const { c, create, free, setTimeout: setTimeoutNs, declare, start, fire, access, timer, wire, unwire, pciMode, nameOf } = irq;
const OUT = c.scratchPtr + 4096;
const CAP = 256;
const LEVEL = 0x7, EDGE = 0x1, NORESIZE = 0x8;

const ok = (st: number) => { assert.ok(st >= 0, `setup step failed: ${nameOf(st)}`); return st; };

// ---- states (each returns a handle in that state) ----
function platformConfig(): number {
  const h = ok(create(0));
  ok(declare(h, 0, LEVEL, 1)); // line 0: level
  ok(declare(h, 1, EDGE, 1));  // line 1: edge
  ok(declare(h, 2, LEVEL, 1)); // line 2: level, the one that gets wired
  return h;                     // line 3: undeclared
}
const running = () => { const h = platformConfig(); ok(start(h)); return h; };
const STATES: Record<string, () => number> = {
  'CONFIG': platformConfig,
  'IDLE_MAPPED': running,
  'IDLE_TRAPPED': () => { const h = running(); ok(fire(h, 0, 1n, OUT, CAP)); ok(access(h, 2n, OUT, CAP)); return h; },
  'BUSY (0 ACTIVE, 1 PENDING, no timer)': () => { const h = running(); ok(fire(h, 0, 1n, OUT, CAP)); ok(fire(h, 1, 2n, OUT, CAP)); return h; },
  'BUSY with timer armed': () => { const h = STATES['IDLE_TRAPPED']!(); ok(fire(h, 0, 3n, OUT, CAP)); return h; },
  'BUSY (1 ACTIVE_PENDING)': () => { const h = running(); ok(fire(h, 1, 1n, OUT, CAP)); ok(fire(h, 1, 2n, OUT, CAP)); return h; },
  'line 2 WIRED': () => { const h = running(); ok(wire(h, 2, OUT, CAP)); return h; },
  'FREED': () => { const h = running(); ok(free(h)); return h; },
  'PCI CONFIG': pciConfig,
  'PCI mode NONE': () => { const h = pciConfig(); ok(start(h)); return h; },
  'PCI mode INTX': () => { const h = STATES['PCI mode NONE']!(); ok(pciMode(h, 1, 1, OUT, CAP)); return h; },
  'PCI mode MSI': () => { const h = STATES['PCI mode NONE']!(); ok(pciMode(h, 2, 2, OUT, CAP)); return h; },
};
function pciConfig(): number {
  const h = ok(create(1));
  ok(declare(h, 0, LEVEL, 1));         // INTx
  ok(declare(h, 1, EDGE | NORESIZE, 4)); // MSI
  ok(declare(h, 2, EDGE, 16));         // MSI-X (resizable)
  return h;
}

// ---- events (the time is far in the future so that no event is refused for time alone) ----
const NOW = 1_000_000_000_000n;
const EVENTS: Record<string, (h: number) => number> = {
  'declare 3': (h) => declare(h, 3, EDGE, 1),
  'declare 0 again': (h) => declare(h, 0, LEVEL, 1),
  'set_timeout': (h) => setTimeoutNs(h, 5n),
  'start': (h) => start(h),
  'fire 0': (h) => fire(h, 0, NOW, OUT, CAP),
  'fire 1': (h) => fire(h, 1, NOW, OUT, CAP),
  'fire 2': (h) => fire(h, 2, NOW, OUT, CAP),
  'fire 3': (h) => fire(h, 3, NOW, OUT, CAP),
  'access': (h) => access(h, NOW, OUT, CAP),
  'timer': (h) => timer(h, NOW, OUT, CAP),
  'wire 0': (h) => wire(h, 0, OUT, CAP),
  'wire 1': (h) => wire(h, 1, OUT, CAP),
  'wire 2': (h) => wire(h, 2, OUT, CAP),
  'unwire 0': (h) => unwire(h, 0, OUT, CAP),
  'unwire 2': (h) => unwire(h, 2, OUT, CAP),
  'pci msi 1': (h) => pciMode(h, 2, 1, OUT, CAP),
  'free': (h) => free(h),
};
const EV = Object.keys(EVENTS);

// Expected status per state, one column per event in the order of EVENTS.
const OK = 'OK', BS = 'BAD_STATE', BH = 'BAD_HANDLE';
const TABLE: Record<string, string[]> = {
  //                         decl3 decl0 timeo start fire0 fire1 fire2 fire3 access timer wire0 wire1 wire2 unw0 unw2 pci free
  'CONFIG':                 [OK, 'IRQ_DECLARED', OK, OK, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, OK],
  'IDLE_MAPPED':            [BS, BS, BS, BS, OK, OK, OK, 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', OK, OK, OK, 'IRQ_NOT_WIRED', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK],
  'IDLE_TRAPPED':           [BS, BS, BS, BS, OK, OK, OK, 'IRQ_UNDECLARED', OK, OK, OK, OK, OK, 'IRQ_NOT_WIRED', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK],
  'BUSY (0 ACTIVE, 1 PENDING, no timer)':
                            [BS, BS, BS, BS, OK, OK, OK, 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', 'IRQ_LINE_BUSY', 'IRQ_LINE_BUSY', OK, 'IRQ_NOT_WIRED', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK],
  'BUSY with timer armed':  [BS, BS, BS, BS, OK, OK, OK, 'IRQ_UNDECLARED', OK, OK, 'IRQ_LINE_BUSY', OK, OK, 'IRQ_NOT_WIRED', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK],
  'BUSY (1 ACTIVE_PENDING)':[BS, BS, BS, BS, OK, OK, OK, 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', OK, 'IRQ_LINE_BUSY', OK, 'IRQ_NOT_WIRED', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK],
  'line 2 WIRED':           [BS, BS, BS, BS, OK, OK, 'IRQ_WIRED', 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', OK, OK, 'IRQ_WIRED', 'IRQ_NOT_WIRED', OK, 'IRQ_WRONG_KIND', OK],
  'FREED':                  [BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH, BH],
  // PCI: line 0 is INTx, 1 MSI, 2 MSI-X; 3 is the ERR index (declarable, count 1)
  'PCI CONFIG':             [OK, 'IRQ_DECLARED', OK, OK, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, BS, OK],
  'PCI mode NONE':          [BS, BS, BS, BS, 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', OK, OK],
  'PCI mode INTX':          [BS, BS, BS, BS, OK, 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', OK, 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_NOT_WIRED', 'IRQ_WRONG_KIND', OK, OK],
  'PCI mode MSI':           [BS, BS, BS, BS, 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_UNDECLARED', OK, 'IRQ_NO_TIMER', 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', 'IRQ_WRONG_KIND', 'IRQ_INTX_OFF', 'IRQ_WRONG_KIND', OK, OK],
};

const observe = (h: number) => irq.observe(h, 4);

test('the table has a row for every state and a column for every event', () => {
  assert.equal(Object.keys(TABLE).sort(), Object.keys(STATES).sort());
  for (const [k, row] of Object.entries(TABLE)) assert.is(row.length, EV.length, `row ${k}`);
});

let cells = 0, refused = 0;
for (const [state, build] of Object.entries(STATES)) {
  test(`state ${state}: every event returns the status of the table; refused ones change nothing`, () => {
    const row = TABLE[state]!;
    EV.forEach((ev, i) => {
      const h = build();
      const before = observe(h);
      const got = nameOf(EVENTS[ev]!(h));
      assert.is(got, row[i], `${state} / ${ev}`);
      cells++;
      if (got !== 'OK') {
        refused++;
        if (state !== 'FREED') assert.is(observe(h), before, `${state} / ${ev} refused but changed the machine`);
      }
      free(h);
    });
  });
}

test('every cell was run and most are refusals', () => {
  assert.is(cells, Object.keys(STATES).length * EV.length);
  assert.ok(refused > cells / 2, `${refused} of ${cells}`);
});

test.run();

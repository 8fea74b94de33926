// runVm's close order (src/vmm/run.ts Machine.close): each device's passthrough while the VM is
// open, the routing table, the VM, the platform bus, then the devices; every step tried even when
// an earlier one throws, the first error returned, each step reported as a 'closed' event; and a
// machine half built (a failure before the VM existed) closes what it has.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/vmm/run';
import type { VmEvent } from '../../../src/vmm-api';

function machine(log: string[], failing = ''): { m: Machine; events: VmEvent[] } {
  const events: VmEvent[] = [];
  const m = new Machine((ev) => events.push(ev));
  const step = (what: string) => (): void => { log.push(what); if (what === failing) throw new Error(`${what} failed`); };
  for (const name of ['pl031', 'nvme']) {
    (m.devices as unknown[]).push({ name, close: step(`${name} device`) });
    (m.attached as unknown[]).push({ name, closePassthrough: step(`${name} passthrough`) });
  }
  m.routes = { close: step('routes') } as never;
  m.vm = { close: step('vm') } as never;
  m.bus = { close: step('bus') } as never;
  return { m, events };
}

test('the order: passthroughs, routing table, VM, bus, devices; each one a closed event', () => {
  const log: string[] = [];
  const { m, events } = machine(log);
  assert.is(m.close(), undefined);
  assert.equal(log, ['pl031 passthrough', 'nvme passthrough', 'routes', 'vm', 'bus', 'pl031 device', 'nvme device']);
  assert.is(events.filter((e) => e.kind === 'closed').length, 7);
});

test('a step that throws does not stop the others; the first error is returned', () => {
  const log: string[] = [];
  const { m, events } = machine(log, 'vm');
  const err = m.close() as Error;
  assert.match(err.message, /vm failed/);
  assert.equal(log, ['pl031 passthrough', 'nvme passthrough', 'routes', 'vm', 'bus', 'pl031 device', 'nvme device']);
  assert.not.ok(events.some((e) => e.kind === 'closed' && /^VM/.test(e.step)), 'no closed event for the step that failed');
});

test('a machine with devices opened and nothing else (the VM could not be made) closes the devices', () => {
  const log: string[] = [];
  const m = new Machine(() => {});
  (m.devices as unknown[]).push({ name: 'pl031', close: () => log.push('pl031 device') });
  assert.is(m.close(), undefined);
  assert.equal(log, ['pl031 device']);
});

test.run();

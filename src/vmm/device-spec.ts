// The `--device NAME[,key[=value]]...` syntax of `vfiokit run` as data: one row per sub-option
// (its key, the VmDeviceSpec field it sets, how its value is read), the parser that reads a spec
// against the rows, and the check of a spec against the device's kind once sysfs has said what it
// is (which kinds take which field is the attach table's, attach.ts ATTACH_ROWS). A new sub-option
// is a new row here and a field in the rows of the kinds that take it.
// Not responsible for: what a field does to the machine (runVm), nor finding the device (preflight).
import { VfioError, validateDeviceName, type Bus } from '../index.js';
import { checkString } from '../../shim/args.js';
import { ATTACH_ROWS } from './attach.js';
import { MAX_MMAP_TIMEOUT_MS, type VmDeviceSpec } from './config.js';
import { MAX_IPA_BITS } from './layout.js';
/** Guest placements are whole pages (the region becomes a memslot, which KVM takes page-aligned). */
export const PLACEMENT_ALIGN = 0x1000n;
/** The highest guest physical address any VM can have (the largest IPA size, layout.ts); the
 *  VM's own, smaller, top is runVm's to check. */
export const MAX_GUEST_ADDRESS = (1n << BigInt(MAX_IPA_BITS)) - 1n;

/** One sub-option of --device. */
export interface DeviceOptionRow {
  /** The key as written after the comma. */
  key: string;
  /** The value's form in the help and errors ('on|off', 'MS'); undefined for a bare flag. */
  value?: string;
  /** The field of VmDeviceSpec it sets. */
  field: Exclude<keyof VmDeviceSpec, 'name'>;
  /** Reads the value (undefined for a bare flag); returns the field's value or an error text
   *  saying what it takes. */
  parse(value: string | undefined): { ok: VmDeviceSpec[Exclude<keyof VmDeviceSpec, 'name'>] } | { error: string };
  /** One line for the help and docs/VMM.md. */
  help: string;
}

const onOff = (v: string | undefined) => v === 'on' ? { ok: true } : v === 'off' ? { ok: false } : { error: 'takes on or off' };

/** The sub-options of `--device`, one row each (a new one is a new row). */
export const DEVICE_OPTIONS: readonly DeviceOptionRow[] = [
  {
    key: 'irqfd', value: 'on|off', field: 'irqfd', parse: onOff,
    help: 'on (default): its interrupts go to the vGIC by KVM irqfd (a resample eventfd for level lines); off: through the VMM (platform/AMBA: vfiokit\'s userspace IRQ machine and KVM_IRQ_LINE; PCI: KVM_SIGNAL_MSI and KVM_IRQ_LINE)',
  },
  {
    key: 'mmap-timeout', value: 'MS', field: 'mmapTimeoutMs',
    parse: (v) => v !== undefined && /^\d{1,6}$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_MMAP_TIMEOUT_MS ? { ok: Number(v) } : { error: `takes milliseconds, 1 to ${MAX_MMAP_TIMEOUT_MS}` },
    help: 'with irqfd=off: how long the registers stay trapped after an interrupt before the mapping comes back (QEMU\'s x-mmap-timeout-ms)',
  },
  {
    key: 'addr', value: '0xADDR', field: 'addr',
    parse: (v) => {
      if (v === undefined || !/^0x[0-9a-f]{1,16}$/i.test(v)) return { error: 'takes a hex guest physical address, e.g. addr=0xc000000' };
      const a = BigInt(v);
      if (a % PLACEMENT_ALIGN !== 0n) return { error: `${v} is not page-aligned (a multiple of 0x${PLACEMENT_ALIGN.toString(16)})` };
      if (a > MAX_GUEST_ADDRESS) return { error: `${v} is above any guest address space (${MAX_IPA_BITS} bits)` };
      return { ok: a };
    },
    help: 'place its first register region at this guest address (on the platform bus) instead of the first free one',
  },
  {
    key: 'identity', field: 'identity',
    parse: (v) => v === undefined ? { ok: true } : { error: 'takes no value' },
    help: 'place its registers 1:1 at their host physical addresses (the guest sees the host\'s map)',
  },
];

/** A --device value that cannot be read: the spec as given, what is wrong, what to do. */
function bad(spec: string, what: string): VfioError {
  return new VfioError({ kind: 'bad-argument', message: `--device ${spec}: ${what}`, hint: `write NAME[,${DEVICE_OPTIONS.map((o) => o.value ? `${o.key}=${o.value}` : o.key).join('][,')}]` });
}

/**
 * Reads one `--device` value: a device name, then comma-separated sub-options from DEVICE_OPTIONS.
 * @throws VfioError 'bad-argument' naming the value and the sub-option: no name, not a device name,
 *   an unknown key, a key twice, a value the key does not take, addr= with identity, mmap-timeout=
 *   with irqfd on.
 */
export function parseDeviceSpec(text: string): ParsedDeviceSpec {
  checkString('text', text);
  if (text === '') throw bad(text, 'no device name');
  const [name = '', ...parts] = text.split(',');
  try { validateDeviceName(name); } catch (e) { throw bad(text, `'${name}' is not a device name (${(e as VfioError).hint ?? 'see vfiokit list'})`); }
  const spec: VmDeviceSpec = { name };
  const given: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq), value = eq < 0 ? undefined : part.slice(eq + 1);
    const row = DEVICE_OPTIONS.find((o) => o.key === key);
    if (!row) throw bad(text, `unknown sub-option '${key}' (known: ${DEVICE_OPTIONS.map((o) => o.key).join(', ')})`);
    if (given.includes(key)) throw bad(text, `${key} given twice`);
    given.push(key);
    const r = row.parse(value);
    if ('error' in r) throw bad(text, `${key}${value === undefined ? '' : `=${value}`}: ${r.error}`);
    (spec as unknown as Record<string, unknown>)[row.field] = r.ok;
  }
  if (spec.addr !== undefined && spec.identity) throw bad(text, 'addr= and identity both place the device: give one');
  if (spec.mmapTimeoutMs !== undefined && spec.irqfd !== false) throw bad(text, 'mmap-timeout applies to the userspace IRQ path: add irqfd=off');
  return { spec, given };
}

/** A parsed --device: the spec, and the sub-option keys written (for the kind check). */
export interface ParsedDeviceSpec {
  /** The device and the fields its sub-options set. */
  spec: VmDeviceSpec;
  /** The sub-option keys as written, in order. */
  given: string[];
}

/** The sub-options of `spec` set to something a device on `bus` does not take (their keys), by
 *  the attach row of its kind (a bus's devices are VFIO devices of the same-named kind). */
export function optionsRefusedBy(spec: VmDeviceSpec, bus: Bus): string[] {
  const row = ATTACH_ROWS.find((r) => (r.kinds as readonly string[]).includes(bus));
  return DEVICE_OPTIONS.filter((o) => spec[o.field] !== undefined && !(row?.options as readonly string[] | undefined ?? []).includes(o.field)).map((o) => o.key);
}

/** The bus kinds that take a sub-option (from the attach rows), for the help and docs. */
export function kindsTaking(o: DeviceOptionRow): Bus[] {
  return ATTACH_ROWS.filter((r) => (r.options as readonly string[]).includes(o.field)).flatMap((r) => r.kinds as readonly string[]).filter((k): k is Bus => k === 'platform' || k === 'amba' || k === 'pci');
}

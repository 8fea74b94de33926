// The C oracle: compiles test/unit/vfio/layout.c against the host's <linux/vfio.h> and pins every
// struct size, field offset, flag and ioctl number of src/vfio/uapi.ts to what the header says.
// The byte-exact encoder and decoder tests build their bytes from LAYOUT, so they rest on this.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as uapi from '../../../src/vfio/uapi';

mkdirSync('build', { recursive: true });
execFileSync('cc', ['-Wall', '-Werror', '-o', 'build/vfio-layout', 'test/unit/vfio/layout.c']);
const oracle = JSON.parse(execFileSync('./build/vfio-layout', { encoding: 'utf8' })) as Record<string, number>;

test('every struct size and field offset in LAYOUT matches the uapi header', () => {
  let checked = 0;
  for (const [struct, fields] of Object.entries(uapi.LAYOUT)) {
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'min') continue;   // the kernel's argsz minimum is not a C layout fact; pinned below
      const key = field === 'size' ? `${struct}.sizeof` : `${struct}.${field.replace(/_$/, '')}`;
      assert.ok(key in oracle, `the oracle prints ${key}`);
      assert.is(value, oracle[key], key);
      checked++;
    }
  }
  const cKeys = Object.keys(oracle).filter((k) => k.includes('.'));
  assert.is(checked, cKeys.length, 'LAYOUT covers every field the oracle prints');
});

test('the argsz minimums are the end of the last field the kernel always writes', () => {
  assert.is(uapi.LAYOUT.vfio_device_info.min, oracle['vfio_device_info.num_irqs']! + 4);
  assert.is(uapi.LAYOUT.vfio_iommu_type1_info.min, oracle['vfio_iommu_type1_info.iova_pgsizes']! + 8);
});

test('every uapi constant exported under its uapi name has the header value', () => {
  const names = Object.keys(oracle).filter((k) => !k.includes('.') && k !== 'end');
  for (const n of names) assert.is((uapi as unknown as Record<string, number>)[n], oracle[n], n);
  assert.ok(names.length > 60, `${names.length} constants checked`);
});

test('ioctl numbers: VFIO_GET_API_VERSION is 15204 as the style guide pins it', () => {
  assert.is(uapi.VFIO_GET_API_VERSION, 15204);
  assert.is(uapi._IO(uapi.VFIO_TYPE, uapi.VFIO_BASE + 13), oracle.VFIO_IOMMU_MAP_DMA);
});

test.run();

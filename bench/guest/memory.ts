// lab-memory, vfiokit: the resident set (VmRSS) of a node process holding the pl031 open through
// openDevice with its register region mapped and touched; also the core's linear memory size.
// Twin: bench/native/lab/memory.c.
import { readFileSync } from 'node:fs';
import { openDevice } from '../../src/index';
import { core } from '../../src/core/loader';
import { PL031, emit } from './common';

const vmRssBytes = (): number => Number(readFileSync('/proc/self/status', 'utf8').match(/VmRSS:\s+(\d+)/)![1]) * 1024;
const before = vmRssBytes();
const dev = openDevice(PL031);
const m = dev.regions[0]!.map();
const id0 = m.read32(0xff0);
const rss = vmRssBytes();
emit('lab-memory', 'pl031 open and mapped', 'bytes', [rss], undefined, { before_bytes: before, id0, core_memory_bytes: core().exports.memory.buffer.byteLength });
dev.close();

#!/usr/bin/env node
// The `vfiokit` command: src/cli/main.ts reads the command line and runs the command; this file
// only sets the exit status, and prints a stack for what is neither a usage nor a VfioError.
import { runCli, EXIT } from './cli/main.js';

runCli(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => { console.error(e); process.exitCode = EXIT.bug; },
);

// The one decoder of fuzz bytes: a cursor that hands out integers from the input and zeros once
// it is exhausted. Every fuzz target turns bytes into operations through it, so the libFuzzer
// harness (fuzz/harness.c over wasm2c) and the regression corpus replay (test/unit/fuzz/) run
// exactly the same operations for the same file. The cursor is module state, not an object:
// the stub runtime never frees, so an allocation per input would exhaust memory in a long run
// (the first campaign found exactly that in an earlier version of this file).
// Not responsible for: what the operations are (each target's file).
import { ld8 } from "../mem";

let inPtr: usize = 0;
let inLen: usize = 0;
let inPos: usize = 0;

/** Starts decoding the input [ptr, ptr+len). */
export function begin(ptr: usize, len: usize): void { inPtr = ptr; inLen = len; inPos = 0; }
export function done(): bool { return inPos >= inLen; }
export function u8(): u32 {
  if (inPos >= inLen) return 0;
  const v = ld8(inPtr + inPos);
  inPos++;
  return v;
}
export function u16(): u32 { return u8() | (u8() << 8); }
export function u32_(): u32 { return u16() | (u16() << 16); }
export function u64_(): u64 { return <u64>u32_() | (<u64>u32_() << 32); }
/** Where the undecoded rest of the input starts, and how long it is (targets that take a blob). */
export function restPtr(): usize { return inPtr + inPos; }
export function restLen(): usize { return inPos >= inLen ? 0 : inLen - inPos; }

/** An invariant of the core was broken: trap, so that libFuzzer records a crash and the replay
 *  test fails. Only the fuzz build calls this; the shipped core never traps on input. */
export function violated(): void { unreachable(); }

// Status codes of the FDT module: -100 .. -199 (scheme in assembly/status.ts).
// The reader owns -100 .. -149 (status-read.ts), the writer and merge -150 .. -199 (status-write.ts).
import { fdtReadStatusName } from "./status-read";
import { fdtWriteStatusName } from "./status-write";

export function fdtStatusName(code: i32): string {
  return code > -150 ? fdtReadStatusName(code) : fdtWriteStatusName(code);
}

// Status codes of the FDT module: -100 .. -199 (scheme in assembly/status.ts).
// The reader owns -100 .. -149 (status-read.ts), the writer and merge -150 .. -199 (status-write.ts).
import { fdtReadStatusRow } from "./status-read";
import { fdtWriteStatusRow } from "./status-write";

export function fdtStatusRow(code: i32): string {
  return code > -150 ? fdtReadStatusRow(code) : fdtWriteStatusRow(code);
}

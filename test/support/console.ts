// What the library prints with console.error while `f` runs: each call's arguments joined as one
// line, kept instead of printed unless `keep` says no (then printed as usual). console.error is
// put back however `f` ends.

/** Runs `f` with console.error captured; returns the captured lines (after `f`'s promise settles). */
export async function captureConsoleError(f: () => unknown, keep: (line: string) => boolean = () => true): Promise<string[]> {
  const lines: string[] = [];
  const real = console.error;
  console.error = (...a: unknown[]) => { const l = a.map(String).join(' '); if (keep(l)) lines.push(l); else real(...a); };
  try { await f(); } finally { console.error = real; }
  return lines;
}

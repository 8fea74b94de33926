// What the lab asks apt about its arm64 packages: candidate versions and direct Depends. Each
// apt-cache call reads apt's whole cache (about 1.5 s on the lab's build machine), so each
// function asks for all its packages in one call.
// Not responsible for: downloading or unpacking (lab/initramfs.mjs, lab/qemu-payload.mjs).
import { execFileSync } from 'node:child_process';

export const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();

/** The arm64 packages each of `pkgs` directly Depends (or Pre-Depends) on: pkg -> the first of
 *  each set of alternatives, real packages only (apt-cache shows virtual ones in <angle brackets>). */
export function directDepends(pkgs) {
  const out = sh('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...pkgs.map((p) => `${p}:arm64`)]);
  const deps = new Map(); let cur; let alt = false;
  for (const line of out.split('\n')) {
    if (/^\S/.test(line)) { cur = line.trim().replace(/:arm64$/, ''); deps.set(cur, []); alt = false; continue; }
    const m = line.match(/^\s+(\|)?(?:Pre)?Depends:\s+(\S+)/);
    if (!m || cur === undefined) continue;
    if (!alt && !m[2].startsWith('<')) deps.get(cur).push(m[2].replace(/:arm64$/, ''));
    alt = m[1] === '|';
  }
  return deps;
}

/** The arm64 candidate version of each of `pkgs` (pkg -> version); throws for a package apt does
 *  not know. */
export function candidates(pkgs) {
  const out = sh('apt-cache', ['policy', ...pkgs.map((p) => `${p}:arm64`)]);
  const found = new Map(); let cur;
  for (const line of out.split('\n')) {
    const head = line.match(/^(\S+):arm64:$/);
    if (head) { cur = head[1]; continue; }
    const c = line.match(/^\s+Candidate:\s*(\S+)/);
    if (c && cur !== undefined && c[1] !== '(none)') found.set(cur, c[1]);
  }
  const unknown = pkgs.filter((p) => !found.has(p));
  if (unknown.length) throw new Error(`apt knows no ${unknown.map((p) => `${p}:arm64`).join(', ')} (run lab/deps.sh: dpkg --add-architecture arm64 && apt-get update)`);
  return found;
}

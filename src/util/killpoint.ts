/**
 * Deterministic crash injection for tests and `make stress`: with AMIDA_KILL_AT=NAME (or
 * NAME#K, the K-th time, from 1) the process SIGKILLs itself when it reaches killPoint(NAME),
 * exactly where a power cut or `kill -9` could land. Unset, it costs one lookup.
 */
const hits = new Map<string, number>();

export function killPoint(name: string): void {
  const at = process.env.AMIDA_KILL_AT;
  if (!at) return;
  const [point, nth] = at.split("#");
  if (point !== name) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (n === Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
}

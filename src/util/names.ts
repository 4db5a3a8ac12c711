/**
 * Names that become directory names (runs, experiments, sweeps): letters, digits and
 * '.', '_', '+', '-', not starting with '.' (so never '.', '..' or hidden), no separators.
 */
export function validateName(kind: string, name: string): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}$/.test(name)) {
    throw new Error(
      `${kind} name must use letters, digits, '.', '_', '+', '-' only (1..128 of them) and not start with '.' (so not '.' or '..'; no '/'), got '${name}'`,
    );
  }
  return name;
}

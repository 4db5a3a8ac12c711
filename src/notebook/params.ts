type Scalar = number | string | boolean;

/**
 * A notebook's config cell: `defaults` is what a student edits; headless runs override fields
 * with environment variables `${prefix}_${FIELD}` (FIELD upper-cased, camelCase split by _).
 * Every such variable must name a field and parse as that field's type, or this throws.
 */
export function notebookParams<T extends Record<string, Scalar>>(
  prefix: string,
  defaults: T,
  env: NodeJS.ProcessEnv = process.env,
  print: (line: string) => void = (l) => console.log(l),
): T {
  const envName = (k: string) =>
    `${prefix}_${k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
  const byEnv = new Map(Object.keys(defaults).map((k) => [envName(k), k]));
  const out: Record<string, Scalar> = { ...defaults };
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(prefix + "_") || text === undefined) continue;
    const key = byEnv.get(name);
    if (!key)
      throw new Error(
        `unknown parameter ${name}='${text}'; allowed: ${[...byEnv.keys()].join(", ")}`,
      );
    const d = defaults[key];
    if (typeof d === "number") {
      const v = Number(text);
      if (text.trim() === "" || !Number.isFinite(v))
        throw new Error(`${name} must be a number, got '${text}'`);
      out[key] = v;
    } else if (typeof d === "boolean") {
      if (!/^(true|false|1|0)$/i.test(text))
        throw new Error(`${name} must be true or false, got '${text}'`);
      out[key] = /^(true|1)$/i.test(text);
    } else {
      out[key] = text;
    }
    print(
      `overridden by the environment: ${key} = ${JSON.stringify(out[key])} (${name}; the cell says ${JSON.stringify(d)})`,
    );
  }
  return out as T;
}

/**
 * The one markdown table helper: every table a notebook, the CLI or README shows goes through it.
 * Rows are objects whose keys are the column headings, in order.
 */
export type Row = Record<string, string | number>;

/** Numbers that are not integers print with three decimals; strings as they are. */
export function markdownTable(rows: Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const keys = Object.keys(rows[0]);
  const cell = (v: string | number) =>
    typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : String(v);
  return [
    `| ${keys.join(" | ")} |`,
    `|${keys.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${keys.map((k) => cell(r[k] ?? "")).join(" | ")} |`),
  ].join("\n");
}

/** A fraction as a percentage with one decimal ("n/a" for null). */
export const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? "n/a" : (100 * v).toFixed(1);

/**
 * A share of a network's parameters (0..1) as the tables print it, one way everywhere: "0 %" for
 * none, "<0.1 %" for a share that one decimal would round to nothing, else one decimal
 * ("0.2 %", "18.0 %", "99.0 %"). The freeze table (notebook 03) and the results table use it, so
 * `first5` reads 0.2 % in both.
 */
export function formatShare(fraction: number): string {
  if (!Number.isFinite(fraction)) return "n/a";
  if (fraction === 0) return "0 %";
  if (fraction < 0.0005) return "<0.1 %";
  return `${(100 * fraction).toFixed(1)} %`;
}

/**
 * The layers of src/ (CONTRIBUTING.md's table, read from there) and the absence of import circles:
 * a layer imports only the layers it lists, and no file reaches itself through its imports
 * (type-only imports count: a circle of types is a circle of concepts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..");
const src = path.join(root, "src");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|cjs)$/.test(e.name) ? [p] : [];
  });
}

/** A file's imports of project files (type-only ones too), as absolute paths without extension. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/^\s*import\s+[^;]*?from\s+"([^"]+)"/gms),
    ...text.matchAll(/^\s*import\s+"([^"]+)"/gm),
    ...text.matchAll(/require\("([^"]+)"\)/g),
    ...text.matchAll(/^\s*export\s+[^;]*?from\s+"([^"]+)"/gms),
  ].map((m) => m[1]);
  return specs
    .filter((s) => s.startsWith("."))
    .map((s) => path.resolve(path.dirname(file), s).replace(/\.(ts|cjs)$/, ""));
}

const layerOf = (abs: string) => path.relative(src, abs).split(path.sep)[0];

/** CONTRIBUTING.md's table: layer -> the layers it may import. */
function table(): Map<string, Set<string>> {
  const md = fs.readFileSync(path.join(root, "CONTRIBUTING.md"), "utf8");
  const block = /```\n(util, backend[\s\S]*?)```/.exec(md);
  assert.ok(block, "CONTRIBUTING.md has no layer table");
  const rows = block[1]
    .trim()
    .split("\n")
    .map((l) => /^([\w, ]+?)\s+<-\s+(.+?)(?:\s{2,}|$)/.exec(l.trim())!)
    .map((m) => ({ layers: m[1].split(",").map((x) => x.trim()), deps: m[2].trim() }));
  const all = rows.flatMap((r) => r.layers);
  const out = new Map<string, Set<string>>();
  for (const r of rows) {
    const but = /^every layer but (\w+)$/.exec(r.deps);
    const deps =
      r.deps === "(nothing)"
        ? []
        : but
          ? all.filter((l) => l !== but[1] && !r.layers.includes(l))
          : r.deps.split(",").map((x) => x.trim());
    for (const l of r.layers) out.set(l, new Set(deps));
  }
  return out;
}

test("every directory of src/ is a layer of CONTRIBUTING.md's table, and imports only what its row lists", () => {
  const allowed = table();
  const dirs = fs
    .readdirSync(src, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const d of dirs)
    assert.ok(allowed.has(d), `src/${d} is not in CONTRIBUTING.md's layer table`);
  const bad: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    for (const target of imports(file)) {
      const to = path.relative(src, target).startsWith("..") ? "outside src/" : layerOf(target);
      if (to !== from && !allowed.get(from)!.has(to))
        bad.push(
          `${path.relative(root, file)} imports ${path.relative(root, target)} (${from} -> ${to})`,
        );
    }
  }
  assert.deepEqual(bad, [], "imports that break the layer table");
});

test("no import circle between the files of src/", () => {
  const files = new Map(sources(src).map((f) => [f.replace(/\.(ts|cjs)$/, ""), f]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push(
        [...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(src, x)).join(" -> "),
      );
      return;
    }
    state.set(f, "open");
    for (const t of imports(files.get(f)!)) if (files.has(t)) visit(t, [...stack, f]);
    state.set(f, "done");
  };
  for (const f of files.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

/**
 * The parity table and curves (scripts/parity.sh runs this after its runs): per model, the
 * project's test accuracy (mean ± SD over seeds, each seed) beside the PyTorch reference's, their
 * difference, whether the project is within 5 points of the reference's mean, and the wall-time
 * ratio of the runs measured side by side; OUT/parity.json (every run's numbers and curve) and the
 * curves side by side as an SVG (vega-lite).
 *
 *   node --import tsx scripts/parity/summarize.ts --out runs/parity --seeds 0,1,2 \
 *     --models mobilenetv2_100,mobilevit_xxs [--images 100000] [--svg docs/parity-curves.svg]
 *
 * The project's curve is validation accuracy (500 puzzles) at its log-spaced evaluations; the
 * reference's is test accuracy (2,000 puzzles) at its own marks (torch_train.py --curve). Both are
 * puzzles whose ladders no training puzzle has.
 */
import * as fs from "fs";
import * as path from "path";
import { vegaLiteToSVG } from "../../src/report/charts";
import { markdownTable, pct } from "../../src/report/table";
import { mean, sampleSd } from "../../src/util/stats";

function flag(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`summarize: --${name} is required`);
  return v;
}

const out = flag("out");
const seeds = flag("seeds", "0,1,2").split(",").map(Number);
const models = flag("models", "mobilenetv2_100,mobilevit_xxs").split(",");
const images = Number(flag("images", "100000"));
const svgCopy = process.argv.includes("--svg") ? flag("svg") : null;

interface Run {
  trainer: "project" | "reference";
  model: string;
  seed: number;
  test_acc: number;
  images_seen: number;
  /** Wall seconds of the whole process, measured by parity.sh. */
  wall_s: number | null;
  /** What the trainer itself reports: training (+ evaluation) seconds. */
  trainer_s: number;
  curve: Array<[number, number]>;
  curve_of: string;
  extra: Record<string, unknown>;
}

const readJson = (f: string) => JSON.parse(fs.readFileSync(f, "utf8"));
const wall = (tag: string): number | null => {
  const f = path.join(out, "wall", `${tag}.s`);
  return fs.existsSync(f) ? Number(fs.readFileSync(f, "utf8")) : null;
};

const runs: Run[] = [];
const missing: string[] = [];
for (const model of models)
  for (const seed of seeds) {
    const pf = path.join(out, "project", `${model}-s${seed}`, "metrics.json");
    if (fs.existsSync(pf)) {
      const m = readJson(pf);
      runs.push({
        trainer: "project",
        model,
        seed,
        test_acc: m.test_acc,
        images_seen: m.images_seen,
        wall_s: wall(`project-${model}-s${seed}`),
        trainer_s: m.seconds,
        curve: m.curve,
        curve_of: "val (500)",
        extra: { best_images: m.best_images, backend: m.backend, ci95: m.ci95 },
      });
    } else missing.push(pf);
    const tf = path.join(out, "torch", `${model}-s${seed}.json`);
    if (fs.existsSync(tf)) {
      const t = readJson(tf);
      runs.push({
        trainer: "reference",
        model,
        seed,
        test_acc: t.test_acc,
        images_seen: t.images,
        wall_s: wall(`torch-${model}-s${seed}`),
        trainer_s: t.seconds,
        curve: t.curve,
        curve_of: "test (2000)",
        extra: { train_acc: t.train_acc, images_per_s: t.images_per_s, torch: t.torch },
      });
    } else missing.push(tf);
  }
if (missing.length) console.log(`missing (left out): ${missing.join(", ")}`);

const perSeed = (rs: Run[]) => rs.map((r) => pct(r.test_acc)).join(" / ");
const ms = (rs: Run[]) =>
  `${pct(mean(rs.map((r) => r.test_acc)))} ± ${(100 * sampleSd(rs.map((r) => r.test_acc))).toFixed(1)}`;
const rows = models.map((model) => {
  const p = runs.filter((r) => r.model === model && r.trainer === "project");
  const t = runs.filter((r) => r.model === model && r.trainer === "reference");
  const pm = mean(p.map((r) => r.test_acc));
  const tm = mean(t.map((r) => r.test_acc));
  const both = seeds.filter(
    (s) => p.some((r) => r.seed === s && r.wall_s) && t.some((r) => r.seed === s && r.wall_s),
  );
  const sumWall = (rs: Run[]) =>
    rs.filter((r) => both.includes(r.seed)).reduce((a, r) => a + (r.wall_s ?? 0), 0);
  const ratio = both.length ? sumWall(p) / sumWall(t) : NaN;
  return {
    model,
    "project test % mean ± SD": p.length ? ms(p) : "n/a",
    "project per seed": perSeed(p),
    "reference test % mean ± SD": t.length ? ms(t) : "n/a",
    "reference per seed": perSeed(t),
    "difference (points)": p.length && t.length ? (100 * (pm - tm)).toFixed(1) : "n/a",
    "project >= reference - 5": p.length && t.length ? (pm >= tm - 0.05 ? "yes" : "no") : "n/a",
    "wall time project / reference": Number.isNaN(ratio)
      ? "n/a"
      : `${ratio.toFixed(2)} (${Math.round(sumWall(p) / both.length)} s / ${Math.round(sumWall(t) / both.length)} s)`,
  };
});
const table = markdownTable(rows);
console.log(
  `\nParity at ${images.toLocaleString("en")} images (seeds ${seeds.join(", ")}); wall time: mean seconds per run, each pair run side by side\n`,
);
console.log(table);
console.log(
  "\n" +
    markdownTable(
      runs.map((r) => ({
        trainer: r.trainer,
        model: r.model,
        seed: r.seed,
        "test %": pct(r.test_acc),
        images: r.images_seen,
        "wall s": r.wall_s === null ? "n/a" : r.wall_s.toFixed(0),
        "trainer s": r.trainer_s.toFixed(0),
        curve: r.curve.map(([i, a]) => `${Math.round(i / 1000)}k:${pct(a)}`).join(" "),
      })),
    ),
);

const points = runs.flatMap((r) =>
  r.curve.map(([img, acc]) => ({
    model: r.model,
    trainer:
      r.trainer === "project"
        ? "project (amida train), val acc"
        : "PyTorch + timm reference, test acc",
    seed: `seed ${r.seed}`,
    run: `${r.trainer} ${r.seed}`,
    images: img,
    acc,
  })),
);
const spec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `Same images, same recipe: accuracy on unseen ladders vs training images seen (${seeds.length} seed${seeds.length === 1 ? "" : "s"} each)`,
  data: { values: points },
  facet: { column: { field: "model", type: "nominal", title: null } },
  spec: {
    width: 300,
    height: 220,
    mark: { type: "line", point: true, strokeWidth: 1.5, opacity: 0.85 },
    encoding: {
      x: {
        field: "images",
        type: "quantitative",
        scale: { type: "log", domain: [1000, images] },
        axis: { values: [1000, 3000, 10000, 30000, 100000, 300000, 1000000], format: "~s" },
        title: "training images seen (log scale)",
      },
      y: {
        field: "acc",
        type: "quantitative",
        scale: { domain: [0, 1] },
        axis: { format: "%" },
        title: "accuracy on unseen ladders",
      },
      color: {
        field: "trainer",
        type: "nominal",
        legend: { orient: "bottom", title: null, labelLimit: 400 },
      },
      detail: { field: "run", type: "nominal" },
    },
  },
};
const result = {
  images,
  seeds,
  models,
  recipe: { batch: 128, lr: 2e-3, weight_decay: 0.05, warmup: 0, schedule: "cosine to 0" },
  rows,
  runs,
};
fs.writeFileSync(path.join(out, "parity.json"), JSON.stringify(result, null, 2) + "\n");
void (async () => {
  const svg = await vegaLiteToSVG(spec);
  fs.writeFileSync(path.join(out, "parity-curves.svg"), svg);
  if (svgCopy) fs.writeFileSync(svgCopy, svg);
  console.log(
    `\nwrote ${path.join(out, "parity.json")}, ${path.join(out, "parity-curves.svg")}${svgCopy ? ` and ${svgCopy}` : ""}`,
  );
})();

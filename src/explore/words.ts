/**
 * What the page says in words: which model, what it was trained on, and how good it measured,
 * beside the rung-blind rule and chance. Pure functions of the run's facts (payload.ts).
 */
import type { DatasetSpec } from "../data/spec";
import type { RunFacts } from "./payload";
import { verdictBaseline } from "../util/stats";

const FAMILY_TITLES: Record<string, { title: string; kind: string }> = {
  mobilenetv2: { title: "MobileNetV2", kind: "a convolutional network (CNN)" },
  mobilevit: { title: "MobileViT", kind: "a CNN + transformer hybrid" },
  vit: { title: "ViT", kind: "a vision transformer" },
  nest: { title: "NesT", kind: "a nested-hierarchy transformer" },
  mmlit: { title: "mmLiT", kind: "a lightweight transformer" },
};

/** "mobilenetv2_100" -> MobileNetV2-1.0, a CNN; "mobilevit_xxs" -> MobileViT-XXS, a hybrid. */
export function modelTitle(name: string): { title: string; kind: string } {
  const cut = name.indexOf("_");
  const family = cut < 0 ? name : name.slice(0, cut);
  const variant = cut < 0 ? "" : name.slice(cut + 1);
  const f = FAMILY_TITLES[family];
  if (!f) return { title: name, kind: "a network" };
  const v =
    family === "mobilenetv2" && /^\d+$/.test(variant)
      ? (Number(variant) / 100).toFixed(variant === "035" || variant === "075" ? 2 : 1)
      : variant.toUpperCase();
  return { title: v ? `${f.title}-${v}` : f.title, kind: f.kind };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const count = (n: number) => n.toLocaleString("en");

/** "plain puzzles" / "warp puzzles (1 hop)". */
export function taskWords(task: string, hops: number): string {
  return task === "plain" ? "plain puzzles" : `warp puzzles (${hops} hop${hops === 1 ? "" : "s"})`;
}

/** "the plain question" / "the warp question (1 hop)". */
export function questionWords(task: string, hops: number): string {
  return task === "plain"
    ? "the plain question"
    : `the warp question (${hops} hop${hops === 1 ? "" : "s"})`;
}

/** "3 lanes, 6 rows, 2 to 6 rungs, 64 x 64 px". */
export function difficultyWords(d: DatasetSpec["difficulty"]): string {
  return `${d.lanes} lanes, ${d.rows} rows, ${d.rungsMin} to ${d.rungsMax} rungs, ${d.size} x ${d.size} px`;
}

/** How the run was trained, in one sentence. */
export function trainedWords(f: RunFacts, spec: DatasetSpec): string {
  const how =
    f.stage === "finetune"
      ? `fine-tuned from an earlier model${f.frozen !== "none" ? ` with '${f.frozen}' frozen` : ""}`
      : "from scratch (random starting weights)";
  const drawn =
    spec.sampling === "debiased"
      ? "drawn so that no rule that ignores the rungs can beat guessing"
      : "drawn with the blog post's sampling";
  if (f.stream && f.imagesSeen !== null)
    return (
      `Trained on ${count(f.imagesSeen)} fresh ${taskWords(f.task, f.hops)} of ${difficultyWords(spec.difficulty)} ` +
      `(a new puzzle for every training image, none on a test ladder), ${drawn}, ${how}.`
    );
  return (
    `Trained on ${count(f.trainCount)} ${taskWords(f.task, f.hops)} of ${difficultyWords(spec.difficulty)}, ` +
    `${drawn}, for ${f.epochs} epoch${f.epochs === 1 ? "" : "s"}, ${how}.`
  );
}

/** The measured accuracy beside the rung-blind rule and chance, and what that means. */
export function measuredWords(f: RunFacts): { line: string; verdict: string; learned: boolean } {
  const rb = f.rungBlind;
  const line =
    `On ${count(f.testCount)} test puzzles whose ladders it never saw: ${pct(f.testAcc)} right ` +
    `(95 % interval ${pct(f.ci95[0])} to ${pct(f.ci95[1])}). ` +
    (rb === null
      ? "The rung-blind rule was not measured for this run. "
      : `A rule that never looks at the rungs: ${pct(rb)}. `) +
    `Guessing: ${pct(f.chance)}.` +
    (f.heldoutStyleAcc === null
      ? ""
      : ` Drawn in a style it never trained on: ${pct(f.heldoutStyleAcc)}.`);
  const bar = verdictBaseline(rb, f.chance);
  const learned = f.ci95[0] > bar;
  const verdict = learned
    ? `It beats ${rb === null ? "guessing" : "every rule that ignores the rungs"} by more than chance variation: it has learned something about the ladder.`
    : f.testAcc > bar
      ? `It is above ${rb === null ? "guessing" : "the rung-blind rule"}, but not by more than chance variation: do not read much into its answers.`
      : `It is no better than ${rb === null ? "guessing" : "a rule that ignores the rungs"}: whatever it answers here, it has not learned to ${f.task === "plain" ? "trace" : "trace and warp"}.`;
  return { line, verdict, learned };
}

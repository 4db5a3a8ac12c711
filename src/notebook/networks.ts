/** The networks of an experiment as a markdown table: parameters, and what MobileViT's attention spans. */
import { buildModel } from "../models/registry";
import { parameterCount } from "../models/summary";
import { attentionSpanOf } from "../models/registry";
import { freeze, FreezeGroup } from "../models/freeze";
import { ExperimentConfig, TRACKS } from "../experiment/config";
import { formatShare } from "../report/table";

export function networkTable(models: string[], size: number, classes: number): string {
  const lines = [
    "| model | parameters | attention per stage at this size (token map, **patches attended**) |",
    "|---|---|---|",
  ];
  for (const name of models) {
    const m = buildModel({ name, inputSize: size, classes, seed: 0 });
    const params = parameterCount(m, "all");
    m.dispose();
    const stages = attentionSpanOf(name, size);
    const span = stages.length
      ? stages.map((g) => `${g.stage}: ${g.featureMap.join("x")}, **${g.patches}**`).join("; ")
      : "no attention";
    lines.push(`| ${name} | ${params.toLocaleString("en")} | ${span} |`);
  }
  return lines.join("\n");
}

/** Per track and fine-tune arm: layers frozen and the share of the network's parameters they hold. */
export function freezeTable(cfg: ExperimentConfig): string {
  const lines = [
    "| model | freeze arm | layers frozen | parameters frozen | share |",
    "|---|---|---|---|---|",
  ];
  for (const track of TRACKS) {
    for (const arm of cfg.freeze[track]) {
      const m = buildModel({
        name: cfg.models[track],
        inputSize: cfg.difficulty.size,
        classes: cfg.difficulty.lanes,
        seed: 0,
      });
      const r = freeze(m, arm as FreezeGroup);
      m.dispose();
      const total = r.frozenParams + r.trainableParams;
      lines.push(
        `| ${cfg.models[track]} | ${arm} | ${r.frozenLayers.length} | ${r.frozenParams.toLocaleString("en")} of ${total.toLocaleString("en")} | ${formatShare(r.frozenParams / total)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** The networks of an experiment as a markdown table: parameters, and what MobileViT's attention spans. */
import { buildModel, isMobileViT } from "../models/registry";
import { parameterCount } from "../models/summary";
import { mobileViTGeometry } from "../models/mobilevit";
import { freeze, FreezeGroup } from "../models/freeze";
import { ExperimentConfig, TRACKS } from "../experiment/config";

export function networkTable(models: string[], size: number, classes: number): string {
  const lines = ["| model | parameters | attention per block at this size (feature map, patch, patches attended) |", "|---|---|---|"];
  for (const name of models) {
    const m = buildModel({ name, inputSize: size, classes, seed: 0 });
    const params = parameterCount(m, "all");
    m.dispose();
    const span = isMobileViT(name) ? mobileViTGeometry(size).map((g) => `${g.block}: ${g.featureMap}x${g.featureMap}, ${g.patch}x${g.patch}, **${g.patchesAttended}**`).join("; ") : "no attention";
    lines.push(`| ${name} | ${params.toLocaleString("en")} | ${span} |`);
  }
  return lines.join("\n");
}

/** Per track and fine-tune arm: layers frozen and the share of the network's parameters they hold. */
export function freezeTable(cfg: ExperimentConfig): string {
  const lines = ["| model | freeze arm | layers frozen | parameters frozen | share |", "|---|---|---|---|---|"];
  for (const track of TRACKS) {
    for (const arm of cfg.freeze[track]) {
      const m = buildModel({ name: cfg.models[track], inputSize: cfg.difficulty.size, classes: cfg.difficulty.lanes, seed: 0 });
      const r = freeze(m, arm as FreezeGroup);
      m.dispose();
      const total = r.frozenParams + r.trainableParams;
      lines.push(`| ${cfg.models[track]} | ${arm} | ${r.frozenLayers.length} | ${r.frozenParams.toLocaleString("en")} of ${total.toLocaleString("en")} | ${((100 * r.frozenParams) / total).toFixed(1)} % |`);
    }
  }
  return lines.join("\n");
}

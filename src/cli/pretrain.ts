import { initBackend } from "../backend/select";
import { pretrain, PRETRAIN } from "../pretrain/mae";
import { ExtraFlag, modeCommand } from "./config";
import { intOpt } from "./args";

const HEAD = `usage: amida pretrain --model vit_*|mmlit_* --data DIR --out DIR [--classes N] [--<knob> VALUE ...]
Masked-image pre-training of a ViT-family encoder on DIR's train images (labels unused). Saves to OUT a
classifier (N outputs, default: the data set's lanes) holding the pre-trained encoder; fine-tune it with
'amida train --init OUT'. OUT must be new, empty or an earlier pre-training's output. The last line is
JSON: the per-epoch reconstruction losses. Options:`;
const EXTRA: Record<string, ExtraFlag> = {
  out: { type: "string", doc: "where the pre-trained classifier goes" },
  classes: { type: "string", doc: "its outputs (default: the data set's lanes)" },
  backend: { type: "string", doc: "auto | node-gpu | node | wasm | cpu" },
};

export async function pretrainCommand(argv: string[]): Promise<number> {
  const r = modeCommand(PRETRAIN, HEAD, EXTRA, argv, { withBudget: false });
  if (!r) return 0;
  const out = r.flags.out as string | undefined;
  if (!out) throw new Error("--out is required (where the pre-trained classifier goes)");
  const classes =
    r.flags.classes === undefined ? undefined : intOpt("classes", r.flags.classes as string);
  await initBackend();
  const history = await pretrain(r.config, out, { classes });
  console.log(
    JSON.stringify({
      model: r.config.model,
      out,
      loss: history.map((h) => h.loss),
      images_per_s: history.map((h) => h.images_per_s),
    }),
  );
  return 0;
}

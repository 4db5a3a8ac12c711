import { parse, intOpt, numOpt } from "./args";
import { initBackend } from "../backend/select";
import { DEFAULT_PRETRAIN, pretrain, PretrainConfig } from "../pretrain/mae";

const D = DEFAULT_PRETRAIN;
const USAGE = `usage: amida pretrain --model vit_*|mmlit_* --data DIR --out DIR [--classes N] [--epochs ${D.epochs}] [--batch ${D.batchSize}] [--lr ${D.lr}]
                      [--mask-ratio ${D.maskRatio}] [--decoder-dim ${D.decoderDim}] [--decoder-depth ${D.decoderDepth}] [--seed ${D.seed}] [--backend auto|node-gpu|node|wasm|cpu]
Masked-image pre-training of a ViT-family encoder on DIR's train images (labels unused). Saves to OUT a
classifier (N outputs, default: the data set's lanes) holding the pre-trained encoder; fine-tune it with
'amida train --init OUT'. The last line is JSON: the per-epoch reconstruction losses.`;

export async function pretrainCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    {
      model: { type: "string" },
      data: { type: "string" },
      out: { type: "string" },
      classes: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      "mask-ratio": { type: "string" },
      "decoder-dim": { type: "string" },
      "decoder-depth": { type: "string" },
      seed: { type: "string" },
      backend: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
  );
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  for (const k of ["model", "data", "out"] as const)
    if (!v[k]) throw new Error(`--${k} is required\n${USAGE}`);
  const cfg: PretrainConfig = {
    model: v.model!,
    data: v.data!,
    epochs: intOpt("epochs", v.epochs, D.epochs),
    batchSize: intOpt("batch", v.batch, D.batchSize),
    lr: numOpt("lr", v.lr, D.lr),
    maskRatio: numOpt("mask-ratio", v["mask-ratio"], D.maskRatio),
    decoderDim: intOpt("decoder-dim", v["decoder-dim"], D.decoderDim),
    decoderDepth: intOpt("decoder-depth", v["decoder-depth"], D.decoderDepth),
    seed: intOpt("seed", v.seed, D.seed),
  };
  await initBackend(v.backend);
  const history = await pretrain(cfg, v.out!, {
    classes: v.classes === undefined ? undefined : intOpt("classes", v.classes),
  });
  console.log(
    JSON.stringify({
      model: cfg.model,
      out: v.out,
      loss: history.map((h) => h.loss),
      images_per_s: history.map((h) => h.images_per_s),
    }),
  );
  return 0;
}

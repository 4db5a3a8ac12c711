import { parse } from "./args";
import { initBackend } from "../backend/select";
import { buildModel, modelNames } from "../models/registry";
import { parameterCount } from "../models/summary";

const USAGE =
  "usage: amida models\nPrints every model's parameter count at 1000 classes / 256 px (the papers' setting) and 5 classes / 64 px; the last line is JSON.";

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { help: { type: "boolean", short: "h" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  await initBackend(undefined, { quiet: true });
  const out: Record<string, { params_1000_256: number; params_5_64: number }> = {};
  for (const name of modelNames()) {
    const big = buildModel({ name, inputSize: 256, classes: 1000, seed: 0 });
    const small = buildModel({ name, inputSize: 64, classes: 5, seed: 0 });
    out[name] = { params_1000_256: parameterCount(big), params_5_64: parameterCount(small) };
    big.dispose();
    small.dispose();
    console.log(
      `${name.padEnd(18)} ${out[name].params_1000_256.toLocaleString("en").padStart(11)} (1000 classes, 256 px)  ${out[name].params_5_64.toLocaleString("en").padStart(11)} (5 classes, 64 px)`,
    );
  }
  console.log(JSON.stringify(out));
  return 0;
}

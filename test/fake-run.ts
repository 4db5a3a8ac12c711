/** A run folder the runner's verified reader counts as finished, without training: for tests of readers. */
import * as fs from "fs";
import * as path from "path";
import { commitRun } from "../src/experiment/rundir";

export function fakeFinished(dir: string, name: string, metrics: object = {}): void {
  const run = path.join(dir, name);
  fs.mkdirSync(path.join(run, "checkpoints", "last"), { recursive: true });
  fs.writeFileSync(path.join(run, "checkpoints", "last", "checksum.json"), '{"sha256":{}}');
  fs.writeFileSync(path.join(run, "checkpoints", "history.json"), "[]");
  fs.writeFileSync(path.join(run, "config.json"), "{}");
  fs.writeFileSync(
    path.join(run, "provenance.json"),
    JSON.stringify({ config: { init: null }, initSha256: null }),
  );
  fs.writeFileSync(
    path.join(run, "metrics.json"),
    JSON.stringify({
      name,
      model: "m",
      task: "plain",
      stage: "stage1",
      test_acc: 0.5,
      test_count: 10,
      chance: 0.25,
      confusion: [],
      ci95: [0, 1],
      seconds: 1,
      epochs: 1,
      best_epoch: 1,
      ...metrics,
    }),
  );
  commitRun(run);
}

#!/usr/bin/env node
// The CLI runs the TypeScript sources directly (no build step), the same files the notebooks import.
// A forked worker watches for its parent's death first: loading takes seconds on a busy machine.
require("../src/util/watchdog.cjs").dieWithParent();
require("tsx/cjs/api").register();
require("../src/cli/main.ts")
  .main(process.argv.slice(2))
  .then((code) => process.exit(code ?? 0))
  .catch((err) => {
    console.error(`amida: ${err && err.message ? err.message : err}`);
    if (process.env.AMIDA_DEBUG) console.error(err);
    process.exit(1);
  });

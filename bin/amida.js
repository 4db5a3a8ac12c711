#!/usr/bin/env node
// The CLI runs the TypeScript sources directly (no build step), the same files the notebooks import.
require("tsx/cjs/api").register();
require("../src/cli/main.ts")
  .main(process.argv.slice(2))
  .then((code) => process.exit(code ?? 0))
  .catch((err) => {
    console.error(`amida: ${err && err.message ? err.message : err}`);
    if (process.env.AMIDA_DEBUG) console.error(err);
    process.exit(1);
  });

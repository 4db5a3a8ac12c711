#!/usr/bin/env node
/**
 * The project's tslab kernel: tslab 1.0.22 with shell requests handled one at a time, and a cell's
 * error shown as its message and the cell's line (jupyter/cell-error.js).
 *
 * Why one at a time: tslab handles each shell message as it arrives, without waiting for the previous one, and
 * brackets each with busy/idle status messages. While a long cell runs, any other request
 * (JupyterLab sends kernel_info on every page (re)connect, complete/inspect while typing) publishes
 * its own "idle" and the status bar says Idle although the cell still runs. ipykernel handles
 * shell requests in order; doing the same here keeps the status busy until the cell ends. The
 * control channel (shutdown) stays immediate; interrupts arrive as SIGINT and are unaffected.
 *
 * usage (kernel.json): node jupyter/kernel.js {connection_file}, run from the project root.
 */
const { ZmqServer } = require("tslab/dist/jupyter");
const { startKernel } = require("tslab/dist/main");

const handle = ZmqServer.prototype.handleShellMessage;
if (typeof handle !== "function") {
  throw new Error(
    `this tslab (${require("tslab/package.json").version}) has no ZmqServer.handleShellMessage; jupyter/kernel.js was written for tslab 1.0.22`,
  );
}
let queue = Promise.resolve();
ZmqServer.prototype.handleShellMessage = function (sock, ...frames) {
  if (sock !== this.shell) return handle.call(this, sock, ...frames);
  // tslab's handler catches and reports its own errors; the catch keeps the queue alive regardless.
  queue = queue
    .then(() => handle.call(this, sock, ...frames))
    .catch((e) => console.error("shell message failed:", e));
  return queue;
};

// Errors: tslab's executor reports a cell's error with `console.error(e)` through the console
// object it is given, i.e. Node's inspection of the error: the source line of a src/*.js file that
// exists only in tslab's memory, a caret, and ~10 stack frames. Give it a console that prints the
// message and the cell's line instead; the compiled output of each cell is kept for that mapping.
const executorModule = require("tslab/dist/executor");
const { formatCellError } = require("./cell-error");
const createExecutor = executorModule.createExecutor;
if (typeof createExecutor !== "function") {
  throw new Error(
    "this tslab has no executor.createExecutor; jupyter/kernel.js was written for tslab 1.0.22",
  );
}
executorModule.createExecutor = function (rootDir, convs, cons) {
  let cell = null; // { src, output } of the cell being run
  const node = convs.node;
  const convert = node.convert.bind(node);
  node.convert = (prevDecl, src) => {
    const converted = convert(prevDecl, src);
    cell = { src, output: converted.output };
    return converted;
  };
  const error = (...args) =>
    args.length === 1 && (args[0] instanceof Error || typeof args[0]?.stack === "string")
      ? cons.error(formatCellError(args[0], cell))
      : cons.error(...args);
  return createExecutor(rootDir, convs, { ...cons, error });
};

const configPath = process.argv[2];
if (!configPath) throw new Error("usage: node jupyter/kernel.js CONNECTION_FILE");
startKernel({ configPath, enableFindLocal: false });

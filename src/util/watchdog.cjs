// In a process forked with an IPC channel: exit as soon as the parent is gone, however it died
// and whatever this process is doing. Plain JavaScript so that bin/amida.js can start it before
// anything else loads (loading the TypeScript sources and TensorFlow takes seconds on a busy
// machine, and a parent killed meanwhile must not leave this process behind).
//
// The IPC channel's close is seen when the event loop turns; a synchronous training step can hold
// it for seconds, so a watchdog thread also checks every 200 ms whether the process was
// re-parented (its parent died) and then kills this process outright. Locks and partial files it
// leaves are stale by design (a dead PID) and are cleaned by the next writer; checkpoints are
// atomic, so a run resumes.
const { Worker } = require("worker_threads");

let watching = false;

function dieWithParent() {
  if (!process.send || watching) return;
  watching = true;
  process.on("disconnect", () => process.exit(129));
  // A parent that disconnected while this process was still loading (tsx's loader turns the event
  // loop before this runs) emitted "disconnect" to no listener: exit now, or wait forever.
  if (!process.connected) process.exit(129);
  const watchdog = new Worker(
    `const { workerData } = require("worker_threads");
     const check = () => {
       if (process.ppid !== workerData.ppid) process.kill(workerData.pid, "SIGKILL");
     };
     check();
     setInterval(check, 200);`,
    { eval: true, workerData: { ppid: process.ppid, pid: process.pid } },
  );
  watchdog.unref();
}

module.exports = { dieWithParent };

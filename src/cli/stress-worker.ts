// A worker thread of `thpemu stress` (stress.ts): it is given the campaign's
// options once (workerData), then run numbers one at a time; for each it runs
// that run (src/scenario/stress.ts), shrinks it if it failed, and answers.
// Progress goes back every 100 operations.
import { parentPort, workerData } from "node:worker_threads";
import { stressRun, shrinkStressFailure, type StressOptions } from "../scenario/stress.js";
import type { ToWorker, FromWorker } from "./stress.js";

const port = parentPort!;
const o = workerData as StressOptions;
const post = (m: FromWorker) => { port.postMessage(m); };

port.on("message", (msg: ToWorker) => {
  if (msg.type === "stop") { port.close(); return; }
  const run = msg.run;
  void (async () => {
    try {
      const result = await stressRun(o, run, (applied) => post({ type: "progress", run, applied }));
      const shrunk = result.failure && result.lines
        ? await shrinkStressFailure(result.lines, result.failure, o.machine, o.maxShrinkRuns)
        : undefined;
      post({ type: "done", result, shrunk });
    } catch (e) {
      post({ type: "error", run, message: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e) });
    }
  })();
});

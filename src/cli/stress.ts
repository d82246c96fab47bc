// `thpemu stress`: endurance runs of the emulator alone (no kernel). The
// campaign's runs (src/scenario/stress.ts: generate → apply → check every K
// → leak check) are handed out one at a time to J worker threads
// (stress-worker.ts), so a slow run does not hold up the others; each run is
// fixed by the seed and its number, so the same seed gives the same
// operations whatever J is. Failing runs are shrunk in their worker and
// written to DIR/stress-SEED-RUN.scn.
//
//   thpemu stress [--ops N] [--seed S] [--jobs J] [--check-every K] [--run-ops R]
//                 [--kernel …] [--scheme …] [--memory SIZE] [--out DIR]
//
// stdout: `seed S; replay with --seed S` first, a line per failing run, the
// rate, and `N ops, M violations` last. stderr: the progress bar on a
// terminal, else a line per 10% of the operations.
// Exit status: 0 no violation, 3 a violation, 2 a bad option, 4 the host
// cannot be probed (--kernel host), 70 a worker died.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import { Machine, UserError, type MachineOptions } from "../machine.js";
import type { SchemeName } from "../profiles.js";
import {
  stressRun, shrinkStressFailure, stressRunCount, stressRunLength,
  STRESS_MEMORY, type StressOptions, type RunResult, type ShrunkFailure,
} from "../scenario/stress.js";
import { machineOptions, type KernelChoice } from "./target.js";
import { writeLine, type CliIO } from "./io.js";
import { EXIT_OK, EXIT_SCENARIO, EXIT_INVARIANT, EXIT_HOST, EXIT_INTERNAL } from "./status.js";

export interface StressCliOptions {
  ops: number;
  seed?: number;
  /** Worker threads (default: the cores, os.availableParallelism()). */
  jobs?: number;
  checkEvery: number;
  runOps: number;
  kernel: KernelChoice;
  scheme?: SchemeName;
  memory?: number;
  out: string;
}

/** Main thread → worker. */
export type ToWorker = { type: "run"; run: number } | { type: "stop" };
/** Worker → main thread. */
export type FromWorker =
  | { type: "progress"; run: number; applied: number }
  | { type: "done"; result: RunResult; shrunk?: ShrunkFailure }
  | { type: "error"; run: number; message: string };

/** The worker's module next to this one (dist/cli/stress-worker.js), or null when running from the TypeScript sources. */
function workerScript(): URL | null {
  const u = new URL("./stress-worker.js", import.meta.url);
  return u.protocol === "file:" && fs.existsSync(fileURLToPath(u)) ? u : null;
}

type Done = Extract<FromWorker, { type: "done" }>;

/**
 * Run runs 0 … n-1 on `jobs` workers (or in this thread when jobs is 1 or
 * there is no compiled worker), calling `progress` with the operations
 * applied so far and `done` with each finished run (in completion order).
 */
async function runAll(o: StressOptions, jobs: number, script: URL | null, progress: (ops: number) => void, done: (d: Done) => void): Promise<void> {
  const n = stressRunCount(o.ops, o.runOps);
  let finished = 0;
  if (jobs === 1 || !script) {
    for (let r = 0; r < n; r++) {
      const result = await stressRun(o, r, (a) => progress(finished + a));
      const shrunk = result.failure && result.lines ? await shrinkStressFailure(result.lines, result.failure, o.machine, o.maxShrinkRuns) : undefined;
      finished += stressRunLength(o, r);
      progress(finished);
      done({ type: "done", result, shrunk });
    }
    return;
  }
  const inFlight = new Map<number, number>(); // run → ops applied so far
  let next = 0;
  const report = () => { let s = finished; for (const a of inFlight.values()) s += a; progress(s); };
  await new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    let live = 0;
    let failed = false;
    const stopAll = () => { for (const w of workers) void w.terminate(); };
    const feed = (w: Worker) => {
      if (next < n) { inFlight.set(next, 0); w.postMessage({ type: "run", run: next++ } satisfies ToWorker); }
      else w.postMessage({ type: "stop" } satisfies ToWorker);
    };
    for (let j = 0; j < Math.min(jobs, n); j++) {
      const w = new Worker(script, { workerData: o });
      workers.push(w);
      live++;
      w.on("message", (m: FromWorker) => {
        if (m.type === "progress") { inFlight.set(m.run, m.applied); report(); return; }
        if (m.type === "error") { failed = true; stopAll(); reject(new Error(`run ${m.run}: ${m.message}`)); return; }
        inFlight.delete(m.result.run);
        finished += stressRunLength(o, m.result.run);
        report();
        done(m);
        feed(w);
      });
      w.on("error", (e) => { if (!failed) { failed = true; stopAll(); reject(e); } });
      w.on("exit", (code) => {
        if (failed) return;
        if (code !== 0) { failed = true; stopAll(); reject(new Error(`a worker exited with status ${code}`)); return; }
        if (--live > 0) return;
        // every run handed out came back
        if (inFlight.size || next < n) reject(new Error(`runs ${[...inFlight.keys()].join(", ")} did not finish`)); else resolve();
      });
      feed(w);
    }
  });
}

/** The text of a shrunk failing run, with a header that says where it came from and how to replay it. */
function failureFile(seed: number, o: StressCliOptions, r: RunResult, s: ShrunkFailure | undefined): string {
  const flags = [o.kernel !== "linux-6.18" ? ` --kernel ${o.kernel}` : "", o.scheme ? ` --scheme ${o.scheme}` : "",
    o.memory && o.memory !== STRESS_MEMORY ? ` --memory ${o.memory}` : ""].join("");
  const f = s?.failure ?? r.failure!;
  const lines = s?.lines ?? r.lines ?? [];
  const header = [
    `# thpemu stress: seed ${seed}, run ${r.run} (run seed ${r.runSeed}); ${r.failure!.kind} after line ${r.failure!.line} of ${r.lines?.length ?? 0}, shrunk to ${lines.length} lines (${s?.candidates ?? 0} candidates)`,
    `# replay: thpemu stress --seed ${seed} --ops ${(r.run + 1) * o.runOps} --run-ops ${o.runOps} --check-every ${o.checkEvery}${flags}`,
    f.kind === "leak"
      ? `# leak check after the last line (every process exits, then shrink):`
      : `# check: thpemu run --check${flags.replace(/ --memory \d+/, "")} --memory ${o.memory ?? STRESS_MEMORY} THIS_FILE`,
    `# ${f.kind} after line ${f.line}:`,
    ...f.message.split("\n").slice(0, 12).map((l) => `#   ${l}`),
  ];
  return header.join("\n") + "\n" + lines.join("\n") + "\n";
}

/** `thpemu stress`: the exit status. */
export async function stressCommand(o: StressCliOptions, io: CliIO): Promise<number> {
  const say = (s: string) => writeLine(io.stdout, s);
  const seed = o.seed ?? (Math.floor(Math.random() * 2 ** 32) >>> 0);
  const base = await machineOptions(o.kernel, io);
  if (!base) return EXIT_HOST;
  const machine: MachineOptions = { ...base, scheme: o.scheme, memory: o.memory ?? STRESS_MEMORY };
  try {
    await Machine.create(machine); // a bad option is an error now, not in every worker
  } catch (e) {
    if (e instanceof UserError) { writeLine(io.stderr, `thpemu: ${e.message}`); return EXIT_SCENARIO; }
    throw e;
  }
  const so: StressOptions = { seed, ops: o.ops, checkEvery: o.checkEvery, runOps: o.runOps, machine };
  const runs = stressRunCount(o.ops, o.runOps);
  const script = workerScript();
  // from the TypeScript sources (the test suite) there is no worker module: the runs go one after another here
  const jobs = script ? Math.max(1, Math.min(o.jobs ?? os.availableParallelism(), runs)) : 1;
  const kflag = o.kernel !== "linux-6.18" ? ` --kernel ${o.kernel}` : "";
  const sflag = o.scheme ? ` --scheme ${o.scheme}` : "";
  say(`seed ${seed}; replay with --seed ${seed}${kflag}${sflag}`);
  say(`${o.ops} ops in ${runs} runs of ${o.runOps}, checker every ${o.checkEvery || "run's end"}, ${jobs} job${jobs > 1 ? "s" : ""}`);

  const tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY);
  let violations = 0;
  const bar = tty
    ? new cliProgress.SingleBar(
      { stream: io.stderr, format: "stress [{bar}] {value}/{total} ops | {violations} violations | {eta_formatted}", hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    )
    : null;
  bar?.start(o.ops, 0, { violations });
  const step = Math.max(1, Math.ceil(o.ops / 10));
  let nextLine = step;
  const progress = (ops: number) => {
    if (bar) { bar.update(ops, { violations }); return; }
    while (ops >= nextLine && nextLine <= o.ops) {
      io.stderr.write(`stress: ${nextLine}/${o.ops} ops, ${violations} violations\n`);
      nextLine += step;
    }
  };
  const log = (s: string) => {
    if (bar) { const v = bar.getProgress() * o.ops; bar.stop(); say(s); bar.start(o.ops, Math.round(v), { violations }); } else say(s);
  };

  const failures: Done[] = [];
  let applied = 0, checks = 0, oom = 0;
  const t0 = performance.now();
  try {
    await runAll(so, jobs, script, progress, (d) => {
      applied += d.result.ops;
      checks += d.result.checks;
      oom += d.result.oom;
      if (!d.result.failure) return;
      violations++;
      failures.push(d);
      const file = path.join(o.out, `stress-${seed}-${d.result.run}.scn`);
      const body = failureFile(seed, o, d.result, d.shrunk);
      const f = d.result.failure;
      const what = `run ${d.result.run} (seed ${seed}, run seed ${d.result.runSeed}): ${f.kind} after line ${f.line}: ${f.message.split("\n")[0]}`;
      try {
        fs.mkdirSync(o.out, { recursive: true });
        fs.writeFileSync(file, body);
        log(`${what}; shrunk to ${d.shrunk?.lines.length ?? "?"} lines: ${file}`);
      } catch (err) {
        // the finding must not be lost to an unwritable --out: print it instead
        log(`${what}; cannot write ${file} (${(err as Error).message}), so here it is:`);
        io.stdout.write(body);
      }
    });
  } catch (e) {
    bar?.stop();
    writeLine(io.stderr, `thpemu: internal error: a stress worker failed: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_INTERNAL;
  }
  bar?.stop();
  const secs = (performance.now() - t0) / 1000;
  say(`${secs.toFixed(1)} s, ${Math.round(applied / secs)} ops/s, ${checks} checks${oom ? `, ${oom} emulated OOMs (rolled back)` : ""}`);
  const which = failures.map((d) => d.result.run).sort((a, b) => a - b);
  say(`${applied} ops, ${violations} violations${which.length ? ` (seed ${seed}, run${which.length > 1 ? "s" : ""} ${which.join(", ")})` : ""}`);
  return violations ? EXIT_INVARIANT : EXIT_OK;
}

// Endurance testing of the emulator alone: long runs of random VALID
// operations (the fuzz generator, generate.ts: knob changes, mTHP sizes,
// forks, COW, splits …) applied to a machine, the invariant checker
// (Machine.check, src/check/) every K operations and at the end of each run,
// then a leak check (every process exits, the shrinkers run: every frame but
// the permanent zero page must be back in the buddy allocator). A failing run
// is shrunk by delta debugging over its lines (shrink.ts, as `thpemu fuzz`
// shrinks) with the checker after every operation.
//
// A campaign of `ops` operations with seed S is cut into runs of `runOps`
// operations; run r is generated from runSeed(S, r) (the mixing `thpemu fuzz`
// uses) on a fresh machine, so the same seed gives the same operations
// however the runs are spread over workers (`thpemu stress --jobs`,
// src/cli/stress.ts). This module is the engine; it knows nothing of
// threads or terminals.
import { Machine, UserError, OomError, type MachineOptions } from "../machine.js";
import type { KernelName } from "../profiles.js";
import { buildScenario, mulberry32, randomSeeds, runSeed, FUZZ_WEIGHTS } from "./generate.js";
import { parseScenario, type Op } from "./parse.js";
import { applyOp } from "./run.js";
import { ddmin } from "./shrink.js";

/** Operations per run unless asked otherwise (a fresh machine per run). */
export const DEFAULT_RUN_OPS = 1000;
/** Emulated memory per run unless asked otherwise: far more than a generated run maps (≤ 5 processes × 4 regions × 8.4 MiB). */
export const STRESS_MEMORY = 1024 ** 3;
/**
 * The fuzz generator's weights with fewer dumps: here the checker is the
 * oracle, and a dump of five processes' regions (tens of thousands of
 * records) costs as much as a hundred other operations.
 */
export const STRESS_WEIGHTS: [string, number][] = FUZZ_WEIGHTS.map(([k, w]) => [k, k === "dump" ? 1 : w]);
/** Largest generated region in pages (as `thpemu fuzz`: a little over 8 MiB). */
const MAX_REGION_PAGES = 2048 + 100;

export interface StressOptions {
  /** The campaign's seed (32-bit unsigned); run r uses runSeed(seed, r). */
  seed: number;
  /** Operations in all (the last run may be shorter). */
  ops: number;
  /** Run the invariant checker after every K-th operation of a run (and at its end); 0: only at the end. */
  checkEvery: number;
  /** Operations per run (default DEFAULT_RUN_OPS). */
  runOps?: number;
  /** The machine of every run (kernel, scheme, knobs, quirks; memory default STRESS_MEMORY). */
  machine?: MachineOptions;
  /** Ceiling on shrink candidates per failing run (each one a run with the checker after every operation; default 200). */
  maxShrinkRuns?: number;
}

/**
 * How a run failed:
 * - invariant: the checker found a counter that disagrees with the page tables;
 * - internal: an operation threw an emulator bug (InternalError: a core trap, bad_page(), a BUG: check) or any non-UserError;
 * - rejected: a valid generated operation was refused (a UserError other than an emulated OOM);
 * - leak: after every process exited and the shrinkers ran, frames are missing or counters are not back to zero.
 */
export type FailureKind = "invariant" | "internal" | "rejected" | "leak";

export interface StressFailure {
  kind: FailureKind;
  /** 1-based line of the run's scenario after which it was seen (for a leak: the last line). */
  line: number;
  /** What was wrong (the checker's violations, one a line). */
  message: string;
}

export interface RunResult {
  run: number;
  runSeed: number;
  /** Operations applied (up to the failing one). */
  ops: number;
  /** Checker runs. */
  checks: number;
  /** Operations that ran out of emulated memory (rolled back; allowed). */
  oom: number;
  failure?: StressFailure;
  /** The run's scenario lines (with a failure only: what shrinking starts from). */
  lines?: string[];
}

export interface ShrunkFailure { lines: string[]; failure: StressFailure; candidates: number }

/** How many runs a campaign has. */
export function stressRunCount(ops: number, runOps = DEFAULT_RUN_OPS): number {
  return Math.ceil(ops / runOps);
}

/** The number of operations of run `run`. */
export function stressRunLength(o: Pick<StressOptions, "ops" | "runOps">, run: number): number {
  const per = o.runOps ?? DEFAULT_RUN_OPS;
  return Math.max(0, Math.min(per, o.ops - run * per));
}

/**
 * The first `count` lines the fuzz generator makes from `seed`: its prologue
 * (a THP region touched by the first process), then one line per random
 * operation that is valid in the model (no kernel restrictions here: `split`
 * of shared THPs too). Each line is valid after the ones before it, so any
 * prefix is a valid scenario.
 */
export function stressLines(seed: number, count: number, kernel: KernelName = "linux-6.18"): string[] {
  // a seed emits one line or none (about 7 in 8 emit one): ask for enough seeds, more if they fall short
  for (let n = Math.ceil(count * 1.25) + 16; ; n *= 2) {
    const lines = buildScenario(randomSeeds(mulberry32(seed), n), kernel, STRESS_WEIGHTS, { maxRegionPages: MAX_REGION_PAGES });
    lines.pop(); // the generator's closing `dump final`
    if (lines.length >= count) return lines.slice(0, count);
  }
}

/** A machine's state after every process exited and the shrinkers ran, against its free frames at creation. */
export function leakCheck(m: Machine, free0: number): string[] {
  for (const p of m.liveProcesses()) m.exit(p.name);
  m.shrink();
  const bad = m.check();
  const core = m.core;
  const want = (what: string, got: number, expected: number) => { if (got !== expected) bad.push(`${what} ${got}, expected ${expected}`); };
  want("free frames (NR_FREE_PAGES) after every process exited", core.nrFreePages(), free0);
  want("frames on the buddy free lists", core.e.nr_free_pages() >>> 0, free0);
  want("deferred split queue length", core.splitQueueLen, 0);
  if (core.hugeZeroPfn !== core.NIL) bad.push(`the huge zero page is still allocated (refcount ${core.hugeZeroRefcount})`);
  for (const s of ["NR_ANON_PAGES", "NR_ANON_THPS", "NR_PAGETABLE"] as const) want(s, core.vmstat(s), 0);
  return bad;
}

interface Executed { applied: number; checks: number; oom: number; failure?: StressFailure }

/**
 * Apply `ops` to `m`, the checker after every `checkEvery`-th one and after
 * the last; then, with `leak`, the leak check. Stops at the first failure.
 */
function execute(m: Machine, ops: Op[], checkEvery: number, leak: boolean, onProgress?: (applied: number) => void): Executed {
  const free0 = m.core.nrFreePages();
  let applied = 0, checks = 0, oom = 0;
  const fail = (kind: FailureKind, line: number, message: string): Executed => ({ applied, checks, oom, failure: { kind, line, message } });
  const check = (line: number): Executed | null => {
    checks++;
    let v: string[];
    try { v = m.check(); } catch (e) { return fail("internal", line, `the checker threw: ${describe(e)}`); }
    return v.length ? fail("invariant", line, v.join("\n")) : null;
  };
  for (const op of ops) {
    try {
      applyOp(m, op);
    } catch (e) {
      if (e instanceof OomError) { oom++; }
      else if (e instanceof UserError) return fail("rejected", op.line, e.message);
      else return fail("internal", op.line, describe(e));
    }
    applied++;
    if (onProgress && applied % 100 === 0) onProgress(applied);
    if (checkEvery > 0 && applied % checkEvery === 0) {
      const f = check(op.line);
      if (f) return f;
    }
  }
  const last = ops.length ? ops[ops.length - 1].line : 0;
  if (checkEvery === 0 || applied % checkEvery !== 0) {
    const f = check(last);
    if (f) return f;
  }
  if (leak) {
    let v: string[];
    try { v = leakCheck(m, free0); } catch (e) { return fail("internal", last, `the leak check threw: ${describe(e)}`); }
    checks++;
    if (v.length) return fail("leak", last, v.join("\n"));
  }
  return { applied, checks, oom };
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
}

/** Run `run` of a campaign on a fresh machine. `onProgress` is told the operations applied so far (every 100). */
export async function stressRun(o: StressOptions, run: number, onProgress?: (applied: number) => void): Promise<RunResult> {
  const rs = runSeed(o.seed, run);
  const kernel = o.machine?.kernel ?? "linux-6.18";
  const lines = stressLines(rs, stressRunLength(o, run), kernel);
  const ops = parseScenario(lines.join("\n"), `stress-${o.seed}-${run}.scn`);
  const m = await Machine.create({ memory: STRESS_MEMORY, ...o.machine });
  const r = execute(m, ops, o.checkEvery, true, onProgress);
  const out: RunResult = { run, runSeed: rs, ops: r.applied, checks: r.checks, oom: r.oom };
  if (r.failure) { out.failure = r.failure; out.lines = lines; }
  return out;
}

/**
 * Shrink a failing run by ddmin over its lines. A candidate still fails when,
 * on a fresh machine with the checker after every operation, it fails the
 * same way: an invariant violation, an internal error, the same refusal
 * message, or (for a leak) no other failure and a leak after its last line.
 * A candidate that is refused earlier (ddmin removed a `spawn` or an `mmap`)
 * does not fail. At most `maxRuns` candidates (the first ones, of up to a whole run with a check after every line, take seconds each).
 */
export async function shrinkStressFailure(
  lines: string[], failure: StressFailure, machine: MachineOptions = {}, maxRuns = 200,
): Promise<ShrunkFailure> {
  const opts = { memory: STRESS_MEMORY, ...machine };
  // what happened after the failing line is irrelevant (a leak is seen after the last one)
  const start = failure.kind === "leak" ? lines : lines.slice(0, failure.line);
  let best: ShrunkFailure = { lines: start, failure, candidates: 0 };
  let candidates = 0;
  const seen = new Map<string, boolean>();
  const reason = (msg: string) => msg.split("\n")[0];
  const fails = async (ls: string[]): Promise<boolean> => {
    const text = ls.join("\n");
    const memo = seen.get(text);
    if (memo !== undefined) return memo;
    if (candidates >= maxRuns) return false;
    candidates++;
    let ok = false;
    let f: StressFailure | undefined;
    try {
      const ops = parseScenario(text, "shrink.scn");
      f = execute(await Machine.create(opts), ops, 1, failure.kind === "leak").failure;
      ok = f !== undefined && f.kind === failure.kind &&
        (f.kind !== "rejected" || reason(f.message) === reason(failure.message));
    } catch { ok = false; }
    if (ok && f) {
      // the candidate's lines up to where it failed
      const cut = f.kind === "leak" ? ls : ls.slice(0, f.line);
      if (cut.length <= best.lines.length) best = { lines: cut, failure: f, candidates };
    }
    seen.set(text, ok);
    return ok;
  };
  // first the prefix with the checker after every operation: the exact line it goes wrong
  await fails(start);
  await ddmin(best.lines, fails);
  return { ...best, candidates };
}

/** A whole campaign, run after run in this thread (the CLI spreads the runs over workers instead). */
export async function stress(o: StressOptions, onRun?: (r: RunResult) => void): Promise<{ ops: number; runs: RunResult[]; failures: RunResult[] }> {
  const runs: RunResult[] = [];
  let ops = 0;
  for (let r = 0; r < stressRunCount(o.ops, o.runOps); r++) {
    const res = await stressRun(o, r);
    ops += res.ops;
    runs.push(res);
    onRun?.(res);
  }
  return { ops, runs, failures: runs.filter((r) => r.failure) };
}

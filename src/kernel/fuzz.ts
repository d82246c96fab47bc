// Differential fuzzing: random valid scenarios (src/scenario/generate.ts) run
// on this machine's Linux kernel (runner.ts) and on the emulator (a
// KernelTarget, probe.ts: by default the host's knobs and quirks on the
// linux-6.18 profile; invariant checker on), compared on the spec's fields
// (conform.ts). A mismatch is shrunk by delta debugging over lines to a
// small scenario that still runs on the emulator without error and still
// differs from the kernel, and written to a directory as NAME.scn.
//
//   thpemu fuzz [--runs N] [--seed S] [--ops K] [--out DIR] [--kernel host|linux-6.18]
//
// Exit status: 0 no failure, 1 a failure, 4 this host cannot run scenarios
// on its kernel.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Writable } from "node:stream";
import cliProgress from "cli-progress";
import { generateScenario, runSeed } from "../scenario/generate.js";
import { runScenario, InvariantError } from "../scenario/run.js";
import { ScenarioError } from "../scenario/parse.js";
import { ddmin } from "../scenario/shrink.js";
import { kernelInput, compareRecords, parseJsonl, formatDifference, type Difference } from "./conform.js";
import { hostCanServe, runOnKernel, ensureKernelRunner } from "./runner.js";
import { resolveTarget, type KernelTarget } from "./probe.js";
import type { KernelName } from "../profiles.js";

/** The verdict on one scenario. */
export type Verdict =
  | { status: "match" }
  /** The kernel cannot check it (split of a shared THP, interference that persisted, split failed). */
  | { status: "skipped"; reason: string }
  /** Kernel and emulator differ (records, or one of them rejected the scenario). */
  | { status: "mismatch"; kind: "records" | "emulator-error" | "kernel-error"; diffs: Difference[]; reason?: string; invariant?: boolean }
  /** The host cannot serve: stop. */
  | { status: "host"; reason: string };

/** Emulator memory for fuzzing: far more than any generated scenario uses. */
const EMU_MEMORY = 1024 ** 3;

type EmuResult = { ok: true; recs: unknown[] } | { ok: false; error: string; invariant: boolean };

async function onEmulator(text: string, file: string, target?: KernelTarget): Promise<EmuResult> {
  try {
    const machine = target?.machine ?? { kernel: "linux-6.18" as const };
    return { ok: true, recs: await runScenario(text, { file, ...machine, memory: EMU_MEMORY, check: true }) };
  } catch (e) {
    if (e instanceof ScenarioError) return { ok: false, error: e.message, invariant: false };
    if (e instanceof InvariantError) return { ok: false, error: e.message, invariant: true };
    return { ok: false, error: `internal error: ${e instanceof Error ? e.message : String(e)}`, invariant: true };
  }
}

/** Run one scenario text on the kernel and the emulator (under `target`) and compare. */
export async function checkScenario(text: string, file = "fuzz.scn", emu?: EmuResult, target?: KernelTarget): Promise<Verdict> {
  if (target?.skip) return { status: "skipped", reason: target.skip };
  const e = emu ?? (await onEmulator(text, file, target));
  const smaps = target?.machine.smaps;
  const k = await runOnKernel(kernelInput(text, file, target?.prologue), { smaps });
  if (k.status === "unsupported") return { status: "skipped", reason: k.reason };
  if (k.status === "error") {
    if (k.code === 4) return { status: "host", reason: k.reason };
    if (k.code === 7 || k.code === 6) return { status: "skipped", reason: k.reason };
    if (k.code === 2) {
      // the kernel refused an operation (an access error, SIGSEGV): the emulator must have too
      if (!e.ok && !e.invariant) return { status: "match" };
      return { status: "mismatch", kind: "kernel-error", diffs: [], reason: `kernel: ${k.reason}${e.ok ? "; emulator ran it" : `; emulator: ${e.error}`}` };
    }
    return { status: "skipped", reason: `kernel runner failed (exit ${k.code}): ${k.reason}` };
  }
  if (!e.ok) return { status: "mismatch", kind: "emulator-error", invariant: e.invariant, diffs: [], reason: `emulator: ${e.error}` };
  const diffs = compareRecords(parseJsonl(k.jsonl), e.recs, { smaps });
  return diffs.length ? { status: "mismatch", kind: "records", diffs } : { status: "match" };
}

// ddmin lives with the scenarios (stress shrinks with it too); re-exported for fuzz's users
export { ddmin };

export interface ShrinkResult { lines: string[]; verdict: Verdict; kernelRuns: number }

/**
 * Shrink a failing scenario by ddmin over its lines. For a record mismatch
 * (or a kernel error) a candidate must run without error on the emulator
 * (an emulator error = an invalid candidate: no kernel run) and still fail
 * the same way on the kernel. For an emulator error, a candidate must give
 * the same error (an invariant violation: any invariant violation, no kernel
 * run; a rejected operation: the same message, and the kernel accepts it).
 * At most `maxKernelRuns` kernel runs.
 */
export async function shrinkScenario(
  lines: string[], original: Verdict, maxKernelRuns = 60, target?: KernelTarget,
): Promise<ShrinkResult> {
  if (original.status !== "mismatch") return { lines, verdict: original, kernelRuns: 0 };
  let runs = 0;
  let best: { lines: string[]; verdict: Verdict } = { lines, verdict: original };
  const seen = new Map<string, boolean>();
  // an emulator error: its message without the FILE:LINE: prefix (the line moves while shrinking)
  const message = (err: string) => err.replace(/^emulator: /, "").replace(/^[^:]*:\d+: /, "");
  const wanted = original.kind === "emulator-error" ? message(original.reason ?? "") : "";
  const invariantOriginal = original.kind === "emulator-error" && original.invariant === true;
  const fails = async (ls: string[]): Promise<boolean> => {
    const text = ls.join("\n") + "\n";
    const memo = seen.get(text);
    if (memo !== undefined) return memo;
    let result = false;
    const emu = await onEmulator(text, "shrink.scn", target);
    if (original.kind === "emulator-error") {
      // the same emulator error (an invariant violation needs no kernel; a rejected
      // operation must be one the kernel accepts)
      if (!emu.ok && emu.invariant === invariantOriginal && (invariantOriginal || message(emu.error) === wanted)) {
        if (invariantOriginal) result = true;
        else if (runs < maxKernelRuns) {
          runs++;
          const v = await checkScenario(text, "shrink.scn", emu, target);
          result = v.status === "mismatch" && v.kind === "emulator-error";
        }
      }
      if (result) best = { lines: ls, verdict: { status: "mismatch", kind: "emulator-error", invariant: invariantOriginal, diffs: [], reason: `emulator: ${(emu as { error: string }).error}` } };
    } else if (emu.ok && runs < maxKernelRuns) {
      // an emulator error makes the candidate invalid: no kernel run
      runs++;
      const v = await checkScenario(text, "shrink.scn", emu, target);
      if (v.status === "mismatch" && v.kind === original.kind) {
        result = true;
        best = { lines: ls, verdict: v };
      }
    }
    seen.set(text, result);
    return result;
  };
  await ddmin(lines, fails);
  return { lines: best.lines, verdict: best.verdict, kernelRuns: runs };
}

export interface FuzzOptions {
  runs: number;
  seed: number;
  ops: number;
  outDir: string;
  maxRegionPages?: number;
  maxShrinkRuns?: number;
  /** Operation weights for the generator (default FUZZ_WEIGHTS). */
  weights?: [string, number][];
  /** What the emulator is compared as (default host: linux-6.18 with the host's knobs and quirks). */
  kernel?: "host" | KernelName;
  /** Compare the regions' smaps fields too (`--smaps`). */
  smaps?: boolean;
}

export interface FuzzIO { stdout: Writable; stderr: Writable }

function describeVerdict(v: Verdict): string[] {
  if (v.status !== "mismatch") return [];
  if (v.kind !== "records") return [v.reason ?? v.kind];
  const out = v.diffs.slice(0, 8).map(formatDifference);
  if (v.diffs.length > 8) out.push(`… ${v.diffs.length - 8} more differences`);
  return out;
}

/** `thpemu fuzz`: the exit status. */
export async function fuzzCommand(o: FuzzOptions, io: FuzzIO): Promise<number> {
  const say = (s: string) => { io.stdout.write(s + "\n"); };
  const host = hostCanServe();
  if (!host.ok) {
    io.stderr.write(`thpemu: this host cannot run scenarios on its kernel: ${host.reason}\n`);
    return 4;
  }
  let target: KernelTarget;
  try {
    await ensureKernelRunner();
    target = await resolveTarget(o.kernel ?? "host");
  } catch (e) {
    io.stderr.write(`thpemu: this host cannot run scenarios on its kernel: ${e instanceof Error ? e.message : String(e)}\n`);
    return 4;
  }
  if (target.skip) {
    io.stderr.write(`thpemu: cannot fuzz as ${target.kernel} here: ${target.skip}\n`);
    return 4;
  }
  if (o.smaps) target = { ...target, machine: { ...target.machine, smaps: true } };
  const kflag = (o.kernel && o.kernel !== "host" ? ` --kernel ${o.kernel}` : "") + (o.smaps ? " --smaps" : "");
  say(`seed ${o.seed}; replay with --seed ${o.seed}${kflag}`);
  const tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
      { stream: io.stderr, format: "fuzz [{bar}] {value}/{total} runs | {passed} passed, {failed} failed, {skipped} skipped | {eta_formatted}", hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    )
    : null;
  let passed = 0, failed = 0, skipped = 0;
  bar?.start(o.runs, 0, { passed, failed, skipped });
  const log = (s: string) => {
    // a line above the bar
    if (bar) { bar.stop(); say(s); bar.start(o.runs, passed + failed + skipped, { passed, failed, skipped }); } else say(s);
  };
  try {
    for (let i = 0; i < o.runs; i++) {
      const rs = runSeed(o.seed, i);
      const text = generateScenario(rs, { ops: o.ops, maxRegionPages: o.maxRegionPages, weights: o.weights });
      const name = `fuzz-${o.seed}-${i}`;
      // the emulator is deterministic: one run serves both kernel runs below
      const emu = await onEmulator(text, `${name}.scn`, target);
      let v = await checkScenario(text, `${name}.scn`, emu, target);
      if (v.status === "host") {
        bar?.stop();
        io.stderr.write(`thpemu: this host cannot run scenarios on its kernel: ${v.reason}\n`);
        return 4;
      }
      if (v.status === "match") passed++;
      else if (v.status === "skipped") {
        skipped++;
        log(`run ${i}: skipped (${v.reason.split("\n")[0]})`);
      }
      else {
        // a second opinion: rule out a one-off on the kernel
        const again = await checkScenario(text, `${name}.scn`, emu, target);
        if (again.status !== "mismatch") {
          if (again.status === "match") passed++; else skipped++;
          log(`run ${i}: differed once, not again (counted as ${again.status === "match" ? "passed" : "skipped"})`);
        } else {
          v = again;
          failed++;
          const lines = text.trimEnd().split("\n");
          const s = await shrinkScenario(lines, v, o.maxShrinkRuns ?? 60, target);
          const file = path.join(o.outDir, `${name}.scn`);
          const header = [
            `# thpemu fuzz: seed ${o.seed}, run ${i} (run seed ${rs}, ${o.ops} ops); ${lines.length} lines shrunk to ${s.lines.length} with ${s.kernelRuns} kernel runs`,
            `# replay: thpemu fuzz --seed ${o.seed} --runs ${i + 1} --ops ${o.ops}${kflag}; check: thpemu conform${kflag} ${file}`,
            `# first differences (kernel vs emulator):`,
            ...describeVerdict(s.verdict).map((d) => `#   ${d}`),
          ];
          let body = header.join("\n") + "\n" + s.lines.join("\n") + "\n";
          if (s.verdict.status === "mismatch" && s.verdict.kind === "emulator-error") {
            // the emulator's message again, with the line numbers of the file as written
            const e = await onEmulator(body, file, target);
            if (!e.ok) body = body.replace(/^#   emulator: .*$/m, `#   emulator: ${e.error.split("\n")[0]}`);
          }
          try {
            fs.mkdirSync(o.outDir, { recursive: true });
            fs.writeFileSync(file, body);
            log(`run ${i}: MISMATCH (${v.kind}), minimized to ${s.lines.length} lines: ${file}`);
          } catch (err) {
            // the finding must not be lost to an unwritable --out: print it instead
            log(`run ${i}: MISMATCH (${v.kind}), minimized to ${s.lines.length} lines; cannot write ${file} (${(err as Error).message}), so here it is:`);
            io.stderr.write(body);
          }
          for (const d of describeVerdict(s.verdict).slice(0, 4)) log(`  ${d}`);
        }
      }
      const done = i + 1;
      if (bar) bar.update(done, { passed, failed, skipped });
      else if (done % 10 === 0 || done === o.runs) io.stderr.write(`fuzz: ${done}/${o.runs} runs, ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    }
  } finally {
    bar?.stop();
  }
  say(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  return failed ? 1 : 0;
}

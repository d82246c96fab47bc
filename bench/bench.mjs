// thpemu benchmark: fault (4 KiB, THP, mTHP), fork (against mapped size,
// PMD- and PTE-mapped), split, transhuge-stress and dump-to-a-file
// throughput of the emulator, the COW storm against the real kernel, the
// number of JS -> WebAssembly calls per 4 KiB fault and per mTHP fault, the
// targets table, the per-scheme rmap table and the per-scheme table of
// PTE-mapped 64 KiB folios. This file runs them; harness.mjs holds the
// timing, tinybench, rounds, printing and the TARGETS; one module per
// family: faults.mjs, fork.mjs, splits.mjs, transhuge-stress.mjs, dump.mjs,
// cow.mjs, calls.mjs, schemes.mjs, mthp.mjs (the mTHP knobs, calls and
// summary), schemes-mthp.mjs (internals.mjs: what the bench uses beyond
// dist/index.js's exports). ab-observations.mjs is the before/after check
// that a speed-up left every observation byte-identical; cpuprofile-top.mjs
// prints a --cpu-prof profile's top self-time functions.
//
// The targets table (after the throughput tables): one row per target of
// harness.mjs TARGETS, with this run's rate (the median batch; in a
// before/after run this build's best batch), the goal and met / NOT MET
// ("not run" when BENCH_ONLY left the case out). The COW storm's rows
// divide the emulator's time (with and without Machine.create's start-up)
// by the real kernel's, measured in the same run by the kernel runner when
// this host can (root, /proc/kpagecount; BENCH_NO_KERNEL=1 skips it).
//
//   npm run bench                      (builds first; runs with --expose-gc)
//   BENCH_TIME=3000 npm run bench      (per-case time budget in ms, default 1500)
//   BENCH_KERNEL=linux-4.5 npm run bench
//
// Every case runs on its own fresh Machine (4 GiB emulated memory). Each
// tinybench iteration does a whole batch: the part being measured is timed
// with performance.now() and handed back as `overriddenDuration`, the setup
// and cleanup around it (mmap, pre-faulting, munmap) are not measured but are
// charged to the time budget (`overriddenIterationCost`), so the wall-clock
// run time stays bounded. Rates are per unit (a fault, a fork, a split...):
// unit/s = units per iteration / median timed duration of an iteration (the
// mean and the best batch are printed too: on a shared machine the spread
// between them shows how much other load disturbed the run).
//
//   BENCH_ONLY="thp faults" node --expose-gc --cpu-prof bench/bench.mjs
//                                      (only the cases whose name contains it,
//                                      e.g. to profile one; the call counts and
//                                      the scheme table still run)
//   BENCH_ONLY=schemes npm run bench   (only the per-scheme tables: the rmap
//                                      micro-ops of every mapcount scheme, calling
//                                      the core's exports directly, ns/op and the
//                                      ratio to doublemap; and fork, munmap and COW
//                                      of PTE-mapped 64 KiB folios, ns/op and rmap
//                                      atomics per op)
//   BENCH_ONLY=scaling npm run bench   (only scaling.mjs: start-up against --memory
//                                      64M…128G, spawning the CLI, and 4 KiB/THP
//                                      fault rates at 1/16/64 GiB with their
//                                      flatness; run last in a full bench)
//   BENCH_ONLY=mthp npm run bench      (only the mTHP fault cases: 16 KiB, 64 KiB
//                                      and 1 MiB folios, each size enabled alone)
//
// mTHP needs a build that has it and a kernel profile with the
// hugepages-NkB/enabled knobs (linux-6.18; not linux-4.5): where it is
// missing, this build's or the baseline's mTHP cases, calls and table are
// skipped with a note.
//
// Before/after in one run, e.g. to show that a refactor is no slower:
//
//   BENCH_BASELINE=/path/to/other/checkout npm run bench
//   node --expose-gc bench/bench.mjs --baseline /path/to/other/checkout
//
// loads the other checkout's build (its dist/index.js, which loads its own
// build/thpemu.wasm; build it there first) next to this one, and times every
// selected benchmark on both, interleaved (ABAB… rounds, the best of each
// build), so that other load on the machine hits both alike: the throughput
// cases batch by batch (score: the best batch), the scheme micro-ops in
// rounds of ≥ 10 ms. Printed per metric: this build, the baseline and the
// ratio this/baseline of the times per unit (< 1 = this build faster), and at
// the end the geometric mean of those ratios. The targets table judges this
// build's best batches. A baseline from before mTHP runs
// everything else; the mTHP cases run on this build alone (its rows say
// "skipped" for the baseline, outside the means). BENCH_ONLY, BENCH_TIME and
// BENCH_KERNEL apply to both builds. `--baseline .` (an A/A run) shows how
// far the ratios move by noise alone.
//
// The bench never fails: targets are printed as met / NOT MET, exit code 0
// (a build that does not load, e.g. a bad --baseline, or an unknown argument:
// exit 2).
import {
  GiB, TIME, KERNEL, MEMORY, ONLY, TARGETS, THIS_DIR, hasGc, gc, now,
  loadBuild, runCases, compareCases, Ratios, fmtRate, fmtRatio, fmtBytesRate, printTable,
} from "./harness.mjs";
import * as mthp from "./mthp.mjs";
import { scalingSection } from "./scaling.mjs";
import { cowSection } from "./cow.mjs";

/** The families of throughput cases, in bench order (each exports `cases`: factories of a build's case). */
const CASE_MODULES = ["./faults.mjs", "./fork.mjs", "./splits.mjs", "./transhuge-stress.mjs", "./dump.mjs"];

/**
 * A build with its own instances of the family modules: this build gets the
 * plain modules, the baseline copies of its own (`?baseline`), so that the
 * closures timing one build never share JIT feedback with the other's.
 * `mthpSkip`: why the build cannot run the mTHP benchmarks, or undefined;
 * `cases`: factories `(lib) -> case`, or null for a case the build cannot run.
 */
async function side(build, query) {
  const load = (path) => import(`${path}${query}`);
  const families = [];
  for (const path of CASE_MODULES) families.push(await load(path));
  const mthpSkip = await mthp.unavailable(build.lib);
  return {
    ...build, mthpSkip,
    cases: families.flatMap((f) => f.cases).map((make) => (lib) => make(lib, { mthp: mthpSkip })),
    calls: await load("./calls.mjs"), schemes: await load("./schemes.mjs"), schemesMthp: await load("./schemes-mthp.mjs"),
  };
}

/** The checkout given by --baseline DIR / --baseline=DIR, else BENCH_BASELINE, else undefined. */
function baselineArg(argv) {
  let dir = process.env.BENCH_BASELINE || undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--baseline" && i + 1 < argv.length) dir = argv[++i];
    else if (a.startsWith("--baseline=")) dir = a.slice("--baseline=".length);
    else throw new Error(`unknown argument '${a}' (usage: node --expose-gc bench/bench.mjs [--baseline DIR])`);
  }
  return dir;
}

async function main(builds) {
  const t0 = now();
  const sides = [];
  for (const [i, b] of builds.entries()) sides.push(await side(b, i === 0 ? "" : `?${b.label}`));
  const { calls: callsModule, schemes } = sides[0]; // this side's: they take every side
  const compare = builds.length > 1;
  const ratios = new Ratios();
  const done = () => {
    if (compare) ratios.print();
    console.log(`total bench time ${((now() - t0) / 1000).toFixed(1)} s`);
  };
  const header = (what) => {
    console.log(what);
    if (!compare) return;
    for (const b of builds) console.log(`  ${`${b.label}:`.padEnd(10)}${b.dir}${b.rev ? ` (${b.rev})` : ""}`);
    if (builds[0].dir === builds[1].dir) console.log("  (the same checkout twice: an A/A run, its ratios show the noise)");
  };
  const mthpNotes = () => sides.forEach((s) => {
    if (s.mthpSkip !== undefined) console.log(`  note: no mTHP benchmarks for ${s.label} (${s.mthpSkip})`);
  });
  const schemeTables = async () => {
    await schemes.schemeSection(sides, ratios);
    gc();
    await sides[0].schemesMthp.schemeSection(sides, ratios);
  };

  // BENCH_ONLY=scaling: start-up and fault rates against --memory only (scaling.mjs)
  if (ONLY === "scaling") {
    await scalingSection(builds[0].lib, builds[1]?.dir);
    done();
    return;
  }
  if (ONLY === "schemes") {
    header(`thpemu bench (schemes only): node ${process.version}, kernel ${KERNEL}`);
    mthpNotes();
    await schemeTables();
    done();
    return;
  }
  header(`thpemu bench: node ${process.version}, kernel ${KERNEL}, ${MEMORY / GiB} GiB emulated memory, ` +
    `${TIME} ms per case${hasGc ? "" : " (no --expose-gc: gc between cases skipped)"}`);
  mthpNotes();

  // each selected case made for every side: [[this, baseline?], ...] (a case this build cannot run is left out)
  const sets = sides[0].cases.map((_, i) => sides.map((s) => s.cases[i](s.lib)))
    .filter(([c]) => c && c.name.toLowerCase().includes(ONLY));
  if (compare) await compareCases(sets, ratios);
  else await runCases(sets.map(([c]) => c));

  gc();
  const calls = [];
  for (const s of sides) {
    try {
      calls.push(await s.calls.countCalls(s.lib));
    } catch (err) {
      console.log(`call counting failed: ${err?.stack ?? err}`);
      calls.push([]);
    }
    gc();
  }
  if (calls[0].length > 0 && (!compare || calls[1].length > 0)) callsModule.printCalls(calls[0], calls[1]);

  const mthpCalls = [];
  for (const s of sides) {
    try {
      mthpCalls.push(s.mthpSkip === undefined ? await mthp.countCalls(s.lib) : s.mthpSkip);
    } catch (err) {
      console.log(`mTHP call counting failed: ${err?.stack ?? err}`);
      mthpCalls.push(String(err?.message ?? err));
    }
    gc();
  }
  const thisCases = sets.map(([c]) => c);
  if (Array.isArray(mthpCalls[0])) mthp.printSummary(thisCases, mthpCalls[0], compare ? mthpCalls[1] : undefined);

  let cow;
  if (!ONLY || "cow storm".includes(ONLY)) {
    gc();
    try {
      cow = await cowSection(sides, ratios);
    } catch (err) {
      console.log(`COW storm failed: ${err?.stack ?? err}`);
    }
  }
  printTargets(thisCases, calls[0], Array.isArray(mthpCalls[0]) ? mthpCalls[0] : undefined, cow, compare);
  gc();
  await schemeTables();
  gc();
  if (!ONLY) await scalingSection(builds[0].lib, builds[1]?.dir);
  done();
}

/**
 * The targets table: each target's rate in this run (a one-build run: the
 * median batch; a before/after run: this build's best batch), the target,
 * met / NOT MET ("not run": the case was not selected).
 */
function printTargets(cases, calls, mthpCalls, cow, compare) {
  const byId = (id) => cases.find((c) => c.id === id);
  const rate = (id) => byId(id)?.rate;
  const rows = [];
  const row = (what, value, target, ok, shown = fmtRate(value)) => rows.push({
    target: what, "this run": value === undefined ? "-" : shown, goal: target,
    status: value === undefined ? "not run" : ok ? "met" : "NOT MET",
  });
  const atLeast = (what, id, target, unit = "/s") => {
    const r = rate(id);
    row(what, r, `≥ ${fmtRate(target)}${unit}`, r >= target, `${fmtRate(r)}${unit}`);
  };
  atLeast("4 KiB faults (fresh region, 1 touch()/256 MiB)", "fault4k", TARGETS.fault4k);
  atLeast("4 KiB faults (1 touch() per page)", "fault4kPerPage", TARGETS.fault4kPerPage);
  atLeast("THP faults", "faultThp", TARGETS.faultThp);
  atLeast("64 KiB mTHP faults", "faultMthp64k", TARGETS.faultMthp64k);
  const worst = calls?.length ? Math.max(...calls.map((c) => c.perFault)) : undefined;
  row("JS -> WASM calls per 4 KiB fault (worst mode)", worst, `≤ ${TARGETS.callsPerFault}`, worst <= TARGETS.callsPerFault, worst?.toFixed(3));
  const worstM = mthpCalls?.length ? Math.max(...mthpCalls.map((c) => c.perFault)) : undefined;
  row("JS -> WASM calls per mTHP fault (worst size)", worstM, `≤ ${TARGETS.callsPerMthpFault}`, worstM <= TARGETS.callsPerMthpFault, worstM?.toFixed(3));
  const f4k = byId("fault4k");
  const base4k = f4k?.rate === undefined ? undefined : f4k.rate * f4k.per;
  for (const kb of mthp.MTHP_KB) {
    const c = byId(`faultMthp${kb}k`);
    const x = c?.rate === undefined || base4k === undefined ? undefined : (c.rate * c.per) / base4k;
    row(`${kb} KiB mTHP bytes/s against 4 KiB faults' (${fmtBytesRate(base4k)})`, x, `≥ ×${TARGETS.mthpBytesVs4k}`,
      x >= TARGETS.mthpBytesVs4k, `${fmtBytesRate(c?.rate * c?.per)} = ${fmtRatio(x, 1)}`);
  }
  atLeast("PMD splits through mprotect", "splitMprotect", TARGETS.splitMprotect);
  atLeast("fork+exit, 1 GiB PMD-mapped", "fork", TARGETS.fork1g);
  atLeast("dump page records to a file", "dump", TARGETS.dump);
  const k = cow?.kernel;
  const rw = k === undefined ? undefined : cow.withStartup / k, ro = k === undefined ? undefined : cow.withoutStartup / k;
  row("COW storm time ÷ the kernel's (with start-up)", rw, `≤ ${TARGETS.cowVsKernel}`, rw <= TARGETS.cowVsKernel, rw?.toFixed(3));
  row("COW storm time ÷ the kernel's (without start-up)", ro, `≤ ${TARGETS.cowVsKernel}`, ro <= TARGETS.cowVsKernel, ro?.toFixed(3));
  console.log(`Targets (this build; rates: ${compare ? "its best batch in the before/after run" : "the median batch"}):`);
  printTable(rows);
}

let builds;
try {
  const baselineDir = baselineArg(process.argv.slice(2));
  builds = [await loadBuild(THIS_DIR, "this")];
  if (baselineDir !== undefined) builds.push(await loadBuild(baselineDir, "baseline"));
} catch (err) {
  console.error(`bench: ${err?.message ?? err}`);
  process.exit(2);
}
main(builds).catch((err) => {
  // never fail the run: report and exit 0
  console.error("bench error:", err?.stack ?? err);
}).finally(() => { process.exitCode = 0; });

// The COW storm: 1 GiB of THPs (a `thp` region, touched write), fork, the
// child writes every page (512 PMD splits + 262,144 COW copies under
// linux-6.18), both exit. The emulator's time with and without its start-up
// (Machine.create + spawn), and, when this host can run scenarios on its
// kernel (root, /proc/kpagecount: src/kernel/runner.ts), the real kernel's
// time for the same scenario in the same bench run, and their ratio.
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { GiB, HPAGE, KERNEL, MEMORY, TARGETS, gc, now, printTable, fmtRatio } from "./harness.mjs";
import { vmstat } from "./internals.mjs";

const SIZE = 1 * GiB;
export const COW_SCENARIO = [
  "spawn p", "mmap p r 1G thp", "touch p r 0 1G write", "fork p c", "touch c r 0 1G write", "exit c", "exit p",
].join("\n") + "\n";

/** One storm on build `lib`: { startup, storm } in ms. */
async function storm(lib) {
  gc();
  const t0 = now();
  const m = await lib.Machine.create({ kernel: KERNEL, memory: MEMORY });
  m.spawn("p");
  const t1 = now();
  m.mmap("p", "r", SIZE, "thp");
  m.touch("p", "r", 0, SIZE, "write");
  const thps = vmstat(m, "NR_ANON_THPS");
  const s0 = vmstat(m, "THP_SPLIT_PMD");
  m.fork("p", "c");
  m.touch("c", "r", 0, SIZE, "write");
  const splits = s0 === undefined ? undefined : vmstat(m, "THP_SPLIT_PMD") - s0;
  m.exit("c");
  m.exit("p");
  const t2 = now();
  if (thps !== undefined && thps !== SIZE / HPAGE) throw new Error(`COW storm: ${thps} THPs, expected ${SIZE / HPAGE}`);
  if (splits !== undefined && KERNEL === "linux-6.18" && splits !== SIZE / HPAGE) throw new Error(`COW storm: ${splits} PMD splits`);
  return { startup: t1 - t0, storm: t2 - t1 };
}

/**
 * The real kernel's time for COW_SCENARIO, in ms, or a string (why not):
 * the kernel runner (this checkout's dist/kernel/runner.js), best of two
 * runs, less the best of two runs of a scenario that only spawns and exits
 * (the runner's own start-up, and any wait for its machine-wide lock, which
 * can only add time). BENCH_NO_KERNEL=1 skips it.
 */
async function kernelTime(dir) {
  if (process.env.BENCH_NO_KERNEL) return "skipped (BENCH_NO_KERNEL)";
  let runner, parse;
  try {
    runner = await import(pathToFileURL(join(dir, "dist", "kernel", "runner.js")).href);
    parse = await import(pathToFileURL(join(dir, "dist", "scenario", "parse.js")).href);
  } catch (err) {
    return `no kernel runner in this build (${err?.message ?? err})`;
  }
  const can = runner.hostCanServe();
  if (!can.ok) return `this host cannot run scenarios on its kernel: ${can.reason}`;
  const normalized = (text) => parse.parseScenario(text, "<bench>").map((op) => parse.normalizeOp(op)).join("\n") + "\n";
  const best = async (text, n) => {
    let b = Infinity;
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const r = await runner.runOnKernel(normalized(text));
      const t = now() - t0;
      if (r.status !== "ok") throw new Error(`kernel runner: ${r.status}: ${r.reason}`);
      b = Math.min(b, t);
    }
    return b;
  };
  try {
    return (await best(COW_SCENARIO, 2)) - (await best("spawn p\nexit p\n", 2));
  } catch (err) {
    return String(err?.message ?? err);
  }
}

/**
 * The COW storm section: each build's storm, 5 rounds interleaved (ABAB…,
 * best of each), then the kernel's. Returns this build's ratio to the
 * kernel (for the targets table), or undefined.
 */
export async function cowSection(sides, ratios) {
  const best = sides.map(() => ({ startup: Infinity, storm: Infinity, total: Infinity }));
  for (let r = 0; r < 5; r++) {
    for (let i = 0; i < sides.length; i++) {
      const x = await storm(sides[i].lib);
      best[i].startup = Math.min(best[i].startup, x.startup);
      best[i].storm = Math.min(best[i].storm, x.storm);
      best[i].total = Math.min(best[i].total, x.startup + x.storm);
    }
  }
  gc();
  const kernel = await kernelTime(sides[0].dir);
  const k = typeof kernel === "number" ? kernel : undefined;
  console.log(`COW storm (1 GiB of THPs touched write, fork, the child writes every page, both exit; best of 5 ` +
    `rounds${sides.length > 1 ? " a build, interleaved" : ""}; the kernel: its runner, best of 2, less an empty scenario's` +
    `${k === undefined ? `: ${kernel}` : ""}):`);
  const ms = (x) => `${x.toFixed(0)} ms`;
  printTable(sides.map((s, i) => ({
    build: s.label, "with start-up": ms(best[i].total), "start-up": ms(best[i].startup), "without start-up": ms(best[i].storm),
    kernel: k === undefined ? "-" : ms(k),
    "÷ kernel (with start-up)": k === undefined ? "-" : (best[i].total / k).toFixed(3),
    "÷ kernel (without)": k === undefined ? "-" : (best[i].storm / k).toFixed(3),
    target: `≤ ${TARGETS.cowVsKernel}`,
    ...(sides.length > 1 && i === 0 ? { "this/baseline (without start-up)": ratios.add("cow", best[0].storm, best[1].storm) } : {}),
  })));
  return { withStartup: best[0].total, withoutStartup: best[0].storm, kernel: k };
}

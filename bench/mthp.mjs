// Multi-size THP (mTHP) in the bench: the knobs that enable one size alone,
// whether a build can fault mTHPs at all, the JS -> WebAssembly calls per
// mTHP fault, and the mTHP summary (faults/s, bytes faulted/s against the
// 4 KiB faults', calls per fault) with its targets. The timed fault cases
// are faults.mjs's (case 5), the per-scheme 64 KiB table schemes-mthp.mjs's.
import {
  KiB, MiB, PAGE, KERNEL, gc, newMachine, printTable, fmtRate, fmtRatio, fmtBytesRate,
} from "./harness.mjs";
import { instrument, measureCalls } from "./calls.mjs";

/** The mTHP sizes the bench faults, in KiB (orders 2, 4, 8). */
export const MTHP_KB = [16, 64, 1024];
const ALL_MTHP_KB = [16, 32, 64, 128, 256, 512, 1024];

/** The knobs under which only `kb` KiB mTHPs are allocated on fault: that size `always`, every other size and PMD-size THP `never`. */
export function mthpKnobs(kb) {
  const knobs = { "hugepages-2048kB/enabled": "never" };
  for (const n of ALL_MTHP_KB) knobs[`hugepages-${n}kB/enabled`] = n === kb ? "always" : "never";
  return knobs;
}

/** Throws unless the page at `off` of p's region `r` belongs to a folio of `kb` KiB (Machine.inspect's `order`). */
export function checkFolioOrder(m, r, off, kb, proc = "p") {
  const order = m.inspect(proc, r, off).order;
  if (order !== Math.log2(kb * KiB / PAGE)) throw new Error(`mTHP ${kb} KiB: page at ${off} is in a folio of order ${order}`);
}

/**
 * Why build `lib` cannot run the mTHP benchmarks under BENCH_KERNEL (a build
 * from before mTHP, whose Machine rejects the knobs or faults 4 KiB pages
 * under them; or linux-4.5, which has no mTHP knobs), or undefined when it can.
 */
export async function unavailable(lib) {
  try {
    const m = await lib.Machine.create({ kernel: KERNEL, memory: 64 * MiB, knobs: mthpKnobs(64) });
    m.spawn("p");
    m.mmap("p", "r", 256 * KiB, null);
    m.touch("p", "r", 0, 256 * KiB, "write");
    checkFolioOrder(m, "r", 0, 64);
    return undefined;
  } catch (err) {
    return String(err?.message ?? err);
  }
}

/**
 * The JS -> WASM calls per mTHP write fault of build `lib`, per size: a fresh
 * 64 MiB region, one touch() for all of it (the mode of the fault cases),
 * page tables allocated on the way. [{ kb, label, faults, calls, perFault, breakdown }]
 */
export async function countCalls(lib) {
  const SIZE = 64 * MiB;
  const out = [];
  for (const kb of MTHP_KB) {
    const m = await newMachine(lib, mthpKnobs(kb));
    const ctr = instrument(m);
    m.mmap("p", "a", SIZE, null);
    const [c] = measureCalls(m, ctr, [], `mTHP ${kb} KiB, tables allocated, 1 touch()/64 MiB`, SIZE / (kb * KiB),
      () => m.touch("p", "a", 0, SIZE, "write"), kb * KiB / PAGE);
    checkFolioOrder(m, "a", 0, kb);
    out.push({ kb, ...c });
    gc();
  }
  return out;
}

/**
 * The mTHP summary. `cases`: this build's throughput cases (their `rate`,
 * set by a one-build run); `calls`: this build's countCalls(), `baseCalls`
 * the baseline's (a before/after run; undefined: one build; a string: why
 * the baseline has none).
 */
export function printSummary(cases, calls, baseCalls) {
  const byId = (id) => cases.find((c) => c.id === id);
  const bytesRate = (c) => (c?.rate === undefined ? undefined : c.rate * c.per);
  const base4k = bytesRate(byId("fault4k"));
  if (baseCalls !== undefined) {
    console.log("JS -> WASM calls per mTHP write fault, this build against the baseline" +
      `${typeof baseCalls === "string" ? ` (the baseline has no mTHP: ${baseCalls})` : ""}:`);
    printTable(calls.map((c) => {
      const b = typeof baseCalls === "string" ? undefined : baseCalls.find((x) => x.kb === c.kb);
      return {
        mode: c.label, faults: c.faults, "this calls/fault": c.perFault.toFixed(3),
        "baseline calls/fault": b ? b.perFault.toFixed(3) : "skipped", "this/baseline": b ? fmtRatio(c.perFault / b.perFault) : "-",
      };
    }));
    return;
  }
  console.log("mTHP write faults (one size enabled, fresh 256 MiB region, 1 touch(); a fault maps the whole folio; " +
    "bytes/s = faults/s × folio size; × 4 KiB: against the 4 KiB fresh-region case's bytes/s of this run; " +
    "calls: JS -> WASM calls per fault, core exports wrapped with counters, 64 MiB region):");
  printTable(MTHP_KB.map((kb) => {
    const c = byId(`faultMthp${kb}k`), n = calls.find((x) => x.kb === kb);
    const bytes = bytesRate(c);
    return {
      size: `${kb} KiB`, "faults/s": fmtRate(c?.rate), "bytes/s": fmtBytesRate(bytes),
      "× 4 KiB bytes/s": base4k && bytes ? fmtRatio(bytes / base4k, 1) : "-", "calls/fault": n ? n.perFault.toFixed(3) : "-",
      breakdown: n ? n.breakdown.map(([name, k]) => `${name}×${k}`).join(" ") : "",
    };
  }));
}

// JS -> WebAssembly calls per 4 KiB write fault, counted by wrapping the
// core's exports (mthp.mjs counts the mTHP faults' with the same counters).
import { MiB, PAGE, HPAGE, TARGETS, fmtRatio, newMachine, printTable } from "./harness.mjs";
import { coreExports, setCoreExports, vmstat } from "./internals.mjs";

/** Replace the core's (frozen) exports object by a copy whose functions count their calls. */
export function instrument(m) {
  const raw = coreExports(m);
  const counts = new Map();
  const wrapped = {};
  for (const [name, v] of Object.entries(raw)) {
    if (typeof v !== "function") { wrapped[name] = v; continue; }
    counts.set(name, 0);
    wrapped[name] = (...args) => { counts.set(name, counts.get(name) + 1); return v(...args); };
  }
  setCoreExports(m, wrapped); // PageTables reaches exports through core.e too
  return {
    reset() { for (const k of counts.keys()) counts.set(k, 0); },
    total() { let t = 0; for (const c of counts.values()) t += c; return t; },
    breakdown() { return [...counts].filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]); },
  };
}

/**
 * Counts the calls `fn()` makes through `ctr` (instrument(m)) for `faults`
 * faults of `pagesPerFault` pages each (checked against NR_ANON_PAGES), and
 * appends { label, faults, calls, perFault, breakdown } to `out`. Returns `out`.
 */
export function measureCalls(m, ctr, out, label, faults, fn, pagesPerFault = 1) {
  const a0 = vmstat(m, "NR_ANON_PAGES");
  ctr.reset();
  fn();
  const calls = ctr.total();
  if (a0 !== undefined) {
    const got = vmstat(m, "NR_ANON_PAGES") - a0;
    if (got !== faults * pagesPerFault) throw new Error(`call count '${label}': ${got} new anon pages, expected ${faults * pagesPerFault}`);
  }
  out.push({ label, faults, calls, perFault: calls / faults, breakdown: ctr.breakdown() });
  return out;
}

/** The calls per fault of build `lib` in four modes: [{ label, faults, calls, perFault, breakdown }]. */
export async function countCalls(lib) {
  const m = await newMachine(lib);
  const ctr = instrument(m);
  const SIZE = 64 * MiB;
  const out = [];
  const measure = (label, faults, fn) => measureCalls(m, ctr, out, label, faults, fn);

  // (a) fresh region: PUD/PMD/PTE tables allocated on the way, one touch() for the whole range
  m.mmap("p", "a", SIZE, "nothp");
  measure("tables allocated, 1 touch()/64 MiB", SIZE / PAGE, () => m.touch("p", "a", 0, SIZE, "write"));
  // (b) steady state: PTE tables present (dontneed all but the last page of each 2 MiB)
  for (let off = 0; off < SIZE; off += HPAGE) m.madvise("p", "a", off, HPAGE - PAGE, "dontneed");
  measure("tables present, 1 touch()/64 MiB", (SIZE / HPAGE) * 511, () => m.touch("p", "a", 0, SIZE, "write"));
  // (c) steady state, one touch() per page (the API's per-call work included)
  for (let off = 0; off < SIZE; off += HPAGE) m.madvise("p", "a", off, HPAGE - PAGE, "dontneed");
  measure("tables present, 1 touch()/page", (SIZE / HPAGE) * 511, () => {
    for (let off = 0; off < SIZE; off += HPAGE) {
      for (let i = 0; i < 511; i++) m.touch("p", "a", off + i * PAGE, PAGE, "write");
    }
  });
  // (d) fresh region, one touch() per page
  m.mmap("p", "b", SIZE, "nothp");
  measure("tables allocated, 1 touch()/page", SIZE / PAGE, () => {
    for (let off = 0; off < SIZE; off += PAGE) m.touch("p", "b", off, PAGE, "write");
  });
  return out;
}

/** Prints one build's counts (`calls`) or, given the baseline's too, both side by side. */
export function printCalls(calls, baseCalls) {
  if (baseCalls === undefined) {
    console.log("JS -> WASM calls per 4 KiB write fault (core exports wrapped with counters):");
    printTable(calls.map((c) => ({
      mode: c.label, faults: c.faults, calls: c.calls, "calls/fault": c.perFault.toFixed(3),
      target: `≤ ${TARGETS.callsPerFault}`, status: c.perFault <= TARGETS.callsPerFault ? "met" : "NOT MET",
      breakdown: c.breakdown.map(([n, k]) => `${n}×${k}`).join(" "),
    })));
    return;
  }
  console.log("JS -> WASM calls per 4 KiB write fault, this build against the baseline (counts, not in the time means):");
  printTable(calls.map((c, i) => {
    const b = baseCalls.find((x) => x.label === c.label) ?? baseCalls[i];
    return {
      mode: c.label, faults: c.faults, "this calls/fault": c.perFault.toFixed(3),
      "baseline calls/fault": b ? b.perFault.toFixed(3) : "-", "this/baseline": b ? fmtRatio(c.perFault / b.perFault) : "-",
    };
  }));
}

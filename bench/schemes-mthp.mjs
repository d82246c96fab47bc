// Per mapcount scheme, PTE-mapped 64 KiB folios (mTHP, order 4): fork of a
// process that maps N of them, munmap of a whole folio, and the COW fault of
// a child that writes one page of a shared folio (the 4 KiB copy), through
// the Machine API. ns per op with the cost accounting switched off
// (`cost_accounting(0)`, as schemes.mjs's table), and in a separate untimed
// pass on a machine of its own, the rmap atomics and struct pages touched per
// op (Machine.costs(), summed over the rmap entry points).
import { KiB, GiB, PAGE, KERNEL, gc, now, fresh, microRounds, printTable, fmtNs } from "./harness.mjs";
import { coreExports, resetCosts } from "./internals.mjs";
import { SCHEME_NAMES } from "./schemes.mjs";
import { mthpKnobs, checkFolioOrder } from "./mthp.mjs";

const KB = 64, FOLIO = KB * KiB;
/** Folios in the process's region "A" (64 MiB). */
export const N = 1024;
const SIZE = N * FOLIO;

/**
 * The ops: `setup(m)` (untimed) returns the state that `run(m, state)` (the
 * measured part: N units) works on, `cleanup(m, state)` (untimed) undoes it.
 */
export const OPS = [
  { // fork of p (region A: N exclusive 64 KiB folios, 16 PTEs each), host page tables included; the child exits after
    name: "fork", unit: "folio",
    setup: () => fresh("c"),
    run(m, c) { m.fork("p", c); },
    cleanup(m, c) { m.exit(c); },
  },
  { // munmap of one whole exclusive folio, N times over a fresh region (the VMA shrinks from its start: no VMA split)
    name: "munmap", unit: "folio",
    setup(m) { const r = fresh("u"); m.mmap("p", r, SIZE, null); m.touch("p", r, 0, SIZE, "write"); return r; },
    run(m, r) { for (let off = 0; off < SIZE; off += FOLIO) m.munmap("p", r, off, FOLIO); },
  },
  { // a forked child writes the first page of each shared folio: one COW fault (a 4 KiB copy) per folio, one touch() each
    name: "COW", unit: "fault",
    setup(m) { const c = fresh("c"); m.fork("p", c); return c; },
    run(m, c) { for (let off = 0; off < SIZE; off += FOLIO) m.touch(c, "A", off, PAGE, "write"); },
    cleanup(m, c) { m.exit(c); },
  },
];

/** A scheme's machine: process p with region A, N 64 KiB folios written (only that mTHP size enabled); cost accounting `on`. */
export async function mthpSchemeMachine(lib, scheme, on) {
  gc();
  const m = await lib.Machine.create({ kernel: KERNEL, memory: 1 * GiB, scheme, knobs: mthpKnobs(KB) });
  coreExports(m).cost_accounting(on ? 1 : 0);
  m.spawn("p");
  m.mmap("p", "A", SIZE, null);
  m.touch("p", "A", 0, SIZE, "write");
  checkFolioOrder(m, "A", 0, KB);
  checkFolioOrder(m, "A", SIZE - FOLIO, KB);
  return m;
}

/** op `j` once on `m`: setup, `measure(run)` (its result returned), cleanup. */
function once(m, j, measure) {
  const op = OPS[j];
  const state = op.setup(m);
  const out = measure(() => op.run(m, state));
  op.cleanup?.(m, state);
  return out;
}

/** A timed round of op `j` on `m`: { timed (ms), units }. */
export const round = (m, j) => once(m, j, (run) => {
  const t = now();
  run();
  return { timed: now() - t, units: N };
});

/** Op `j`'s rmap atomics and struct pages touched per unit on `m` (cost accounting on). */
export const counted = (m, j) => once(m, j, (run) => {
  resetCosts(m);
  run();
  let atomics = 0, pages = 0;
  for (const c of Object.values(m.costs())) { atomics += c.atomics; pages += c.pagesTouched; }
  return { atomics: atomics / N, pages: pages / N };
});

/**
 * One scheme's figures on every side that has mTHP (`sides[i].mthpSkip`
 * undefined; the others get null): per op, ns (the sides' rounds
 * interleaved, each side's own instance of this module timing its build)
 * and atomics / pages per unit.
 */
async function schemeFigures(sides, scheme) {
  const live = sides.filter((s) => s.mthpSkip === undefined);
  const timed = [], counts = [];
  for (const s of live) timed.push(await s.schemesMthp.mthpSchemeMachine(s.lib, scheme, false));
  const ns = OPS.map((_, j) => microRounds(live.map((s, i) => () => s.schemesMthp.round(timed[i], j))));
  timed.length = 0;
  for (const s of live) {
    const m = await s.schemesMthp.mthpSchemeMachine(s.lib, scheme, true);
    counts.push(OPS.map((_, j) => s.schemesMthp.counted(m, j)));
  }
  let k = 0;
  return sides.map((s) => {
    if (s.mthpSkip !== undefined) return null;
    const i = k++;
    return OPS.map((_, j) => ({ ns: ns[j][i], ...counts[i][j] }));
  });
}

const fmtCount = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const fmtCosts = (f) => `${fmtCount(f.atomics)} / ${fmtCount(f.pages)}`;

/**
 * The per-scheme 64 KiB mTHP table. One side: ns per op (× doublemap) and
 * atomics / struct pages touched per op. Two ([this, baseline]): each op on
 * both and the time ratio (recorded in `ratios`), or this build alone with a
 * note when the baseline has no mTHP.
 */
export async function schemeSection(sides, ratios) {
  if (sides[0].mthpSkip !== undefined) {
    console.log(`\nPer mapcount scheme, PTE-mapped 64 KiB folios: skipped (${sides[0].mthpSkip})`);
    return;
  }
  const rows = [];
  for (const scheme of SCHEME_NAMES) {
    let figs;
    try { figs = await schemeFigures(sides, scheme); } catch (err) { figs = { error: String(err?.message ?? err) }; }
    rows.push({ scheme, figs });
    console.log(`  done: scheme ${scheme} (64 KiB mTHP)`);
  }
  console.log(`\nPer mapcount scheme, PTE-mapped 64 KiB folios (${KERNEL}; ${N} folios of 16 PTEs in one process; ` +
    "Machine API calls, host page tables included; cost accounting off while timed):");
  console.log("  fork: per folio, fork of the process (+ exit, untimed); munmap: per folio, munmap of one whole exclusive");
  console.log("  folio; COW: per fault, a forked child's write to one page of a shared folio (a 4 KiB copy), one touch() each.");
  console.log("  ns: best of the rounds (× doublemap); atomics / pages: rmap atomics and struct pages touched per op");
  console.log("  (Machine.costs(), every rmap entry point, a separate untimed pass).");
  const base = rows.find((r) => r.scheme === "doublemap")?.figs?.[0];
  if (sides.length === 1 || sides[1].mthpSkip !== undefined) {
    if (sides.length > 1) console.log(`  this build only: the baseline has no mTHP (${sides[1].mthpSkip})`);
    printTable(rows.map(({ scheme, figs }) => {
      const out = { scheme };
      if (figs.error) return { scheme, error: figs.error };
      OPS.forEach((op, j) => {
        const f = figs[0][j];
        out[`${op.name} ns/${op.unit}`] = `${fmtNs(f.ns)}${base ? ` (×${(f.ns / base[j].ns).toFixed(2)})` : ""}`;
        out[`${op.name} atomics / pages`] = fmtCosts(f);
      });
      return out;
    }));
    return;
  }
  const table = [];
  for (const { scheme, figs } of rows) {
    if (figs.error) { table.push({ scheme, op: "error", error: figs.error }); continue; }
    OPS.forEach((op, j) => {
      const [a, b] = [figs[0][j], figs[1][j]];
      table.push({
        scheme: j === 0 ? scheme : "", op: `${op.name} (per ${op.unit})`, this: fmtNs(a.ns), baseline: fmtNs(b.ns),
        "this/baseline": ratios.add("schemes", a.ns, b.ns), "this atomics / pages": fmtCosts(a), "baseline atomics / pages": fmtCosts(b),
      });
    });
  }
  printTable(table);
}

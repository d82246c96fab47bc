import { it } from "vitest";
import fc from "fast-check";
import { buildScenario } from "./property.test.js";
import { runScenario } from "../src/scenario/run.js";
import { Machine } from "../src/machine.js";
import { parseScenario } from "../src/scenario/parse.js";
import { applyOp } from "../src/scenario/run.js";
it("peek", async () => {
  const seedArb = fc.record({ kind: fc.nat(999), a: fc.nat(), b: fc.nat(), c: fc.nat(), d: fc.nat(), e: fc.nat() });
  const s = fc.sample(fc.array(seedArb, { minLength: 8, maxLength: 30, size: "max" }), { numRuns: 200, seed: 7 });
  const tot: Record<string, number> = {};
  for (const [i, x] of s.entries()) {
    const lines = buildScenario(x, "linux-6.18");
    if (i < 3) console.log(lines.join("\n") + "\n----");
    const m = await Machine.create({ kernel: "linux-6.18", memory: 256 * 1024 * 1024 });
    for (const op of parseScenario(lines.join("\n"))) { try { applyOp(m, op); } catch (e) { tot.err = (tot.err ?? 0) + 1; } }
    for (const k of ["THP_FAULT_ALLOC", "THP_SPLIT_PMD", "THP_SPLIT_PAGE", "THP_DEFERRED_SPLIT_PAGE", "THP_ZERO_PAGE_ALLOC", "THP_COLLAPSE_ALLOC"]) tot[k] = (tot[k] ?? 0) + (m.core.vmstat(k) > 0 ? 1 : 0);
    tot.lines = (tot.lines ?? 0) + lines.length;
  }
  console.log(tot);
});

// Property tests: random VALID scenarios, weighted towards THP edge cases,
// run under both kernel profiles with the invariant checker after every
// operation. Properties:
//  - never an invariant violation, never an exception (an emulated
//    out-of-memory is allowed: it must leave a consistent machine);
//  - (a) rss of a region record == 4096 x its non-zero page records, and
//    pmdMapped is a multiple of 2 MiB no larger than rss;
//  - (d) the spec's definition of mapcount: for a folio page, the number of
//    page records (over all processes) showing that subpage of that folio;
//    a folio has one order, its indices fit in it;
//  - (b) determinism: a fresh machine replaying the ops gives identical JSONL;
//  - (c) leak check: after every process exits and shrink runs, every frame
//    is back in the buddy allocator;
//  - (e) smaps (dumps run with smaps on): Rss = 4 KiB x the non-zero page
//    records = rss, AnonHugePages = pmdMapped, Shared = the pages with
//    mapcount >= 2, Pss within the VMAs' truncation of the sum of 4096/mapcount.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Machine } from "../src/machine.js";
import { UserError } from "../src/mm/types.js";
import { parseScenario } from "../src/scenario/parse.js";
import { applyOp } from "../src/scenario/run.js";
import type { KernelName } from "../src/profiles.js";
import type { ObservationRecord, PageRecord, RegionRecord } from "../src/scenario/records.js";
import { buildScenario, seedArb } from "./scenario-gen.js";

const NUM_RUNS = Number(process.env.THPEMU_PROP_RUNS ?? 150);
const MAX_OPS = 30;
const PAGE = 4096;

// ---- running ----------------------------------------------------------------------------
interface Outcome { jsonl: string[]; oom: number; m: Machine; free0: number }

/** Run the scenario; `check` runs the invariant checker after every op and fails on a violation. */
async function execute(lines: string[], kernel: KernelName, memory: number, check: boolean): Promise<Outcome> {
  const m = await Machine.create({ kernel, memory, smaps: true });
  const free0 = m.core.nrFreePages();
  const ops = parseScenario(lines.join("\n"), "prop.scn");
  const jsonl: string[] = [];
  let oom = 0;
  for (const op of ops) {
    let recs: ObservationRecord[] = [];
    try {
      recs = applyOp(m, op);
    } catch (err) {
      // the only acceptable failure of a valid operation: emulated OOM, rolled back
      if (err instanceof UserError && /out of memory/.test(err.message)) {
        oom++;
        jsonl.push(`OOM at line ${op.line}`);
        const v = m.check();
        if (v.length) throw new Error(`line ${op.line} (${lines[op.line - 1]}): after OOM rollback:\n  ${v.join("\n  ")}`);
        continue;
      }
      throw new Error(`line ${op.line} (${lines[op.line - 1]}): ${(err as Error).stack}`);
    }
    for (const rec of recs) jsonl.push(JSON.stringify(rec));
    if (recs.length) checkRecords(recs, `line ${op.line}`, m);
    if (check) {
      const v = m.check();
      if (v.length) throw new Error(`line ${op.line} (${lines[op.line - 1]}): invariant violation:\n  ${v.join("\n  ")}`);
    }
  }
  return { jsonl, oom, m, free0 };
}

/** Properties (a), (d) and (e) on the records of one dump. */
function checkRecords(recs: ObservationRecord[], where: string, m: Machine): void {
  const pages = recs.filter((r): r is PageRecord => r.type === "page");
  const regions = recs.filter((r): r is RegionRecord => r.type === "region");
  // (a) rss and pmdMapped
  for (const reg of regions) {
    const mine = pages.filter((p) => p.proc === reg.proc && p.region === reg.region);
    const real = mine.filter((p) => p.folio !== "zero" && p.folio !== "hzero").length;
    if (reg.rss !== real * PAGE) throw new Error(`${where}: ${reg.proc} ${reg.region}: rss ${reg.rss} != 4096 x ${real}`);
    if (reg.pmdMapped % (2 * 1024 * 1024) !== 0 || reg.pmdMapped > reg.rss) {
      throw new Error(`${where}: ${reg.proc} ${reg.region}: pmdMapped ${reg.pmdMapped} (rss ${reg.rss})`);
    }
    for (let i = 1; i < mine.length; i++) {
      if (mine[i].page <= mine[i - 1].page) throw new Error(`${where}: pages out of order in ${reg.proc} ${reg.region}`);
    }
    checkSmaps(reg, mine, `${where}: ${reg.proc} ${reg.region}`, m);
  }
  // (d) mapcount == number of mappings of that subpage seen in the dump
  const seen = new Map<string, number>();
  const orders = new Map<string, number>();
  for (const p of pages) {
    if (p.folio === "zero" || p.folio === "hzero") {
      if (p.mapcount !== 0) throw new Error(`${where}: ${p.folio} with mapcount ${p.mapcount}`);
      if (p.folio === "zero" && (p.order !== 0 || p.index !== 0)) throw new Error(`${where}: zero page record ${JSON.stringify(p)}`);
      if (p.folio === "hzero" && p.order !== 9) throw new Error(`${where}: hzero record ${JSON.stringify(p)}`);
      continue;
    }
    const key = `${p.folio}/${p.index}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const o = orders.get(p.folio);
    if (o !== undefined && o !== p.order) throw new Error(`${where}: folio ${p.folio} has orders ${o} and ${p.order}`);
    orders.set(p.folio, p.order);
    if (p.order === 1 || p.order < 0 || p.order > 9) throw new Error(`${where}: order ${p.order} (anonymous folios are order 0, 2..8 mTHP or 9)`);
    if (p.index < 0 || p.index >= 1 << p.order) throw new Error(`${where}: index ${p.index} outside order ${p.order}`);
  }
  for (const p of pages) {
    if (p.folio === "zero" || p.folio === "hzero") continue;
    const n = seen.get(`${p.folio}/${p.index}`)!;
    if (p.mapcount !== n) {
      throw new Error(`${where}: ${p.proc} ${p.region} page ${p.page}: mapcount ${p.mapcount} but ${n} mappings of ${p.folio}[${p.index}] in the dump`);
    }
  }
}

/** (e): a region's smaps against its page records (the machine's default scheme has per-page mapcounts). */
function checkSmaps(reg: RegionRecord, mine: PageRecord[], where: string, m: Machine): void {
  const s = reg.smaps;
  if (!s) throw new Error(`${where}: no smaps in the region record`);
  const real = mine.filter((p) => p.folio !== "zero" && p.folio !== "hzero");
  const fail = (what: string) => { throw new Error(`${where}: smaps ${what}: ${JSON.stringify(s)}`); };
  if (s.Rss * 1024 !== reg.rss || s.Rss !== 4 * real.length) fail(`Rss != 4 kB x ${real.length} pages`);
  if (s.AnonHugePages * 1024 !== reg.pmdMapped) fail(`AnonHugePages != pmdMapped ${reg.pmdMapped}`);
  if (s.Anonymous !== s.Rss) fail("Anonymous != Rss");
  if (s.Shared_Clean + s.Shared_Dirty + s.Private_Clean + s.Private_Dirty !== s.Rss) fail("Shared + Private != Rss");
  const shared = real.filter((p) => p.mapcount >= 2).length;
  if (s.Shared_Clean + s.Shared_Dirty !== 4 * shared) fail(`Shared != 4 kB x ${shared} pages with mapcount >= 2`);
  // Pss: the kernel's fixed point (bytes << 12) per page, each VMA truncated to kB
  const exact = real.reduce((a, p) => a + (p.mapcount >= 2 ? Math.floor(2 ** 24 / p.mapcount) : 2 ** 24), 0) / 2 ** 22;
  const p = m.procs.get(reg.proc)!;
  const r = p.regions.get(reg.region)!;
  const nVmas = p.mm.vmas.filter((v) => v.start >= r.start && v.end <= r.start + r.size).length;
  if (!(s.Pss <= Math.floor(exact) && s.Pss > exact - nVmas - 1e-9)) fail(`Pss not within ${nVmas} VMA truncations of ${exact} kB`);
  if (s.Pss_Dirty > s.Pss) fail("Pss_Dirty > Pss");
}

// ---- the properties -----------------------------------------------------------------------
const scenarioArb = fc.record({
  seeds: fc.array(seedArb, { minLength: 8, maxLength: MAX_OPS, size: "max" }),
  memoryMiB: fc.constantFrom(64, 128, 256),
});

for (const kernel of ["linux-6.18", "linux-4.5"] as KernelName[]) {
  describe(`random valid scenarios under ${kernel}`, () => {
    it("never violate an invariant, are deterministic, and leak nothing", async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async ({ seeds, memoryMiB }) => {
          const lines = buildScenario(seeds, kernel);
          const memory = memoryMiB * 1024 * 1024;
          const a = await execute(lines, kernel, memory, true);
          // (b) determinism: a fresh machine, same ops, no checker, identical output
          const b = await execute(lines, kernel, memory, false);
          expect(b.jsonl).toEqual(a.jsonl);
          // (c) every process exits, then shrink: every frame is free again
          const m = a.m;
          for (const p of m.liveProcesses()) m.exit(p.name);
          m.shrink();
          expect(m.check()).toEqual([]);
          expect(m.core.splitQueueLen).toBe(0);
          expect(m.core.hugeZeroPfn).toBe(m.core.NIL);
          expect(m.core.nrFreePages()).toBe(a.free0);
          expect(m.core.e.nr_free_pages() >>> 0).toBe(a.free0);
          expect(m.core.e.check_free_lists()).toBe(0);
          expect(m.core.vmstat("NR_ANON_PAGES")).toBe(0);
          expect(m.core.vmstat("NR_ANON_THPS")).toBe(0);
          expect(m.core.vmstat("NR_PAGETABLE")).toBe(0);
        }),
        { numRuns: NUM_RUNS, endOnFailure: false },
      );
    }, 120_000);
  });
}

describe("the scenario generator", () => {
  it("emits only valid lines (a run never raises a user error other than OOM) and exercises THP cases", async () => {
    const sample = fc.sample(fc.array(seedArb, { minLength: MAX_OPS, maxLength: MAX_OPS }), { numRuns: 40, seed: 42 });
    const text = sample.map((s) => buildScenario(s, "linux-6.18").join("\n")).join("\n");
    for (const kw of ["fork", "exit", "munmap", "mprotect", "dontneed", "collapse", "split", "shrink", " read", " write", " thp", "none"]) {
      expect(text).toContain(kw);
    }
    for (const s of sample.slice(0, 10)) {
      const out = await execute(buildScenario(s, "linux-6.18"), "linux-6.18", 256 * 1024 * 1024, false);
      expect(out.oom).toBe(0);
    }
  });
});

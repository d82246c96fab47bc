// `thpemu compare FILE`: run one scenario under every mapcount scheme and
// compare what they print (the page and region records, against naive) and
// what they cost (atomic RMW operations on struct page counters and distinct
// struct pages touched, per rmap entry point; see assembly/rmap/cost.ts).
import { Machine, COST_OPS, type MachineOptions, type CostOp, type OpCost } from "../machine.js";
import { SCHEMES, type KernelName, type SchemeName } from "../profiles.js";
import { parseScenario } from "./parse.js";
import { runOps } from "./run.js";
import type { ObservationRecord } from "./records.js";
import { averageMapcount } from "../machine.js";

export interface SchemeRun {
  scheme: SchemeName;
  /** The page and region records as JSONL lines (inspect records left out: their fields differ by design). */
  lines: string[];
  costs: Record<CostOp, OpCost>;
  /** "equal" to naive, different only in "mapcount", or "different"; "error" if the run failed. */
  observables: "equal" | "mapcount" | "different" | "error";
  error?: string;
}

export interface CompareResult {
  file: string;
  kernel: KernelName;
  runs: SchemeRun[];
}

/** Run `text` under every scheme (fresh machine each). */
export async function compareSchemes(
  text: string, file: string, kernelOrOptions: KernelName | MachineOptions = "linux-6.18", memory?: number,
): Promise<CompareResult> {
  const machine: MachineOptions = typeof kernelOrOptions === "string" ? { kernel: kernelOrOptions } : kernelOrOptions;
  const kernel = machine.kernel ?? "linux-6.18";
  const ops = parseScenario(text, file); // a syntax error is the same for every scheme: let it throw
  const runs: SchemeRun[] = [];
  for (const scheme of SCHEMES) {
    const m = await Machine.create({ ...machine, memory, scheme });
    let recs: ObservationRecord[] = [];
    let error: string | undefined;
    try {
      recs = runOps(m, ops, { file });
    } catch (e) {
      // a rejected operation, an invariant violation or a bad page: this scheme's row shows it
      if (!(e instanceof Error)) throw e;
      error = e.message;
    }
    const lines = recs.filter((r) => r.type !== "inspect").map((r) => JSON.stringify(r));
    runs.push({ scheme, lines, costs: m.costs(), observables: error ? "error" : "equal", error });
  }
  const ref = runs.find((r) => r.scheme === "naive")!;
  const strip = (l: string) => l.replace(/,"mapcount":-?\d+/, "");
  for (const r of runs) {
    if (r.observables === "error") continue;
    if (r.lines.join("\n") === ref.lines.join("\n")) r.observables = "equal";
    else if (r.lines.map(strip).join("\n") === ref.lines.map(strip).join("\n")) r.observables = "mapcount";
    else r.observables = "different";
  }
  return { file, kernel, runs };
}

/** Sum of a run's costs over every entry point. */
export function totalCost(costs: Record<CostOp, OpCost>): OpCost {
  const t = { calls: 0, atomics: 0, pagesTouched: 0 };
  for (const op of COST_OPS) { t.calls += costs[op].calls; t.atomics += costs[op].atomics; t.pagesTouched += costs[op].pagesTouched; }
  return t;
}

/** The `--stats` record of a machine. */
export function statsRecord(m: Machine): { type: "stats"; scheme: SchemeName; atomics: number; pagesTouched: number; byOp: Record<CostOp, OpCost> } {
  const byOp = m.costs();
  const t = totalCost(byOp);
  return { type: "stats", scheme: m.scheme, atomics: t.atomics, pagesTouched: t.pagesTouched, byOp };
}

const OBS: Record<SchemeRun["observables"], string> = {
  equal: "equal", mapcount: "mapcount only", different: "DIFFERENT", error: "ERROR",
};

/** The comparison as a text table (what `thpemu compare` prints). */
export function formatCompare(r: CompareResult): string[] {
  const out: string[] = [];
  const calls = r.runs.find((x) => x.scheme === "naive")!.costs;
  out.push(`${r.file} (${r.kernel}): calls per rmap entry point: ` + COST_OPS.map((op) => `${op} ${calls[op].calls}`).join(", "));
  out.push("atomics / struct pages touched, per entry point (whole scenario)");
  const head = ["scheme", "observables vs naive", ...COST_OPS, "total"];
  const rows: string[][] = [head];
  for (const run of r.runs) {
    const cell = (c: OpCost) => `${c.atomics} / ${c.pagesTouched}`;
    rows.push([run.scheme, OBS[run.observables], ...COST_OPS.map((op) => cell(run.costs[op])), cell(totalCost(run.costs))]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) out.push(row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd());
  // 6.11+ schemes update the rmap once per PTE batch of a large folio (folio_pte_batch)
  for (const run of r.runs) {
    const ops = COST_OPS.filter((op) => !run.error && run.costs[op].calls !== calls[op].calls);
    if (ops.length) out.push(`(${run.scheme}: ${ops.map((op) => `${op} ${run.costs[op].calls}`).join(", ")} calls: one per PTE batch of a large folio)`);
  }
  for (const run of r.runs) if (run.error) out.push(`${run.scheme}: ${run.error}`);
  const mc = r.runs.filter((x) => x.observables === "mapcount").map((x) => x.scheme);
  if (mc.length) out.push(`(${mc.join(", ")}: /proc/kpagecount of a large folio is the folio average without per-page mapcounts)`);
  return out;
}

/**
 * Records as a kernel without per-page mapcounts (CONFIG_NO_PAGE_MAPCOUNT)
 * prints them, from the precise ones: every page of a large folio shows
 * entire + round((large − entire) / nr_pages), at least 1, which is
 * round(Σ over its subpages of the precise counts / nr_pages).
 */
export function averagedRecords<T extends Record<string, unknown>>(recs: T[]): T[] {
  const large = (r: T) => r.type === "page" && (r.order as number) > 0 && r.folio !== "zero" && r.folio !== "hzero";
  const key = (r: T) => `${r.dump}/${r.folio}`;
  const pages = new Map<string, Map<number, number>>(); // folio in a dump -> index -> precise mapcount
  for (const r of recs) {
    if (!large(r)) continue;
    const k = key(r);
    if (!pages.has(k)) pages.set(k, new Map());
    pages.get(k)!.set(r.index as number, r.mapcount as number);
  }
  const sums = new Map<string, number>();
  for (const [k, m] of pages) sums.set(k, [...m.values()].reduce((a, b) => a + b, 0));
  return recs.map((r) => (large(r) ? { ...r, mapcount: averageMapcount(0, sums.get(key(r))!, 2 ** (r.order as number)) } : r));
}

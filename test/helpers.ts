// Shared helpers for the test suite (not a test file itself).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../src/machine.js";
import type { KernelName } from "../src/profiles.js";
import type { PageRecord, RegionRecord, ObservationRecord } from "../src/scenario/records.js";
import { parseScenario } from "../src/scenario/parse.js";
import { runOps } from "../src/scenario/run.js";

export const K = 1024;
export const M = 1024 * 1024;
export const PAGE = 4096;
export const PMD = 2 * M;

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The repository's examples (`NAME.scn`, and `NAME.expected.jsonl` where a real kernel recorded it). */
export const examplesDir = path.resolve(repoRoot, "examples");

/** A machine of modest size (fast to create, ample for the scenarios here). */
export function machine(kernel: KernelName = "linux-6.18", memory = 256 * M): Promise<Machine> {
  return Machine.create({ kernel, memory });
}

/** The fields of the observation format (docs/scenario-format.md); nothing else is compared. */
export const PAGE_FIELDS = ["type", "dump", "label", "proc", "region", "page", "folio", "index", "order", "mapcount"] as const;
export const REGION_FIELDS = ["type", "dump", "label", "proc", "region", "rss", "pmdMapped"] as const;

export function specFields(r: ObservationRecord): Record<string, unknown> {
  const keys = r.type === "page" ? PAGE_FIELDS : r.type === "region" ? REGION_FIELDS : (Object.keys(r) as string[]);
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = (r as unknown as Record<string, unknown>)[k];
  return out;
}

/** Records without the dump ordinal and label (to compare two observations of the same state). */
export function renumbered(recs: ObservationRecord[]): Record<string, unknown>[] {
  return recs.map((r) => {
    const o = specFields(r);
    delete o.dump;
    delete o.label;
    return o;
  });
}

/** Run scenario text on a given machine with the checker after every op. */
export function runOn(m: Machine, text: string, check = true): ObservationRecord[] {
  return runOps(m, parseScenario(text, "t.scn"), { file: "t.scn", check });
}

/** Pages of one process/region from an observation. */
export function pagesOf(recs: ObservationRecord[], proc: string, region: string): PageRecord[] {
  return recs.filter((r): r is PageRecord => r.type === "page" && r.proc === proc && r.region === region);
}
export function regionOf(recs: ObservationRecord[], proc: string, region: string): RegionRecord {
  const r = recs.find((x): x is RegionRecord => x.type === "region" && x.proc === proc && x.region === region);
  if (!r) throw new Error(`no region record for ${proc} ${region}`);
  return r;
}
/** Page record of page index `page` (or undefined when not present). */
export function pageAt(recs: ObservationRecord[], proc: string, region: string, page: number): PageRecord | undefined {
  return pagesOf(recs, proc, region).find((p) => p.page === page);
}

/**
 * A compact summary of a region's pages: runs of consecutive pages with the
 * same folio name pattern, order and mapcount, as "first-last:folio/order:mapcount".
 * Folio names are kept when `names` is set, else only zero/hzero/F are told apart.
 */
export function runs(pages: PageRecord[], names = false): string[] {
  const out: string[] = [];
  let cur: { a: number; b: number; key: string } | undefined;
  for (const p of pages) {
    const f = names ? p.folio : p.folio.startsWith("F") ? "F" : p.folio;
    const key = `${f}/${p.order}:${p.mapcount}`;
    if (cur && cur.key === key && p.page === cur.b + 1) { cur.b = p.page; continue; }
    if (cur) out.push(`${cur.a}-${cur.b}:${cur.key}`);
    cur = { a: p.page, b: p.page, key };
  }
  if (cur) out.push(`${cur.a}-${cur.b}:${cur.key}`);
  return out;
}

/** Number of distinct folios (F-names) among pages. */
export function folioCount(pages: PageRecord[]): number {
  return new Set(pages.filter((p) => p.folio.startsWith("F")).map((p) => p.folio)).size;
}

export function expectNoViolations(m: Machine): void {
  const v = m.check();
  if (v.length) throw new Error(`invariant violations:\n  ${v.join("\n  ")}`);
}

// A state with every kind of mapping: a PMD-mapped THP shared by fork, a
// DoubleMap'ed one, a PTE-mapped THP with a hole, the huge zero page, zero
// PTEs, order-0 pages, read-only and PROT_NONE ranges, an exited process.
export const EVERY_KIND = `
spawn P
mmap P buf 4M thp
touch P buf 0 4M
mmap P small 64K
touch P small 0 32K
touch P small 32K 16K read
mmap P hz 2M thp
touch P hz 0 4K read
mmap P ro 2M thp
touch P ro 0 2M
mprotect P ro 0 1M r
mmap P nn 1M
touch P nn 0 8K
mprotect P nn 0 8K none
fork P Q
mprotect Q buf 0 4K r
munmap P buf 2M 4K
spawn Z
exit Z
`;

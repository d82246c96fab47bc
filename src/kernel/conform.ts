// Conformance: run a scenario on the host kernel (runner.ts) and on the
// emulator (a KernelTarget, probe.ts: by default the host's own knobs and
// quirks on the linux-6.18 profile), and compare their observations on the
// fields of the scenario-format spec:
//   page:   type, dump, label, proc, region, page, folio, index, order, mapcount
//   region: type, dump, label, proc, region, rss, pmdMapped
//           (+ smaps.Rss … smaps.AnonHugePages with `--smaps`: the target's machine.smaps)
// `inspect` records (thpemu only) are ignored and never sent to the kernel.

import { readFile } from "node:fs/promises";
import { parseScenario, normalizeOp, ScenarioError } from "../scenario/parse.js";
import { runScenario } from "../scenario/run.js";
import { averagedRecords } from "../scenario/compare.js";
import type { HostQuirks, SchemeName } from "../profiles.js";
import type { ThpKnobs } from "../knobs.js";
import { SMAPS_REGION_KEYS, type MachineOptions } from "../machine.js";
import { hostCanServe, runOnKernel } from "./runner.js";
import type { KernelTarget } from "./probe.js";

export const PAGE_FIELDS = ["type", "dump", "label", "proc", "region", "page", "folio", "index", "order", "mapcount"] as const;
export const REGION_FIELDS = ["type", "dump", "label", "proc", "region", "rss", "pmdMapped"] as const;
/** The smaps fields of a region record, flattened (`smaps.Rss` …), compared when asked for. */
export const SMAPS_FIELDS = SMAPS_REGION_KEYS.map((k) => `smaps.${k}`);

/** What a comparison looks at beyond the contract's fields. */
export interface CompareOptions {
  /** Region records' smaps fields too (the CLI's --smaps). */
  smaps?: boolean;
  /** Which smaps keys (default: all of SMAPS_REGION_KEYS). */
  smapsKeys?: readonly string[];
}

/**
 * The smaps keys that do not depend on per-page mapcounts: all a
 * CONFIG_PAGE_MAPCOUNT kernel's smaps can tell about the nopagemapcount
 * scheme, whose Pss and Shared/Private follow the folio average and
 * folio_maybe_mapped_shared instead (docs/schemes.md).
 */
export const SMAPS_MAPCOUNT_FREE_KEYS = ["Rss", "Anonymous", "AnonHugePages"] as const;

/** A record reduced to its spec fields (plain values). */
export type SpecRecord = Record<string, string | number | null>;

/** Why a scenario could not be recorded on the kernel. */
export class RecordError extends Error {
  constructor(
    readonly kind: "scenario" | "host" | "unsupported" | "interference" | "runner",
    readonly reason: string,
    readonly code?: number,
  ) {
    super(reason);
  }
}

/**
 * Keep only the spec fields of page and region records; drop everything else
 * (inspect). With `smaps`, region records keep their smaps fields as
 * `smaps.Rss` … (null where a record has none).
 */
export function specRecords(recs: readonly unknown[], opts: CompareOptions = {}): SpecRecord[] {
  const out: SpecRecord[] = [];
  for (const r of recs as Array<Record<string, unknown>>) {
    if (!r || typeof r !== "object") continue;
    const fields = r.type === "page" ? PAGE_FIELDS : r.type === "region" ? REGION_FIELDS : null;
    if (!fields) continue;
    const o: SpecRecord = {};
    for (const f of fields) o[f] = (r[f] ?? null) as string | number | null;
    if (opts.smaps && r.type === "region") {
      const sm = (r.smaps ?? {}) as Record<string, number | undefined>;
      for (const k of SMAPS_REGION_KEYS) o[`smaps.${k}`] = sm[k] ?? null;
    }
    out.push(o);
  }
  return out;
}

/** A recording's `host` header (`thpemu record`): the kernel build, knobs and quirks it was recorded on. */
export interface RecordedHost {
  type: "host";
  release: string;
  version?: string;
  knobs?: Partial<ThpKnobs>;
  quirks?: Partial<HostQuirks>;
  /** Older recordings named this build's own settings here (anon_beside_full before it became a quirk). */
  unmodelledKnobs?: Record<string, string>;
}

/**
 * The machine a recording must be replayed on: linux-6.18 with the knobs
 * and quirks of the host it was recorded on (its `host` header record);
 * without a header, the reference machine (the profile as it is).
 */
export function recordedMachine(records: readonly unknown[]): MachineOptions {
  const h = records.find((r) => (r as { type?: string })?.type === "host") as RecordedHost | undefined;
  if (!h) return { kernel: "linux-6.18" };
  const quirks = { ...h.quirks };
  if (h.unmodelledKnobs?.anon_beside_full !== undefined) quirks.mthpBesideFull = h.unmodelledKnobs.anon_beside_full === "1";
  return { kernel: "linux-6.18", knobs: h.knobs, quirks };
}

/** JSONL text → records (blank lines skipped). */
export function parseJsonl(text: string): unknown[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as unknown);
}

/** The scenario as the kernel runner reads it: the prologue (`sysfs` lines), then normalized lines, no `inspect`. */
export function kernelInput(text: string, file: string, prologue: readonly string[] = []): string {
  const ops = parseScenario(text, file);
  return [...prologue, ...ops.filter((o) => o.op !== "inspect").map(normalizeOp)].join("\n") + "\n";
}

/**
 * Run a scenario on the host kernel and return its JSONL, after the
 * `prologue` lines (knobs the runner sets first). Throws a RecordError: kind
 * "scenario" (syntax error), "host" (this host cannot serve),
 * "unsupported" (cannot be checked on this kernel) or "runner".
 */
export async function recordScenario(text: string, file: string, prologue: readonly string[] = [], opts: CompareOptions = {}): Promise<string> {
  let input: string;
  try {
    input = kernelInput(text, file, prologue);
  } catch (e) {
    if (e instanceof ScenarioError) throw new RecordError("scenario", e.message, 2);
    throw e;
  }
  const host = hostCanServe();
  if (!host.ok) throw new RecordError("host", host.reason ?? "this host cannot run scenarios on its kernel", 4);
  let r;
  try {
    r = await runOnKernel(input, { smaps: opts.smaps });
  } catch (e) {
    throw new RecordError("runner", e instanceof Error ? e.message : String(e));
  }
  if (r.status === "ok") return r.jsonl;
  if (r.status === "unsupported") throw new RecordError("unsupported", r.reason, 5);
  if (r.code === 2) {
    // the runner says `line N: message` for its normalized input; `inspect` lines were dropped,
    // so map N back to the scenario's own line
    const m = /^line (\d+): ([\s\S]*)$/.exec(r.reason);
    if (m) {
      const sent = parseScenario(text, file).filter((o) => o.op !== "inspect");
      const op = sent[Number(m[1]) - 1 - prologue.length];
      if (op) throw new RecordError("scenario", `${file}:${op.line}: ${m[2]}`, 2);
    }
    throw new RecordError("scenario", `${file}: ${r.reason}`, 2);
  }
  if (r.code === 4) throw new RecordError("host", r.reason, 4);
  if (r.code === 5) throw new RecordError("unsupported", r.reason, 5);
  // khugepaged or a failed allocation disturbed every attempt (a knob change wakes khugepaged)
  if (r.code === 7) throw new RecordError("interference", r.reason, 7);
  throw new RecordError("runner", r.reason, r.code);
}

export interface Difference {
  dump: number | null;
  label: string | null;
  proc: string;
  region: string;
  /** The page range [first, last] for page records; null for region records and count mismatches. */
  pages: [number, number] | null;
  /** The differing field, or "record" for a record present on one side only. */
  field: string;
  kernel: string | number | null;
  emulator: string | number | null;
}

function groupKey(r: SpecRecord): string {
  return JSON.stringify([r.dump, r.label, r.proc, r.region]);
}

interface Group {
  dump: number | null;
  label: string | null;
  proc: string;
  region: string;
  pages: Map<number, SpecRecord>;
  region_: SpecRecord | null;
}

function groups(recs: SpecRecord[]): Map<string, Group> {
  const m = new Map<string, Group>();
  for (const r of recs) {
    const k = groupKey(r);
    let g = m.get(k);
    if (!g) {
      g = { dump: r.dump as number, label: r.label as string | null, proc: r.proc as string, region: r.region as string, pages: new Map(), region_: null };
      m.set(k, g);
    }
    if (r.type === "page") g.pages.set(r.page as number, r);
    else g.region_ = r;
  }
  return m;
}

/**
 * The differences between the kernel's and the emulator's records (spec
 * fields only, inspect ignored). Consecutive pages with the same difference
 * (field, kernel value, emulator value) are coalesced into one range; a page
 * or region present on one side only is a "record" difference with the
 * values "present"/"missing".
 */
export function compareRecords(kernelRecs: readonly unknown[], emuRecs: readonly unknown[], opts: CompareOptions = {}): Difference[] {
  const kg = groups(specRecords(kernelRecs, opts));
  const eg = groups(specRecords(emuRecs, opts));
  const regionFields = opts.smaps
    ? ["rss", "pmdMapped", ...(opts.smapsKeys ? opts.smapsKeys.map((k) => `smaps.${k}`) : SMAPS_FIELDS)]
    : ["rss", "pmdMapped"];
  const keys: string[] = [...kg.keys()];
  for (const k of eg.keys()) if (!kg.has(k)) keys.push(k);
  const diffs: Difference[] = [];
  for (const key of keys) {
    const k = kg.get(key);
    const e = eg.get(key);
    const base = (k ?? e)!;
    const where = { dump: base.dump, label: base.label, proc: base.proc, region: base.region };
    // pages
    const pageNos = new Set<number>([...(k?.pages.keys() ?? []), ...(e?.pages.keys() ?? [])]);
    const sorted = [...pageNos].sort((a, b) => a - b);
    // open runs by "field|kernel|emulator"
    const open = new Map<string, Difference>();
    const order: Difference[] = [];
    for (const p of sorted) {
      const kr = k?.pages.get(p);
      const er = e?.pages.get(p);
      const here: Array<[string, string | number | null, string | number | null]> = [];
      if (!kr || !er) here.push(["record", kr ? "present" : "missing", er ? "present" : "missing"]);
      else for (const f of ["folio", "index", "order", "mapcount"]) if (kr[f] !== er[f]) here.push([f, kr[f], er[f]]);
      const seen = new Set<string>();
      for (const [field, kv, ev] of here) {
        const id = JSON.stringify([field, kv, ev]);
        seen.add(id);
        const run = open.get(id);
        if (run && run.pages![1] === p - 1) run.pages![1] = p;
        else {
          const d: Difference = { ...where, pages: [p, p], field, kernel: kv, emulator: ev };
          open.set(id, d);
          order.push(d);
        }
      }
    }
    // folio names differ as a whole run when numbering shifts; keep the order of first page
    order.sort((a, b) => a.pages![0] - b.pages![0]);
    diffs.push(...order);
    // region record
    const kr = k?.region_ ?? null;
    const er = e?.region_ ?? null;
    if (!kr || !er) {
      if (kr || er) diffs.push({ ...where, pages: null, field: "region record", kernel: kr ? "present" : "missing", emulator: er ? "present" : "missing" });
    } else {
      for (const f of regionFields) if (kr[f] !== er[f]) diffs.push({ ...where, pages: null, field: f, kernel: kr[f], emulator: er[f] });
    }
  }
  const kn = specRecords(kernelRecs).length;
  const en = specRecords(emuRecs).length;
  if (kn !== en) diffs.push({ dump: null, label: null, proc: "", region: "", pages: null, field: "record count", kernel: kn, emulator: en });
  return diffs;
}

/** `dump 2 (label) p A pages 1-511 folio: kernel zero, emulator F2` */
export function formatDifference(d: Difference): string {
  if (d.field === "record count") return `record count: kernel ${d.kernel}, emulator ${d.emulator}`;
  const dump = `dump ${d.dump}${d.label !== null ? ` (${d.label})` : ""}`;
  const pages = d.pages === null ? "" : d.pages[0] === d.pages[1] ? ` page ${d.pages[0]}` : ` pages ${d.pages[0]}-${d.pages[1]}`;
  return `${dump} ${d.proc} ${d.region}${pages} ${d.field}: kernel ${d.kernel}, emulator ${d.emulator}`;
}

export interface ConformResult {
  file: string;
  status: "match" | "mismatch" | "unsupported" | "error";
  diffs: Difference[];
  reason?: string;
  /** Set for status "error" when the host cannot serve (CLI exit 4). */
  hostCannotServe?: boolean;
}

/**
 * Compare a scenario text's kernel run (or given kernel JSONL) with the
 * emulator's under `target` (default: plain linux-6.18, no prologue). A
 * target whose machine has `smaps` compares the regions' smaps fields too.
 */
export async function conformText(
  text: string, file: string, kernelJsonl?: string, scheme?: SchemeName, target?: KernelTarget,
): Promise<ConformResult> {
  let jsonl: string;
  if (kernelJsonl !== undefined) jsonl = kernelJsonl;
  else {
    if (target?.skip) return { file, status: "unsupported", diffs: [], reason: target.skip };
    try {
      jsonl = await recordScenario(text, file, target?.prologue, { smaps: target?.machine.smaps });
    } catch (e) {
      if (e instanceof RecordError) {
        // the kernel could not give a clean answer: nothing to compare (as fuzz counts it)
        if (e.kind === "unsupported" || e.kind === "interference") return { file, status: "unsupported", diffs: [], reason: e.reason };
        return { file, status: "error", diffs: [], reason: e.reason, hostCannotServe: e.kind === "host" };
      }
      throw e;
    }
  }
  let emu: unknown[];
  try {
    emu = await runScenario(text, { file, ...(target?.machine ?? { kernel: "linux-6.18" }), check: true, scheme });
  } catch (e) {
    return { file, status: "error", diffs: [], reason: `emulator: ${e instanceof Error ? e.message : String(e)}` };
  }
  // without per-page mapcounts the kernel would print each large folio's average
  const kernelRecs = scheme === "nopagemapcount"
    ? averagedRecords(parseJsonl(jsonl) as Record<string, unknown>[]) : parseJsonl(jsonl);
  const diffs = compareRecords(kernelRecs, emu, {
    smaps: target?.machine.smaps,
    smapsKeys: scheme === "nopagemapcount" ? SMAPS_MAPCOUNT_FREE_KEYS : undefined,
  });
  return { file, status: diffs.length ? "mismatch" : "match", diffs };
}

/** Read a scenario file, run it on the kernel and the emulator, compare. */
export async function conformFile(path: string, scheme?: SchemeName, target?: KernelTarget): Promise<ConformResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    return { file: path, status: "error", diffs: [], reason: `cannot read: ${(e as Error).message}` };
  }
  return conformText(text, path, undefined, scheme, target);
}

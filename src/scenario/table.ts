// The human-readable ("table") form of the observation records: the CLI's
// `--format table`, and the same text for the web page. Pure functions from
// records (and scenario text) to lines of text; nothing here prints.
//
//   == dump 3: child-pte-mapped ==
//     child   buf  pages 0        F2  order 0  idx 0        mapcount 1
//     child   buf  pages 1-511    F1  order 9  idx 1-511    mapcount 2
//     child   buf  rss 2.0 MiB, PMD-mapped 0
//
// A run is a maximal sequence of present pages of one process and region with
// consecutive page numbers, the same order and mapcount, and either the same
// folio with consecutive subpage indexes, or order-0 folios with consecutive
// numbers (`F3-F9`), or the 4 KiB zero page (always index 0).
import type { InspectRecord, ObservationRecord, PageRecord, RegionRecord } from "./records.js";

const PAGE_SIZE = 4096;
const KiB = 1024, MiB = 1024 ** 2, GiB = 1024 ** 3;

/**
 * A byte count for a person, exact: `0`, `8 KiB`, `1.5 MiB`, `2.0 MiB`,
 * `4.0 GiB`; a value that one decimal of a larger unit cannot show exactly
 * falls back to the next smaller unit (`2044 KiB`, not `2.0 MiB`).
 */
export function formatBytes(n: number): string {
  if (n === 0) return "0";
  for (const [unit, name] of [[GiB, "GiB"], [MiB, "MiB"]] as const) {
    if (n < unit) continue;
    const s = (n / unit).toFixed(1);
    if (Math.round(Number(s) * unit) === n) return `${s} ${name}`;
  }
  if (n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

function range(a: number, b: number): string {
  return a === b ? `${a}` : `${a}-${b}`;
}

/** Pad every column but the last to its widest cell; two spaces between columns. */
function align(rows: string[][], indent = "  "): string[] {
  const width: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length - 1; i++) width[i] = Math.max(width[i] ?? 0, r[i].length);
  }
  return rows.map((r) => indent + r.map((c, i) => (i < r.length - 1 ? c.padEnd(width[i]) : c)).join("  ").trimEnd());
}

interface Run { first: PageRecord; last: PageRecord }

/** The number of a canonical folio name `F<n>`, or NaN (`zero`, `hzero`). */
function folioNumber(name: string): number {
  return /^F[0-9]+$/.test(name) ? Number(name.slice(1)) : NaN;
}

function continues(run: Run, r: PageRecord): boolean {
  const p = run.last;
  if (r.proc !== p.proc || r.region !== p.region || r.page !== p.page + 1 ||
    r.order !== p.order || r.mapcount !== p.mapcount) return false;
  if (r.folio === "zero") return p.folio === "zero"; // one page, mapped many times, always index 0
  if (r.folio === p.folio) return r.index === p.index + 1; // the next subpage of the same folio
  // order-0 folios numbered one after the other: F7, F8, F9 ...
  return r.order === 0 && folioNumber(r.folio) === folioNumber(p.folio) + 1 &&
    folioNumber(run.first.folio) + (r.page - run.first.page) === folioNumber(r.folio);
}

/**
 * The rows of one dump (its page and region records, in record order):
 * `[proc, region, "pages A-B", folio, "order N", "idx A-B", "mapcount N"]`
 * per run, and `[proc, region, "rss …, PMD-mapped …"]` per region.
 */
function dumpRows(recs: (PageRecord | RegionRecord)[]): string[][] {
  const rows: string[][] = [];
  let run: Run | null = null;
  let sawPage = false; // a page record since the last region record
  const endRun = () => {
    if (!run) return;
    const { first: f, last: l } = run;
    const folio = f.folio === l.folio ? f.folio : `${f.folio}-${l.folio}`;
    const idx = f.folio === l.folio ? range(f.index, l.index) : `${f.index}`;
    rows.push([f.proc, f.region, `pages ${range(f.page, l.page)}`, folio, `order ${f.order}`,
      `idx ${idx}`, `mapcount ${f.mapcount}`]);
    run = null;
  };
  for (const r of recs) {
    if (r.type === "page") {
      sawPage = true;
      if (run && continues(run, r)) { run.last = r; continue; }
      endRun();
      run = { first: r, last: r };
    } else {
      endRun();
      const pages = r.rss / PAGE_SIZE;
      const empty = !sawPage;
      sawPage = false;
      rows.push([r.proc, r.region,
        `rss ${formatBytes(r.rss)}${pages ? ` (${pages} ${pages === 1 ? "page" : "pages"})` : ""}, PMD-mapped ${formatBytes(r.pmdMapped)}` +
        (empty ? "  (no page present)" : "")]);
    }
  }
  endRun();
  return rows;
}

function dumpHeading(r: PageRecord | RegionRecord): string {
  return r.label === null ? `== dump ${r.dump} ==` : `== dump ${r.dump}: ${r.label} ==`;
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** What a few raw fields mean, shown beside their value (the `_mapcount` note depends on the scheme). */
const NOTES: Record<string, string> = {
  _refcount: "of the head page: the folio's references",
  _mapcount: "raw: PTE maps of this page - 1",
  compound_mapcount: "raw: PMD maps of the folio - 1",
  subpages_mapcount: "pages mapped by PTEs, + COMPOUND_MAPPED while PMD-mapped",
  _entire_mapcount: "raw: PMD maps of the folio - 1",
  _nr_pages_mapped: "pages mapped by PTEs, + ENTIRELY_MAPPED while PMD-mapped",
  _large_mapcount: "raw: all maps of the folio - 1",
  page_mapcount: "PMD maps + PTE maps of this page: /proc/kpagecount",
  total_mapcount: "all PMD and PTE maps of the folio",
  folio_mapcount: "all PMD and PTE maps of the folio",
};
const SCHEME_NOTES: Record<string, Record<string, string>> = {
  naive: { _mapcount: "raw: PTE maps of this page + PMD maps of the folio - 1" },
  doublemap: { _mapcount: "raw: PTE maps of this page - 1, +1 while PG_double_map" },
  nopagemapcount: {
    _mapcount: "not kept for the pages of a large folio under CONFIG_NO_PAGE_MAPCOUNT",
    page_mapcount: "the folio average, as /proc/kpagecount under CONFIG_NO_PAGE_MAPCOUNT" },
};

/** The block of one `inspect` record: every field, `name = value` (and with `notes`, what the raw ones mean). */
export function formatInspect(r: InspectRecord, notes = true): string[] {
  const off = r.page * PAGE_SIZE;
  const rows: string[][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === "type" || k === "proc" || k === "region" || k === "page") continue;
    let val = formatValue(v);
    if ((k === "pfn" || k === "head_pfn") && typeof v === "number") val += ` (0x${v.toString(16)})`;
    const note = (typeof r.scheme === "string" ? SCHEME_NOTES[r.scheme]?.[k] : undefined) ?? NOTES[k];
    rows.push([k, `= ${val}`, notes && note && v !== null ? `(${note})` : ""]);
  }
  return [`-- inspect ${r.proc} ${r.region} 0x${off.toString(16)} (page ${r.page}) --`, ...align(rows)];
}

export interface TableOptions {
  /**
   * Explain the raw fields beside the first `inspect` block (default true).
   * A caller that formats one operation at a time passes false once it has
   * shown them.
   */
  notes?: boolean;
}

/**
 * The table text of a sequence of records (for example everything one
 * scenario produced, or what one operation produced): a heading and runs per
 * dump, a block per `inspect`. Consecutive records of the same dump form one
 * block.
 */
export function formatTable(records: readonly ObservationRecord[], opts: TableOptions = {}): string[] {
  const out: string[] = [];
  let notes = opts.notes ?? true;
  for (let i = 0; i < records.length;) {
    const r = records[i];
    if (r.type === "inspect") {
      out.push(...formatInspect(r, notes));
      notes = false;
      i++;
      continue;
    }
    const dump: (PageRecord | RegionRecord)[] = [];
    for (; i < records.length; i++) {
      const q = records[i];
      if (q.type === "inspect" || q.dump !== r.dump) break;
      dump.push(q);
    }
    out.push(dumpHeading(r), ...align(dumpRows(dump)));
  }
  return out;
}

/** The table text of a `dump` that produced no record (no live process). */
export function formatEmptyDump(dump: number, label: string | null): string[] {
  return [label === null ? `== dump ${dump} ==` : `== dump ${dump}: ${label} ==`, "  (no live process has a region)"];
}

/**
 * The scenario text that belongs to the operation on line `line` (1-based):
 * the comment lines between the previous operation (line `prevLine`, 0 for
 * none) and it, then the operation's own line as `> …`. Blank lines are
 * dropped; a comment paragraph keeps its lines. `lines` is the scenario split
 * at line ends (`text.split(/\r?\n/)`, as the parser does).
 */
export function sourceBlock(lines: readonly string[], prevLine: number, line: number): string[] {
  const out: string[] = [];
  for (let i = prevLine; i < line - 1 && i < lines.length; i++) {
    const t = lines[i].trim();
    if (t.startsWith("#")) out.push(t);
  }
  if (line >= 1 && line <= lines.length) out.push(`> ${lines[line - 1].trim()}`);
  return out;
}

/** Comment lines after the last operation (the scenario's epilogue). */
export function trailingComments(lines: readonly string[], lastLine: number): string[] {
  return sourceBlock(lines, lastLine, lines.length + 1).filter((l) => l.startsWith("#"));
}

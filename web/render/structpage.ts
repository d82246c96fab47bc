// The struct page view of one frame: what `inspect` reports for it, the raw
// words of its struct page, and every place a live process maps it. Each
// value cell carries data-field (the inspect field's name, raw.* for the raw
// words, mappedAt.N for the mappings) so that tests can read them back.
import { frameRecord, formatMapping } from "../../src/index.js";
import type { Machine } from "../../src/index.js";
import type { PageTables } from "./pagetables.js";
import { el, hex } from "./dom.js";

const PAGE_SIZE = 4096;
/** Mappings listed at most: a shared THP can be mapped thousands of times. */
const MAX_MAPPINGS = 40;

export interface StructPageElements {
  page: HTMLElement;
  title: HTMLElement;
}

/** Draw frame `pfn`'s struct page (a prompt when none is selected); `trees` spares a second page-table walk. */
export function renderStructPage(els: StructPageElements, m: Machine | null, pfn: number | null, trees?: PageTables): void {
  els.page.replaceChildren();
  if (!m || pfn === null || pfn >= m.memoryBytes / PAGE_SIZE) { els.title.textContent = "(click a frame)"; return; }
  const r = frameRecord(m, pfn, trees);
  els.title.textContent = `pfn ${r.pfn} (${hex(r.pfn)}) · ${r.kind}`;
  const t = el("table", { "data-pfn": String(r.pfn) });
  const sect = (s: string) => { const tr = el("tr", { class: "sect" }); tr.append(el("td", { colspan: "2" }, s)); t.append(tr); };
  const row = (name: string, v: unknown, field = name) => {
    const tr = el("tr");
    const val = v === null || v === undefined ? "-" : String(v);
    tr.append(el("td", {}, name), el("td", { "data-field": field }, val));
    t.append(tr);
  };
  sect(r.mappedAt.length ? "inspect (as at its first mapping)" : "the folio (core reads)");
  for (const [k, v] of Object.entries(r.inspect)) row(k, Array.isArray(v) ? `[${v.join(", ")}]` : v);
  sect("this struct page, raw (64 bytes)");
  row("flags", `${hex(r.raw.flags)} ${r.raw.flags_decoded.join(" ")}`, "raw.flags");
  row("compound_head", hex(r.raw.compound_head) + (r.raw.compound_head & 1 ? " (tail: &head + 1)" : ""), "raw.compound_head");
  row("mapping", hex(r.raw.mapping), "raw.mapping");
  row("index", hex(r.raw.index), "raw.index");
  row("private", r.raw.private, "raw.private");
  row("_mapcount", r.raw._mapcount, "raw._mapcount");
  row("_refcount", r.raw._refcount, "raw._refcount");
  sect("mapped at");
  if (r.mappedAt.length === 0) row("", r.kind === "pagetable" ? "(a page-table page)" : "(nowhere)", "mappedAt");
  r.mappedAt.slice(0, MAX_MAPPINGS).forEach((x, i) => row(String(i + 1), formatMapping(x), `mappedAt.${i}`));
  if (r.mappedAt.length > MAX_MAPPINGS) row("", `… ${r.mappedAt.length - MAX_MAPPINGS} more`);
  const notes = el("p", { class: "muted" },
    m.scheme === "doublemap"
      ? "_mapcount and compound_mapcount are raw (-1 = none). page_mapcount = (compound_mapcount + 1) + (_mapcount + 1) − PG_double_map."
      : `Counters of the ${m.scheme} scheme; raw values are -1 based (-1 = none).`);
  els.page.append(t, notes);
}

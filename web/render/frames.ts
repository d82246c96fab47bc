// The physical frames view: one cell per frame up to the highest used one
// (512 to a 2 MiB block, 64 to a row), coloured by folio and numbered with
// page_mapcount, runs of free blocks folded into one line; under the grid,
// one line per compound folio with the counters its frames share.
import { frameKind, folioCounters, usedFrameLimit } from "../../src/index.js";
import type { Machine, FrameKind, FolioCounters } from "../../src/index.js";
import { el, hex } from "./dom.js";
import { pssText } from "./smaps.js";

const PAGE_SIZE = 4096;
const BLOCK = 512; // frames in a 2 MiB block
/** 2 MiB blocks drawn at most (24576 frames): beyond that the grid costs more than it tells. */
const MAX_BLOCKS = 48;

export interface FramesElements {
  grid: HTMLElement;
  folios: HTMLElement;
  title: HTMLElement;
}

/** A folio's colour, from its head PFN: the golden angle keeps neighbouring folios apart. */
function folioColour(head: number): string {
  const h = (head * 137.508) % 360;
  return `hsl(${h.toFixed(0)} 65% 74%)`;
}

/** Draw the frames of `m` (nothing without a machine); the `selected` frame is outlined. */
export function renderFrames(els: FramesElements, m: Machine | null, selected: number | null): void {
  els.grid.replaceChildren();
  els.folios.replaceChildren();
  if (!m) { els.title.textContent = ""; return; }
  const frames = m.memoryBytes / PAGE_SIZE;
  const limit = usedFrameLimit(m);
  els.title.textContent =
    `(frames 0–${Math.max(0, limit - 1)} of ${frames}; ${m.freeFrames()} free; one row = 64 frames = 256 KiB)`;
  const folios = new Map<number, FolioCounters>();
  const frag = document.createDocumentFragment();
  let drawn = 0, freeRun = -1;
  const flushFree = (b: number) => {
    if (freeRun < 0) return;
    frag.append(el("div", { class: "block free-run" },
      `pfn ${hex(freeRun * BLOCK)}–${hex(b * BLOCK - 1)}: ${b - freeRun} free 2 MiB block${b - freeRun > 1 ? "s" : ""}`));
    freeRun = -1;
  };
  const blocks = Math.ceil(limit / BLOCK);
  for (let b = 0; b < blocks; b++) {
    const kinds: FrameKind[] = [];
    for (let i = 0; i < BLOCK; i++) kinds.push(b * BLOCK + i < frames ? frameKind(m, b * BLOCK + i) : "free");
    if (kinds.every((k) => k === "free")) { if (freeRun < 0) freeRun = b; continue; }
    flushFree(b);
    if (drawn++ >= MAX_BLOCKS) { frag.append(el("div", { class: "block free-run" }, `… frames above ${hex(b * BLOCK)} not drawn`)); break; }
    const row = el("div", { class: "block" });
    row.append(el("div", { class: "block-label" }, hex(b * BLOCK)));
    const grid = el("div", { class: "grid" });
    for (let i = 0; i < BLOCK; i++) grid.append(frameCell(m, b * BLOCK + i, kinds[i], folios, selected));
    row.append(grid);
    frag.append(row);
  }
  flushFree(blocks);
  els.grid.append(frag);
  for (const f of folios.values()) els.folios.append(folioLine(f));
}

/** Move the outline to frame `pfn` without redrawing the grid. */
export function markSelected(grid: HTMLElement, pfn: number): void {
  for (const s of grid.querySelectorAll(".cell.sel")) s.classList.remove("sel");
  grid.querySelector(`.cell[data-pfn='${pfn}']`)?.classList.add("sel");
}

/**
 * One frame's cell: data-pfn and data-kind always, data-mapcount for the
 * pages whose mapcount the kernel keeps (not the zero pages); `folios`
 * collects the counters of each compound folio met, read once per folio.
 */
function frameCell(m: Machine, pfn: number, k: FrameKind,
  folios: Map<number, FolioCounters>, selected: number | null): HTMLElement {
  const c = el("div", { class: `cell k-${k}`, "data-pfn": String(pfn), "data-kind": k });
  let title = `pfn ${pfn} (${hex(pfn)}) · ${k}`;
  if (k === "head" || k === "tail" || k === "page") {
    const head = m.headPfn(pfn);
    const mc = m.pageMapcount(pfn);
    c.dataset.mapcount = String(mc);
    c.textContent = mc < 100 ? String(mc) : "+";
    if (mc === 0) c.classList.add("unmapped");
    c.style.backgroundColor = folioColour(head);
    title += ` · page_mapcount ${mc} · ${pssText(mc)}`;
    if (k !== "page") {
      let f = folios.get(head);
      if (!f) folios.set(head, f = folioCounters(m, head));
      if (f.PG_double_map) c.classList.add("dm");
      title += ` · subpage ${pfn - head} of the order-${f.order} folio at pfn ${head}` + (f.PG_double_map ? " · PG_double_map" : "");
    }
  } else if (k === "zero" || k === "hzero") c.textContent = "0";
  else if (k === "pagetable") c.textContent = "T";
  if (pfn === selected) c.classList.add("sel");
  c.title = title;
  return c;
}

/** A compound folio's shared counters, under the names of the machine's scheme. */
function folioLine(f: FolioCounters): HTMLElement {
  const line = el("div", {
    class: "folio", "data-head": String(f.head), "data-double-map": String(f.PG_double_map),
    "data-compound-mapcount": String(f.compound_mapcount), "data-total-mapcount": String(f.total_mapcount),
    "data-deferred-split": String(f.deferred_split_queued), "data-partially-mapped": String(f.partially_mapped),
  });
  const sw = el("span", { class: "swatch" });
  sw.style.backgroundColor = folioColour(f.head);
  line.append(sw, `folio pfn ${f.head} (${hex(f.head)}) order ${f.order}: ${f.compound_mapcount_name} ${f.compound_mapcount} ` +
    `(raw: ${f.compound_mapcount + 1} PMD map${f.compound_mapcount === 0 ? "" : "s"})  total_mapcount ${f.total_mapcount}  _refcount ${f._refcount}  PG_double_map `);
  line.append(f.PG_double_map === null
    ? el("span", { class: "muted" }, `n/a (${f.scheme} scheme)`)
    : el("span", { class: f.PG_double_map ? "yes" : "" }, f.PG_double_map ? "yes" : "no"));
  if (f.deferred_split_queued) line.append(`  (on the deferred split queue${f.partially_mapped ? ", PG_partially_mapped" : ""})`);
  else if (f.partially_mapped) line.append("  (PG_partially_mapped)");
  return line;
}

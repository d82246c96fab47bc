// The thpemu web view: a scenario editor that runs (or steps through) a
// scenario on a Machine in the page, and views of the machine that are
// redrawn after every operation: the physical frames, each process's page
// tables, one frame's struct page, the THP knobs, the last dump as a table. It imports the
// emulator's sources as they are; Vite bundles them and emits the .wasm core
// that src/core/loader.ts finds with new URL(…, import.meta.url).
import { Machine, UserError, parseScenario, applyOp, ScenarioError, PROFILES, KNOBS, KNOB_NAMES, isMthpKnob } from "../src/index.js";
import type {
  KernelName, SchemeName, Op, ObservationRecord, InspectRecord, PageRecord, RegionRecord, KnobName,
} from "../src/index.js";
import { formatTable, formatInspect, formatEmptyDump } from "../src/scenario/table.js";
import {
  pageTableTree, pteRuns, frameKind, frameRecord, usedFrameLimit, folioCounters, formatMapping, schemeOf,
  type TableNode, type TableEntry, type FrameRecord, type FolioCounters,
} from "../src/inspect/tables.js";
import type { Process } from "../src/mm/types.js";

// ---- the examples (examples/*.scn and the page's own web/examples/*.scn, bundled as text) ----
const EXAMPLES = Object.fromEntries(
  Object.entries({
    ...import.meta.glob("../examples/*.scn", { query: "?raw", import: "default", eager: true }),
    ...import.meta.glob("./examples/*.scn", { query: "?raw", import: "default", eager: true }),
  } as Record<string, string>)
    .map(([path, text]) => [path.replace(/^.*\//, "").replace(/\.scn$/, ""), text]),
);
const DEFAULT_EXAMPLE = "seed-doublemap";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const source = $<HTMLTextAreaElement>("source");
const exampleSel = $<HTMLSelectElement>("example");
const kernelSel = $<HTMLSelectElement>("kernel");
const memorySel = $<HTMLSelectElement>("memory");
const schemeSel = $<HTMLSelectElement>("scheme");
const runBtn = $<HTMLButtonElement>("run");
const stepBtn = $<HTMLButtonElement>("step");
const backBtn = $<HTMLButtonElement>("back");
const resetBtn = $<HTMLButtonElement>("reset");
const statusEl = $("status");
const errorEl = $("error");
const gutter = $("gutter");
const hlCurrent = $("hl-current");
const hlError = $("hl-error");
const framesEl = $("frames");
const foliosEl = $("folios");
const tablesEl = $("tables");
const pageEl = $("page");
const obsEl = $("observations");
const knobsEl = $("knobs");

// ---- state ---------------------------------------------------------------------------
let machine: Machine | null = null;
let ops: Op[] = [];
let pc = 0; // index of the next operation
let dirty = true; // the text or a setting changed since the last reset
let busy = false;
let lastLine = 0; // line of the last operation run
let errorLine = 0;
let dumps = 0;
let lastDump: { dump: number; label: string | null; records: (PageRecord | RegionRecord)[] } | null = null;
let lastInspect: InspectRecord | null = null;
let selected: number | null = null;
const openState = new Map<string, boolean>();

// ---- the editor: line numbers and highlighted lines -----------------------------------
const LINE = 17, PAD = 4;
function lineCount(): number { return source.value.split("\n").length; }
function renderGutter(): void {
  const next = !dirty && pc < ops.length ? ops[pc].line : 0;
  const n = lineCount();
  let s = "";
  for (let i = 1; i <= n; i++) s += (i === next ? "▶" : "") + i + "\n";
  gutter.textContent = s;
  gutter.scrollTop = source.scrollTop;
}
function placeHl(el: HTMLElement, line: number): void {
  el.hidden = line <= 0;
  if (line > 0) el.style.top = `${PAD + (line - 1) * LINE - source.scrollTop}px`;
}
function renderEditor(): void {
  renderGutter();
  placeHl(hlCurrent, dirty ? 0 : lastLine);
  placeHl(hlError, errorLine);
}
function scrollToLine(line: number): void {
  const top = PAD + (line - 1) * LINE;
  if (top < source.scrollTop || top + LINE > source.scrollTop + source.clientHeight) {
    source.scrollTop = Math.max(0, top - source.clientHeight / 3);
  }
}
source.addEventListener("scroll", renderEditor);
source.addEventListener("input", () => {
  dirty = true;
  clearError();
  setStatus("edited: Run or Step starts again from the first line");
  renderEditor();
});

function setStatus(s: string): void { statusEl.textContent = s; }
function showError(line: number, message: string): void {
  errorLine = line;
  errorEl.hidden = false;
  errorEl.textContent = line > 0 ? `line ${line}: ${message}` : message;
  document.body.dataset.error = errorEl.textContent;
  if (line > 0) scrollToLine(line);
  renderEditor();
}
function clearError(): void {
  errorLine = 0;
  errorEl.hidden = true;
  delete document.body.dataset.error;
}

// ---- running -----------------------------------------------------------------------------
async function reset(): Promise<boolean> {
  clearError();
  machine = null;
  ops = [];
  pc = 0; lastLine = 0; dumps = 0;
  lastDump = null; lastInspect = null; selected = null;
  try {
    ops = parseScenario(source.value, "scenario");
  } catch (err) {
    if (err instanceof ScenarioError) showError(err.line, err.reason);
    else showError(0, String(err));
    dirty = true;
    renderAll();
    return false;
  }
  try {
    machine = await Machine.create({
      kernel: kernelSel.value as KernelName, memory: Number(memorySel.value),
      scheme: (schemeSel.value || undefined) as SchemeName | undefined,
    });
  } catch (err) {
    showError(0, (err as Error).message);
    renderAll();
    return false;
  }
  dirty = false;
  setStatus(`${ops.length} operations · ${kernelSel.value} · ${schemeOf(machine)} scheme`);
  renderAll();
  return true;
}

/** Run the operation at pc; false (and the error shown) when it failed. */
function stepOnce(): boolean {
  const m = machine!;
  const op = ops[pc];
  let recs: ObservationRecord[];
  try {
    recs = applyOp(m, op);
  } catch (err) {
    const msg = err instanceof UserError ? err.message : `internal error: ${(err as Error).message}`;
    lastLine = op.line;
    showError(op.line, msg);
    return false;
  }
  pc++;
  lastLine = op.line;
  if (op.op === "dump") {
    dumps++;
    lastDump = { dump: dumps, label: op.label, records: recs as (PageRecord | RegionRecord)[] };
  }
  if (op.op === "inspect") {
    lastInspect = recs[0] as InspectRecord;
    selected = lastInspect.pfn;
  } else lastInspect = null;
  return true;
}

async function withBusy(fn: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  document.body.dataset.state = "busy";
  for (const b of [runBtn, stepBtn, backBtn, resetBtn]) b.disabled = true;
  try {
    await fn();
  } finally {
    busy = false;
    for (const b of [runBtn, stepBtn, backBtn, resetBtn]) b.disabled = false;
    document.body.dataset.state = "idle";
  }
}

async function step(): Promise<void> {
  if (dirty || !machine || pc >= ops.length || errorLine) { if (!(await reset())) return; }
  if (pc >= ops.length) { setStatus("nothing to run"); return; }
  if (stepOnce()) { clearError(); scrollToLine(lastLine); }
  report();
  renderAll();
}

/**
 * One operation back. The machine has no undo, but a scenario is
 * deterministic: a fresh machine replaying the operations before the last
 * one reaches exactly the state the user saw one step earlier (the selected
 * frame stays selected).
 */
async function back(): Promise<void> {
  if (dirty || !machine || pc === 0) { setStatus("nothing to undo"); return; }
  const target = errorLine ? pc : pc - 1; // after a failed operation, Back only clears the error
  const keep = selected;
  if (!(await reset())) return;
  while (pc < target && stepOnce()) { /* replay */ }
  if (pc === target) clearError();
  if (keep !== null && lastInspect === null) selected = keep;
  if (pc > 0) scrollToLine(lastLine);
  report();
  renderAll();
}

async function run(): Promise<void> {
  if (dirty || !machine || pc >= ops.length || errorLine) { if (!(await reset())) return; }
  const t0 = performance.now();
  while (pc < ops.length && stepOnce()) { /* run on */ }
  if (pc >= ops.length) clearError();
  report(performance.now() - t0);
  renderAll();
}

function report(ms?: number): void {
  const where = pc >= ops.length ? "done" : `next: line ${ops[pc].line}`;
  const ran = pc === 0 ? "at the start" : `ran line ${lastLine}`;
  setStatus(`${ran} · ${pc}/${ops.length} operations · ${where}` + (ms !== undefined ? ` · ${ms.toFixed(0)} ms` : ""));
  document.body.dataset.pc = String(pc);
  document.body.dataset.done = String(pc >= ops.length);
}

// ---- views ------------------------------------------------------------------------------
function renderAll(): void {
  // each live process's page tables, read once for both views that need them
  const trees = new Map<Process, TableNode>();
  for (const p of machine?.liveProcesses() ?? []) trees.set(p, pageTableTree(machine!, p)!);
  renderEditor();
  renderFrames();
  renderTables(trees);
  renderPage(trees);
  renderKnobs();
  renderObservations();
}

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
const hex = (n: number) => "0x" + n.toString(16);
function folioColour(head: number): string {
  const h = (head * 137.508) % 360;
  return `hsl(${h.toFixed(0)} 65% 74%)`;
}

const MAX_BLOCKS = 48; // 2 MiB blocks drawn (24576 frames)
function renderFrames(): void {
  framesEl.replaceChildren();
  foliosEl.replaceChildren();
  const m = machine;
  if (!m) { $("frames-title").textContent = ""; return; }
  const core = m.core;
  const limit = usedFrameLimit(m);
  const blocks = Math.ceil(limit / 512);
  $("frames-title").textContent =
    `(frames 0–${Math.max(0, limit - 1)} of ${core.frames}; ${core.nrFreePages()} free; one row = 64 frames = 256 KiB)`;
  const heads = new Map<number, FolioCounters>();
  const frag = document.createDocumentFragment();
  let drawn = 0, freeRun = -1;
  const flushFree = (b: number) => {
    if (freeRun < 0) return;
    frag.append(el("div", { class: "block free-run" },
      `pfn ${hex(freeRun * 512)}–${hex(b * 512 - 1)}: ${b - freeRun} free 2 MiB block${b - freeRun > 1 ? "s" : ""}`));
    freeRun = -1;
  };
  for (let b = 0; b < blocks; b++) {
    const kinds: string[] = [];
    let allFree = true;
    for (let i = 0; i < 512; i++) {
      const k = b * 512 + i < core.frames ? frameKind(m, b * 512 + i) : "free";
      kinds.push(k);
      if (k !== "free") allFree = false;
    }
    if (allFree) { if (freeRun < 0) freeRun = b; continue; }
    flushFree(b);
    if (drawn++ >= MAX_BLOCKS) { frag.append(el("div", { class: "block free-run" }, `… frames above ${hex(b * 512)} not drawn`)); break; }
    const row = el("div", { class: "block" });
    row.append(el("div", { class: "block-label" }, hex(b * 512)));
    const grid = el("div", { class: "grid" });
    for (let i = 0; i < 512; i++) {
      const pfn = b * 512 + i;
      const k = kinds[i];
      const c = el("div", { class: `cell k-${k}`, "data-pfn": String(pfn), "data-kind": k });
      let title = `pfn ${pfn} (${hex(pfn)}) · ${k}`;
      if (k === "head" || k === "tail" || k === "page" || k === "zero" || k === "hzero") {
        const head = core.headPfn(pfn);
        if (k === "head" || k === "tail" || k === "page") {
          const mc = core.e.page_mapcount(pfn) as number;
          c.dataset.mapcount = String(mc);
          c.textContent = mc < 100 ? String(mc) : "+";
          if (mc === 0) c.classList.add("unmapped");
          c.style.backgroundColor = folioColour(head);
          title += ` · page_mapcount ${mc}`;
        } else c.textContent = "0";
        if (k === "head" || k === "tail") {
          let f = heads.get(head);
          if (!f) heads.set(head, f = folioCounters(m, head));
          if (f.PG_double_map) c.classList.add("dm");
          title += ` · subpage ${pfn - head} of the order-${f.order} folio at pfn ${head}` + (f.PG_double_map ? " · PG_double_map" : "");
        }
      } else if (k === "pagetable") c.textContent = "T";
      if (pfn === selected) c.classList.add("sel");
      c.title = title;
      grid.append(c);
    }
    row.append(grid);
    frag.append(row);
  }
  flushFree(blocks);
  framesEl.append(frag);
  // the compound folios: their shared counters
  for (const [head, f] of heads) {
    const line = el("div", {
      class: "folio", "data-head": String(head), "data-double-map": String(f.PG_double_map),
      "data-compound-mapcount": String(f.compound_mapcount), "data-total-mapcount": String(f.total_mapcount),
    });
    const sw = el("span", { class: "swatch" });
    sw.style.backgroundColor = folioColour(head);
    line.append(sw, `folio pfn ${head} (${hex(head)}) order ${f.order}: ${f.compound_mapcount_name} ${f.compound_mapcount} ` +
      `(raw: ${f.compound_mapcount + 1} PMD map${f.compound_mapcount === 0 ? "" : "s"})  total_mapcount ${f.total_mapcount}  _refcount ${f._refcount}  PG_double_map `);
    line.append(f.PG_double_map === null
      ? el("span", { class: "muted" }, `n/a (${f.scheme} scheme)`)
      : el("span", { class: f.PG_double_map ? "yes" : "" }, f.PG_double_map ? "yes" : "no"));
    line.dataset.deferredSplit = String(f.deferred_split_queued);
    line.dataset.partiallyMapped = String(f.partially_mapped);
    if (f.deferred_split_queued) line.append(`  (on the deferred split queue${f.partially_mapped ? ", PG_partially_mapped" : ""})`);
    else if (f.partially_mapped) line.append("  (PG_partially_mapped)");
    foliosEl.append(line);
  }
}

framesEl.addEventListener("click", (ev) => {
  const c = (ev.target as HTMLElement).closest<HTMLElement>(".cell");
  if (!c || c.dataset.kind === "free" || !machine) return;
  selected = Number(c.dataset.pfn);
  for (const s of framesEl.querySelectorAll(".cell.sel")) s.classList.remove("sel");
  c.classList.add("sel");
  renderPage();
});

const LEVEL_NAME: Record<string, string> = { pgd: "PGD", pud: "PUD", pmd: "PMD", pte: "PTE" };
function entryLine(e: TableEntry, last?: TableEntry): DocumentFragment {
  const f = document.createDocumentFragment();
  const idx = last && last !== e ? `${e.index}–${last.index}` : String(e.index);
  f.append(el("span", { class: "lvl" }, `${LEVEL_NAME[e.level]}[${idx}]`), " ");
  f.append(el("span", { class: "hexv" }, e.hex), " ");
  f.append(el("span", { class: "bits" }, e.bits.join(" ")), " → ");
  const pfns = last && last !== e && last.pfn !== e.pfn ? `${e.pfn}–${last.pfn}` : String(e.pfn);
  let tgt: string;
  switch (e.kind) {
    case "table": tgt = `${LEVEL_NAME[e.child!.level]} table, pfn ${e.pfn}`; break;
    case "thp": tgt = `THP pfn ${e.pfn} (2 MiB, one PMD mapping)`; break;
    case "hzero": tgt = `huge zero page pfn ${e.pfn}`; break;
    case "zero": tgt = `zero page pfn ${e.pfn}`; break;
    default: tgt = `pfn ${pfns}`;
  }
  f.append(el("span", { class: e.kind === "thp" || e.kind === "hzero" ? "huge" : "tgt" }, tgt));
  if (e.deposited !== undefined) f.append(el("span", { class: "muted" }, ` (deposited PTE table pfn ${e.deposited})`));
  f.append(el("span", { class: "muted" }, `  va ${hex(e.va)}`));
  return f;
}
function details(key: string, summary: Node, defaultOpen: boolean): HTMLDetailsElement {
  const d = document.createElement("details");
  d.dataset.key = key;
  d.open = openState.get(key) ?? defaultOpen;
  const s = document.createElement("summary");
  s.append(summary);
  d.append(s);
  return d;
}
function renderNode(node: TableNode, key: string, into: HTMLElement): void {
  if (node.level === "pte") {
    for (const [a, b] of pteRuns(node.entries)) {
      const div = el("div", { class: "leaf" });
      div.append(entryLine(node.entries[a], node.entries[b]));
      into.append(div);
    }
    return;
  }
  for (const e of node.entries) {
    if (e.child) {
      const k = `${key}/${e.level}${e.index}`;
      const d = details(k, entryLine(e), true);
      renderNode(e.child, k, d);
      into.append(d);
    } else {
      const div = el("div", { class: "leaf" });
      div.append(entryLine(e));
      into.append(div);
    }
  }
}
function renderTables(trees: ReadonlyMap<Process, TableNode>): void {
  tablesEl.replaceChildren();
  if (!machine) return;
  if (trees.size === 0) { tablesEl.append(el("div", { class: "muted" }, "(no live process)")); return; }
  for (const [p, tree] of trees) {
    const regions = [...p.regions.values()].map((r) => `${r.name} ${hex(r.start)}+${hex(r.size)}`).join(", ");
    const sum = document.createDocumentFragment();
    sum.append(el("b", {}, p.name), ` · PGD pfn ${tree.pfn} · ${p.mm.nrTables} page-table pages`, el("span", { class: "muted" }, regions ? ` · ${regions}` : ""));
    const d = details(p.name, sum, true);
    d.dataset.proc = p.name;
    renderNode(tree, p.name, d);
    tablesEl.append(d);
  }
}
tablesEl.addEventListener("toggle", (ev) => {
  const d = ev.target as HTMLDetailsElement;
  if (d.dataset.key) openState.set(d.dataset.key, d.open);
}, true);

function renderPage(trees?: ReadonlyMap<Process, TableNode>): void {
  pageEl.replaceChildren();
  const m = machine;
  if (!m || selected === null || selected >= m.core.frames) { $("page-title").textContent = "(click a frame)"; return; }
  const r: FrameRecord = frameRecord(m, selected, trees);
  $("page-title").textContent = `pfn ${r.pfn} (${hex(r.pfn)}) · ${r.kind}`;
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
  r.mappedAt.slice(0, 40).forEach((x, i) => row(String(i + 1), formatMapping(x), `mappedAt.${i}`));
  if (r.mappedAt.length > 40) row("", `… ${r.mappedAt.length - 40} more`);
  const notes = el("p", { class: "muted" },
    schemeOf(m) === "doublemap"
      ? "_mapcount and compound_mapcount are raw (-1 = none). page_mapcount = (compound_mapcount + 1) + (_mapcount + 1) − PG_double_map."
      : `Counters of the ${schemeOf(m)} scheme; raw values are -1 based (-1 = none).`);
  pageEl.append(t, notes);
}

/**
 * The THP knobs the machine's kernel profile has, with their current values
 * (machine.knobs); the ones a `sysfs` line changed from the profile's initial
 * values are highlighted. Knobs the profile lacks are left out. The mTHP
 * sizes share one entry while they agree. Each entry carries data-knobs (its
 * knob names), data-value and data-changed.
 */
function renderKnobs(): void {
  knobsEl.replaceChildren();
  const m = machine;
  const title = $("knobs-title");
  if (!m) { title.textContent = ""; knobsEl.append(el("span", { class: "muted" }, "(no machine)")); return; }
  const now = m.knobs, init = m.profile.initialKnobs;
  const names = KNOB_NAMES.filter((n) => m.profile.knobs.includes(n));
  const changed = (n: KnobName) => now[n] !== init[n];
  const mthp = names.filter(isMthpKnob);
  const groupMthp = mthp.length > 1 && mthp.every((n) => now[n] === now[mthp[0]] && changed(n) === changed(mthp[0]));
  const entries: { names: KnobName[]; label: string }[] = [];
  for (const n of names) {
    if (isMthpKnob(n) && groupMthp) {
      if (n !== mthp[0]) continue;
      const kb = (k: KnobName) => k.replace(/^hugepages-(\d+)kB\/enabled$/, "$1");
      entries.push({ names: mthp, label: `hugepages-{${kb(mthp[0])}…${kb(mthp[mthp.length - 1])}}kB/enabled` });
    } else entries.push({ names: [n], label: n });
  }
  const nChanged = names.filter(changed).length;
  title.textContent = `(${nChanged ? `${nChanged} changed by sysfs, highlighted` : "none changed"}` +
    (names.length < KNOB_NAMES.length ? `; the others are absent in ${m.profile.name}` : "") + ")";
  for (const { names: ns, label } of entries) {
    const n = ns[0];
    const isChanged = changed(n);
    const chip = el("span", {
      class: "knob" + (isChanged ? " changed" : ""),
      "data-knobs": ns.join(" "), "data-value": String(now[n]), "data-changed": String(isChanged),
      title: (ns.length > 1 ? ns.join(", ") + ": " : "") + KNOBS[n].what +
        (isChanged ? ` · changed from ${init[n]}` : ` · ${m.profile.name}'s initial value`),
    });
    chip.append(el("span", { class: "kname" }, label), " ", el("span", { class: "kval" }, String(now[n])));
    if (isChanged) chip.append(el("span", { class: "was" }, ` (was ${init[n]})`));
    knobsEl.append(chip);
  }
}

function renderObservations(): void {
  const lines: string[] = [];
  if (lastDump) {
    $("obs-title").textContent = `(dump ${lastDump.dump}${lastDump.label ? ": " + lastDump.label : ""})`;
    lines.push(...(lastDump.records.length ? formatTable(lastDump.records) : formatEmptyDump(lastDump.dump, lastDump.label)));
  } else $("obs-title").textContent = "(the last dump)";
  if (lastInspect) lines.push("", ...formatInspect(lastInspect));
  obsEl.textContent = lines.length ? lines.join("\n") : "(no dump yet)";
}

// ---- wiring ----------------------------------------------------------------------------------
for (const name of Object.keys(EXAMPLES).sort()) exampleSel.append(new Option(`${name}.scn`, name));
/** The knobs a scenario's `sysfs` lines set (none when it does not parse). */
function knobsSetBy(text: string): KnobName[] {
  try {
    return parseScenario(text, "scenario").flatMap((o) => (o.op === "sysfs" ? [o.knob] : []));
  } catch {
    return [];
  }
}
/**
 * Load an example. One that sets a knob the selected kernel lacks (say
 * khugepaged/max_ptes_none under linux-4.5) switches the kernel to the
 * first one that has them all; returns a note saying so, or null.
 */
function loadExample(name: string): string | null {
  exampleSel.value = name;
  source.value = EXAMPLES[name] ?? "";
  source.scrollTop = 0;
  dirty = true;
  const need = knobsSetBy(source.value);
  const hasAll = (k: string) => need.every((n) => PROFILES[k as KernelName]?.knobs.includes(n));
  if (hasAll(kernelSel.value)) return null;
  const other = [...kernelSel.options].map((o) => o.value).find(hasAll);
  if (!other) return null;
  const lacking = need.filter((n) => !PROFILES[kernelSel.value as KernelName].knobs.includes(n));
  const note = `kernel switched to ${other}: ${kernelSel.value} has no ${[...new Set(lacking)].join(", ")}`;
  kernelSel.value = other;
  return note;
}
exampleSel.addEventListener("change", () => {
  const note = loadExample(exampleSel.value);
  void withBusy(async () => { if ((await reset()) && note) setStatus(`${statusEl.textContent} · ${note}`); });
});
kernelSel.addEventListener("change", () => { dirty = true; void withBusy(async () => { await reset(); }); });
schemeSel.addEventListener("change", () => { dirty = true; void withBusy(async () => { await reset(); }); });
memorySel.addEventListener("change", () => { dirty = true; void withBusy(async () => { await reset(); }); });
runBtn.addEventListener("click", () => void withBusy(run));
stepBtn.addEventListener("click", () => void withBusy(step));
backBtn.addEventListener("click", () => void withBusy(back));
resetBtn.addEventListener("click", () => void withBusy(async () => { await reset(); }));
source.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); void withBusy(run); }
});

const wanted = new URLSearchParams(location.search);
let startNote = loadExample(EXAMPLES[wanted.get("example") ?? ""] !== undefined ? wanted.get("example")! : DEFAULT_EXAMPLE);
if (wanted.get("kernel")) { kernelSel.value = wanted.get("kernel")!; startNote = null; }
if (wanted.get("scheme")) schemeSel.value = wanted.get("scheme")!;
void withBusy(async () => {
  try {
    if ((await reset()) && startNote) setStatus(`${statusEl.textContent} · ${startNote}`);
  } catch (err) {
    showError(0, `cannot start the emulator: ${(err as Error).message}`);
  }
  document.body.dataset.ready = "1";
});

// The thpemu web view: a scenario editor that runs (or steps through) a
// scenario on a Machine in the page, and views of the machine redrawn after
// every operation. This file only wires the page's controls to the Session
// (web/session.ts: the run, without the DOM) and redraws the views
// (web/render/*) from its state. It imports the emulator through its public
// API (src/index.ts) as TypeScript; Vite bundles it and emits the .wasm core
// that src/core/loader.ts finds with new URL(…, import.meta.url).
import type { KernelName, SchemeName } from "../src/index.js";
import { Session, type MachineSettings } from "./session.js";
import { EXAMPLES, DEFAULT_EXAMPLE, kernelFor } from "./examples.js";
import { EditorView } from "./render/editor.js";
import { renderFrames, markSelected } from "./render/frames.js";
import { PageTablesView, readPageTables } from "./render/pagetables.js";
import { renderStructPage } from "./render/structpage.js";
import { renderSmaps } from "./render/smaps.js";
import { renderKnobs } from "./render/knobs.js";
import { renderObservations } from "./render/observations.js";
import { startText, progressText } from "./render/status.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const source = $<HTMLTextAreaElement>("source");
const exampleSel = $<HTMLSelectElement>("example");
const kernelSel = $<HTMLSelectElement>("kernel");
const memorySel = $<HTMLSelectElement>("memory");
const schemeSel = $<HTMLSelectElement>("scheme");
const buttons = { run: $<HTMLButtonElement>("run"), step: $<HTMLButtonElement>("step"), back: $<HTMLButtonElement>("back"), reset: $<HTMLButtonElement>("reset") };
const statusEl = $("status");
const framesEls = { grid: $("frames"), folios: $("folios"), title: $("frames-title") };
const pageEls = { page: $("page"), title: $("page-title") };
const knobsEls = { knobs: $("knobs"), title: $("knobs-title") };
const obsEls = { text: $("observations"), title: $("obs-title") };

const editor = new EditorView({ source, gutter: $("gutter"), hlCurrent: $("hl-current"), hlError: $("hl-error"), error: $("error") });
const tables = new PageTablesView($("tables"));

function selectedSettings(): MachineSettings {
  return {
    kernel: kernelSel.value as KernelName,
    memory: Number(memorySel.value),
    scheme: (schemeSel.value || undefined) as SchemeName | undefined,
  };
}
const session = new Session(selectedSettings());

function setStatus(s: string): void { statusEl.textContent = s; }

/** Redraw every view from the session; data-pc and data-done tell tests where the run stands. */
function renderAll(): void {
  const m = session.machine;
  const trees = readPageTables(m);
  editor.render(session);
  renderFrames(framesEls, m, session.selected);
  renderSmaps($("smaps"), m);
  tables.render(m, trees);
  renderStructPage(pageEls, m, session.selected, trees);
  renderKnobs(knobsEls, m);
  renderObservations(obsEls, session.lastDump, session.lastInspect);
  document.body.dataset.pc = String(session.pc);
  document.body.dataset.done = String(session.done);
}

// ---- the actions: one at a time (the buttons are disabled meanwhile; data-state says so) ----
let busy = false;
async function withBusy(fn: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  document.body.dataset.state = "busy";
  for (const b of Object.values(buttons)) b.disabled = true;
  try {
    await fn();
  } finally {
    busy = false;
    for (const b of Object.values(buttons)) b.disabled = false;
    document.body.dataset.state = "idle";
  }
}

async function reset(): Promise<boolean> {
  const ok = await session.reset();
  if (ok) setStatus(startText(session));
  renderAll();
  return ok;
}

async function step(): Promise<void> {
  const r = await session.step();
  if (r.kind === "nothing-to-do") setStatus("nothing to run");
  if (r.kind === "ran") setStatus(progressText(session));
  renderAll();
  if (r.kind === "ran" && !session.error) editor.scrollToLine(session.currentLine);
}

async function back(): Promise<void> {
  const r = await session.back();
  if (r.kind === "nothing-to-do") setStatus("nothing to undo");
  if (r.kind === "ran") setStatus(progressText(session));
  renderAll();
  if (r.kind === "ran" && session.pc > 0) editor.scrollToLine(session.currentLine);
}

async function run(): Promise<void> {
  const r = await session.run();
  if (r.kind === "ran") setStatus(progressText(session, r.ms));
  renderAll();
}

/**
 * Put example `name` in the editor, switching the kernel when the example
 * sets a knob the selected one lacks; returns the note that says so, or null.
 */
function loadExample(name: string): string | null {
  exampleSel.value = name;
  source.value = EXAMPLES[name] ?? "";
  source.scrollTop = 0;
  const { kernel, note } = kernelFor(source.value, kernelSel.value, [...kernelSel.options].map((o) => o.value));
  kernelSel.value = kernel;
  session.edit(source.value);
  session.configure(selectedSettings());
  return note;
}

// ---- wiring ------------------------------------------------------------------------------
for (const name of Object.keys(EXAMPLES).sort()) exampleSel.append(new Option(`${name}.scn`, name));
exampleSel.addEventListener("change", () => {
  const note = loadExample(exampleSel.value);
  void withBusy(async () => { if ((await reset()) && note) setStatus(`${statusEl.textContent} · ${note}`); });
});
for (const sel of [kernelSel, schemeSel, memorySel]) {
  sel.addEventListener("change", () => {
    session.configure(selectedSettings());
    void withBusy(async () => { await reset(); });
  });
}
buttons.run.addEventListener("click", () => void withBusy(run));
buttons.step.addEventListener("click", () => void withBusy(step));
buttons.back.addEventListener("click", () => void withBusy(back));
buttons.reset.addEventListener("click", () => void withBusy(async () => { await reset(); }));
source.addEventListener("input", () => {
  session.edit(source.value);
  setStatus("edited: Run or Step starts again from the first line");
  editor.render(session);
});
source.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); void withBusy(run); }
});
framesEls.grid.addEventListener("click", (ev) => {
  const c = (ev.target as HTMLElement).closest<HTMLElement>(".cell");
  if (!c || c.dataset.kind === "free" || !session.machine) return;
  session.select(Number(c.dataset.pfn));
  markSelected(framesEls.grid, session.selected!);
  renderStructPage(pageEls, session.machine, session.selected);
});

// ---- start: ?example=NAME&kernel=K&scheme=S choose what the page opens with ----
const wanted = new URLSearchParams(location.search);
let startNote = loadExample(EXAMPLES[wanted.get("example") ?? ""] !== undefined ? wanted.get("example")! : DEFAULT_EXAMPLE);
if (wanted.get("kernel")) { kernelSel.value = wanted.get("kernel")!; startNote = null; }
if (wanted.get("scheme")) schemeSel.value = wanted.get("scheme")!;
session.configure(selectedSettings());
void withBusy(async () => {
  try {
    if ((await reset()) && startNote) setStatus(`${statusEl.textContent} · ${startNote}`);
  } catch (err) {
    editor.render({ nextLine: 0, currentLine: 0, error: { line: 0, message: `cannot start the emulator: ${(err as Error).message}` } });
  }
  document.body.dataset.ready = "1";
});

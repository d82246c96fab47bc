// The page tables view: per live process, its PGD → PUD → PMD → PTE tree as
// nested <details>, every entry with its index, raw value, decoded bits and
// target; consecutive PTEs that map consecutive frames alike are one line.
import { pageTableTree, pteRuns } from "../../src/index.js";
import type { Machine, Process, TableNode, TableEntry } from "../../src/index.js";
import { el, hex } from "./dom.js";

/** Each live process's page tables, read once per redraw for every view that needs them. */
export type PageTables = ReadonlyMap<Process, TableNode>;

export function readPageTables(m: Machine | null): PageTables {
  const trees = new Map<Process, TableNode>();
  for (const p of m?.liveProcesses() ?? []) trees.set(p, pageTableTree(m!, p)!);
  return trees;
}

const LEVEL_NAME: Record<string, string> = { pgd: "PGD", pud: "PUD", pmd: "PMD", pte: "PTE" };

export class PageTablesView {
  /**
   * Which <details> the user opened or closed, by a key that names the same
   * table across redraws (process / level+index / …): every step rebuilds
   * the tree, and the user's folding must survive it.
   */
  private readonly open = new Map<string, boolean>();

  constructor(private readonly root: HTMLElement) {
    // toggle does not bubble: listen in the capture phase
    root.addEventListener("toggle", (ev) => {
      const d = ev.target as HTMLDetailsElement;
      if (d.dataset.key) this.open.set(d.dataset.key, d.open);
    }, true);
  }

  render(m: Machine | null, trees: PageTables): void {
    this.root.replaceChildren();
    if (!m) return;
    if (trees.size === 0) { this.root.append(el("div", { class: "muted" }, "(no live process)")); return; }
    for (const [p, tree] of trees) {
      const regions = [...p.regions.values()].map((r) => `${r.name} ${hex(r.start)}+${hex(r.size)}`).join(", ");
      const sum = document.createDocumentFragment();
      sum.append(el("b", {}, p.name), ` · PGD pfn ${tree.pfn} · ${m.pageTablePages(p.name)} page-table pages`,
        el("span", { class: "muted" }, regions ? ` · ${regions}` : ""));
      const d = this.details(p.name, sum);
      d.dataset.proc = p.name;
      this.renderNode(tree, p.name, d);
      this.root.append(d);
    }
  }

  /** A <details> open as the user left it (open the first time). */
  private details(key: string, summary: Node): HTMLDetailsElement {
    const d = document.createElement("details");
    d.dataset.key = key;
    d.open = this.open.get(key) ?? true;
    const s = document.createElement("summary");
    s.append(summary);
    d.append(s);
    return d;
  }

  private renderNode(node: TableNode, key: string, into: HTMLElement): void {
    if (node.level === "pte") {
      for (const [a, b] of pteRuns(node.entries)) into.append(leaf(entryLine(node.entries[a], node.entries[b])));
      return;
    }
    for (const e of node.entries) {
      if (!e.child) { into.append(leaf(entryLine(e))); continue; }
      const k = `${key}/${e.level}${e.index}`;
      const d = this.details(k, entryLine(e));
      this.renderNode(e.child, k, d);
      into.append(d);
    }
  }
}

function leaf(content: Node): HTMLElement {
  const div = el("div", { class: "leaf" });
  div.append(content);
  return div;
}

/** One entry, or the run of PTEs `e`…`last`: `PTE[1–511] 0x… P RW … → pfn 513–1023  va 0x…`. */
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

// The /proc view of a process's memory (fs/proc/task_mmu.c: pagemap, smaps;
// fs/proc/page.c: kpagecount): what a `dump` reports for every region of
// every live process, from the page tables and the mapcounts, in the
// records of docs/scenario-format.md.
import type { Kernel, Process } from "./types.js";
import { PAGE_SIZE, PMD_SIZE } from "../pgtable/x86_64.js";
import { walkPageRange } from "../pgtable/pagewalk.js";

/** One present 4 KiB page of a region (pagemap + kpagecount). */
export interface PageRecord {
  type: "page";
  dump: number;
  label: string | null;
  proc: string;
  region: string;
  page: number;
  folio: string;
  index: number;
  order: number;
  mapcount: number;
}

/** A region's totals (smaps Rss and AnonHugePages). */
export interface RegionRecord {
  type: "region";
  dump: number;
  label: string | null;
  proc: string;
  region: string;
  rss: number;
  pmdMapped: number;
}

/** `x` (an integer) as an int32 when it is one, so that V8 keeps it a small integer. */
function asInt(x: number): number { return x <= 0x7fffffff ? x | 0 : x; }

/** The present PTEs of one table (their indices and PFNs), reused by every dump: no array per table. */
const present = new Int32Array(512);
const pfns = new Int32Array(512); // PFNs < 2^31 (128 GiB of memory at most)

/** Folio names F1, F2 … made once and kept: a dump of a million small folios makes no name strings again. */
const FOLIO_NAMES: string[] = [];
function nthFolioName(n: number): string {
  while (FOLIO_NAMES.length <= n) FOLIO_NAMES.push(`F${FOLIO_NAMES.length}`);
  return FOLIO_NAMES[n];
}

/**
 * The folio numbers of one dump: head PFN -> 1, 2, … in order of first
 * appearance. An open-addressing table over typed arrays (a dump of a
 * million small folios would grow a Map of a million entries).
 */
class FolioNumbers {
  private keys = new Int32Array(1024).fill(-1);
  private vals = new Int32Array(1024);
  private size = 0;
  /** The number of the folio at `head`, given the next one if it has none yet. */
  numberOf(head: number): number {
    let mask = this.keys.length - 1;
    let i = Math.imul(head, 0x9e3779b1) & mask;
    for (;;) {
      const k = this.keys[i];
      if (k === head) return this.vals[i];
      if (k === -1) break;
      i = (i + 1) & mask;
    }
    if (2 * (this.size + 1) > this.keys.length) {
      this.grow();
      mask = this.keys.length - 1;
      i = Math.imul(head, 0x9e3779b1) & mask;
      while (this.keys[i] !== -1) i = (i + 1) & mask;
    }
    this.keys[i] = head;
    this.vals[i] = ++this.size;
    return this.size;
  }
  private grow(): void {
    const { keys, vals } = this;
    this.keys = new Int32Array(keys.length * 2).fill(-1);
    this.vals = new Int32Array(keys.length * 2);
    const mask = this.keys.length - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === -1) continue;
      let i = Math.imul(keys[j], 0x9e3779b1) & mask;
      while (this.keys[i] !== -1) i = (i + 1) & mask;
      this.keys[i] = keys[j];
      this.vals[i] = vals[j];
    }
  }
}

function cmp(a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0; }

/**
 * The page and region records of dump number `dump`: processes by name,
 * regions by name, pages ascending. Folios are named F1, F2 … in order of
 * first appearance within the dump; the zero pages are `zero` and `hzero`.
 * Mapcounts are read in one batch per PTE table (page_mapcount_batch).
 */
export function observe(k: Kernel, procs: Iterable<Process>, dump: number, label: string | null): (PageRecord | RegionRecord)[] {
  const out: (PageRecord | RegionRecord)[] = [];
  const names = new FolioNumbers();
  const core = k.core;
  const pt = k.pt;
  const folioName = (head: number) => nthFolioName(names.numberOf(head));
  const page = (p: Process, region: string, i: number, folio: string, index: number, order: number, mapcount: number): PageRecord =>
    ({ type: "page", dump, label, proc: p.name, region, page: i, folio, index, order, mapcount });
  const live = [...procs].filter((p) => p.alive).sort((a, b) => cmp(a.name, b.name));
  for (const p of live) {
    for (const r of [...p.regions.values()].sort((a, b) => cmp(a.name, b.name))) {
      let rss = 0, pmdMapped = 0;
      walkPageRange(pt, p.mm, r.start, r.start + r.size, {
        pmdEntry(pmd, _blk, s, e) {
          // small integers stay small integers (Smis: cheaper records, and their text is written faster)
          const first = asInt((s - r.start) / PAGE_SIZE);
          const n = ((e - s) / PAGE_SIZE) | 0;
          const i0 = ((s % PMD_SIZE) / PAGE_SIZE) | 0;
          if (pt.pmdTransHuge(pmd)) {
            const head = pt.pfn(pmd);
            if (head === core.hugeZeroPfn) {
              for (let i = 0; i < n; i++) out.push(page(p, r.name, first + i, "hzero", i0 + i, 9, 0));
              return true;
            }
            for (let i = 0; i < n; i++) core.scratchSet(i, head + i0 + i);
            core.e.page_mapcount_batch(n);
            const name = folioName(head);
            for (let i = 0; i < n; i++) out.push(page(p, r.name, first + i, name, i0 + i, 9, core.scratchGetSigned(i)));
            rss += n * PAGE_SIZE;
            if (n === 512) pmdMapped += PMD_SIZE;
            return true;
          }
          // a PTE table: the present pages (their indices in `present`), their mapcounts in one batch
          let np = 0;
          const base = pt.pteTable(pmd);
          for (let i = 0; i < n; i++) {
            const pte = pt.nth(base, i0 + i);
            if (!pt.ptePresent(pte)) continue;
            core.scratchSet(np, pt.pfn(pte));
            present[np++] = i;
          }
          for (let j = 0; j < np; j++) pfns[j] = core.scratchGet(j);
          core.e.page_mapcount_batch(np);
          for (let j = 0; j < np; j++) {
            const i = present[j], pfn = pfns[j];
            if (pfn === core.zeroPfn) { out.push(page(p, r.name, first + i, "zero", 0, 0, 0)); continue; }
            const head = core.headPfn(pfn);
            out.push(page(p, r.name, first + i, folioName(head), pfn - head, core.folioOrder(head), core.scratchGetSigned(j)));
            rss += PAGE_SIZE;
          }
          return true;
        },
      });
      out.push({ type: "region", dump, label, proc: p.name, region: r.name, rss, pmdMapped });
    }
  }
  return out;
}

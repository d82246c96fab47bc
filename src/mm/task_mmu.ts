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

function cmp(a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0; }

/**
 * The page and region records of dump number `dump`: processes by name,
 * regions by name, pages ascending. Folios are named F1, F2 … in order of
 * first appearance within the dump; the zero pages are `zero` and `hzero`.
 * Mapcounts are read in one batch per PTE table (page_mapcount_batch).
 */
export function observe(k: Kernel, procs: Iterable<Process>, dump: number, label: string | null): (PageRecord | RegionRecord)[] {
  const out: (PageRecord | RegionRecord)[] = [];
  const names = new Map<number, string>();
  const core = k.core;
  const pt = k.pt;
  const folioName = (head: number) => {
    let n = names.get(head);
    if (n === undefined) names.set(head, (n = `F${names.size + 1}`));
    return n;
  };
  const page = (p: Process, region: string, i: number, folio: string, index: number, order: number, mapcount: number): PageRecord =>
    ({ type: "page", dump, label, proc: p.name, region, page: i, folio, index, order, mapcount });
  const live = [...procs].filter((p) => p.alive).sort((a, b) => cmp(a.name, b.name));
  for (const p of live) {
    for (const r of [...p.regions.values()].sort((a, b) => cmp(a.name, b.name))) {
      let rss = 0, pmdMapped = 0;
      walkPageRange(pt, p.mm, r.start, r.start + r.size, {
        pmdEntry(pmd, _blk, s, e) {
          const first = (s - r.start) / PAGE_SIZE;
          const n = (e - s) / PAGE_SIZE;
          const i0 = (s % PMD_SIZE) / PAGE_SIZE;
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
          // a PTE table: the present pages, their mapcounts in one batch
          const present: number[] = [];
          const base = pt.pteTable(pmd);
          for (let i = 0; i < n; i++) {
            const pte = pt.nth(base, i0 + i);
            if (!pt.ptePresent(pte)) continue;
            const pfn = pt.pfn(pte);
            core.scratchSet(present.length / 2, pfn);
            present.push(i, pfn);
          }
          core.e.page_mapcount_batch(present.length / 2);
          for (let j = 0; j < present.length; j += 2) {
            const i = present[j], pfn = present[j + 1];
            if (pfn === core.zeroPfn) { out.push(page(p, r.name, first + i, "zero", 0, 0, 0)); continue; }
            const head = core.headPfn(pfn);
            out.push(page(p, r.name, first + i, folioName(head), pfn - head, core.folioOrder(head), core.scratchGetSigned(j / 2)));
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

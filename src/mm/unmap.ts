// Tearing mappings down (mm/memory.c unmap_page_range, zap_pmd_range,
// zap_pte_range; mm/huge_memory.c zap_huge_pmd; mm/mmap.c do_munmap,
// free_pgtables, exit_mmap).
import type { Kernel, Mm, Process } from "./types.js";
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE } from "../pgtable/x86_64.js";
import { walkPageRange } from "../pgtable/pagewalk.js";
import { splitVmaAt, anyVmaOverlaps, vmasIn } from "./vma.js";
import { splitHugePmd } from "./huge_memory.js";

/** zap_huge_pmd: a whole-2 MiB zap of a huge PMD; its deposited table goes too. */
export function zapHugePmd(k: Kernel, mm: Mm, pmd: number): void {
  const core = k.core;
  const pfn = k.pt.pfn(pmd);
  k.pt.clear(pmd);
  const table = k.deposits.get(pmd);
  if (table !== undefined) {
    k.deposits.delete(pmd);
    k.pt.free(mm, table);
  }
  if (pfn === core.hugeZeroPfn) core.e.put_huge_zero_page();
  else core.e.zap_huge_pmd(pfn, mm.id);
}

/** zap_pte_range over [s, e) of one table: clear the PTEs, unmap their pages in one batch. */
function zapPteRange(k: Kernel, mm: Mm, pmd: number, s: number, e: number): void {
  const from = (s % PMD_SIZE) / PAGE_SIZE;
  const n = k.pt.clearPtes(k.pt.pteTable(pmd), from, from + (e - s) / PAGE_SIZE);
  if (n > 0) k.core.e.zap_pte_batch(n, mm.id);
}

/**
 * unmap_page_range over [start, end): a huge PMD wholly inside is zapped,
 * one cut by the range is split first. With `reclaimTables`
 * (CONFIG_PT_RECLAIM, MADV_DONTNEED) a PTE table whose whole 2 MiB was
 * zapped is freed.
 */
export function zapRange(k: Kernel, mm: Mm, start: number, end: number, reclaimTables: boolean): void {
  const pt = k.pt;
  const core = k.core;
  // a run of huge PMDs zapped whole is one core call (zap_huge_pmd_batch: per
  // entry its deposited table freed, then its mapping removed, in order),
  // flushed before anything else changes a page
  let n = 0;
  const flush = () => {
    if (n === 0) return;
    core.e.zap_huge_pmd_batch(n, mm.id);
    n = 0;
  };
  const deposits = k.deposits;
  walkPageRange(pt, mm, start, end, {
    pmdHugeRun(pmd0, _blk, count) {
      // (the batch may span runs of several PMD tables: nothing changes a page between them)
      for (let i = 0; i < count; i++) {
        // zap_huge_pmd, the page-table half: clear the PMD, withdraw the deposited table
        const pmd = pmd0 + (i << 1);
        const pfn = pt.pfn(pmd);
        pt.clear(pmd);
        const table = deposits.get(pmd);
        if (table !== undefined) {
          deposits.delete(pmd);
          mm.nrTables--;
        }
        core.scratchSet(2 * n, pfn);
        core.scratchSet(2 * n + 1, table ?? core.NIL);
        if (++n === ZAP_BATCH) flush();
      }
    },
    pmdEntry(pmd, blk, s, e) {
      const whole = s === blk * PMD_SIZE && e === (blk + 1) * PMD_SIZE;
      if (pt.pmdTransHuge(pmd)) {
        // (a huge PMD wholly inside came in a run above) one cut by the range: __split_huge_pmd first
        flush();
        splitHugePmd(k, mm, pmd);
      }
      flush();
      zapPteRange(k, mm, pmd, s, e);
      if (reclaimTables && whole) pt.freeChild(mm, pmd);
      return true;
    },
  });
  flush();
}

/** Huge PMDs per zap_huge_pmd_batch call (two scratch words each). */
const ZAP_BATCH = 512;

/**
 * free_pgtables after an unmap of [start, end) (free_pgd_range): a table is
 * freed when no VMA is left in the range it covers (the floor/ceiling rule),
 * from the PTE tables up to the PUD tables. The PGD stays until exit.
 */
export function freePgtables(k: Kernel, mm: Mm, start: number, end: number): void {
  const pt = k.pt;
  const unused = (va: number, size: number) => !anyVmaOverlaps(mm, va, va + size);
  walkPageRange(pt, mm, start, end, {
    pmdEntry(pmd, blk) {
      if (!pt.pmdTransHuge(pmd) && unused(blk * PMD_SIZE, PMD_SIZE)) pt.freeChild(mm, pmd);
      return true;
    },
    pudEntryPost(pud, va) {
      if (unused(va, PUD_SIZE) && pt.tableEmpty(pt.base(pt.pfn(pud)))) pt.freeChild(mm, pud);
    },
    pgdEntryPost(pgd, va) {
      if (unused(va, PGDIR_SIZE) && pt.tableEmpty(pt.base(pt.pfn(pgd)))) pt.freeChild(mm, pgd);
    },
  });
}

/** do_munmap: split the VMAs at the edges, zap, drop the VMAs, free the tables. */
export function munmap(k: Kernel, mm: Mm, start: number, end: number): void {
  if (vmasIn(mm, start, end).length === 0) return;
  splitVmaAt(k, mm, start);
  splitVmaAt(k, mm, end);
  for (const v of vmasIn(mm, start, end)) zapRange(k, mm, v.start, v.end, false);
  mm.vmas = mm.vmas.filter((v) => !(v.start >= start && v.end <= end));
  freePgtables(k, mm, start, end);
}

/** exit_mmap: unmap everything and free every page table, the PGD last. */
export function exitMmap(k: Kernel, p: Process): void {
  const mm = p.mm;
  for (const v of mm.vmas) zapRange(k, mm, v.start, v.end, false);
  mm.vmas = [];
  freePgtables(k, mm, 0, 2 ** 47);
  k.pt.free(mm, mm.pgd);
  p.alive = false;
}

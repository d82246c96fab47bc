// The one page-table walker (mm/pagewalk.c walk_page_range): every walk over
// a process's page tables — zap, fork, mprotect, collapse, split, the
// /proc view, the invariant checker, the web view's tree — is this loop with
// its own callbacks. Missing upper-level tables are skipped wholesale; a
// callback may change the entry it is given (split a PMD, zap, free a
// table) before the walk looks below it.
import type { PageTables, PgdOwner } from "./pagetable.js";
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE } from "./x86_64.js";

/** The callbacks of a walk (struct mm_walk_ops); each gets an entry's slot and the virtual address it covers. */
export interface MmWalkOps {
  /** A present PGD entry (it points at a PUD table). */
  pgdEntry?(slot: number, va: number): void;
  /** A present PUD entry (it points at a PMD table). */
  pudEntry?(slot: number, va: number): void;
  /**
   * A non-none PMD entry (a huge PMD or a PTE table) of 2 MiB block `blk`;
   * [s, e) is the part of the walked range inside it. Return true when the
   * callback handled the block: its PTEs are then not visited.
   */
  pmdEntry?(slot: number, blk: number, s: number, e: number): boolean | void;
  /**
   * A run of `n` consecutive huge PMDs of one PMD table, the first at `slot`
   * covering block `blk`, each wholly inside the walked range. Given, it
   * takes such entries instead of pmdEntry (one call per run, not per entry:
   * fork and zap hand a run to the core as one batch).
   */
  pmdHugeRun?(slot: number, blk: number, n: number): void;
  /** A non-none PTE under a PTE-table PMD, in the walked range. */
  pteEntry?(slot: number, va: number): void;
  /** After the PMD table of a PUD entry was walked (post-order: free_pmd_range). */
  pudEntryPost?(slot: number, va: number): void;
  /** After the PUD table of a PGD entry was walked (post-order: free_pud_range). */
  pgdEntryPost?(slot: number, va: number): void;
}

/** The whole 48-bit space, user and kernel halves (what the checker looks at). */
export const WALK_ALL = 2 ** 48;

/** walk_page_range: visit the entries that exist for [start, end) of `mm`, ascending. */
export function walkPageRange(pt: PageTables, mm: PgdOwner, start: number, end: number, ops: MmWalkOps): void {
  const pgdBase = pt.base(mm.pgd);
  for (let g = Math.floor(start / PGDIR_SIZE); g * PGDIR_SIZE < end && g < 512; g++) {
    const pgd = pgdBase + (g << 1);
    if (pt.lo(pgd) === 0) continue;
    const gva = g * PGDIR_SIZE;
    ops.pgdEntry?.(pgd, gva);
    const a = Math.max(start, gva), b = Math.min(end, gva + PGDIR_SIZE);
    const pudBase = pt.base(pt.pfn(pgd)); // the PUD table, read once (the callbacks below never change the PGD entry)
    for (let u = Math.floor((a - gva) / PUD_SIZE); gva + u * PUD_SIZE < b; u++) {
      const pud = pt.nth(pudBase, u);
      if (pt.lo(pud) === 0) continue;
      const uva = gva + u * PUD_SIZE;
      ops.pudEntry?.(pud, uva);
      walkPmdTable(pt, pud, Math.max(a, uva), Math.min(b, uva + PUD_SIZE), ops);
      ops.pudEntryPost?.(pud, uva);
    }
    ops.pgdEntryPost?.(pgd, gva);
  }
}

/** walk_pmd_range and walk_pte_range over [c, d) of the PMD table a PUD entry points at. */
function walkPmdTable(pt: PageTables, pud: number, c: number, d: number, ops: MmWalkOps): void {
  const pmdBase = pt.base(pt.pfn(pud));
  // the callbacks read once per table: every walker's ops object has its own
  // shape, so a lookup per entry would be a megamorphic load 512 times over
  const pmdEntry = ops.pmdEntry, pteEntry = ops.pteEntry, pmdHugeRun = ops.pmdHugeRun;
  for (let blk = Math.floor(c / PMD_SIZE); blk * PMD_SIZE < d; blk++) {
    const pmd = pmdBase + ((blk & 511) << 1);
    if (pt.none(pmd)) continue;
    const bva = blk * PMD_SIZE;
    if (pmdHugeRun !== undefined && pt.pmdTransHuge(pmd) && bva >= c && bva + PMD_SIZE <= d) {
      // the run: the following huge PMDs of this table wholly inside [c, d)
      let n = 1;
      while (((blk + n) & 511) !== 0 && (blk + n + 1) * PMD_SIZE <= d && pt.pmdTransHuge(pmd + (n << 1))) n++;
      pmdHugeRun.call(ops, pmd, blk, n);
      blk += n - 1;
      continue;
    }
    const s = c > bva ? c : bva, e = d < bva + PMD_SIZE ? d : bva + PMD_SIZE;
    if (pmdEntry !== undefined && pmdEntry.call(ops, pmd, blk, s, e) === true) continue;
    if (pteEntry === undefined || pt.none(pmd) || pt.pmdTransHuge(pmd)) continue;
    const pteBase = pt.pteTable(pmd);
    for (let i = (s % PMD_SIZE) / PAGE_SIZE, n = i + (e - s) / PAGE_SIZE; i < n; i++) {
      const pte = pt.nth(pteBase, i);
      if (!pt.none(pte)) pteEntry.call(ops, pte, blk * PMD_SIZE + i * PAGE_SIZE);
    }
  }
}

// The host half of mm/huge_memory.c: splitting a PMD into PTEs
// (__split_huge_pmd_locked, __split_huge_zero_page_pmd), splitting a whole
// folio in every process that maps it (split_folio: freeze the PMD
// mappings, then the core's split_huge_page), and the shrinkers.
import type { Kernel, Mm, Process } from "./types.js";
import { _PAGE_PSE, _PAGE_SPECIAL, _PAGE_RW, _PAGE_DIRTY, _PAGE_NX_HI, entryPfn, mkLo, mkHi } from "../pgtable/x86_64.js";
import { walkPageRange } from "../pgtable/pagewalk.js";
import { InternalError } from "../errors.js";

/**
 * __split_huge_pmd_locked (non-freeze): the deposited page table is
 * withdrawn and filled with 512 PTEs carrying the PMD's protection, write,
 * young and dirty bits; the core moves the mapcounts. A huge-zero PMD becomes
 * 512 read-only special PTEs to the 4 KiB zero page.
 */
export function splitHugePmd(k: Kernel, mm: Mm, pmd: number): void {
  const core = k.core;
  const pt = k.pt;
  const lo = pt.lo(pmd), hi = pt.hi(pmd);
  const pfn = entryPfn(lo, hi);
  const table = k.deposits.get(pmd);
  if (table === undefined) throw new InternalError(`BUG: huge PMD without a deposited page table`);
  k.deposits.delete(pmd);
  const nx = (hi & _PAGE_NX_HI) !== 0;
  const base = pt.base(table);
  if (pfn === core.hugeZeroPfn) {
    const flags = (lo & 0xfff & ~_PAGE_PSE & ~_PAGE_RW & ~_PAGE_DIRTY) | _PAGE_SPECIAL;
    pt.fillTable(base, core.zeroPfn, 0, flags, nx);
    core.e.put_huge_zero_page();
  } else {
    // a dirty PMD hands its dirty bit to the folio (folio_set_dirty), as well as to the PTEs
    if (lo & _PAGE_DIRTY) core.folioSetDirty(pfn);
    core.e.split_huge_pmd(pfn, mm.id);
    pt.fillTable(base, pfn, 1, lo & 0xfff & ~_PAGE_PSE, nx);
  }
  pt.populate(pmd, table);
}

/**
 * split_folio for one THP: every PMD mapping of it, in every process, is
 * split first (freeze_page would do that with migration entries), then the
 * core splits the folio; mappings and mapcounts stay, unmapped subpages go.
 * An anonymous page never moves, so page->index gives its 2 MiB block in
 * every process that maps it.
 */
export function splitFolio(k: Kernel, procs: Iterable<Process>, head: number): void {
  const live = [...procs].filter((p) => p.alive);
  if (k.core.folioOrder(head) === 9) {
    const blk = Math.floor(k.core.pageIndex(head) / 512);
    for (const p of live) {
      const pmd = k.pt.pmdOffset(p.mm, blk, false);
      if (pmd >= 0 && k.pt.pmdTransHuge(pmd) && k.pt.pfn(pmd) === head) splitHugePmd(k, p.mm, pmd);
    }
  }
  // unmap_folio: try_to_migrate_one turns each PTE into a migration entry and
  // marks the folio dirty when the PTE was (folio_mark_dirty); with the
  // zero-page remap, that walk is remapZeroSubpages' own
  if (k.profile.splitRemapsZeroPages) {
    remapZeroSubpages(k, live, head);
    // every subpage was zero-filled: the folio went with its last mapping
    if (k.core.refcount(head) === 0 || !k.core.testFlag(head, "head")) return;
  } else {
    let dirty = false;
    forEachSubpagePte(k, live, head, (_p, pte) => { if (k.pt.lo(pte) & _PAGE_DIRTY) dirty = true; });
    if (dirty) k.core.folioSetDirty(head);
  }
  if (k.core.needsSplitCounts) countSubpageMappings(k, live, head); // no per-page mapcounts: freeze_page's walk
  const rc = k.core.e.split_huge_page(head);
  if (rc < 0) throw new InternalError(`BUG: split_huge_page refused a THP with no extra pins (pfn ${head})`);
}

/**
 * The PTEs in the processes' tables that map a subpage of the large folio
 * at `head` (not special, present or PROT_NONE): fn(process, slot, subpage
 * index). An anonymous page never moves: subpage i can only be mapped at
 * virtual page page->index + i, in every process.
 */
function forEachSubpagePte(k: Kernel, live: Process[], head: number,
  fn: (p: Process, pte: number, i: number) => void): void {
  const pt = k.pt;
  const vpn = k.core.pageIndex(head);
  const nr = 1 << k.core.folioOrder(head);
  const blk = Math.floor(vpn / 512), i0 = vpn % 512;
  for (const p of live) {
    const base = pt.pteTableOf(p.mm, blk);
    if (base < 0) continue;
    for (let i = 0; i < nr; i++) {
      const pte = pt.nth(base, i0 + i);
      if (pt.none(pte) || pt.pteSpecial(pte)) continue;
      if (pt.pfn(pte) === head + i) fn(p, pte, i);
    }
  }
}

/**
 * For a scheme without per-page mapcounts in large folios (nopagemapcount):
 * how many PTEs map each subpage, which split_huge_page needs. The kernel
 * learns it by freezing every mapping through the rmap walk (freeze_page's
 * migration entries) and counting them again on unfreeze: count those PTEs
 * into scratch[0..511] and flag them for the core's next split.
 */
function countSubpageMappings(k: Kernel, live: Process[], head: number): void {
  const core = k.core;
  core.scratchClear(512);
  forEachSubpagePte(k, live, head, (_p, pte, i) => {
    if (k.pt.ptePresent(pte)) core.scratchSet(i, core.scratchGet(i) + 1);
  });
  core.setSplitCounts();
}

/**
 * remap_page(..., RMP_USE_SHARED_ZEROPAGE) of a split (6.12+): every PTE that
 * maps an all-zero subpage of the folio is pointed at the shared zero page
 * instead (try_to_map_unused_to_zeropage), in every process; the subpage
 * loses that mapping and is freed by the split. The same walk marks the
 * folio dirty where a PTE was (unmap_folio's try_to_migrate_one).
 */
function remapZeroSubpages(k: Kernel, live: Process[], head: number): void {
  const core = k.core;
  const pt = k.pt;
  let dirty = false, marked = false;
  for (const p of live) {
    let n = 0;
    forEachSubpagePte(k, [p], head, (_p, pte, i) => {
      if (pt.lo(pte) & _PAGE_DIRTY) dirty = true; // unmap_folio's folio_mark_dirty, from the PTE as it was
      if (core.testFlag(head + i, "nonzero")) return;
      const lo = pt.lo(pte), hi = pt.hi(pte);
      pt.set(pte, mkLo(core.zeroPfn, (lo & 0xfff & ~_PAGE_RW & ~_PAGE_DIRTY) | _PAGE_SPECIAL), mkHi(core.zeroPfn, (hi & _PAGE_NX_HI) !== 0));
      core.scratchSet(n++, head + i);
    });
    // marked once, before this process's zap (the last mapper's zap may free
    // the folio; a process after it maps none of it, so finds nothing new)
    if (dirty && !marked) { core.folioSetDirty(head); marked = true; }
    if (n > 0) core.e.zap_pte_batch(n, p.mm.id);
  }
}

/** The THPs (not the huge zero page) that `mm` maps in [start, end). */
export function thpsMappedIn(k: Kernel, mm: Mm, start: number, end: number): number[] {
  const core = k.core;
  const pt = k.pt;
  const heads = new Set<number>();
  walkPageRange(pt, mm, start, end, {
    pmdEntry(pmd) {
      if (!pt.pmdTransHuge(pmd)) return false;
      const pfn = pt.pfn(pmd);
      if (pfn !== core.hugeZeroPfn) heads.add(pfn);
      return true;
    },
    pteEntry(pte) {
      if (pt.pteSpecial(pte)) return;
      const head = core.headPfn(pt.pfn(pte));
      if (core.folioOrder(head) > 0) heads.add(head);
    },
  });
  return [...heads];
}

/**
 * deferred_split_folio(folio, false) after a new THP is mapped
 * (__do_huge_pmd_anonymous_page, collapse_huge_page): 6.12+ queues it for
 * the underused shrinker while shrink_underused is 1.
 */
export function queueNewThp(k: Kernel, head: number): void {
  if (k.profile.thpShrinkUnderused && k.knobs.shrink_underused === 1) k.core.e.deferred_split_folio(head, 0);
}

/**
 * deferred_split_scan over the whole queue: a partially mapped THP is
 * split; one that is not is split only when thp_underused() counts more
 * than max_ptes_none zero-filled subpages (never at 511), else it leaves
 * the queue. Each split maps the THP's zero-filled subpages to the zero page
 * where the kernel does (6.12+ remap_page with RMP_USE_SHARED_ZEROPAGE).
 */
function deferredSplitScan(k: Kernel, procs: Iterable<Process>): number {
  const core = k.core;
  const heads = core.scratchList(core.e.deferred_split_list());
  // `procs` may be a one-shot iterator (Map.values()): every split needs all processes
  const all = [...procs];
  const maxNone = k.knobs["khugepaged/max_ptes_none"];
  let split = 0;
  for (const head of heads) {
    if (!core.e.folio_test_partially_mapped(head)) {
      // the underused rule is for PMD-size THPs only (mTHPs are never queued at birth)
      if (!k.profile.thpShrinkUnderused || maxNone === 511 || core.folioOrder(head) !== 9 || !core.e.thp_underused(head, maxNone)) {
        core.e.deferred_split_dequeue(head);
        continue;
      }
    }
    splitFolio(k, all, head);
    split++;
  }
  return split;
}

/** drop_caches=2 runs every shrinker: deferred split, then the huge zero page. */
export function shrinkAll(k: Kernel, procs: Iterable<Process>): { split: number; hugeZeroFreed: boolean } {
  const split = k.profile.thpShrinkUnderused || k.profile.splitRemapsZeroPages || k.core.needsSplitCounts
    ? deferredSplitScan(k, procs)
    : k.core.e.deferred_split_scan(); // 4.5: split_huge_page of each queued THP, in the core
  const freed = k.core.e.shrink_huge_zero_page() > 0;
  return { split, hugeZeroFreed: freed };
}


// The host half of mm/huge_memory.c: splitting a PMD into PTEs
// (__split_huge_pmd_locked, __split_huge_zero_page_pmd), splitting a whole
// folio in every process that maps it (split_folio: freeze the PMD
// mappings, then the core's split_huge_page), and the shrinkers.
import type { Kernel, Mm, Process } from "./types.js";
import {
  PMD_SIZE, _PAGE_PSE, _PAGE_SPECIAL, _PAGE_RW, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PROTNONE, entryPfn, mkLo, mkHi,
  _PAGE_NX_HI,
} from "../pgtable/x86_64.js";
import { forEachPmd } from "./vma.js";

/**
 * __split_huge_pmd_locked (non-freeze): the deposited page table is
 * withdrawn and filled with 512 PTEs carrying the PMD's protection, write,
 * young and dirty bits; the core moves the mapcounts. A huge-zero PMD becomes
 * 512 read-only special PTEs to the 4 KiB zero page.
 */
export function splitHugePmd(k: Kernel, mm: Mm, pmd: number): void {
  const core = k.core;
  let u32 = core.u32;
  const lo = u32[pmd], hi = u32[pmd + 1];
  const pfn = entryPfn(lo, hi);
  const table = k.deposits.get(pmd);
  if (table === undefined) throw new Error(`BUG: huge PMD without a deposited page table`);
  k.deposits.delete(pmd);
  const nx = (hi & _PAGE_NX_HI) !== 0;
  const base = k.pt.base(table);
  if (pfn === core.hugeZeroPfn) {
    const flags = (lo & 0xfff & ~_PAGE_PSE & ~_PAGE_RW & ~_PAGE_DIRTY) | _PAGE_SPECIAL;
    const zlo = mkLo(core.zeroPfn, flags), zhi = mkHi(core.zeroPfn, nx);
    for (let i = 0; i < 512; i++) { u32[base + 2 * i] = zlo; u32[base + 2 * i + 1] = zhi; }
    core.e.put_huge_zero_page();
  } else {
    core.e.split_huge_pmd(pfn, mm.id);
    u32 = core.u32;
    const flags = lo & 0xfff & ~_PAGE_PSE;
    for (let i = 0; i < 512; i++) {
      u32[base + 2 * i] = mkLo(pfn + i, flags);
      u32[base + 2 * i + 1] = mkHi(pfn + i, nx);
    }
  }
  k.pt.populate(pmd, table);
}

/** The 2 MiB block of an anonymous folio: page->index is vaddr >> 12. */
function folioBlock(k: Kernel, head: number): number {
  const core = k.core;
  const a = (core.pageAddr(head) + core.off.PAGE_INDEX) >>> 2;
  const index = core.u32[a] + core.u32[a + 1] * 2 ** 32;
  return Math.floor(index / 512);
}

/**
 * split_folio for one THP: every PMD mapping of it, in every process, is
 * split first (freeze_page would do that with migration entries), then the
 * core splits the folio; mappings and mapcounts stay, unmapped subpages go.
 */
export function splitFolio(k: Kernel, procs: Iterable<Process>, head: number): void {
  const blk = folioBlock(k, head);
  const live = [...procs].filter((p) => p.alive);
  for (const p of live) {
    const pmd = k.pt.pmdSlot(p.mm, blk, false);
    if (pmd < 0) continue;
    const lo = k.core.u32[pmd];
    if ((lo & _PAGE_PSE) !== 0 && entryPfn(lo, k.core.u32[pmd + 1]) === head) splitHugePmd(k, p.mm, pmd);
  }
  if (k.profile.splitRemapsZeroPages) {
    remapZeroSubpages(k, live, head, blk);
    // every subpage was zero-filled: the THP went with its last mapping
    if (k.core.refcount(head) === 0 || !k.core.testFlag(head, k.core.PG.head)) return;
  }
  if (k.core.needsSplitCounts) countSubpageMappings(k, live, head, blk); // no per-page mapcounts: freeze_page's walk
  const rc = k.core.e.split_huge_page(head);
  if (rc < 0) throw new Error(`BUG: split_huge_page refused a THP with no extra pins (pfn ${head})`);
}

/** The u32 index of the PTE table that maps 2 MiB block `blk` of `mm`, or -1 (no table, or a huge PMD). */
function pteTableOfBlock(k: Kernel, mm: Mm, blk: number): number {
  const pmd = k.pt.pmdSlot(mm, blk, false);
  if (pmd < 0) return -1;
  const u32 = k.core.u32;
  const lo = u32[pmd];
  if (lo === 0 || (lo & _PAGE_PSE) !== 0) return -1;
  return k.pt.base(entryPfn(lo, u32[pmd + 1]));
}

/**
 * For a scheme without per-page mapcounts in large folios (nopagemapcount):
 * how many PTEs map each subpage, which split_huge_page needs. The kernel
 * learns it by freezing every mapping through the rmap walk (freeze_page's
 * migration entries) and counting them again on unfreeze. An anonymous page
 * never moves, so subpage i of the folio at block `blk` can only be mapped at
 * page blk*512+i of each process: count those PTEs into scratch[0..511] and
 * flag them for the core's next split.
 */
function countSubpageMappings(k: Kernel, live: Process[], head: number, blk: number): void {
  const core = k.core;
  const u32 = core.u32; // nothing below grows memory: the view stays valid
  const s = core.scratchIndex;
  u32.fill(0, s, s + 512);
  for (const p of live) {
    const base = pteTableOfBlock(k, p.mm, blk);
    if (base < 0) continue;
    for (let i = 0; i < 512; i++) {
      const plo = u32[base + 2 * i];
      if ((plo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0 || (plo & _PAGE_SPECIAL) !== 0) continue;
      const pfn = entryPfn(plo, u32[base + 2 * i + 1]);
      if (pfn >= head && pfn < head + 512) u32[s + pfn - head]++;
    }
  }
  core.setSplitCounts();
}

/**
 * remap_page(..., RMP_USE_SHARED_ZEROPAGE) of a split (6.12+): every PTE that
 * maps an all-zero subpage of the folio is pointed at the shared zero page
 * instead (try_to_map_unused_to_zeropage), in every process; the subpage
 * loses that mapping and is freed by the split.
 */
function remapZeroSubpages(k: Kernel, live: Process[], head: number, blk: number): void {
  const core = k.core;
  const nonzero = 1 << core.PG.nonzero;
  for (const p of live) {
    const base = pteTableOfBlock(k, p.mm, blk);
    if (base < 0) continue;
    let u32 = core.u32;
    const scratch = core.scratchIndex;
    let n = 0;
    for (let i = 0; i < 512; i++) {
      const plo = u32[base + 2 * i], phi = u32[base + 2 * i + 1];
      if (plo === 0 || (plo & _PAGE_SPECIAL) !== 0) continue;
      const pfn = entryPfn(plo, phi);
      if (pfn < head || pfn >= head + 512 || (core.flags(pfn) & nonzero) !== 0) continue;
      u32[base + 2 * i] = mkLo(core.zeroPfn, (plo & 0xfff & ~_PAGE_RW & ~_PAGE_DIRTY) | _PAGE_SPECIAL);
      u32[base + 2 * i + 1] = mkHi(core.zeroPfn, (phi & _PAGE_NX_HI) !== 0);
      u32[scratch + n++] = pfn;
    }
    if (n > 0) core.e.zap_pte_batch(n, p.mm.id);
    u32 = core.u32;
  }
}

/** The THPs (not the huge zero page) that `mm` maps in [start, end). */
export function thpsMappedIn(k: Kernel, mm: Mm, start: number, end: number): number[] {
  const core = k.core;
  const heads = new Set<number>();
  forEachPmd(k, mm, start, end, (pmd, _blk, s, e) => {
    const u32 = core.u32;
    const lo = u32[pmd];
    const pfn = entryPfn(lo, u32[pmd + 1]);
    if ((lo & _PAGE_PSE) !== 0) {
      if (pfn !== core.hugeZeroPfn) heads.add(pfn);
      return;
    }
    const base = k.pt.base(pfn);
    for (let i = (s % PMD_SIZE) >>> 12, n = i + ((e - s) >>> 12); i < n; i++) {
      const plo = u32[base + 2 * i];
      if (plo === 0 || (plo & _PAGE_SPECIAL) !== 0) continue;
      const head = core.headPfn(entryPfn(plo, u32[base + 2 * i + 1]));
      if (core.folioOrder(head) > 0) heads.add(head);
    }
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
  const n = core.e.deferred_split_list();
  const heads = Array.from(core.u32.subarray(core.scratchIndex, core.scratchIndex + n));
  // `procs` may be a one-shot iterator (Map.values()): every split needs all processes
  const all = [...procs];
  const maxNone = k.knobs["khugepaged/max_ptes_none"];
  let split = 0;
  for (const head of heads) {
    if (!core.e.folio_test_partially_mapped(head)) {
      if (!k.profile.thpShrinkUnderused || maxNone === 511 || !core.e.thp_underused(head, maxNone)) {
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

export { _PAGE_PRESENT };

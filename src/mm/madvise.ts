// madvise (mm/madvise.c): MADV_DONTNEED, MADV_HUGEPAGE / MADV_NOHUGEPAGE,
// and MADV_COLLAPSE (mm/khugepaged.c madvise_collapse, collapse_huge_page).
import type { Kernel, Mm, Vma } from "./types.js";
import { VM_HUGEPAGE, VM_NOHUGEPAGE } from "./types.js";
import { PMD_SIZE, _PAGE_PSE, mkLo, mkHi } from "../pgtable/x86_64.js";
import { anonEntryFlags, mergeVmasAround, splitVmaAt, vmasIn, vmaPageProt } from "./vma.js";
import { zapRange } from "./unmap.js";
import { queueNewThp } from "./huge_memory.js";

/** MADV_DONTNEED: zap; with CONFIG_PT_RECLAIM whole-2 MiB tables are freed too. */
export function madviseDontneed(k: Kernel, mm: Mm, start: number, end: number): void {
  for (const v of vmasIn(mm, start, end)) {
    zapRange(k, mm, Math.max(start, v.start), Math.min(end, v.end), k.profile.ptReclaim);
  }
}

/** MADV_HUGEPAGE / MADV_NOHUGEPAGE: VMA flags only (split where they change, then merge). */
export function madviseHugepage(k: Kernel, mm: Mm, start: number, end: number, huge: boolean): void {
  const set = huge ? VM_HUGEPAGE : VM_NOHUGEPAGE;
  const clear = huge ? VM_NOHUGEPAGE : VM_HUGEPAGE;
  for (const v of vmasIn(mm, start, end)) {
    if (((v.flags | set) & ~clear) === v.flags) continue;
    // both edges before the first split: splitVmaAt shrinks `v` to the lower part
    const s = Math.max(start, v.start), e = Math.min(end, v.end);
    splitVmaAt(k, mm, s);
    splitVmaAt(k, mm, e);
  }
  for (const v of vmasIn(mm, start, end)) v.flags = (v.flags | set) & ~clear;
  mergeVmasAround(mm, start, end);
}

/**
 * MADV_COLLAPSE. The range is walked in runs of touching VMAs (a hole starts
 * a new walk); inside a run the VMAs go in ascending order and the walk stops
 * at the first refusal: a nohugepage VMA, a VMA with no whole aligned 2 MiB,
 * a block with no page table, a VMA without anon_vma. Each block is copied
 * into a new THP mapped by a PMD; an already PMD-mapped block is left as is.
 */
export function madviseCollapse(k: Kernel, mm: Mm, start: number, end: number): void {
  const vmas = vmasIn(mm, start, end);
  let i = 0;
  while (i < vmas.length) {
    let refused = false;
    let j = i;
    for (; j < vmas.length && (j === i || vmas[j].start === vmas[j - 1].end); j++) {
      if (!refused && !collapseVma(k, mm, vmas[j], start, end)) refused = true;
    }
    i = j;
  }
}

/** madvise_collapse on one VMA; false when the kernel refuses (and the walk stops). */
function collapseVma(k: Kernel, mm: Mm, vma: Vma, start: number, end: number): boolean {
  if ((vma.flags & VM_NOHUGEPAGE) !== 0) return false;
  // thp_vma_allowable_order: the VMA must hold at least one aligned 2 MiB
  if (Math.ceil(vma.start / PMD_SIZE) * PMD_SIZE + PMD_SIZE > vma.end) return false;
  const hstart = Math.ceil(Math.max(start, vma.start) / PMD_SIZE);
  const hend = Math.floor(Math.min(end, vma.end) / PMD_SIZE);
  for (let blk = hstart; blk < hend; blk++) {
    const pmd = k.pt.pmdOffset(mm, blk, false);
    if (pmd < 0 || k.pt.none(pmd)) return false; // SCAN_PMD_NULL
    if (k.pt.pmdTransHuge(pmd)) continue; // SCAN_PMD_MAPPED: already huge
    if (vma.anonVma === 0) return false; // hugepage_vma_revalidate: SCAN_PAGE_ANON
    if (!collapseBlock(k, mm, vma, blk, pmd)) return false;
  }
  return true;
}

/** collapse_huge_page: copy the block into a new THP, unmap the old pages, deposit the old table. */
function collapseBlock(k: Kernel, mm: Mm, vma: Vma, blk: number, pmd: number): boolean {
  const core = k.core;
  const pt = k.pt;
  const head = core.e.alloc_thp_pmd_mapped(mm.id, vma.anonVma, blk * 512, 1);
  if (head < 0) return false; // SCAN_ALLOC_HUGE_PAGE_FAIL
  const table = pt.pfn(pmd);
  let n = 0;
  const base = pt.pteTable(pmd);
  for (let i = 0; i < 512; i++) {
    const pte = pt.nth(base, i);
    if (pt.none(pte)) continue;
    const special = pt.pteSpecial(pte);
    const old = pt.pfn(pte);
    pt.clear(pte);
    if (special) continue;
    core.scratchSet(n++, old);
    // __collapse_huge_page_copy: the new subpage holds the old page's data
    if (core.testFlag(old, "nonzero")) core.setNonzero(head + i);
  }
  if (n > 0) core.e.zap_pte_batch(n, mm.id);
  const prot = vmaPageProt(vma);
  k.deposits.set(pmd, table);
  pt.set(pmd, mkLo(head, _PAGE_PSE | anonEntryFlags(vma)), mkHi(head, prot.nx));
  queueNewThp(k, head);
  return true;
}


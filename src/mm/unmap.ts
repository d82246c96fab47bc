// Tearing mappings down (mm/memory.c unmap_page_range, zap_pmd_range,
// zap_pte_range; mm/huge_memory.c zap_huge_pmd; mm/mmap.c do_munmap,
// free_pgtables, exit_mmap).
import type { Kernel, Mm, Process } from "./types.js";
import { PMD_SIZE, PUD_SIZE, PGDIR_SIZE, _PAGE_PSE, _PAGE_SPECIAL, entryPfn } from "../pgtable/x86_64.js";
import { forEachPmd, splitVmaAt, anyVmaOverlaps, vmasIn } from "./vma.js";
import { splitHugePmd } from "./huge_memory.js";

/** zap_huge_pmd: a whole-2 MiB zap of a huge PMD; its deposited table goes too. */
export function zapHugePmd(k: Kernel, mm: Mm, pmd: number): void {
  const core = k.core;
  const u32 = core.u32;
  const pfn = entryPfn(u32[pmd], u32[pmd + 1]);
  u32[pmd] = 0;
  u32[pmd + 1] = 0;
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
  const core = k.core;
  const u32 = core.u32;
  const base = k.pt.base(entryPfn(u32[pmd], u32[pmd + 1]));
  const scratch = core.scratchIndex;
  let n = 0;
  for (let i = (s % PMD_SIZE) >>> 12, end = i + ((e - s) >>> 12); i < end; i++) {
    const lo = u32[base + 2 * i], hi = u32[base + 2 * i + 1];
    if (lo === 0 && hi === 0) continue;
    u32[base + 2 * i] = 0;
    u32[base + 2 * i + 1] = 0;
    if ((lo & _PAGE_SPECIAL) === 0) u32[scratch + n++] = entryPfn(lo, hi);
  }
  if (n > 0) core.e.zap_pte_batch(n, mm.id);
}

/**
 * unmap_page_range over [start, end): a huge PMD wholly inside is zapped,
 * one cut by the range is split first. With `reclaimTables`
 * (CONFIG_PT_RECLAIM, MADV_DONTNEED) a PTE table whose whole 2 MiB was
 * zapped is freed.
 */
export function zapRange(k: Kernel, mm: Mm, start: number, end: number, reclaimTables: boolean): void {
  forEachPmd(k, mm, start, end, (pmd, blk, s, e) => {
    const whole = s === blk * PMD_SIZE && e === (blk + 1) * PMD_SIZE;
    if ((k.core.u32[pmd] & _PAGE_PSE) !== 0) {
      if (whole) { zapHugePmd(k, mm, pmd); return; }
      splitHugePmd(k, mm, pmd);
    }
    zapPteRange(k, mm, pmd, s, e);
    if (reclaimTables && whole) {
      const u32 = k.core.u32;
      const table = entryPfn(u32[pmd], u32[pmd + 1]);
      u32[pmd] = 0;
      u32[pmd + 1] = 0;
      k.pt.free(mm, table);
    }
  });
}

/**
 * free_pgtables after an unmap of [start, end): a table is freed when no VMA
 * is left in the range it covers (the floor/ceiling rule), from the PTE
 * tables up to the PUD tables. The PGD stays until exit.
 */
export function freePgtables(k: Kernel, mm: Mm, start: number, end: number): void {
  const pt = k.pt;
  for (let pud = Math.floor(start / PGDIR_SIZE) * PGDIR_SIZE; pud < end; pud += PGDIR_SIZE) {
    let u32 = k.core.u32;
    const pgdSlot = pt.base(mm.pgd) + ((pud / PGDIR_SIZE) << 1);
    if (u32[pgdSlot] === 0) continue;
    const pudBase = pt.base(entryPfn(u32[pgdSlot], u32[pgdSlot + 1]));
    const a = Math.max(start, pud), b = Math.min(end, pud + PGDIR_SIZE);
    for (let pmdT = Math.floor(a / PUD_SIZE) * PUD_SIZE; pmdT < b; pmdT += PUD_SIZE) {
      u32 = k.core.u32;
      const pudSlot = pudBase + ((Math.floor(pmdT / PUD_SIZE) & 511) << 1);
      if (u32[pudSlot] === 0) continue;
      const pmdBase = pt.base(entryPfn(u32[pudSlot], u32[pudSlot + 1]));
      const c = Math.max(a, pmdT), d = Math.min(b, pmdT + PUD_SIZE);
      for (let blk = Math.floor(c / PMD_SIZE); blk * PMD_SIZE < d; blk++) {
        const slot = pmdBase + ((blk & 511) << 1);
        const lo = k.core.u32[slot];
        if (lo === 0 || (lo & _PAGE_PSE) !== 0) continue;
        if (anyVmaOverlaps(mm, blk * PMD_SIZE, (blk + 1) * PMD_SIZE)) continue;
        const t = entryPfn(lo, k.core.u32[slot + 1]);
        k.core.u32[slot] = 0;
        k.core.u32[slot + 1] = 0;
        pt.free(mm, t);
      }
      if (!anyVmaOverlaps(mm, pmdT, pmdT + PUD_SIZE) && tableEmpty(k, pmdBase)) {
        const t = entryPfn(k.core.u32[pudSlot], k.core.u32[pudSlot + 1]);
        k.core.u32[pudSlot] = 0;
        k.core.u32[pudSlot + 1] = 0;
        pt.free(mm, t);
      }
    }
    if (!anyVmaOverlaps(mm, pud, pud + PGDIR_SIZE) && tableEmpty(k, pudBase)) {
      const t = entryPfn(k.core.u32[pgdSlot], k.core.u32[pgdSlot + 1]);
      k.core.u32[pgdSlot] = 0;
      k.core.u32[pgdSlot + 1] = 0;
      pt.free(mm, t);
    }
  }
}

function tableEmpty(k: Kernel, base: number): boolean {
  const u32 = k.core.u32;
  for (let i = 0; i < 1024; i++) if (u32[base + i] !== 0) return false;
  return true;
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

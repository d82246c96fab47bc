// fork(): dup_mmap and copy_page_range (kernel/fork.c, mm/memory.c
// copy_pte_range/copy_present_pte, mm/huge_memory.c copy_huge_pmd). A VMA
// without an anon_vma is not copied at all (vma_needs_copy): the child
// faults its pages in afresh. Page tables are copied even when empty.
import type { Kernel, Mm, Vma } from "./types.js";
import { PAGE_SIZE, PMD_SIZE, _PAGE_RW, _PAGE_ACCESSED, entryPfn } from "../pgtable/x86_64.js";
import { walkPageRange } from "../pgtable/pagewalk.js";
import { OomError } from "../errors.js";
import { avcLen } from "./vma.js";

export function dupMm(k: Kernel, parent: Mm): Mm {
  const child: Mm = { id: k.nextMmId++, pgd: 0, vmas: [], mmapBase: parent.mmapBase, nrTables: 0 };
  child.pgd = k.pt.alloc(child, "PGD");
  // anon_vma_fork: every child VMA of a parent VMA with an anon_vma gets an
  // anon_vma of its own (pieces of a split parent VMA get distinct ones, so
  // they never merge again in the child), chained after the parent's.
  for (const v of parent.vmas) {
    const av = v.anonVma ? k.nextAnonVma++ : 0;
    child.vmas.push({ start: v.start, end: v.end, flags: v.flags, anonVma: av, avcLen: av ? avcLen(v) + 1 : 0 });
  }
  for (const v of parent.vmas) if (v.anonVma) copyPageRange(k, parent, child, v);
  return child;
}

/**
 * copy_page_range for one VMA: copy_huge_pmd for huge PMDs, copy_pte_range
 * (one batch per table) for the rest. A run of huge PMDs in one PMD table is
 * one core call (copy_huge_pmd_batch: per entry its deposit table and its
 * rmap dup, in the order the entries come), made as the walk reaches it.
 */
function copyPageRange(k: Kernel, src: Mm, dst: Mm, vma: Vma): void {
  const core = k.core;
  const pt = k.pt;
  walkPageRange(pt, src, vma.start, vma.end, {
    pmdHugeRun(spmd, blk, n) {
      // copy_huge_pmd for each entry of the run: the child's PMD table first (pmd_alloc), then one core batch
      const dpmd = pt.pmdOffset(dst, blk, true);
      for (let i = 0; i < n; i++) {
        const s = spmd + (i << 1);
        core.scratchSet(i, entryPfn(pt.lo(s), pt.hi(s)));
      }
      const done = core.e.copy_huge_pmd_batch(n, dst.id);
      dst.nrTables += done;
      const deposits = k.deposits;
      for (let i = 0; i < done; i++) {
        // copy_huge_pmd: both PMDs write-protected, the child's also old
        const s = spmd + (i << 1), d = dpmd + (i << 1);
        const lo = pt.lo(s), hi = pt.hi(s);
        pt.set(s, (lo & ~_PAGE_RW) >>> 0, hi);
        pt.set(d, (lo & ~_PAGE_RW & ~_PAGE_ACCESSED) >>> 0, hi);
        deposits.set(d, core.scratchGet(i));
      }
      if (done < n) throw new OomError("out of memory allocating a deposited PTE table");
    },
    pmdEntry(spmd, blk, s, e) {
      // (a huge PMD is never cut by a VMA edge: every one here came as a run)
      const dpmd = pt.pmdOffset(dst, blk, true);
      if (pt.none(dpmd)) pt.populate(dpmd, pt.alloc(dst, "PTE"));
      // copy_present_pte: a COW mapping is write-protected on both sides
      const from = (s % PMD_SIZE) / PAGE_SIZE;
      const n = pt.copyPtes(pt.pteTable(spmd), pt.pteTable(dpmd), from, from + (e - s) / PAGE_SIZE);
      if (n > 0) core.e.dup_pte_batch(n, dst.id);
      return true;
    },
  });
}

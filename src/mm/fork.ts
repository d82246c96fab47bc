// fork(): dup_mmap and copy_page_range (kernel/fork.c, mm/memory.c
// copy_pte_range/copy_present_pte, mm/huge_memory.c copy_huge_pmd). A VMA
// without an anon_vma is not copied at all (vma_needs_copy): the child
// faults its pages in afresh. Page tables are copied even when empty.
import type { Kernel, Mm, Vma } from "./types.js";
import { PAGE_SIZE, PMD_SIZE, _PAGE_RW, _PAGE_ACCESSED, entryPfn, pmdTransHuge } from "../pgtable/x86_64.js";
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
 * rmap dup, in the order the entries come), flushed before anything else
 * allocates.
 */
function copyPageRange(k: Kernel, src: Mm, dst: Mm, vma: Vma): void {
  const core = k.core;
  const pt = k.pt;
  // the pending run of huge PMDs: source slots, and the child's slot of the first (the rest follow it)
  const run: number[] = [];
  let runDst = -1, runBlk = -1;
  const flush = () => {
    const n = run.length;
    if (n === 0) return;
    for (let i = 0; i < n; i++) core.scratchSet(i, entryPfn(pt.lo(run[i]), pt.hi(run[i])));
    const done = core.e.copy_huge_pmd_batch(n, dst.id);
    dst.nrTables += done;
    for (let i = 0; i < done; i++) {
      // copy_huge_pmd: both PMDs write-protected, the child's also old
      const spmd = run[i], dpmd = runDst + (i << 1);
      const lo = pt.lo(spmd), hi = pt.hi(spmd);
      pt.set(spmd, (lo & ~_PAGE_RW) >>> 0, hi);
      pt.set(dpmd, (lo & ~_PAGE_RW & ~_PAGE_ACCESSED) >>> 0, hi);
      k.deposits.set(dpmd, core.scratchGet(i));
    }
    run.length = 0;
    if (done < n) throw new OomError("out of memory allocating a deposited PTE table");
  };
  walkPageRange(pt, src, vma.start, vma.end, {
    pmdEntry(spmd, blk, s, e) {
      const huge = pmdTransHuge(pt.lo(spmd));
      // a run is consecutive entries of one PMD table
      if (run.length > 0 && (!huge || blk !== runBlk + run.length || blk >>> 9 !== runBlk >>> 9)) flush();
      if (huge) {
        if (run.length === 0) { runDst = pt.pmdOffset(dst, blk, true); runBlk = blk; }
        run.push(spmd);
        return true;
      }
      const dpmd = pt.pmdOffset(dst, blk, true);
      if (pt.none(dpmd)) pt.populate(dpmd, pt.alloc(dst, "PTE"));
      // copy_present_pte: a COW mapping is write-protected on both sides
      const from = (s % PMD_SIZE) / PAGE_SIZE;
      const n = pt.copyPtes(pt.pteTable(spmd), pt.pteTable(dpmd), from, from + (e - s) / PAGE_SIZE);
      if (n > 0) core.e.dup_pte_batch(n, dst.id);
      return true;
    },
  });
  flush();
}

// fork(): dup_mmap and copy_page_range (kernel/fork.c, mm/memory.c
// copy_pte_range/copy_present_pte, mm/huge_memory.c copy_huge_pmd). A VMA
// without an anon_vma is not copied at all (vma_needs_copy): the child
// faults its pages in afresh. Page tables are copied even when empty.
import type { Kernel, Mm, Vma } from "./types.js";
import { _PAGE_PSE, _PAGE_RW, _PAGE_ACCESSED, _PAGE_SPECIAL, entryPfn } from "../pgtable/x86_64.js";
import { avcLen, forEachPmd } from "./vma.js";

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

function copyPageRange(k: Kernel, src: Mm, dst: Mm, vma: Vma): void {
  const core = k.core;
  forEachPmd(k, src, vma.start, vma.end, (spmd, blk, s, e) => {
    const dpmd = k.pt.pmdSlot(dst, blk, true);
    let u32 = core.u32;
    const lo = u32[spmd], hi = u32[spmd + 1];
    if ((lo & _PAGE_PSE) !== 0) {
      // copy_huge_pmd: both PMDs write-protected, the child's also old
      const table = k.pt.alloc(dst, "deposited PTE");
      const pfn = entryPfn(lo, hi);
      if (pfn === core.hugeZeroPfn) core.e.get_huge_zero_page();
      else core.e.copy_huge_pmd(pfn, dst.id);
      u32 = core.u32;
      u32[spmd] = (lo & ~_PAGE_RW) >>> 0;
      u32[dpmd] = (lo & ~_PAGE_RW & ~_PAGE_ACCESSED) >>> 0;
      u32[dpmd + 1] = hi;
      k.deposits.set(dpmd, table);
      return;
    }
    if (u32[dpmd] === 0) {
      const t = k.pt.alloc(dst, "PTE");
      k.pt.populate(dpmd, t);
      u32 = core.u32;
    }
    const sb = k.pt.base(entryPfn(lo, hi));
    const db = k.pt.base(entryPfn(u32[dpmd], u32[dpmd + 1]));
    const scratch = core.scratchIndex;
    let n = 0;
    for (let i = (s % 0x200000) >>> 12, end = i + ((e - s) >>> 12); i < end; i++) {
      let plo = u32[sb + 2 * i];
      const phi = u32[sb + 2 * i + 1];
      if (plo === 0 && phi === 0) continue;
      if ((plo & _PAGE_SPECIAL) === 0) u32[scratch + n++] = entryPfn(plo, phi);
      if ((plo & _PAGE_RW) !== 0) { // a COW mapping: write-protect both sides
        plo = (plo & ~_PAGE_RW) >>> 0;
        u32[sb + 2 * i] = plo;
      }
      u32[db + 2 * i] = (plo & ~_PAGE_ACCESSED) >>> 0;
      u32[db + 2 * i + 1] = phi;
    }
    if (n > 0) core.e.dup_pte_batch(n, dst.id);
  });
}

// mprotect (mm/mprotect.c mprotect_fixup, change_protection,
// change_pte_range; mm/huge_memory.c change_huge_pmd).
import type { Kernel, Mm } from "./types.js";
import { VM_READ, VM_WRITE, VM_ACCOUNT } from "./types.js";
import { PMD_SIZE, _PAGE_RW, _PAGE_SPECIAL, _PAGE_CHG_MASK_LO, _HPAGE_CHG_MASK_LO, _PAGE_NX_HI } from "../pgtable/x86_64.js";
import { walkPageRange } from "../pgtable/pagewalk.js";
import { findVma, mergeVmasAround, splitVmaAt, vmasIn, vmaPageProt } from "./vma.js";
import { splitHugePmd } from "./huge_memory.js";

export type Prot = "none" | "r" | "rw";

export function mprotect(k: Kernel, mm: Mm, start: number, end: number, prot: Prot): void {
  const want = prot === "none" ? 0 : prot === "r" ? VM_READ : VM_READ | VM_WRITE;
  // mprotect_fixup: a VMA whose flags do not change is left alone (no VMA
  // split, so no PMD split either); only the others are split at the edges.
  for (const v of vmasIn(mm, start, end)) {
    let flags = (v.flags & ~(VM_READ | VM_WRITE)) | want;
    if (flags === v.flags) continue;
    // accounting (mprotect_fixup): a private mapping made writable is
    // charged; since 6.6 one made read-only/none before it ever had an
    // anon_vma is uncharged. VM_ACCOUNT decides later VMA merges.
    if ((flags & VM_WRITE) !== 0) flags |= VM_ACCOUNT;
    else if (k.profile.unaccountUnfaulted && v.anonVma === 0) flags &= ~VM_ACCOUNT;
    const s = Math.max(start, v.start), e = Math.min(end, v.end);
    splitVmaAt(k, mm, s);
    splitVmaAt(k, mm, e);
    const piece = findVma(mm, s)!;
    piece.flags = flags;
    changeProtection(k, mm, s, e, flags);
  }
  mergeVmasAround(mm, start, end);
}

/**
 * change_protection over [start, end) of one VMA: entries take the new prot
 * bits and keep _PAGE_CHG_MASK (PFN, A, D, special...). A huge PMD wholly
 * inside is modified in place, one cut by the range is split. In kernels
 * with PG_anon_exclusive, a writable VMA gets exclusive anon pages mapped
 * writable at once (can_change_pte_writable); 4.5 leaves them read-only.
 */
function changeProtection(k: Kernel, mm: Mm, start: number, end: number, flags: number): void {
  const core = k.core;
  const pt = k.pt;
  const prot = vmaPageProt({ start, end, flags, anonVma: 0 });
  const tryWrite = k.profile.anonExclusive && (flags & VM_WRITE) !== 0;
  const setHi = (hi: number) => (prot.nx ? (hi | _PAGE_NX_HI) : (hi & ~_PAGE_NX_HI)) >>> 0;
  walkPageRange(pt, mm, start, end, {
    pmdEntry(pmd, blk, s, e) {
      if (!pt.pmdTransHuge(pmd)) return false;
      if (s !== blk * PMD_SIZE || e !== (blk + 1) * PMD_SIZE) {
        splitHugePmd(k, mm, pmd); // change_huge_pmd only takes whole PMDs: the PTEs below take the rest
        return false;
      }
      const lo = pt.lo(pmd);
      const pfn = pt.pfn(pmd);
      let nlo = (lo & _HPAGE_CHG_MASK_LO) | prot.lo;
      if (tryWrite && pfn !== core.hugeZeroPfn && core.testFlag(pfn, "anon_exclusive")) nlo |= _PAGE_RW;
      pt.set(pmd, nlo >>> 0, setHi(pt.hi(pmd)));
      return true;
    },
    pteEntry(pte) {
      // change_pte_range: keep _PAGE_CHG_MASK, take the new protection
      const lo = pt.lo(pte);
      let nlo = (lo & _PAGE_CHG_MASK_LO) | prot.lo;
      if (tryWrite && (lo & _PAGE_SPECIAL) === 0 && core.testFlag(pt.pfn(pte), "anon_exclusive")) nlo |= _PAGE_RW;
      pt.set(pte, nlo >>> 0, setHi(pt.hi(pte)));
    },
  });
}

// VMA lookup, split and merge (mm/mmap.c, mm/vma.c) and the anon_vma of a
// VMA (mm/rmap.c anon_vma_prepare).
import type { Kernel, Mm, Vma } from "./types.js";
import { VM_READ, VM_WRITE } from "./types.js";
import { PMD_SIZE, _PAGE_PRESENT, _PAGE_USER, _PAGE_ACCESSED, _PAGE_PROTNONE, _PAGE_DIRTY, _PAGE_RW } from "../pgtable/x86_64.js";
import { splitHugePmd } from "./huge_memory.js";

/** find_vma_intersection: the VMA containing `addr`, if any. */
export function findVma(mm: Mm, addr: number): Vma | undefined {
  const v = mm.vmas;
  let lo = 0, hi = v.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (v[mid].end <= addr) lo = mid + 1;
    else if (v[mid].start > addr) hi = mid - 1;
    else return v[mid];
  }
  return undefined;
}

/** The index of the first VMA that ends above `addr` (binary search: the list is sorted and disjoint). */
function firstEndingAbove(mm: Mm, addr: number): number {
  const v = mm.vmas;
  let lo = 0, hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** VMAs overlapping [start, end), in address order. */
export function vmasIn(mm: Mm, start: number, end: number): Vma[] {
  const v = mm.vmas;
  const out: Vma[] = [];
  for (let i = firstEndingAbove(mm, start); i < v.length && v[i].start < end; i++) if (v[i].end > start) out.push(v[i]);
  return out;
}

/** Whether any VMA overlaps [start, end) (free_pgtables' floor/ceiling test). */
export function anyVmaOverlaps(mm: Mm, start: number, end: number): boolean {
  for (const v of mm.vmas) if (v.start < end && v.end > start) return true;
  return false;
}

const PROT_NONE = { lo: _PAGE_PROTNONE | _PAGE_ACCESSED, nx: false } as const;
const PROT_ACCESSIBLE = { lo: _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED, nx: true } as const;
/** vm_get_page_prot: the PTE prot bits of a VMA (private anon: never RW until a write fault). */
export function vmaPageProt(vma: Vma): { readonly lo: number; readonly nx: boolean } {
  return (vma.flags & (VM_READ | VM_WRITE)) === 0 ? PROT_NONE : PROT_ACCESSIBLE;
}

/**
 * The low flag bits of an entry mapping a new anonymous page or folio:
 * vm_get_page_prot, pte_mkdirty and maybe_mkwrite (RW when the VMA is
 * writable), as do_anonymous_page, set_ptes and mk_huge_pmd write them.
 */
export function anonEntryFlags(vma: Vma): number {
  return vmaPageProt(vma).lo | _PAGE_DIRTY | ((vma.flags & VM_WRITE) !== 0 ? _PAGE_RW : 0);
}

/**
 * __split_vma at `addr`. Before the VMA changes, vma_adjust_trans_huge splits
 * a huge PMD whose 2 MiB the new boundary cuts (split_huge_pmd_if_needed).
 */
export function splitVmaAt(k: Kernel, mm: Mm, addr: number): void {
  const vma = findVma(mm, addr);
  if (!vma || vma.start === addr) return;
  splitPmdAtBoundary(k, mm, vma, addr);
  const upper: Vma = { start: addr, end: vma.end, flags: vma.flags, anonVma: vma.anonVma, avcLen: avcLen(vma) };
  vma.end = addr;
  mm.vmas.splice(firstEndingAbove(mm, vma.start) + 1, 0, upper);
}

function splitPmdAtBoundary(k: Kernel, mm: Mm, vma: Vma, addr: number): void {
  if (addr % PMD_SIZE === 0) return;
  const blk = Math.floor(addr / PMD_SIZE);
  if (blk * PMD_SIZE < vma.start || (blk + 1) * PMD_SIZE > vma.end) return;
  const pmd = k.pt.pmdOffset(mm, blk, false);
  if (pmd >= 0 && k.pt.pmdTransHuge(pmd)) splitHugePmd(k, mm, pmd);
}

/** Length of the VMA's anon_vma_chain (see Vma.avcLen). */
export function avcLen(v: Vma): number {
  return v.avcLen ?? (v.anonVma ? 1 : 0);
}

/**
 * is_mergeable_anon_vma (6.18 mm/vma.c): the same anon_vma, or only one of
 * them has one and that VMA "had no uncowed parents" (its anon_vma_chain is
 * singular: not a forked child's).
 */
function anonVmaCompatible(a: Vma, b: Vma): boolean {
  if (a.anonVma === 0 && b.anonVma === 0) return true;
  if (a.anonVma === 0) return avcLen(b) === 1;
  if (b.anonVma === 0) return avcLen(a) === 1;
  return a.anonVma === b.anonVma;
}

/** vma_merge's rule for two neighbours: they touch, their flags are equal, their anon_vmas compatible. */
export function vmasMergeable(a: Vma, b: Vma): boolean {
  return a.end === b.start && a.flags === b.flags && anonVmaCompatible(a, b);
}

/**
 * vma_merge around [start, end) only: the VMAs that overlap or touch it,
 * each joined with its left neighbour while vmasMergeable. The same as a
 * merge of the whole list when every other
 * pair of neighbours is already unmergeable, which every operation keeps
 * true: mmap leaves a gap below the previous mapping, munmap leaves holes
 * at its split points, mprotect and madvise merge what they split, fork
 * gives the child's VMAs anon_vmas that never merge where the parent's did
 * not, and anon_vma_prepare reuses a neighbour's only when the two could
 * have merged already. (The kernel's vma_merge is local in the same way.)
 */
export function mergeVmasAround(mm: Mm, start: number, end: number): void {
  const v = mm.vmas;
  // the first VMA that ends at or above `start` (a left neighbour touching it included) ...
  let i0 = 0, hi = v.length;
  while (i0 < hi) {
    const mid = (i0 + hi) >> 1;
    if (v[mid].end < start) i0 = mid + 1;
    else hi = mid;
  }
  // ... to the last that starts at or below `end` (a right neighbour touching it included)
  let i1 = i0;
  while (i1 < v.length && v[i1].start <= end) i1++;
  if (i1 - i0 < 2) return;
  const out: Vma[] = [];
  for (let i = i0; i < i1; i++) {
    const x = v[i];
    const prev = out[out.length - 1];
    if (prev && vmasMergeable(prev, x)) {
      prev.end = x.end;
      if (prev.anonVma === 0 && x.anonVma !== 0) {
        prev.anonVma = x.anonVma;
        prev.avcLen = avcLen(x);
      }
    } else out.push(x);
  }
  if (out.length !== i1 - i0) v.splice(i0, i1 - i0, ...out);
}

/**
 * anon_vma_prepare: give the VMA an anon_vma, reusing a neighbour's
 * (find_mergeable_anon_vma: the next VMA first, then the previous one) when
 * they touch, their flags differ at most in the access bits
 * (anon_vma_compatible) and the neighbour's anon_vma_chain is singular.
 */
export function anonVmaPrepare(k: Kernel, mm: Mm, vma: Vma): void {
  if (vma.anonVma !== 0) return;
  const i = mm.vmas.indexOf(vma);
  const prev = mm.vmas[i - 1], next = mm.vmas[i + 1];
  const reusable = (old: Vma | undefined, a: Vma | undefined, b: Vma | undefined) =>
    !!old && !!a && !!b && a.end === b.start && ((a.flags ^ b.flags) & ~(VM_READ | VM_WRITE)) === 0 &&
    old.anonVma !== 0 && avcLen(old) === 1;
  if (reusable(next, vma, next)) vma.anonVma = next.anonVma;
  else if (reusable(prev, prev, vma)) vma.anonVma = prev.anonVma;
  else vma.anonVma = k.nextAnonVma++;
  vma.avcLen = 1;
}

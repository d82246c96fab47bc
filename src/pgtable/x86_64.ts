// x86-64 page-table entries in the Linux layout (arch/x86/include/asm/
// pgtable_types.h). An entry is a genuine 64-bit value, held as two 32-bit
// halves (lo = bits 0..31, hi = bits 32..63): a page walk over 32-bit halves
// is ~25x faster in JS than one over BigInt.

export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_USER = 1 << 2;
export const _PAGE_PWT = 1 << 3;
export const _PAGE_PCD = 1 << 4;
export const _PAGE_ACCESSED = 1 << 5;
export const _PAGE_DIRTY = 1 << 6;
export const _PAGE_PSE = 1 << 7; // PMD/PUD: leaf ("huge"); 4 KiB PTE: PAT
export const _PAGE_GLOBAL = 1 << 8;
export const _PAGE_PROTNONE = _PAGE_GLOBAL; // when P is clear: PROT_NONE
export const _PAGE_SPECIAL = 1 << 9; // no struct-page refcounting (zero page)
export const _PAGE_UFFD_WP = 1 << 10;
export const _PAGE_SOFT_DIRTY = 1 << 11;
/** NX is bit 63: bit 31 of the high half. */
export const _PAGE_NX_HI = 0x80000000;

/** _PAGE_TABLE: flags of an entry that points at a lower-level table. */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY; // 0x67
/** Bits pte_modify()/pmd_modify() keep (_PAGE_CHG_MASK, plus PSE for PMDs). */
export const _PAGE_CHG_MASK_LO = 0xfffff000 | _PAGE_PCD | _PAGE_PWT | _PAGE_SPECIAL | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY | _PAGE_UFFD_WP;
export const _HPAGE_CHG_MASK_LO = _PAGE_CHG_MASK_LO | _PAGE_PSE;

export const PAGE_SHIFT = 12;
export const PMD_SHIFT = 21;
export const PUD_SHIFT = 30;
export const PGDIR_SHIFT = 39;
export const PTRS_PER_TABLE = 512;
export const PAGE_SIZE = 4096;
export const PMD_SIZE = 2 * 1024 * 1024;
export const PUD_SIZE = 1024 * 1024 * 1024;
export const PGDIR_SIZE = 512 * PUD_SIZE;
/** TASK_SIZE of a 4-level x86-64 process (47-bit user address space less a page). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;

/** PFN held in bits 12..51. */
export function entryPfn(lo: number, hi: number): number {
  return (lo >>> 12) + (hi & 0xfffff) * 0x100000;
}
export function mkLo(pfn: number, flags: number): number {
  return (((pfn & 0xfffff) << 12) | (flags & 0xfff)) >>> 0;
}
export function mkHi(pfn: number, nx: boolean): number {
  return ((Math.floor(pfn / 0x100000) & 0xfffff) | (nx ? _PAGE_NX_HI : 0)) >>> 0;
}
/** pte_present: P or PROTNONE. */
export function ptePresent(lo: number): boolean { return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0; }
/** pmd_trans_huge (6.18): PSE set. */
export function pmdTransHuge(lo: number): boolean { return (lo & _PAGE_PSE) !== 0; }

/** The full 64-bit value as a hex string (for inspection and the UI only). */
export function entryHex(lo: number, hi: number): string {
  return "0x" + (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}
/** Decode an entry's bits by their Linux names (for inspection and the UI). */
export function decodeEntry(lo: number, hi: number, level: "pgd" | "pud" | "pmd" | "pte"): { pfn: number; bits: string[] } {
  const bits: string[] = [];
  const names: [number, string][] = [
    [_PAGE_PRESENT, "P"], [_PAGE_RW, "RW"], [_PAGE_USER, "US"], [_PAGE_PWT, "PWT"], [_PAGE_PCD, "PCD"],
    [_PAGE_ACCESSED, "A"], [_PAGE_DIRTY, "D"], [_PAGE_PSE, level === "pte" ? "PAT" : "PSE"],
    [_PAGE_GLOBAL, (lo & _PAGE_PRESENT) ? "G" : "PROTNONE"], [_PAGE_SPECIAL, "SPECIAL"],
    [_PAGE_UFFD_WP, "UFFD_WP"], [_PAGE_SOFT_DIRTY, "SOFT_DIRTY"],
  ];
  for (const [m, n] of names) if (lo & m) bits.push(n);
  if (hi & _PAGE_NX_HI) bits.push("NX");
  return { pfn: entryPfn(lo, hi), bits };
}

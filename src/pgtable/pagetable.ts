// Page-table pages and their entries (mm/pgtable-generic.c,
// arch/x86/mm/pgtable.c, the pte_*/pmd_* accessors of
// arch/x86/include/asm/pgtable.h). Every table is an order-0 frame from the
// buddy allocator; its 512 entries live in the core's page-table pool. An
// entry is named by its "slot" (where its low half is in the core's entry
// view) and read and written only through the accessors here, so callers
// never index memory themselves.
import type { Core } from "../core/frames.js";
import { OomError } from "../errors.js";
import {
  _PAGE_TABLE, _PAGE_PSE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_SPECIAL,
  PMD_SIZE, entryPfn, mkLo, mkHi,
} from "./x86_64.js";

/** Whoever owns page-table pages and counts them (mm_struct's nr_ptes & co). */
export interface TableOwner { nrTables: number }

/** An address space's root: its PGD frame, and the table count to keep. */
export interface PgdOwner extends TableOwner { pgd: number }

export class PageTables {
  readonly core: Core;

  constructor(core: Core) {
    this.core = core;
  }

  // ---- entries (pte_val, set_pte, pte_clear, …) ------------------------------------
  /** Bits 0..31 of the entry at `slot`. */
  lo(slot: number): number { return this.core.entries[slot]; }
  /** Bits 32..63 of the entry at `slot`. */
  hi(slot: number): number { return this.core.entries[slot + 1]; }
  /** set_pte / set_pmd: write both halves. */
  set(slot: number, lo: number, hi: number): void {
    const u32 = this.core.entries;
    u32[slot] = lo;
    u32[slot + 1] = hi;
  }
  /** pte_clear / pmd_clear. */
  clear(slot: number): void { this.set(slot, 0, 0); }
  /** Set bits in the low half (pte_mkyoung, pte_mkdirty, pte_mkwrite …). */
  setBits(slot: number, bits: number): void {
    const u32 = this.core.entries;
    u32[slot] = (u32[slot] | bits) >>> 0;
  }
  /** pte_none / pmd_none: all 64 bits zero. */
  none(slot: number): boolean {
    const u32 = this.core.entries;
    return u32[slot] === 0 && u32[slot + 1] === 0;
  }
  /** pte_pfn / pmd_pfn. */
  pfn(slot: number): number {
    const u32 = this.core.entries;
    return entryPfn(u32[slot], u32[slot + 1]);
  }
  /** pmd_trans_huge (6.18: PSE set): a PMD that maps a huge page. */
  pmdTransHuge(slot: number): boolean { return (this.core.entries[slot] & _PAGE_PSE) !== 0; }
  /** pte_present: P or PROT_NONE. */
  ptePresent(slot: number): boolean { return (this.core.entries[slot] & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0; }
  /** pte_special: no struct page refcounting (the zero page). */
  pteSpecial(slot: number): boolean { return (this.core.entries[slot] & _PAGE_SPECIAL) !== 0; }
  /** pte_write / pmd_write. */
  writable(slot: number): boolean { return (this.core.entries[slot] & _PAGE_RW) !== 0; }

  // ---- tables ----------------------------------------------------------------------
  /** The slot of entry 0 of the table held in frame `pfn`. */
  base(pfn: number): number { return this.core.tableBase(pfn); }

  /** Slot of entry `idx` of the lower-level table an entry points at (pud_offset, pmd_offset, pte_offset). */
  child(slot: number, idx: number): number { return this.core.tableBase(this.pfn(slot)) + (idx << 1); }

  /** pte_alloc_one / pmd_alloc_one / pud_alloc_one: a zeroed table frame. */
  alloc(owner: TableOwner | null, what: string): number {
    const pfn = this.core.e.pgtable_alloc();
    if (pfn < 0) throw new OomError(`out of memory allocating a ${what} table`);
    if (owner) owner.nrTables++;
    return pfn;
  }

  free(owner: TableOwner | null, pfn: number): void {
    this.core.e.pte_free(pfn);
    if (owner) owner.nrTables--;
  }

  /** Write a table-pointer entry (pgd_populate, pud_populate, pmd_populate). */
  populate(slot: number, tablePfn: number): void {
    this.set(slot, mkLo(tablePfn, _PAGE_TABLE), mkHi(tablePfn, false));
  }

  /** Free the table an entry points at and clear the entry (free_pte_range and its siblings). */
  freeChild(owner: TableOwner, slot: number): void {
    const t = this.pfn(slot);
    this.clear(slot);
    this.free(owner, t);
  }

  /** Every entry of the table at `base` is none. */
  tableEmpty(base: number): boolean {
    const u32 = this.core.entries;
    for (let i = 0; i < 1024; i++) if (u32[base + i] !== 0) return false;
    return true;
  }

  /**
   * The PMD entry covering 2 MiB block `blk` (= vaddr / 2 MiB) of `mm`:
   * pgd_offset -> pud_offset -> pmd_offset. With `alloc`, missing PUD and PMD
   * tables are allocated (__pud_alloc, __pmd_alloc); without it, -1 when a
   * level is missing.
   */
  pmdOffset(mm: PgdOwner, blk: number, alloc: boolean): number {
    const pgdSlot = this.base(mm.pgd) + ((blk >>> 18) << 1);
    if (this.lo(pgdSlot) === 0) {
      if (!alloc) return -1;
      this.populate(pgdSlot, this.alloc(mm, "PUD"));
    }
    const pudSlot = this.child(pgdSlot, (blk >>> 9) & 511);
    if (this.lo(pudSlot) === 0) {
      if (!alloc) return -1;
      this.populate(pudSlot, this.alloc(mm, "PMD"));
    }
    return this.child(pudSlot, blk & 511);
  }

  /** pte_offset: slot of PTE `idx` of the table a (non-huge, non-none) PMD points at. */
  pteOffset(pmdSlot: number, idx: number): number { return this.child(pmdSlot, idx); }

  /**
   * The PTE table a PMD of 2 MiB block `blk` points at (its base slot), or -1
   * (no PMD, none, or a huge PMD).
   */
  pteTableOf(mm: PgdOwner, blk: number): number {
    const pmd = this.pmdOffset(mm, blk, false);
    if (pmd < 0 || this.lo(pmd) === 0 || this.pmdTransHuge(pmd)) return -1;
    return this.base(this.pfn(pmd));
  }

  /**
   * The PFN mapped at `vaddr` (by a PTE or a huge PMD, PROT_NONE included),
   * or -1 (follow_page without the refcount).
   */
  pfnAt(mm: PgdOwner, vaddr: number): number {
    const pmd = this.pmdOffset(mm, Math.floor(vaddr / PMD_SIZE), false);
    if (pmd < 0 || this.none(pmd)) return -1;
    const idx = (vaddr % PMD_SIZE) >>> 12;
    if (this.pmdTransHuge(pmd)) return this.pfn(pmd) + idx;
    const pte = this.pteOffset(pmd, idx);
    if (!this.ptePresent(pte)) return -1;
    return this.pfn(pte);
  }

  /**
   * The MMU's translation of one access (v86's do_page_walk): faults are
   * values, and the accessed/dirty bits are set only when `setAD` asks.
   * Returns the PFN, or -1 for "not present" and -2 for "write to a
   * read-only entry": the page-fault handler's job.
   */
  translate(mm: PgdOwner, vaddr: number, write: boolean, setAD: boolean): number {
    const pmd = this.pmdOffset(mm, Math.floor(vaddr / PMD_SIZE), false);
    if (pmd < 0) return -1;
    const lo = this.lo(pmd);
    if ((lo & _PAGE_PRESENT) === 0) return -1; // none, PROT_NONE or a table-less PMD
    if ((lo & _PAGE_PSE) !== 0) {
      if (write && (lo & _PAGE_RW) === 0) return -2;
      if (setAD) this.setBits(pmd, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
      return this.pfn(pmd) + ((vaddr % PMD_SIZE) >>> 12);
    }
    const pte = this.pteOffset(pmd, (vaddr % PMD_SIZE) >>> 12);
    const plo = this.lo(pte);
    if ((plo & _PAGE_PRESENT) === 0) return -1;
    if (write && (plo & _PAGE_RW) === 0) return -2;
    if (setAD) this.setBits(pte, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
    return this.pfn(pte);
  }
}

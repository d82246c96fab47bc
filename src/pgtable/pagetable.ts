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
  _PAGE_TABLE, _PAGE_PSE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, _PAGE_PRESENT, _PAGE_SPECIAL,
  PMD_SIZE, entryPfn, mkLo, mkHi, pmdTransHuge, ptePresent,
} from "./x86_64.js";

/** Whoever owns page-table pages and counts them (mm_struct's nr_ptes & co). */
export interface TableOwner { nrTables: number }

/** An address space's root: its PGD frame, and the table count to keep. */
export interface PgdOwner extends TableOwner { pgd: number }

export class PageTables {
  readonly core: Core;
  /** The core's entry view, re-read when memory growth detached it (length 0). */
  private u32: Uint32Array;

  constructor(core: Core) {
    this.core = core;
    this.u32 = core.entries;
  }

  /** The entry view, valid now (cheap: one length test; inlined on the hot paths). */
  private v(): Uint32Array {
    const a = this.u32;
    return a.length !== 0 ? a : (this.u32 = this.core.entries);
  }

  // ---- entries (pte_val, set_pte, pte_clear, …) ------------------------------------
  /** Bits 0..31 of the entry at `slot`. */
  lo(slot: number): number { return this.v()[slot]; }
  /** Bits 32..63 of the entry at `slot`. */
  hi(slot: number): number { return this.v()[slot + 1]; }
  /** set_pte / set_pmd: write both halves. */
  set(slot: number, lo: number, hi: number): void {
    const u32 = this.v();
    u32[slot] = lo;
    u32[slot + 1] = hi;
  }
  /** pte_clear / pmd_clear. */
  clear(slot: number): void { this.set(slot, 0, 0); }
  /** Set bits in the low half (pte_mkyoung, pte_mkdirty, pte_mkwrite …). */
  setBits(slot: number, bits: number): void {
    const u32 = this.v();
    u32[slot] = (u32[slot] | bits) >>> 0;
  }
  /** pte_none / pmd_none: all 64 bits zero. */
  none(slot: number): boolean {
    const u32 = this.v();
    return u32[slot] === 0 && u32[slot + 1] === 0;
  }
  /** pte_pfn / pmd_pfn. */
  pfn(slot: number): number {
    const u32 = this.v();
    return entryPfn(u32[slot], u32[slot + 1]);
  }
  /** pmd_trans_huge (6.18: PSE set): a PMD that maps a huge page. */
  pmdTransHuge(slot: number): boolean { return pmdTransHuge(this.v()[slot]); }
  /** pte_present: P or PROT_NONE. */
  ptePresent(slot: number): boolean { return ptePresent(this.v()[slot]); }
  /** pte_special: no struct page refcounting (the zero page). */
  pteSpecial(slot: number): boolean { return (this.v()[slot] & _PAGE_SPECIAL) !== 0; }
  /** pte_write / pmd_write. */
  writable(slot: number): boolean { return (this.v()[slot] & _PAGE_RW) !== 0; }

  // ---- whole runs of PTEs (the hot loops, one pass over the view) --------------------------
  /**
   * ptep_get_and_clear over PTEs [from, to) of the table at `base` (the
   * page-table half of zap_pte_range): every non-none entry is cleared and
   * the PFN of each one that has a struct page (not special) goes to the
   * core's scratch buffer, for one zap batch. Returns how many.
   */
  clearPtes(base: number, from: number, to: number): number {
    const u32 = this.v();
    const core = this.core;
    let n = 0;
    for (let i = from; i < to; i++) {
      const slot = base + (i << 1);
      const lo = u32[slot], hi = u32[slot + 1];
      if (lo === 0 && hi === 0) continue;
      u32[slot] = 0;
      u32[slot + 1] = 0;
      if ((lo & _PAGE_SPECIAL) === 0) core.scratchSet(n++, entryPfn(lo, hi));
    }
    return n;
  }

  /**
   * The page-table half of copy_pte_range over PTEs [from, to): each
   * non-none source entry is write-protected (a COW mapping, both sides)
   * and copied old (A clear) into the table at `dbase`; the PFN of each one
   * with a struct page goes to the scratch buffer, for one dup batch.
   * Returns how many.
   */
  copyPtes(sbase: number, dbase: number, from: number, to: number): number {
    const u32 = this.v();
    const core = this.core;
    let n = 0;
    for (let i = from; i < to; i++) {
      const s = sbase + (i << 1);
      let lo = u32[s];
      const hi = u32[s + 1];
      if (lo === 0 && hi === 0) continue;
      if ((lo & _PAGE_SPECIAL) === 0) core.scratchSet(n++, entryPfn(lo, hi));
      if ((lo & _PAGE_RW) !== 0) u32[s] = lo = (lo & ~_PAGE_RW) >>> 0;
      const d = dbase + (i << 1);
      u32[d] = (lo & ~_PAGE_ACCESSED) >>> 0;
      u32[d + 1] = hi;
    }
    return n;
  }

  /** pte_range_none: entries [from, from + n) of the table at `base` are all none. */
  ptesNone(base: number, from: number, n: number): boolean {
    const u32 = this.v();
    for (let i = from; i < from + n; i++) {
      const slot = base + (i << 1);
      if (u32[slot] !== 0 || u32[slot + 1] !== 0) return false;
    }
    return true;
  }

  /** Entries [from, from + n) of the table at `base` are all populated (none of them is none). */
  ptesAllSet(base: number, from: number, n: number): boolean {
    const u32 = this.v();
    for (let i = from; i < from + n; i++) {
      const slot = base + (i << 1);
      if (u32[slot] === 0 && u32[slot + 1] === 0) return false;
    }
    return true;
  }

  /** set_ptes: entries [from, from + n) map PFNs pfn, pfn+1, … with the same low flag bits and NX. */
  setPtes(base: number, from: number, n: number, pfn: number, flags: number, nx: boolean): void {
    const u32 = this.v();
    if ((pfn & 0xfffff) + n > 0x100000) { // the PFN crosses into the high half: entry by entry
      for (let i = 0; i < n; i++) {
        const slot = base + ((from + i) << 1);
        u32[slot] = mkLo(pfn + i, flags);
        u32[slot + 1] = mkHi(pfn + i, nx);
      }
      return;
    }
    // the high half is the same for every entry; the low half steps by one PFN (4096)
    const hi = mkHi(pfn, nx);
    for (let i = 0, lo = mkLo(pfn, flags), slot = base + (from << 1); i < n; i++, lo += 4096, slot += 2) {
      u32[slot] = lo;
      u32[slot + 1] = hi;
    }
  }

  /**
   * Fill all 512 entries of the table at `base` with PFNs pfn, pfn+step, …
   * (step 1: a THP's pages; 0: the zero page everywhere) and the same low
   * flag bits and NX (the PTEs a PMD split leaves behind).
   */
  fillTable(base: number, pfn: number, step: number, flags: number, nx: boolean): void {
    if (step === 1) { this.setPtes(base, 0, 512, pfn, flags, nx); return; }
    const u32 = this.v();
    const lo = mkLo(pfn, flags), hi = mkHi(pfn, nx); // step 0: one page in every entry
    for (let i = 0; i < 512; i++) {
      u32[base + (i << 1)] = lo;
      u32[base + (i << 1) + 1] = hi;
    }
  }

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
    const u32 = this.v();
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
    // the hottest walk (every fault): one view, re-read only after an allocation
    const core = this.core;
    let u32 = this.v();
    const pgdSlot = core.tableBase(mm.pgd) + ((blk >>> 18) << 1);
    if (u32[pgdSlot] === 0) {
      if (!alloc) return -1;
      this.populate(pgdSlot, this.alloc(mm, "PUD"));
      u32 = this.v();
    }
    const pudSlot = core.tableBase(entryPfn(u32[pgdSlot], u32[pgdSlot + 1])) + (((blk >>> 9) & 511) << 1);
    if (u32[pudSlot] === 0) {
      if (!alloc) return -1;
      this.populate(pudSlot, this.alloc(mm, "PMD"));
      u32 = this.v();
    }
    return core.tableBase(entryPfn(u32[pudSlot], u32[pudSlot + 1])) + ((blk & 511) << 1);
  }

  /** pte_offset: slot of PTE `idx` of the table a (non-huge, non-none) PMD points at. */
  pteOffset(pmdSlot: number, idx: number): number { return this.child(pmdSlot, idx); }
  /**
   * pte_offset_map for a loop over one table: the slot of its PTE 0, to
   * step with `nth` (the table base is read once, not per entry).
   */
  pteTable(pmdSlot: number): number { return this.core.tableBase(this.pfn(pmdSlot)); }
  /** The slot of entry `idx` of the table whose entry 0 is at `base`. */
  nth(base: number, idx: number): number { return base + (idx << 1); }

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
   * The MMU over a run of accesses from `vaddr` up to `end` (both inside the
   * 2 MiB block of the PMD entry at slot `pmd`: the caller walks PGD -> PMD
   * once per block with pmdOffset and keeps the slot): the pages that
   * translate without a fault, with A (and D for a write) set on their
   * entries as the hardware does; a write stores a non-zero byte, so the
   * frames written are marked (setNonzeroRun, one call per run of
   * consecutive frames). Returns how many pages it covered; 0 when the first
   * access faults (not present, or a write to a read-only entry): the
   * page-fault handler's job (v86's do_page_walk: faults are values; A and D
   * set only because an access asked).
   */
  accessRun(pmd: number, vaddr: number, end: number, write: boolean): number {
    const u32 = this.v();
    const lo = u32[pmd];
    if ((lo & _PAGE_PRESENT) === 0) return 0;
    const bits = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
    const first = (vaddr % PMD_SIZE) >>> 12;
    const count = (end - vaddr) / 4096;
    if ((lo & _PAGE_PSE) !== 0) {
      if (write && (lo & _PAGE_RW) === 0) return 0;
      u32[pmd] = (lo | bits) >>> 0;
      if (write) this.core.setNonzeroRun(entryPfn(lo, u32[pmd + 1]) + first, count);
      return count;
    }
    const base = this.core.tableBase(entryPfn(lo, u32[pmd + 1]));
    let n = 0;
    if (!write) {
      for (let slot = base + (first << 1); n < count; n++, slot += 2) {
        const plo = u32[slot];
        if ((plo & _PAGE_PRESENT) === 0) break;
        u32[slot] = (plo | bits) >>> 0;
      }
      return n;
    }
    // runs of consecutive PFNs (a folio's pages) are marked together
    let runPfn = -1, runLen = 0;
    for (let slot = base + (first << 1); n < count; n++, slot += 2) {
      const plo = u32[slot];
      if ((plo & (_PAGE_PRESENT | _PAGE_RW)) !== (_PAGE_PRESENT | _PAGE_RW)) break;
      u32[slot] = (plo | bits) >>> 0;
      const pfn = entryPfn(plo, u32[slot + 1]);
      if (pfn === runPfn + runLen) { runLen++; continue; }
      if (runLen > 0) this.core.setNonzeroRun(runPfn, runLen);
      runPfn = pfn;
      runLen = 1;
    }
    if (runLen > 0) this.core.setNonzeroRun(runPfn, runLen);
    return n;
  }

  /**
   * set_pte for `n` consecutive entries from `from` of the table at `base`,
   * each mapping its own PFN from scratch[0..n) with the same low flag bits
   * and NX (the PTEs of a batch of order-0 faults).
   */
  setPtesFromScratch(base: number, from: number, n: number, flags: number, nx: boolean): void {
    const u32 = this.v();
    const core = this.core;
    for (let i = 0, slot = base + (from << 1); i < n; i++, slot += 2) {
      const pfn = core.scratchGet(i);
      u32[slot] = mkLo(pfn, flags);
      u32[slot + 1] = mkHi(pfn, nx);
    }
  }

  /** How many entries from `from` (up to `to`) of the table at `base` are none, in a row (pte_range_none's count). */
  ptesNoneRun(base: number, from: number, to: number): number {
    const u32 = this.v();
    let i = from;
    for (let slot = base + (from << 1); i < to; i++, slot += 2) if (u32[slot] !== 0 || u32[slot + 1] !== 0) break;
    return i - from;
  }
}

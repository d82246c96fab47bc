// Page-table pages as frames of the emulated memory, and the walks over them
// (mm/pgtable-generic.c, arch/x86/mm/pgtable.c, the MMU's own walk). Every
// table is an order-0 frame from the buddy allocator; its 512 entries live in
// the core's page-table pool. Walks return positions in the core's u32 view
// ("slots": index of an entry's low half) so callers read and write entries
// directly, with no call into WebAssembly.
import type { Core } from "../core/frames.js";
import type { Mm } from "../mm/types.js";
import { OomError } from "../mm/types.js";
import {
  _PAGE_TABLE, _PAGE_PSE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, _PAGE_PRESENT, entryPfn, mkLo, mkHi,
} from "./x86_64.js";

export class PageTables {
  readonly core: Core;
  private readonly poolBase: number;
  private readonly privOff: number;

  constructor(core: Core) {
    this.core = core;
    this.poolBase = core.u32[core.G.PT_POOL_BASE >>> 2];
    this.privOff = core.off.PAGE_PRIVATE;
  }

  /** u32 index of entry 0 of the table held in frame `pfn`. */
  base(pfn: number): number {
    const slot = this.core.u32[(this.core.MEM_MAP_BASE + pfn * 64 + this.privOff) >>> 2];
    return (this.poolBase + slot * 4096) >>> 2;
  }

  /** pte_alloc_one / pmd_alloc_one / pud_alloc_one: a zeroed table frame. */
  alloc(mm: Mm | null, what: string): number {
    const pfn = this.core.e.pgtable_alloc();
    if (pfn < 0) throw new OomError(`out of memory allocating a ${what} table`);
    if (mm) mm.nrTables++;
    return pfn;
  }

  free(mm: Mm | null, pfn: number): void {
    this.core.e.pte_free(pfn);
    if (mm) mm.nrTables--;
  }

  /** Write a table-pointer entry (pgd_populate, pud_populate, pmd_populate). */
  populate(slot: number, tablePfn: number): void {
    const u32 = this.core.u32;
    u32[slot] = mkLo(tablePfn, _PAGE_TABLE);
    u32[slot + 1] = mkHi(tablePfn, false);
  }

  /**
   * The PMD entry covering 2 MiB block `blk` (= vaddr / 2 MiB) of `mm`:
   * pgd_offset -> pud_offset -> pmd_offset. With `alloc`, missing PUD and PMD
   * tables are allocated (__pud_alloc, __pmd_alloc); without it, -1 when a
   * level is missing.
   */
  pmdSlot(mm: Mm, blk: number, alloc: boolean): number {
    let u32 = this.core.u32;
    const pgdSlot = this.base(mm.pgd) + ((blk >>> 18) << 1);
    if (u32[pgdSlot] === 0) {
      if (!alloc) return -1;
      const t = this.alloc(mm, "PUD");
      u32 = this.core.u32;
      this.populate(pgdSlot, t);
    }
    const pudSlot = this.base(entryPfn(u32[pgdSlot], u32[pgdSlot + 1])) + (((blk >>> 9) & 511) << 1);
    if (u32[pudSlot] === 0) {
      if (!alloc) return -1;
      const t = this.alloc(mm, "PMD");
      u32 = this.core.u32;
      this.populate(pudSlot, t);
    }
    return this.base(entryPfn(u32[pudSlot], u32[pudSlot + 1])) + ((blk & 511) << 1);
  }

  /** pte_offset: slot of PTE `idx` of the table a (non-huge, non-none) PMD points at. */
  pteSlot(pmdSlot: number, idx: number): number {
    const u32 = this.core.u32;
    return this.base(entryPfn(u32[pmdSlot], u32[pmdSlot + 1])) + (idx << 1);
  }

  /**
   * The MMU's translation of one access (v86's do_page_walk): faults are
   * values, and the accessed/dirty bits are set only when `setAD` asks.
   * Returns the PFN, or -1 for "not present" and -2 for "write to a
   * read-only entry": the page-fault handler's job.
   */
  translate(mm: Mm, vaddr: number, write: boolean, setAD: boolean): number {
    const blk = Math.floor(vaddr / 0x200000);
    const pmd = this.pmdSlot(mm, blk, false);
    if (pmd < 0) return -1;
    const u32 = this.core.u32;
    const lo = u32[pmd];
    if ((lo & _PAGE_PRESENT) === 0) return -1; // none, PROT_NONE or a table-less PMD
    if ((lo & _PAGE_PSE) !== 0) {
      if (write && (lo & _PAGE_RW) === 0) return -2;
      if (setAD) u32[pmd] = (lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)) >>> 0;
      return entryPfn(lo, u32[pmd + 1]) + ((vaddr % 0x200000) >>> 12);
    }
    const pte = this.base(entryPfn(lo, u32[pmd + 1])) + (((vaddr % 0x200000) >>> 12) << 1);
    const plo = u32[pte];
    if ((plo & _PAGE_PRESENT) === 0) return -1;
    if (write && (plo & _PAGE_RW) === 0) return -2;
    if (setAD) u32[pte] = (plo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)) >>> 0;
    return entryPfn(plo, u32[pte + 1]);
  }
}

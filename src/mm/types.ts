// Address spaces, VMAs and processes (include/linux/mm_types.h).
import type { Core } from "../core/frames.js";
import type { Profile } from "../profiles.js";
import type { ThpKnobs } from "../knobs.js";
import type { PageTables, PgdOwner } from "../pgtable/pagetable.js";
import type { Deposits } from "../pgtable/deposit.js";

export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
/** VM_ACCOUNT: the mapping's pages are charged to the commit limit (private writable). */
export const VM_ACCOUNT = 0x00100000;

/** struct vm_area_struct: [start, end), flags and the anon_vma (0 = none yet). */
export interface Vma {
  start: number;
  end: number;
  flags: number;
  anonVma: number;
  /**
   * Length of the VMA's anon_vma_chain: 0 without an anon_vma, 1 for an
   * anon_vma of its own (or a reused one), more in a forked child (its
   * parents' anon_vmas too). Absent = 1 if anonVma else 0.
   */
  avcLen?: number;
}

/** struct mm_struct. */
export interface Mm extends PgdOwner {
  /** mm_id (CONFIG_MM_ID), also the key of the owner slots. */
  id: number;
  /** PFN of the PGD page. */
  pgd: number;
  /** VMAs sorted by start, non-overlapping. */
  vmas: Vma[];
  /** next top-down mmap address */
  mmapBase: number;
  /** page-table pages this mm owns (incl. deposited ones): nr_ptes and friends */
  nrTables: number;
}

export interface Region {
  name: string;
  start: number;
  size: number;
}

export interface Process {
  name: string;
  mm: Mm;
  regions: Map<string, Region>;
  parent: string | null;
  alive: boolean;
}

/** Everything the mm code needs, passed to each kernel-file module. */
export interface Kernel {
  core: Core;
  pt: PageTables;
  profile: Profile;
  /** The THP knobs now (`sysfs` lines change them). */
  knobs: ThpKnobs;
  /** deposited page tables of huge PMDs: PMD slot (u32 index) -> table PFN */
  deposits: Deposits;
  nextMmId: number;
  nextAnonVma: number;
}

export { UserError, OomError } from "../errors.js";

// The counter of pages mapped that Linux 6.2 introduced and 6.11 still uses:
// H[1]+36 counts the subpages with at least one PTE mapping, plus a marker
// (COMPOUND_MAPPED in 6.2, renamed ENTIRELY_MAPPED in 6.8; both 0x800000)
// while any PMD maps the THP. It was called subpages_mapcount in 6.2 and
// _nr_pages_mapped from 6.3. The subpages (6.2) and large (6.11) schemes
// share these transitions of page_add_anon_rmap / page_remove_rmap
// (__folio_add_rmap / __folio_remove_rmap); they differ in how a PMD split
// batches the counter, in when a PTE unmap queues the folio for deferred
// split, and in how the folio's total mapcount is found.
import {
  STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, PAGE_SUBPAGES_MAPCOUNT, VM_NR_ANON_PAGES, VM_NR_ANON_THPS,
  COMPOUND_MAPPED, FOLIO_PAGES_MAPPED,
} from "../layout";
import { compound_head, compound_mapcount_ptr, PageCompound, count_vm_event, folio_nr_pages } from "../page";
import { touch } from "./cost";
import { atomic_add_return, entire_mapcount_add, mapcount_add, new_anon_rmap, new_anon_rmap_ptes } from "./counters";

@inline export function pages_mapped_ptr(head: u32): u32 { return head + STRUCT_PAGE_SIZE + PAGE_SUBPAGES_MAPCOUNT; }

/** atomic_add_return on the pages-mapped counter. */
@inline export function pages_mapped_add(head: u32, d: i32): i32 {
  return atomic_add_return(pages_mapped_ptr(head), d);
}

/** The first mapping of a new page: a new THP starts entirely mapped. */
@inline export function pages_mapped_add_new_anon_rmap(page: u32, compound: bool): void {
  new_anon_rmap(page, compound);
  if (compound) store<i32>(pages_mapped_ptr(page), COMPOUND_MAPPED);
}

/** The first mappings of a new large folio by its nr PTEs: every page mapped, no PMD marker. */
@inline export function pages_mapped_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  new_anon_rmap_ptes(head, nr, true);
  store<i32>(pages_mapped_ptr(head), i32(nr));
}

/** One more PTE mapping of a page; returns 1 if the page became mapped (for NR_ANON_PAGES). */
@inline export function pages_mapped_add_pte(page: u32): i32 {
  if (mapcount_add(page, 1) != 0) return 0;
  if (!PageCompound(page)) return 1;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return pages_mapped_add(head, 1) < COMPOUND_MAPPED ? 1 : 0;
}

/** One more PMD mapping of a THP (the first one sets the marker). */
@inline export function pages_mapped_add_pmd(head: u32): void {
  if (entire_mapcount_add(head, 1) != 0) return;
  const s = pages_mapped_add(head, COMPOUND_MAPPED);
  count_vm_event(VM_NR_ANON_THPS);
  // the pages not already mapped by PTEs become mapped
  count_vm_event(VM_NR_ANON_PAGES, i32(folio_nr_pages(head)) - (s & FOLIO_PAGES_MAPPED));
}

/** One PMD mapping fewer: the number of pages that became unmapped (0 while a PMD still maps the THP). */
@inline export function pages_mapped_remove_pmd(head: u32): i32 {
  if (entire_mapcount_add(head, -1) >= 0) return 0;
  count_vm_event(VM_NR_ANON_THPS, -1);
  const s = pages_mapped_add(head, -COMPOUND_MAPPED);
  if (s >= COMPOUND_MAPPED) return 0;
  const nr = i32(folio_nr_pages(head)) - (s & FOLIO_PAGES_MAPPED);
  return nr < 0 ? 0 : nr;
}

/**
 * The PMD unmap of the rmap remove path with its statistics; returns 1 when
 * the THP is left partially mapped (some pages still PTE-mapped), to queue it.
 */
@inline export function pages_mapped_remove_rmap_pmd(head: u32): i32 {
  const nr = pages_mapped_remove_pmd(head);
  if (nr == 0) return 0;
  count_vm_event(VM_NR_ANON_PAGES, -nr);
  return nr < i32(folio_nr_pages(head)) ? 1 : 0;
}

/**
 * One PTE mapping fewer. Returns the pages-mapped count left when a page of
 * a THP became unmapped while no PMD maps the THP (NR_ANON_PAGES already
 * dropped), else -1 (still mapped, a PMD still maps it, or a small page).
 */
@inline export function pages_mapped_remove_pte(page: u32): i32 {
  if (mapcount_add(page, -1) >= 0) return -1;
  if (!PageCompound(page)) { count_vm_event(VM_NR_ANON_PAGES, -1); return -1; }
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  const s = pages_mapped_add(head, -1);
  if (s >= COMPOUND_MAPPED) return -1;
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return s;
}

/** The page's own PTE maps + the folio's PMD maps (6.2 page_mapcount, 6.11 folio_precise_page_mapcount). */
@inline export function pages_mapped_page_mapcount(page: u32): i32 {
  touch(page);
  const m = load<i32>(page + PAGE_MAPCOUNT) + 1;
  if (!PageCompound(page)) return m;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return m + load<i32>(compound_mapcount_ptr(head)) + 1;
}

// The folio scheme of Linux 6.11+ (the 6.18 kernel of these machines with
// CONFIG_PAGE_MAPCOUNT): H[1] holds _entire_mapcount (PMD maps, -1 based,
// the old compound_mapcount), _nr_pages_mapped (subpages with a PTE
// mapping, plus ENTIRELY_MAPPED 0x800000 while PMD-mapped; rmap-internal;
// pages_mapped.ts) and _large_mapcount (every PTE and every PMD of the folio
// counts one, -1 based: folio_mapcount in O(1)); each page keeps its own
// _mapcount for PTE maps. page_mapcount = kpagecount's
// folio_precise_page_mapcount = (M+1) + entire. mm/rmap.c __folio_add_rmap /
// __folio_remove_rmap (L6.18). _large_mapcount itself is updated by the rmap
// layer (rmap.ts, with the MM-owner slots under CONFIG_MM_ID) before
// these functions run.
import { STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, PAGE_LARGE_MAPCOUNT, VM_NR_ANON_PAGES, ENTIRELY_MAPPED } from "../layout";
import { nth_page, PageHead, count_vm_event, folio_nr_pages } from "../page";
import { touch } from "./cost";
import { mapcount_add } from "./counters";
import {
  pages_mapped_add, pages_mapped_add_new_anon_rmap, pages_mapped_add_new_anon_rmap_ptes, pages_mapped_add_pte, pages_mapped_add_pmd,
  pages_mapped_remove_pmd, pages_mapped_remove_rmap_pmd, pages_mapped_remove_pte, pages_mapped_page_mapcount,
} from "./pages_mapped";

export function large_add_new_anon_rmap(page: u32, compound: bool): void {
  pages_mapped_add_new_anon_rmap(page, compound);
}

/** folio_add_new_anon_rmap, !pmd_mappable: each _mapcount 0, _nr_pages_mapped = nr (_large_mapcount: rmap.ts). */
export function large_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  pages_mapped_add_new_anon_rmap_ptes(head, nr);
}

export function large_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) pages_mapped_add_pmd(page);
  else count_vm_event(VM_NR_ANON_PAGES, pages_mapped_add_pte(page));
}

/**
 * The per-page half of folio_try_dup_anon_rmap_ptes (6.11+, CONFIG_PAGE_MAPCOUNT)
 * for `nr` consecutive pages of the folio from `page`: atomic_inc of each
 * page's _mapcount. The pages are mapped already, so none becomes mapped and
 * _nr_pages_mapped is not touched; were one to (an add of unmapped pages,
 * __folio_add_rmap), ONE atomic_add_return of their number would follow.
 */
export function large_add_anon_rmap_ptes(head: u32, page: u32, nr: u32): void {
  let first = 0;
  for (let i: u32 = 0; i < nr; i++) {
    if (mapcount_add(nth_page(page, i), 1) == 0) first++;
  }
  if (first == 0) return;
  touch(head + STRUCT_PAGE_SIZE);
  if (pages_mapped_add(head, first) < ENTIRELY_MAPPED) count_vm_event(VM_NR_ANON_PAGES, first);
}

/**
 * __folio_remove_rmap(RMAP_LEVEL_PTE) for `nr` consecutive pages of the folio
 * from `page` (folio_remove_rmap_ptes): atomic_add_negative(-1) on each
 * page's _mapcount, ONE atomic_sub_return_relaxed of the pages that became
 * unmapped on _nr_pages_mapped. Returns 1 when the folio is partially mapped
 * after the whole batch (partially_mapped = nr && atomic_read(mapped)).
 */
export function large_remove_rmap_ptes(head: u32, page: u32, nr: u32): i32 {
  let last = 0;
  for (let i: u32 = 0; i < nr; i++) {
    if (mapcount_add(nth_page(page, i), -1) < 0) last++;
  }
  if (last == 0) return 0;
  touch(head + STRUCT_PAGE_SIZE);
  const s = pages_mapped_add(head, -last);
  if (s >= ENTIRELY_MAPPED) return 0; // a PMD still maps the folio: nothing became unmapped
  count_vm_event(VM_NR_ANON_PAGES, -last);
  return s > 0 ? 1 : 0;
}

/** __folio_remove_rmap. Returns 1 when the folio is partially mapped (deferred_split_folio). */
export function large_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) return pages_mapped_remove_rmap_pmd(page); // partially_mapped = nr && nr < nr_pmdmapped
  return pages_mapped_remove_pte(page) > 0 ? 1 : 0; // partially_mapped = nr && atomic_read(mapped)
}

/** __split_huge_pmd_locked: folio_add_anon_rmap_ptes(512), then folio_remove_rmap_pmd. */
export function large_split_pmd(head: u32): void {
  let first = 0;
  const n = folio_nr_pages(head);
  for (let i: u32 = 0; i < n; i++) {
    if (mapcount_add(nth_page(head, i), 1) == 0) first++;
  }
  if (first) {
    touch(head + STRUCT_PAGE_SIZE);
    const s = pages_mapped_add(head, first); // one atomic_add_return for the batch
    if (s < ENTIRELY_MAPPED) count_vm_event(VM_NR_ANON_PAGES, first);
  }
  count_vm_event(VM_NR_ANON_PAGES, -pages_mapped_remove_pmd(head));
}

/** folio_precise_page_mapcount: the page's own PTE maps + the folio's PMD maps. */
export function large_page_mapcount(page: u32): i32 {
  return pages_mapped_page_mapcount(page);
}

/** folio_mapcount: _large_mapcount + 1, O(1). */
export function large_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch(page + STRUCT_PAGE_SIZE);
  return load<i32>(page + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT) + 1;
}

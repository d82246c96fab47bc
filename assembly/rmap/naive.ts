// The naive mapcount scheme (no kernel shipped it for anonymous THP; 4.8's
// file THP did the same for page cache): a PMD mapping increments the
// compound mapcount (H[1], -1 based, overlaying mapping as in 4.5) AND every
// one of the 512 subpage _mapcounts, so page_mapcount(page) is just
// _mapcount + 1, at the price of 512 atomics per PMD map and unmap.
// total_mapcount subtracts the 511 extra counts of each PMD mapping.
import {
  PAGE_MAPCOUNT, VM_NR_ANON_PAGES, VM_NR_ANON_THPS, CONFIG_DEFERRED_SPLIT_UNMAPPED,
} from "../layout";
import { nth_page, compound_mapcount_ptr, PageCompound, PageHead, count_vm_event, IS_ENABLED, folio_nr_pages } from "../page";
import { touch, touch_range } from "./cost";
import {
  entire_mapcount_add, mapcount_add, add_all_subpages, sum_subpage_mapcounts, new_anon_rmap, new_anon_rmap_ptes,
} from "./counters";

export function naive_add_new_anon_rmap(page: u32, compound: bool): void {
  new_anon_rmap(page, compound);
  if (compound) { // every subpage counts the new PMD too (plain stores: nobody sees the page yet)
    const nr = folio_nr_pages(page);
    touch_range(page, nr);
    for (let i: u32 = 0; i < nr; i++) store<i32>(nth_page(page, i) + PAGE_MAPCOUNT, 0);
  }
}

/** A new large folio mapped by its nr PTEs: each page's _mapcount 0, no PMD count. */
export function naive_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  new_anon_rmap_ptes(head, nr, true);
}

export function naive_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    if (entire_mapcount_add(page, 1) == 0) count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, add_all_subpages(page, 1));
  } else if (mapcount_add(page, 1) == 0) {
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/** Returns 1 when the THP must be queued for deferred split. */
export function naive_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) {
    if (entire_mapcount_add(page, -1) < 0) count_vm_event(VM_NR_ANON_THPS, -1);
    const nr = add_all_subpages(page, -1); // subpages now unmapped
    if (nr == 0) return 0;
    count_vm_event(VM_NR_ANON_PAGES, -nr);
    return IS_ENABLED(CONFIG_DEFERRED_SPLIT_UNMAPPED) || nr < i32(folio_nr_pages(page)) ? 1 : 0;
  }
  if (mapcount_add(page, -1) >= 0) return 0;
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return PageCompound(page) ? 1 : 0;
}

/** A PMD becomes 512 PTEs: each subpage's count moves from the PMD to its PTE, unchanged. */
export function naive_split_pmd(head: u32): void {
  if (entire_mapcount_add(head, -1) < 0) count_vm_event(VM_NR_ANON_THPS, -1);
}

export function naive_page_mapcount(page: u32): i32 {
  touch(page);
  return load<i32>(page + PAGE_MAPCOUNT) + 1;
}

/** Σ(M[i]+1) − (nr−1)·(C+1): every PMD mapping was counted nr (512) times. */
export function naive_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  return sum_subpage_mapcounts(page) - i32(folio_nr_pages(page) - 1) * (load<i32>(compound_mapcount_ptr(page)) + 1);
}

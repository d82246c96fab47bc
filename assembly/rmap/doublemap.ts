// The Linux 4.5 "DoubleMap" mapcount scheme (Kirill Shutemov's THP
// refcounting rework): whole-PMD mappings are counted once in
// compound_mapcount (H[1], -1 based), PTE mappings in each subpage's own
// _mapcount, and while a THP is mapped both ways PG_double_map (H[1].flags)
// says every subpage _mapcount carries a +1 offset. page_mapcount() adds it
// all up. Emulates mm/rmap.c (do_page_add_anon_rmap, page_add_new_anon_rmap,
// page_remove_rmap, page_remove_anon_compound_rmap), the mapcount half of
// __split_huge_pmd_locked (mm/huge_memory.c) and __page_mapcount /
// total_mapcount. Statistics follow the 4.5 names.
import {
  STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, PG_double_map, VM_NR_ANON_PAGES,
  VM_NR_ANON_THPS, CONFIG_DEFERRED_SPLIT_UNMAPPED,
} from "../layout";
import {
  compound_head, compound_mapcount_ptr, PageCompound, PageHead, PageDoubleMap,
  test_and_set_bit, test_and_clear_bit, count_vm_event, IS_ENABLED, folio_nr_pages,
} from "../page";
import { atomic_ops, touch } from "./cost";
import { atomic_add_return, entire_mapcount_add, mapcount_add, add_all_subpages, sum_subpage_mapcounts, new_anon_rmap, new_anon_rmap_ptes } from "./counters";

/** page_add_new_anon_rmap: the first mapping of a brand-new page. */
export function doublemap_add_new_anon_rmap(page: u32, compound: bool): void {
  new_anon_rmap(page, compound);
}

/**
 * A new large folio of order 2..9 mapped by its nr PTEs. Linux 4.5 had no
 * multi-size THP (a compound anon page was always PMD-size and born
 * PMD-mapped); this scheme counts one as 4.5's rules would count a
 * compound page that only PTEs map: each PTE in its page's own _mapcount
 * (here 0 for each page), compound_mapcount only for PMD maps (stays -1), so
 * PG_double_map is never set (no PMD map to coexist with) and
 * page_mapcount = M + 1, total_mapcount = Σ(M[i] + 1) over the nr pages.
 * A PTE unmap that leaves a page unmapped queues the folio (4.5's
 * deferred_split_huge_page on any PTE-mapped compound page).
 */
export function doublemap_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  new_anon_rmap_ptes(head, nr, true);
}

/** do_page_add_anon_rmap / page_dup_rmap: one more mapping. */
export function doublemap_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    if (entire_mapcount_add(page, 1) == 0) { count_vm_event(VM_NR_ANON_THPS); count_vm_event(VM_NR_ANON_PAGES, folio_nr_pages(page)); }
  } else if (mapcount_add(page, 1) == 0) {
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/**
 * page_remove_rmap. Returns 1 when the THP must go on the deferred split
 * queue (the caller queues it: deferred_split_folio), else 0.
 */
export function doublemap_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) return page_remove_anon_compound_rmap(page);
  if (mapcount_add(page, -1) >= 0) return 0; // still mapped elsewhere, or the DoubleMap offset holds it
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return PageCompound(page) ? 1 : 0; // a subpage just became unmapped
}

/** page_remove_anon_compound_rmap (4.5). */
function page_remove_anon_compound_rmap(head: u32): i32 {
  if (entire_mapcount_add(head, -1) >= 0) return 0; // other PMD mappings remain
  count_vm_event(VM_NR_ANON_THPS, -1);
  atomic_ops(1); // TestClearPageDoubleMap
  let nr: i32;
  if (test_and_clear_bit(head + STRUCT_PAGE_SIZE, PG_double_map)) {
    nr = add_all_subpages(head, -1); // drop the offset; count fully unmapped subpages
  } else {
    nr = folio_nr_pages(head); // no PTE mapping can coexist without DoubleMap
  }
  if (nr > 0) {
    count_vm_event(VM_NR_ANON_PAGES, -nr);
    // 4.5 queues even a fully unmapped THP (freed right after); 6.1+ only
    // queues a genuinely partially mapped one.
    if (IS_ENABLED(CONFIG_DEFERRED_SPLIT_UNMAPPED) || nr < i32(folio_nr_pages(head))) return 1;
  }
  return 0;
}

/**
 * The mapcount transitions of __split_huge_pmd_locked (non-freeze): each
 * subpage gains a PTE mapping; if other PMDs still map the THP, DoubleMap is
 * set (once) with its +1 offset, before the compound mapcount drops, so
 * page_mapped() never sees a false "unmapped". The caller did R += 511.
 */
export function doublemap_split_pmd(head: u32): void {
  add_all_subpages(head, 1);
  const p = compound_mapcount_ptr(head);
  if (load<i32>(p) + 1 > 1) {
    atomic_ops(1); // TestSetPageDoubleMap
    if (!test_and_set_bit(head + STRUCT_PAGE_SIZE, PG_double_map)) add_all_subpages(head, 1);
  }
  const c = atomic_add_return(p, -1); // H[1] was touched by the subpage loop
  if (c < 0) {
    atomic_ops(1); // TestClearPageDoubleMap
    count_vm_event(VM_NR_ANON_THPS, -1);
    if (test_and_clear_bit(head + STRUCT_PAGE_SIZE, PG_double_map)) add_all_subpages(head, -1);
  }
}

/** page_mapcount (4.5 __page_mapcount for compound pages). */
export function doublemap_page_mapcount(page: u32): i32 {
  touch(page);
  const m = load<i32>(page + PAGE_MAPCOUNT) + 1;
  if (!PageCompound(page)) return m;
  const head = compound_head(page);
  touch(head);
  touch(head + STRUCT_PAGE_SIZE);
  return m + (load<i32>(compound_mapcount_ptr(head)) + 1) - (PageDoubleMap(head) ? 1 : 0);
}

/** total_mapcount (4.5): (C+1) + sum(M[i]+1) - nr*DM (nr = 512: DM needs a PMD map). */
export function doublemap_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  let sum: i32 = load<i32>(compound_mapcount_ptr(page)) + 1 + sum_subpage_mapcounts(page);
  if (PageDoubleMap(page)) sum -= folio_nr_pages(page);
  return sum;
}

/** compound_mapcount(): C + 1 (0 for a non-compound page). */
export function doublemap_compound_mapcount(page: u32): i32 {
  if (!PageCompound(page)) return 0;
  return load<i32>(compound_mapcount_ptr(compound_head(page))) + 1;
}

// Linux 6.15+ with CONFIG_NO_PAGE_MAPCOUNT: large folios keep no per-page
// mapcount at all (every subpage _mapcount stays -1, _nr_pages_mapped
// unused); H[1] holds _entire_mapcount (PMD maps, -1 based) and
// _large_mapcount (all PTE and PMD maps, -1 based, updated together with the
// MM-owner slots by the rmap layer before these functions run). Small folios
// keep _mapcount. The per-page view (kpagecount) is the folio average:
// entire + round((large - entire) / nr_pages), at least 1 if mapped.
// Partially-mapped detection is approximate: a PTE unmap queues the folio
// when 0 < mapcount < nr_pages with no PMD map; a PMD unmap, when it was the
// last PMD and 0 < mapcount < nr_pages remain.
import {
  STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, PAGE_LARGE_MAPCOUNT,
  VM_NR_ANON_PAGES, VM_NR_ANON_THPS,
} from "../layout";
import {
  compound_head, compound_mapcount_ptr, PageCompound, PageHead, count_vm_event, compound_order, folio_nr_pages,
} from "../page";
import { touch } from "./cost";
import { entire_mapcount_add, mapcount_add, new_anon_rmap, new_anon_rmap_ptes } from "./counters";

/** folio_large_mapcount (the rmap layer already applied this call's change). */
@inline function large(head: u32): i32 { return load<i32>(head + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT) + 1; }

export function nopagemapcount_add_new_anon_rmap(page: u32, compound: bool): void {
  new_anon_rmap(page, compound);
}

/** A new large folio mapped by its nr PTEs: no per-page mapcount (_large_mapcount = nr − 1: rmap.ts). */
export function nopagemapcount_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  new_anon_rmap_ptes(head, nr, false);
}

export function nopagemapcount_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    if (entire_mapcount_add(page, 1) == 0) count_vm_event(VM_NR_ANON_THPS);
    if (large(page) == 1) count_vm_event(VM_NR_ANON_PAGES, folio_nr_pages(page));
  } else if (PageCompound(page)) {
    const head = compound_head(page);
    touch(head + STRUCT_PAGE_SIZE);
    if (large(head) == 1) count_vm_event(VM_NR_ANON_PAGES, folio_nr_pages(head)); // the whole folio counts as mapped
  } else if (mapcount_add(page, 1) == 0) { // a small folio keeps its _mapcount
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/**
 * folio_try_dup_anon_rmap_ptes / __folio_add_rmap(RMAP_LEVEL_PTE) for a batch
 * of `nr` pages of a large folio under NO_PAGE_MAPCOUNT: nothing per page;
 * the rmap layer's one folio_add_large_mapcount(nr) is the whole update. The
 * folio counts as mapped (NR_ANON_PAGES) if it was not mapped before.
 */
export function nopagemapcount_add_anon_rmap_ptes(head: u32, nr: u32): void {
  touch(head + STRUCT_PAGE_SIZE);
  if (large(head) == i32(nr)) count_vm_event(VM_NR_ANON_PAGES, folio_nr_pages(head));
}

/**
 * __folio_remove_rmap(RMAP_LEVEL_PTE) under NO_PAGE_MAPCOUNT after the rmap
 * layer's folio_sub_large_mapcount (of one page or of a whole batch): the
 * folio is gone from NR_ANON_PAGES when no mapping is left; returns 1 when
 * it looks partially mapped (0 < mapcount < nr_pages, no PMD map).
 */
export function nopagemapcount_remove_rmap_ptes(head: u32): i32 {
  touch(head + STRUCT_PAGE_SIZE);
  const n = large(head);
  const nr = i32(folio_nr_pages(head));
  if (n == 0) { count_vm_event(VM_NR_ANON_PAGES, -nr); return 0; }
  return n < nr && load<i32>(compound_mapcount_ptr(head)) < 0 ? 1 : 0;
}

/** Returns 1 when the folio looks partially mapped (deferred_split_folio). */
export function nopagemapcount_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) {
    const c = entire_mapcount_add(page, -1);
    if (c < 0) count_vm_event(VM_NR_ANON_THPS, -1);
    const n = large(page);
    if (n == 0) { count_vm_event(VM_NR_ANON_PAGES, -i32(folio_nr_pages(page))); return 0; }
    return c < 0 && n < i32(folio_nr_pages(page)) ? 1 : 0;
  }
  if (!PageCompound(page)) {
    if (mapcount_add(page, -1) < 0) count_vm_event(VM_NR_ANON_PAGES, -1);
    return 0;
  }
  return nopagemapcount_remove_rmap_ptes(compound_head(page));
}

/** folio_add_anon_rmap_ptes(512) + folio_remove_rmap_pmd: only the entire mapcount moves. */
export function nopagemapcount_split_pmd(head: u32): void {
  if (entire_mapcount_add(head, -1) < 0) count_vm_event(VM_NR_ANON_THPS, -1);
}

/** kpagecount with NO_PAGE_MAPCOUNT: folio_average_page_mapcount, at least 1 while mapped. */
export function nopagemapcount_page_mapcount(page: u32): i32 {
  touch(page);
  if (!PageCompound(page)) return load<i32>(page + PAGE_MAPCOUNT) + 1;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  const mapcount = large(head);
  if (mapcount <= 0) return 0;
  const entire = load<i32>(compound_mapcount_ptr(head)) + 1;
  if (mapcount <= entire) return entire;
  const order = compound_order(head); // folio_large_order
  const avg = i32((u32(mapcount - entire) + ((u32(1) << order) >> 1)) >> order) + entire;
  return avg > 0 ? avg : 1;
}

export function nopagemapcount_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch(page + STRUCT_PAGE_SIZE);
  return large(page);
}

// The struct page counter updates every mapcount scheme is built from. Each
// one is the kernel's atomic (atomic_inc_and_test, atomic_add_return,
// atomic_dec_return, ...) done as a real WebAssembly atomic read-modify-write
// (i32.atomic.rmw.add: a LOCK-prefixed instruction on x86, on unshared
// memory too), so the schemes' timings carry the price of their atomics as
// the kernel's do, and each is counted for the cost comparison (cost.ts).
// A scheme differs from another in which of these it calls and how often,
// not in how a single update is done.
import { STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, VM_NR_ANON_PAGES, VM_NR_ANON_THPS } from "../layout";
import { nth_page, compound_mapcount_ptr, count_vm_event, folio_nr_pages } from "../page";
import { atomic_ops, touch, touch_range } from "./cost";

/** atomic_add_return: add `d` to the i32 at `ptr` atomically; returns the new value. */
@inline export function atomic_add_return(ptr: u32, d: i32): i32 {
  atomic_ops(1);
  return atomic.add<i32>(ptr, d) + d;
}

/**
 * Add `d` to the folio's PMD-mapping count (compound_mapcount in 4.5-6.2,
 * _entire_mapcount from 6.3; H[1], -1 based); returns the new raw value.
 */
@inline export function entire_mapcount_add(head: u32, d: i32): i32 {
  touch(head + STRUCT_PAGE_SIZE);
  return atomic_add_return(compound_mapcount_ptr(head), d);
}

/** Add `d` to one page's own _mapcount (-1 based); returns the new raw value. */
@inline export function mapcount_add(page: u32, d: i32): i32 {
  touch(page);
  return atomic_add_return(page + PAGE_MAPCOUNT, d);
}

/**
 * Add `d` to every subpage _mapcount of the folio (512 atomics on 512
 * struct pages for a PMD-size THP: the cost the 4.5 design avoids on PMD
 * map/unmap); returns how many subpages crossed between mapped and unmapped
 * in direction `d` (-1 -> 0 when adding, 0 -> -1 when removing).
 */
@inline export function add_all_subpages(head: u32, d: i32): i32 {
  let crossed = 0;
  const nr = folio_nr_pages(head);
  atomic_ops(nr);
  touch_range(head, nr);
  for (let i: u32 = 0; i < nr; i++) {
    const v = atomic.add<i32>(nth_page(head, i) + PAGE_MAPCOUNT, d) + d;
    if (d > 0 ? v == 0 : v < 0) crossed++;
  }
  return crossed;
}

/** Σ(_mapcount + 1) over the folio's pages: the O(nr) loop of total_mapcount before 6.11. */
@inline export function sum_subpage_mapcounts(head: u32): i32 {
  const nr = folio_nr_pages(head);
  touch_range(head, nr);
  let sum: i32 = 0;
  for (let i: u32 = 0; i < nr; i++) sum += load<i32>(nth_page(head, i) + PAGE_MAPCOUNT) + 1;
  return sum;
}

/**
 * page_add_new_anon_rmap / folio_add_new_anon_rmap, the part common to every
 * scheme: the first mapping of a page nobody else can see yet, so a plain
 * store (no atomic): the PMD count of a new THP, or the _mapcount of a new
 * small page, set to 0 (one mapping), and the anon statistics.
 */
@inline export function new_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    store<i32>(compound_mapcount_ptr(page), 0);
    count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, folio_nr_pages(page));
  } else {
    touch(page);
    store<i32>(page + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/**
 * folio_add_new_anon_rmap for a large folio mapped by PTEs (a multi-size THP
 * of do_anonymous_page, mm/rmap.c: the !folio_test_pmd_mappable branch):
 * every page's _mapcount set to 0 (one PTE each; plain stores, nobody sees
 * the folio yet) when the scheme keeps per-page mapcounts (`per_page`), no
 * entire (PMD) mapping, and NR_ANON_PAGES += nr (NR_ANON_THPS counts PMD
 * maps only). The scheme sets its folio-wide fields itself.
 */
@inline export function new_anon_rmap_ptes(head: u32, nr: u32, per_page: bool): void {
  touch(head + STRUCT_PAGE_SIZE);
  if (per_page) {
    touch_range(head, nr);
    for (let i: u32 = 0; i < nr; i++) store<i32>(nth_page(head, i) + PAGE_MAPCOUNT, 0);
  } else {
    touch(head);
  }
  count_vm_event(VM_NR_ANON_PAGES, nr);
}

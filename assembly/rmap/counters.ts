// The struct page counter updates every mapcount scheme is built from. Each
// one is the kernel's atomic (atomic_inc_and_test, atomic_add_return,
// atomic_dec_return, ...) done as a real WebAssembly atomic read-modify-write
// (i32.atomic.rmw.add: a LOCK-prefixed instruction on x86, on unshared
// memory too), so the schemes' timings carry the price of their atomics as
// the kernel's do, and each is counted for the cost comparison (cost.ts).
// A scheme differs from another in which of these it calls and how often,
// not in how a single update is done.
import { STRUCT_PAGE_SIZE, HPAGE_PMD_NR, PAGE_MAPCOUNT, VM_NR_ANON_PAGES, VM_NR_ANON_THPS } from "../layout";
import { nth_page, compound_mapcount_ptr, count_vm_event } from "../page";
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
 * Add `d` to all 512 subpage _mapcounts (512 atomics on 512 struct pages:
 * the cost the 4.5 design avoids on PMD map/unmap); returns how many
 * subpages crossed between mapped and unmapped in direction `d` (-1 -> 0
 * when adding, 0 -> -1 when removing).
 */
@inline export function add_all_subpages(head: u32, d: i32): i32 {
  let crossed = 0;
  atomic_ops(HPAGE_PMD_NR);
  touch_range(head, HPAGE_PMD_NR);
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    const v = atomic.add<i32>(nth_page(head, i) + PAGE_MAPCOUNT, d) + d;
    if (d > 0 ? v == 0 : v < 0) crossed++;
  }
  return crossed;
}

/** Σ(_mapcount + 1) over the 512 subpages: the O(512) loop of total_mapcount before 6.11. */
@inline export function sum_subpage_mapcounts(head: u32): i32 {
  touch_range(head, HPAGE_PMD_NR);
  let sum: i32 = 0;
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) sum += load<i32>(nth_page(head, i) + PAGE_MAPCOUNT) + 1;
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
    count_vm_event(VM_NR_ANON_PAGES, HPAGE_PMD_NR);
  } else {
    touch(page);
    store<i32>(page + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

// The naive mapcount scheme (no kernel shipped it for anonymous THP; 4.8's
// file THP did the same for page cache): a PMD mapping increments the
// compound mapcount (H[1], -1 based, overlaying mapping as in 4.5) AND every
// one of the 512 subpage _mapcounts, so page_mapcount(page) is just
// _mapcount + 1, at the price of 512 atomics per PMD map and unmap.
// total_mapcount subtracts the 511 extra counts of each PMD mapping.
import {
  STRUCT_PAGE_SIZE, HPAGE_PMD_NR, PAGE_MAPCOUNT, VM_NR_ANON_PAGES, VM_NR_ANON_THPS,
  PROFILE_QUEUE_FULLY_UNMAPPED,
} from "../layout";
import { nth_page, compound_mapcount_ptr, PageCompound, PageHead, count_vm_event, profile_has } from "../page";
import { atomic_ops, touch, touch_range } from "./cost";

/** Add `d` to every subpage _mapcount; returns how many changed sign (-1<->0) in direction d. */
@inline function add_all_subpages(head: u32, d: i32): i32 {
  let crossed = 0;
  atomic_ops(HPAGE_PMD_NR);
  touch_range(head, HPAGE_PMD_NR);
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    const p = nth_page(head, i) + PAGE_MAPCOUNT;
    const v = load<i32>(p) + d;
    store<i32>(p, v);
    if (d > 0 ? v == 0 : v < 0) crossed++;
  }
  return crossed;
}

export function naive_add_new_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    store<i32>(compound_mapcount_ptr(page), 0);
    touch_range(page, HPAGE_PMD_NR);
    for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) store<i32>(nth_page(page, i) + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, HPAGE_PMD_NR);
  } else {
    touch(page);
    store<i32>(page + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

export function naive_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    atomic_ops(1);
    const p = compound_mapcount_ptr(page);
    const c = load<i32>(p) + 1;
    store<i32>(p, c);
    if (c == 0) count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, add_all_subpages(page, 1));
  } else {
    touch(page);
    atomic_ops(1);
    const v = load<i32>(page + PAGE_MAPCOUNT) + 1;
    store<i32>(page + PAGE_MAPCOUNT, v);
    if (v == 0) count_vm_event(VM_NR_ANON_PAGES);
  }
}

/** Returns 1 when the THP must be queued for deferred split. */
export function naive_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    atomic_ops(1);
    const p = compound_mapcount_ptr(page);
    const c = load<i32>(p) - 1;
    store<i32>(p, c);
    if (c < 0) count_vm_event(VM_NR_ANON_THPS, -1);
    const nr = add_all_subpages(page, -1); // subpages now unmapped
    if (nr == 0) return 0;
    count_vm_event(VM_NR_ANON_PAGES, -nr);
    return profile_has(PROFILE_QUEUE_FULLY_UNMAPPED) || nr < i32(HPAGE_PMD_NR) ? 1 : 0;
  }
  touch(page);
  atomic_ops(1);
  const v = load<i32>(page + PAGE_MAPCOUNT) - 1;
  store<i32>(page + PAGE_MAPCOUNT, v);
  if (v >= 0) return 0;
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return PageCompound(page) ? 1 : 0;
}

/** A PMD becomes 512 PTEs: each subpage's count moves from the PMD to its PTE, unchanged. */
export function naive_split_pmd(head: u32): void {
  touch(head + STRUCT_PAGE_SIZE);
  atomic_ops(1);
  const p = compound_mapcount_ptr(head);
  const c = load<i32>(p) - 1;
  store<i32>(p, c);
  if (c < 0) count_vm_event(VM_NR_ANON_THPS, -1);
}

export function naive_page_mapcount(page: u32): i32 {
  touch(page);
  return load<i32>(page + PAGE_MAPCOUNT) + 1;
}

/** Σ(M[i]+1) − 511·(C+1): every PMD mapping was counted 512 times. */
export function naive_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch_range(page, HPAGE_PMD_NR);
  let sum: i32 = 0;
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) sum += load<i32>(nth_page(page, i) + PAGE_MAPCOUNT) + 1;
  return sum - i32(HPAGE_PMD_NR - 1) * (load<i32>(compound_mapcount_ptr(page)) + 1);
}

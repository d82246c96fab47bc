// The folio scheme of Linux 6.11+ (the 6.18 kernel of these machines with
// CONFIG_PAGE_MAPCOUNT): H[1] holds _entire_mapcount (PMD maps, -1 based,
// the old compound_mapcount), _nr_pages_mapped (subpages with a PTE
// mapping, plus ENTIRELY_MAPPED 0x800000 while PMD-mapped; rmap-internal)
// and _large_mapcount (every PTE and every PMD of the folio counts one, -1
// based: folio_mapcount in O(1)); each page keeps its own _mapcount for PTE
// maps. page_mapcount = kpagecount's folio_precise_page_mapcount =
// (M+1) + entire. mm/rmap.c __folio_add_rmap / __folio_remove_rmap (L6.18).
// _large_mapcount itself is updated by the rmap layer (rmap.ts, with the
// MM-owner slots when the profile has them) before these functions run.
import {
  STRUCT_PAGE_SIZE, HPAGE_PMD_NR, PAGE_MAPCOUNT, PAGE_NR_PAGES_MAPPED, PAGE_LARGE_MAPCOUNT,
  VM_NR_ANON_PAGES, VM_NR_ANON_THPS, ENTIRELY_MAPPED, FOLIO_PAGES_MAPPED,
} from "../layout";
import { nth_page, compound_head, compound_mapcount_ptr, PageCompound, count_vm_event, PageHead } from "../page";
import { atomic_ops, touch } from "./cost";

@inline function mapped_ptr(head: u32): u32 { return head + STRUCT_PAGE_SIZE + PAGE_NR_PAGES_MAPPED; }
@inline function mapped_add(head: u32, d: i32): i32 {
  atomic_ops(1);
  const v = load<i32>(mapped_ptr(head)) + d;
  store<i32>(mapped_ptr(head), v);
  return v;
}

export function large_add_new_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    store<i32>(compound_mapcount_ptr(page), 0);
    store<i32>(mapped_ptr(page), ENTIRELY_MAPPED);
    count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, HPAGE_PMD_NR);
  } else {
    touch(page);
    store<i32>(page + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/** PTE level add of one page; returns the number of pages newly mapped (0/1). */
@inline function add_pte(page: u32): i32 {
  touch(page);
  atomic_ops(1);
  const v = load<i32>(page + PAGE_MAPCOUNT) + 1;
  store<i32>(page + PAGE_MAPCOUNT, v);
  if (v != 0) return 0;
  if (!PageCompound(page)) return 1;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return mapped_add(head, 1) < ENTIRELY_MAPPED ? 1 : 0;
}

export function large_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    atomic_ops(1);
    const p = compound_mapcount_ptr(page);
    const c = load<i32>(p) + 1;
    store<i32>(p, c);
    if (c == 0) {
      const s = mapped_add(page, ENTIRELY_MAPPED);
      count_vm_event(VM_NR_ANON_THPS);
      if (s < 2 * ENTIRELY_MAPPED) count_vm_event(VM_NR_ANON_PAGES, i32(HPAGE_PMD_NR) - (s & FOLIO_PAGES_MAPPED));
    }
  } else {
    count_vm_event(VM_NR_ANON_PAGES, add_pte(page));
  }
}

/** RMAP_LEVEL_PMD removal: nr pages now unmapped (0 if still PMD-mapped or all PTE-mapped). */
@inline function remove_pmd(head: u32): i32 {
  touch(head + STRUCT_PAGE_SIZE);
  atomic_ops(1);
  const p = compound_mapcount_ptr(head);
  const c = load<i32>(p) - 1;
  store<i32>(p, c);
  if (c >= 0) return 0;
  count_vm_event(VM_NR_ANON_THPS, -1);
  const s = mapped_add(head, -ENTIRELY_MAPPED);
  if (s >= ENTIRELY_MAPPED) return 0;
  const nr = i32(HPAGE_PMD_NR) - (s & FOLIO_PAGES_MAPPED);
  return nr < 0 ? 0 : nr;
}

/** __folio_remove_rmap. Returns 1 when the folio is partially mapped (deferred_split_folio). */
export function large_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) {
    const nr = remove_pmd(page);
    if (nr == 0) return 0;
    count_vm_event(VM_NR_ANON_PAGES, -nr);
    return nr < i32(HPAGE_PMD_NR) ? 1 : 0; // partially_mapped = nr && nr < nr_pmdmapped
  }
  touch(page);
  atomic_ops(1);
  const v = load<i32>(page + PAGE_MAPCOUNT) - 1;
  store<i32>(page + PAGE_MAPCOUNT, v);
  if (v >= 0) return 0;
  if (!PageCompound(page)) { count_vm_event(VM_NR_ANON_PAGES, -1); return 0; }
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  const s = mapped_add(head, -1);
  if (s >= ENTIRELY_MAPPED) return 0; // still entirely mapped: nr = 0
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return s != 0 ? 1 : 0; // partially_mapped = nr && atomic_read(mapped)
}

/** __split_huge_pmd_locked: folio_add_anon_rmap_ptes(512), then folio_remove_rmap_pmd. */
export function large_split_pmd(head: u32): void {
  let first = 0;
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    const page = nth_page(head, i);
    touch(page);
    atomic_ops(1);
    const v = load<i32>(page + PAGE_MAPCOUNT) + 1;
    store<i32>(page + PAGE_MAPCOUNT, v);
    if (v == 0) first++;
  }
  if (first) {
    touch(head + STRUCT_PAGE_SIZE);
    const s = mapped_add(head, first); // one atomic_add_return for the batch
    if (s < ENTIRELY_MAPPED) count_vm_event(VM_NR_ANON_PAGES, first);
  }
  count_vm_event(VM_NR_ANON_PAGES, -remove_pmd(head));
}

/** folio_precise_page_mapcount: the page's own PTE maps + the folio's PMD maps. */
export function large_page_mapcount(page: u32): i32 {
  touch(page);
  const m = load<i32>(page + PAGE_MAPCOUNT) + 1;
  if (!PageCompound(page)) return m;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return m + load<i32>(compound_mapcount_ptr(head)) + 1;
}

/** folio_mapcount: _large_mapcount + 1, O(1). */
export function large_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch(page + STRUCT_PAGE_SIZE);
  return load<i32>(page + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT) + 1;
}

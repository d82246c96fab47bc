// The Linux 6.2 scheme (Hugh Dickins, "mm,thp,rmap: simplify compound page
// mapcount"): PG_double_map is gone. H[1] keeps compound_mapcount (PMD maps,
// -1 based) and subpages_mapcount: the number of subpages with at least one
// PTE mapping, plus COMPOUND_MAPPED (0x800000) while any PMD maps the THP.
// page_mapcount = (M+1) + (C+1), no correction term; total_mapcount skips its
// 512-subpage loop when no subpage is PTE-mapped. mm/rmap.c of L6.2:
// page_add_anon_rmap, page_add_new_anon_rmap, page_remove_rmap, and the
// rmap half of __split_huge_pmd_locked.
import {
  STRUCT_PAGE_SIZE, HPAGE_PMD_NR, PAGE_MAPCOUNT, PAGE_SUBPAGES_MAPCOUNT, VM_NR_ANON_PAGES,
  VM_NR_ANON_THPS, COMPOUND_MAPPED, FOLIO_PAGES_MAPPED,
} from "../layout";
import { nth_page, compound_head, compound_mapcount_ptr, PageCompound, PageHead, count_vm_event } from "../page";
import { atomic_ops, touch, touch_range } from "./cost";

@inline function subpages_ptr(head: u32): u32 { return head + STRUCT_PAGE_SIZE + PAGE_SUBPAGES_MAPCOUNT; }
@inline function sub_add(head: u32, d: i32): i32 {
  atomic_ops(1);
  const v = load<i32>(subpages_ptr(head)) + d;
  store<i32>(subpages_ptr(head), v);
  return v;
}

export function subpages_add_new_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    store<i32>(compound_mapcount_ptr(page), 0);
    store<i32>(subpages_ptr(page), COMPOUND_MAPPED);
    count_vm_event(VM_NR_ANON_THPS);
    count_vm_event(VM_NR_ANON_PAGES, HPAGE_PMD_NR);
  } else {
    touch(page);
    store<i32>(page + PAGE_MAPCOUNT, 0);
    count_vm_event(VM_NR_ANON_PAGES);
  }
}

/** page_add_anon_rmap of one PTE (no stats); returns 1 if the page became mapped. */
@inline function add_pte(page: u32): i32 {
  touch(page);
  atomic_ops(1);
  const v = load<i32>(page + PAGE_MAPCOUNT) + 1;
  store<i32>(page + PAGE_MAPCOUNT, v);
  if (v != 0) return 0;
  if (!PageCompound(page)) return 1;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return sub_add(head, 1) < COMPOUND_MAPPED ? 1 : 0;
}

export function subpages_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) {
    touch(page + STRUCT_PAGE_SIZE);
    atomic_ops(1);
    const p = compound_mapcount_ptr(page);
    const c = load<i32>(p) + 1;
    store<i32>(p, c);
    if (c == 0) {
      const s = sub_add(page, COMPOUND_MAPPED);
      count_vm_event(VM_NR_ANON_THPS);
      count_vm_event(VM_NR_ANON_PAGES, i32(HPAGE_PMD_NR) - (s & FOLIO_PAGES_MAPPED));
    }
  } else {
    count_vm_event(VM_NR_ANON_PAGES, add_pte(page));
  }
}

/** PMD unmap: returns nr (pages that became unmapped); *nr_pmdmapped is 512 when this was the last PMD. */
@inline function remove_pmd(head: u32): i32 {
  touch(head + STRUCT_PAGE_SIZE);
  atomic_ops(1);
  const p = compound_mapcount_ptr(head);
  const c = load<i32>(p) - 1;
  store<i32>(p, c);
  if (c >= 0) return 0;
  count_vm_event(VM_NR_ANON_THPS, -1);
  const s = sub_add(head, -COMPOUND_MAPPED);
  if (s >= COMPOUND_MAPPED) return 0;
  const nr = i32(HPAGE_PMD_NR) - (s & FOLIO_PAGES_MAPPED);
  return nr < 0 ? 0 : nr;
}

/** page_remove_rmap (L6.2). Returns 1 to queue for deferred split. */
export function subpages_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) {
    const nr = remove_pmd(page);
    if (nr == 0) return 0;
    count_vm_event(VM_NR_ANON_PAGES, -nr);
    return nr < i32(HPAGE_PMD_NR) ? 1 : 0; // some pages still PTE-mapped
  }
  touch(page);
  atomic_ops(1);
  const v = load<i32>(page + PAGE_MAPCOUNT) - 1;
  store<i32>(page + PAGE_MAPCOUNT, v);
  if (v >= 0) return 0;
  if (!PageCompound(page)) { count_vm_event(VM_NR_ANON_PAGES, -1); return 0; }
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  if (sub_add(head, -1) >= COMPOUND_MAPPED) return 0; // a PMD still maps it
  count_vm_event(VM_NR_ANON_PAGES, -1);
  return 1;
}

/** L6.2 __split_huge_pmd_locked: page_add_anon_rmap on each subpage, then page_remove_rmap(compound). */
export function subpages_split_pmd(head: u32): void {
  let nr = 0;
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) nr += add_pte(nth_page(head, i));
  count_vm_event(VM_NR_ANON_PAGES, nr);
  count_vm_event(VM_NR_ANON_PAGES, -remove_pmd(head));
}

export function subpages_page_mapcount(page: u32): i32 {
  touch(page);
  const m = load<i32>(page + PAGE_MAPCOUNT) + 1;
  if (!PageCompound(page)) return m;
  const head = compound_head(page);
  touch(head + STRUCT_PAGE_SIZE);
  return m + load<i32>(compound_mapcount_ptr(head)) + 1;
}

export function subpages_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch(page + STRUCT_PAGE_SIZE);
  let sum: i32 = load<i32>(compound_mapcount_ptr(page)) + 1;
  if ((load<i32>(subpages_ptr(page)) & FOLIO_PAGES_MAPPED) == 0) return sum;
  touch_range(page, HPAGE_PMD_NR);
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) sum += load<i32>(nth_page(page, i) + PAGE_MAPCOUNT) + 1;
  return sum;
}

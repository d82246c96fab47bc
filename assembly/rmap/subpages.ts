// The Linux 6.2 scheme (Hugh Dickins, "mm,thp,rmap: simplify compound page
// mapcount"): PG_double_map is gone. H[1] keeps compound_mapcount (PMD maps,
// -1 based) and subpages_mapcount: the number of subpages with at least one
// PTE mapping, plus COMPOUND_MAPPED (0x800000) while any PMD maps the THP
// (pages_mapped.ts). page_mapcount = (M+1) + (C+1), no correction term;
// total_mapcount skips its 512-subpage loop when no subpage is PTE-mapped.
// mm/rmap.c of L6.2: page_add_anon_rmap, page_add_new_anon_rmap,
// page_remove_rmap, and the rmap half of __split_huge_pmd_locked.
import { STRUCT_PAGE_SIZE, PAGE_MAPCOUNT, VM_NR_ANON_PAGES, FOLIO_PAGES_MAPPED } from "../layout";
import { nth_page, compound_mapcount_ptr, PageHead, count_vm_event, folio_nr_pages } from "../page";
import { touch } from "./cost";
import { sum_subpage_mapcounts } from "./counters";
import {
  pages_mapped_ptr, pages_mapped_add_new_anon_rmap, pages_mapped_add_new_anon_rmap_ptes, pages_mapped_add_pte, pages_mapped_add_pmd,
  pages_mapped_remove_pmd, pages_mapped_remove_rmap_pmd, pages_mapped_remove_pte, pages_mapped_page_mapcount,
} from "./pages_mapped";

export function subpages_add_new_anon_rmap(page: u32, compound: bool): void {
  pages_mapped_add_new_anon_rmap(page, compound);
}

/** A new large folio mapped by its nr PTEs: each _mapcount 0, subpages_mapcount = nr. */
export function subpages_add_new_anon_rmap_ptes(head: u32, nr: u32): void {
  pages_mapped_add_new_anon_rmap_ptes(head, nr);
}

export function subpages_add_anon_rmap(page: u32, compound: bool): void {
  if (compound) pages_mapped_add_pmd(page);
  else count_vm_event(VM_NR_ANON_PAGES, pages_mapped_add_pte(page));
}

/** page_remove_rmap (L6.2). Returns 1 to queue for deferred split. */
export function subpages_remove_rmap(page: u32, compound: bool): i32 {
  if (compound) return pages_mapped_remove_rmap_pmd(page);
  // 6.2 queues whenever a page of a THP with no PMD map becomes unmapped
  return pages_mapped_remove_pte(page) >= 0 ? 1 : 0;
}

/** L6.2 __split_huge_pmd_locked: page_add_anon_rmap on each subpage (one atomic on subpages_mapcount per page), then page_remove_rmap(compound). */
export function subpages_split_pmd(head: u32): void {
  let nr = 0;
  const n = folio_nr_pages(head);
  for (let i: u32 = 0; i < n; i++) nr += pages_mapped_add_pte(nth_page(head, i));
  count_vm_event(VM_NR_ANON_PAGES, nr);
  count_vm_event(VM_NR_ANON_PAGES, -pages_mapped_remove_pmd(head));
}

export function subpages_page_mapcount(page: u32): i32 {
  return pages_mapped_page_mapcount(page);
}

/** total_mapcount (L6.2): (C+1), plus the loop over the folio's pages only when some subpage is PTE-mapped. */
export function subpages_total_mapcount(page: u32): i32 {
  if (!PageHead(page)) { touch(page); return load<i32>(page + PAGE_MAPCOUNT) + 1; }
  touch(page + STRUCT_PAGE_SIZE);
  const sum: i32 = load<i32>(compound_mapcount_ptr(page)) + 1;
  if ((load<i32>(pages_mapped_ptr(page)) & FOLIO_PAGES_MAPPED) == 0) return sum;
  return sum + sum_subpage_mapcounts(page);
}

// The rmap entry points the rest of the core calls (mm/rmap.c). They hide
// which mapcount scheme counts the mappings: today the Linux 4.5 DoubleMap
// scheme (rmap/doublemap.ts); later schemes plug in behind the same calls.
// Around the scheme they do what every kernel does: anon mapping/index,
// PG_swapbacked, PG_anon_exclusive (5.19+), the MM-owner slots (6.15+), and
// queueing for deferred split.
import {
  PAGE_MAPPING, PAGE_INDEX, PAGE_MAPPING_ANON, PG_swapbacked, PG_anon_exclusive,
  PROFILE_ANON_EXCLUSIVE, HPAGE_PMD_NR, VM_THP_SPLIT_PMD,
} from "./layout";
import {
  set_bit, clear_bit, test_bit, compound_head, PageCompound, profile_has, page_ref_add,
  nth_page, count_vm_event,
} from "./page";
import {
  doublemap_add_new_anon_rmap, doublemap_add_anon_rmap, doublemap_remove_rmap,
  doublemap_split_pmd, doublemap_page_mapcount, doublemap_total_mapcount,
  doublemap_compound_mapcount,
} from "./rmap/doublemap";
import { folio_set_large_mapcount, folio_add_large_mapcount, folio_sub_large_mapcount } from "./mm_id";
import { deferred_split_huge_page } from "./huge_memory";

/** page_add_new_anon_rmap: map a brand-new page (PMD if compound) exclusively. */
export function page_add_new_anon_rmap(page: u32, compound: bool, mm: u32, av: u32, vpn: u64): void {
  set_bit(page, PG_swapbacked);
  store<u32>(page + PAGE_MAPPING, (av << 2) | PAGE_MAPPING_ANON);
  store<u64>(page + PAGE_INDEX, vpn);
  doublemap_add_new_anon_rmap(page, compound);
  if (compound) folio_set_large_mapcount(page, 1, mm);
  if (profile_has(PROFILE_ANON_EXCLUSIVE)) set_bit(page, PG_anon_exclusive);
}

/**
 * page_dup_rmap at fork (copy_one_pte / copy_huge_pmd): one more mapping of
 * an existing page; it is shared from now on, so PG_anon_exclusive goes.
 */
export function page_dup_rmap(page: u32, compound: bool, mm: u32): void {
  doublemap_add_anon_rmap(page, compound);
  if (PageCompound(page)) folio_add_large_mapcount(compound_head(page), 1, mm);
  clear_bit(page, PG_anon_exclusive);
}

/** page_remove_rmap (+ deferred_split_huge_page when a subpage became unmapped). */
export function page_remove_rmap(page: u32, compound: bool, mm: u32): void {
  const head = compound_head(page);
  const queue = doublemap_remove_rmap(page, compound);
  if (PageCompound(page)) folio_sub_large_mapcount(head, 1, mm);
  if (queue) deferred_split_huge_page(head);
}

/**
 * The rmap half of __split_huge_pmd_locked (non-freeze) for one PMD of `mm`:
 * the single PMD reference becomes 512 PTE references, and the scheme moves
 * the mapping from the compound count to the subpages.
 */
export function split_huge_pmd_rmap(head: u32, mm: u32): void {
  count_vm_event(VM_THP_SPLIT_PMD);
  page_ref_add(head, HPAGE_PMD_NR - 1);
  doublemap_split_pmd(head);
  // 6.x: folio_add_anon_rmap_ptes(512) then folio_remove_rmap_pmd(1).
  folio_add_large_mapcount(head, HPAGE_PMD_NR, mm);
  folio_sub_large_mapcount(head, 1, mm);
  if (test_bit(head, PG_anon_exclusive)) {
    for (let i: u32 = 1; i < HPAGE_PMD_NR; i++) set_bit(nth_page(head, i), PG_anon_exclusive);
  }
}

@inline export function page_mapcount(page: u32): i32 { return doublemap_page_mapcount(page); }
@inline export function total_mapcount(head: u32): i32 { return doublemap_total_mapcount(head); }
@inline export function compound_mapcount(page: u32): i32 { return doublemap_compound_mapcount(page); }

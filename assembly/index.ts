// The core's exports and nothing else: the memory map constants (so the host
// never hard-codes an offset) and the entry points the host calls.
export {
  PAGE_SHIFT, HPAGE_PMD_ORDER, HPAGE_PMD_NR, MAX_ORDER, NIL,
  GLOBALS_BASE, SCRATCH_BASE, SCRATCH_SLOTS, MEM_SECTION_BASE, CHUNK_SECTION_BASE, HEAP_BASE,
  SECTION_SHIFT, PAGES_PER_SECTION, NR_MEM_SECTIONS, CHUNK_SHIFT, NR_CHUNKS, PT_TABLES_PER_CHUNK, PAGE_COST_STAMP,
  STRUCT_PAGE_SIZE, STRUCT_PAGE_SHIFT, PAGE_FLAGS, PAGE_COMPOUND_HEAD, PAGE_LRU_NEXT,
  PAGE_LRU_PREV, PAGE_COMPOUND_DTOR, PAGE_COMPOUND_ORDER, PAGE_MAPPING, PAGE_COMPOUND_MAPCOUNT,
  PAGE_DEFERRED_LIST, PAGE_INDEX, PAGE_PRIVATE, PAGE_MAPCOUNT, PAGE_REFCOUNT,
  PAGE_LARGE_MAPCOUNT, PAGE_MM_ID0, PAGE_MM_ID1, PAGE_MM_ID_MAPCOUNT0, PAGE_MM_ID_MAPCOUNT1,
  PG_locked, PG_referenced, PG_uptodate, PG_dirty, PG_lru, PG_reserved, PG_private,
  PG_private_2, PG_double_map, PG_reclaim, PG_partially_mapped, PG_head, PG_anon_exclusive, PG_swapbacked, PG_pgtable, PG_nonzero,
  PAGE_MAPPING_ANON, TAIL_MAPPING, PAGE_BUDDY_MAPCOUNT_VALUE, TRANSHUGE_PAGE_DTOR,
  FOLIO_MM_IDS_SHARED_BIT,
  G_NR_FRAMES, G_HEAP_TOP, G_FIRST_DEFERRED_PFN, G_DEFERRED_END, G_CHUNK_LIMIT, G_MEMORY_EXHAUSTED, G_ZERO_STRUCT_PAGE, G_ZERO_PFN, G_HUGE_ZERO_PFN, G_HUGE_ZERO_REFCOUNT,
  G_SPLIT_QUEUE_LEN, G_LAST_ERROR, G_BAD_PFN, G_BAD_REASON, G_BAD_PAGES, G_RESULT1, G_CONFIG,
  G_VMSTAT, CONFIG_MM_ID, CONFIG_ANON_EXCLUSIVE, CONFIG_DEFERRED_SPLIT_UNMAPPED, CONFIG_COW_REUSE_REFCOUNT,
  VM_NR_FREE_PAGES, VM_NR_ANON_PAGES, VM_NR_ANON_THPS, VM_NR_PAGETABLE, VM_THP_FAULT_ALLOC,
  VM_THP_FAULT_FALLBACK, VM_THP_SPLIT_PMD, VM_THP_SPLIT_PAGE, VM_THP_DEFERRED_SPLIT_PAGE,
  VM_THP_ZERO_PAGE_ALLOC, VM_THP_COLLAPSE_ALLOC, VM_PGALLOC, VM_PGFREE, VM_NR_COUNTERS,
  ERR_NOMEM, ERR_FALLBACK, ERR_BUSY, ERR_BAD_PAGE, ERR_INVAL,
  PAGE_SUBPAGES_MAPCOUNT, PAGE_ENTIRE_MAPCOUNT, PAGE_NR_PAGES_MAPPED, G_SCHEME,
  G_SPLIT_COUNTS, G_COSTS, COST_STRIDE, COST_CALLS, COST_ATOMICS, COST_PAGES, COST_ADD_NEW, COST_DUP,
  COST_REMOVE, COST_SPLIT_PMD, COST_PAGE_MAPCOUNT, COST_FOLIO_MAPCOUNT, COST_NR_OPS,
  SCHEME_DOUBLEMAP, SCHEME_NAIVE, SCHEME_SUBPAGES, SCHEME_LARGE, SCHEME_NOPAGEMAPCOUNT,
  COMPOUND_MAPPED, ENTIRELY_MAPPED, FOLIO_PAGES_MAPPED,
} from "./layout";

import { G_CONFIG, G_LAST_ERROR, G_SCHEME, G_SPLIT_COUNTS, SCHEME_NOPAGEMAPCOUNT } from "./layout";
import { cost_reset as _cost_reset } from "./rmap/cost";
export { cost_accounting } from "./rmap/cost";
import { pfn_to_page, compound_head, page_to_pfn, compound_order as _compound_order, pfn_valid } from "./page";
import { mem_init, nr_frames } from "./page_alloc";
import * as rmap from "./rmap";
import {
  thp_is_queued as _thp_is_queued, deferred_split_folio as _deferred_split_folio,
  deferred_split_dequeue as _deferred_split_dequeue, folio_test_partially_mapped as _folio_test_partially_mapped,
  thp_underused as _thp_underused,
} from "./huge_memory";
import { split_huge_page as _split_huge_page } from "./huge_memory";

export {
  nr_free_pages, nr_free_order, check_free_lists, pfn_is_free, pte_free, pt_table_addr,
  is_pgtable_page, check_sections, set_memory_limit,
} from "./page_alloc";
export {
  deferred_split_scan, deferred_split_list, get_huge_zero_page, put_huge_zero_page, shrink_huge_zero_page,
} from "./huge_memory";
export {
  do_anonymous_page, do_anonymous_pages, do_anonymous_folio, do_anonymous_folios, do_huge_pmd_anonymous_page, alloc_thp_pmd_mapped, zap_pte_batch,
  dup_pte_batch, zap_huge_pmd, copy_huge_pmd, copy_huge_pmd_batch, zap_huge_pmd_batch, split_huge_pmd, page_mapcount_batch,
  wp_page_reuse, do_wp_page_batch, wp_huge_pmd_reuse, pgtable_alloc, do_huge_pmd_wp_page_fallback,
} from "./memory";

/** Build a machine of `frames` 4 KiB frames with the given CONFIG_* bits and mapcount scheme (SCHEME_*). */
export function init(frames: u32, config: u32, scheme: u32): i32 {
  if (__heap_base > 0x10000) return -2; // static data would overlap the globals
  if (scheme > SCHEME_NOPAGEMAPCOUNT) return -3;
  store<u32>(G_CONFIG, config);
  store<u32>(G_SCHEME, scheme);
  const rc = mem_init(frames);
  cost_reset();
  return rc;
}
/** Zero the rmap cost counters. */
export function cost_reset(): void { _cost_reset(); }
/**
 * The readers below take a PFN from the host (a viewer may ask about any
 * frame): one whose struct page was never initialised reads as a free page.
 */
@inline function valid(pfn: u32): bool { return pfn < nr_frames() && pfn_valid(pfn); }
export function folio_mapcount(pfn: u32): i32 { return valid(pfn) ? rmap.total_mapcount(compound_head(pfn_to_page(pfn))) : 0; }

export function last_error(): i32 { return load<i32>(G_LAST_ERROR); }
export function clear_error(): void { store<i32>(G_LAST_ERROR, 0); }
export function page_mapcount(pfn: u32): i32 { return valid(pfn) ? rmap.page_mapcount(pfn_to_page(pfn)) : 0; }
export function total_mapcount(pfn: u32): i32 { return valid(pfn) ? rmap.total_mapcount(compound_head(pfn_to_page(pfn))) : 0; }
export function compound_mapcount(pfn: u32): i32 { return valid(pfn) ? rmap.compound_mapcount(pfn_to_page(pfn)) : 0; }
export function head_pfn(pfn: u32): u32 { return valid(pfn) ? page_to_pfn(compound_head(pfn_to_page(pfn))) : pfn; }
export function compound_order(pfn: u32): u32 { return valid(pfn) ? _compound_order(compound_head(pfn_to_page(pfn))) : 0; }
export function thp_is_queued(pfn: u32): bool { return valid(pfn) && _thp_is_queued(pfn_to_page(pfn)); }
export function deferred_split_folio(pfn: u32, partially_mapped: bool): void { _deferred_split_folio(pfn_to_page(pfn), partially_mapped); }
export function deferred_split_dequeue(pfn: u32): void { _deferred_split_dequeue(pfn_to_page(pfn)); }
export function folio_test_partially_mapped(pfn: u32): bool { return valid(pfn) && _folio_test_partially_mapped(pfn_to_page(pfn)); }
export function thp_underused(pfn: u32, max_ptes_none: u32): bool { return _thp_underused(pfn_to_page(pfn), max_ptes_none); }
export function split_huge_page(pfn: u32): i32 {
  const rc = _split_huge_page(pfn_to_page(pfn));
  store<u32>(G_SPLIT_COUNTS, 0); // the host's per-subpage counts were for this call only
  return rc;
}

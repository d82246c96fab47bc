// The rmap entry points the rest of the core calls (mm/rmap.c). They hide
// which mapcount scheme counts the mappings: G_SCHEME (set once by init)
// selects one of the modules in rmap/ (doublemap: Linux 4.5; naive; subpages:
// Linux 6.2; large: Linux 6.11+; nopagemapcount: 6.15+ NO_PAGE_MAPCOUNT),
// each with the same function set. Around the scheme they do what every
// kernel does: anon mapping/index, PG_swapbacked, PG_anon_exclusive (5.19+),
// _large_mapcount with the MM-owner slots (CONFIG_MM_ID, 6.15+; the large and
// nopagemapcount schemes keep _large_mapcount themselves otherwise), queueing
// for deferred split when the scheme says the folio is partially mapped, and
// the cost counters of each entry point (rmap/cost.ts).
import {
  PAGE_MAPPING, PAGE_INDEX, PAGE_MAPPING_ANON, PG_swapbacked, PG_anon_exclusive, STRUCT_PAGE_SIZE,
  CONFIG_ANON_EXCLUSIVE, CONFIG_MM_ID, HPAGE_PMD_NR, VM_THP_SPLIT_PMD, VM_NR_ANON_PAGES, PAGE_LARGE_MAPCOUNT, PAGE_MAPCOUNT,
  G_SCHEME, G_SPLIT_COUNTS, SCRATCH_BASE, SCHEME_NAIVE, SCHEME_SUBPAGES, SCHEME_LARGE,
  SCHEME_NOPAGEMAPCOUNT, COST_ADD_NEW, COST_DUP, COST_REMOVE, COST_SPLIT_PMD, COST_PAGE_MAPCOUNT,
  COST_FOLIO_MAPCOUNT,
} from "./layout";
import {
  set_bit, clear_bit, test_bit, compound_head, PageCompound, IS_ENABLED, page_ref_add,
  nth_page, count_vm_event, folio_nr_pages,
} from "./page";
import {
  doublemap_add_new_anon_rmap, doublemap_add_new_anon_rmap_ptes, doublemap_add_anon_rmap, doublemap_remove_rmap,
  doublemap_split_pmd, doublemap_page_mapcount, doublemap_total_mapcount,
  doublemap_compound_mapcount,
} from "./rmap/doublemap";
import {
  naive_add_new_anon_rmap, naive_add_new_anon_rmap_ptes, naive_add_anon_rmap, naive_remove_rmap, naive_split_pmd,
  naive_page_mapcount, naive_total_mapcount,
} from "./rmap/naive";
import {
  subpages_add_new_anon_rmap, subpages_add_new_anon_rmap_ptes, subpages_add_anon_rmap, subpages_remove_rmap, subpages_split_pmd,
  subpages_page_mapcount, subpages_total_mapcount,
} from "./rmap/subpages";
import {
  large_add_new_anon_rmap, large_add_new_anon_rmap_ptes, large_add_anon_rmap, large_add_anon_rmap_ptes, large_remove_rmap,
  large_remove_rmap_ptes, large_split_pmd, large_page_mapcount, large_total_mapcount,
} from "./rmap/large";
import {
  nopagemapcount_add_new_anon_rmap, nopagemapcount_add_new_anon_rmap_ptes, nopagemapcount_add_anon_rmap,
  nopagemapcount_add_anon_rmap_ptes, nopagemapcount_remove_rmap, nopagemapcount_remove_rmap_ptes, nopagemapcount_split_pmd,
  nopagemapcount_page_mapcount, nopagemapcount_total_mapcount,
} from "./rmap/nopagemapcount";
import { folio_set_large_mapcount, folio_add_large_mapcount, folio_sub_large_mapcount } from "./mm_id";
import { deferred_split_folio } from "./huge_memory";
import { cost_begin, cost_end, atomic_ops, touch } from "./rmap/cost";

@inline function scheme(): u32 { return load<u32>(G_SCHEME); }
/** The scheme keeps _large_mapcount even without the MM-owner slots. */
@inline function scheme_has_large(): bool {
  const s = scheme();
  return s == SCHEME_LARGE || s == SCHEME_NOPAGEMAPCOUNT;
}

// ---- _large_mapcount (+ MM-owner slots under CONFIG_MM_ID) ----------
function large_set(head: u32, n: i32, mm: u32): void {
  if (IS_ENABLED(CONFIG_MM_ID)) folio_set_large_mapcount(head, n, mm);
  else if (scheme_has_large()) store<i32>(head + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT, n - 1);
  else return;
  touch(head + STRUCT_PAGE_SIZE);
}
function large_add(head: u32, n: i32, mm: u32): void {
  if (IS_ENABLED(CONFIG_MM_ID)) folio_add_large_mapcount(head, n, mm);
  else if (scheme_has_large()) atomic.add<i32>(head + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT, n);
  else return;
  touch(head + STRUCT_PAGE_SIZE);
  atomic_ops(1);
}
function large_sub(head: u32, n: i32, mm: u32): void {
  if (IS_ENABLED(CONFIG_MM_ID)) folio_sub_large_mapcount(head, n, mm);
  else if (scheme_has_large()) atomic.sub<i32>(head + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT, n);
  else return;
  touch(head + STRUCT_PAGE_SIZE);
  atomic_ops(1);
}

/** __folio_set_anon: a new folio becomes anonymous (swap-backed, its anon_vma and linear index). */
function folio_set_anon(head: u32, av: u32, vpn: u64): void {
  touch(head);
  set_bit(head, PG_swapbacked);
  store<u32>(head + PAGE_MAPPING, (av << 2) | PAGE_MAPPING_ANON);
  store<u64>(head + PAGE_INDEX, vpn);
}

/** page_add_new_anon_rmap: map a brand-new page (PMD if compound) exclusively. */
export function page_add_new_anon_rmap(page: u32, compound: bool, mm: u32, av: u32, vpn: u64): void {
  const prev = cost_begin(COST_ADD_NEW);
  folio_set_anon(page, av, vpn);
  switch (scheme()) {
    case SCHEME_NAIVE: naive_add_new_anon_rmap(page, compound); break;
    case SCHEME_SUBPAGES: subpages_add_new_anon_rmap(page, compound); break;
    case SCHEME_LARGE: large_add_new_anon_rmap(page, compound); break;
    case SCHEME_NOPAGEMAPCOUNT: nopagemapcount_add_new_anon_rmap(page, compound); break;
    default: doublemap_add_new_anon_rmap(page, compound);
  }
  if (compound) large_set(page, 1, mm);
  if (IS_ENABLED(CONFIG_ANON_EXCLUSIVE)) set_bit(page, PG_anon_exclusive);
  cost_end(prev);
}

/**
 * folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE) for a large
 * folio of any order mapped by its nr PTEs (the !folio_test_pmd_mappable
 * branch: a multi-size THP of do_anonymous_page): anon mapping and index on
 * the folio, each page mapped once by the scheme, _large_mapcount = nr − 1
 * with `mm` owning all nr mappings, and PG_anon_exclusive on every page.
 */
export function folio_add_new_anon_rmap_ptes(head: u32, mm: u32, av: u32, vpn: u64): void {
  const prev = cost_begin(COST_ADD_NEW);
  const nr = folio_nr_pages(head);
  folio_set_anon(head, av, vpn);
  switch (scheme()) {
    case SCHEME_NAIVE: naive_add_new_anon_rmap_ptes(head, nr); break;
    case SCHEME_SUBPAGES: subpages_add_new_anon_rmap_ptes(head, nr); break;
    case SCHEME_LARGE: large_add_new_anon_rmap_ptes(head, nr); break;
    case SCHEME_NOPAGEMAPCOUNT: nopagemapcount_add_new_anon_rmap_ptes(head, nr); break;
    default: doublemap_add_new_anon_rmap_ptes(head, nr);
  }
  large_set(head, i32(nr), mm);
  if (IS_ENABLED(CONFIG_ANON_EXCLUSIVE)) {
    for (let i: u32 = 0; i < nr; i++) set_bit(nth_page(head, i), PG_anon_exclusive);
  }
  cost_end(prev);
}

/**
 * page_dup_rmap at fork (copy_one_pte / copy_huge_pmd): one more mapping of
 * an existing page; it is shared from now on, so PG_anon_exclusive goes.
 */
export function page_dup_rmap(page: u32, compound: bool, mm: u32): void {
  const prev = cost_begin(COST_DUP);
  if (PageCompound(page)) large_add(compound_head(page), 1, mm);
  switch (scheme()) {
    case SCHEME_NAIVE: naive_add_anon_rmap(page, compound); break;
    case SCHEME_SUBPAGES: subpages_add_anon_rmap(page, compound); break;
    case SCHEME_LARGE: large_add_anon_rmap(page, compound); break;
    case SCHEME_NOPAGEMAPCOUNT: nopagemapcount_add_anon_rmap(page, compound); break;
    default: doublemap_add_anon_rmap(page, compound);
  }
  clear_bit(page, PG_anon_exclusive);
  cost_end(prev);
}

/**
 * Whether the scheme's kernel updates the rmap of a PTE batch (folio_pte_batch:
 * consecutive PTEs mapping consecutive pages of one large folio) in one call:
 * 6.11+ (large) and 6.15+ (nopagemapcount) do (folio_try_dup_anon_rmap_ptes,
 * folio_remove_rmap_ptes); 4.5 (doublemap), 6.2 (subpages) and naive did it
 * page by page (page_dup_rmap / page_remove_rmap).
 */
export function rmap_batches_ptes(): bool { return scheme_has_large(); }

/**
 * folio_try_dup_anon_rmap_ptes(folio, page, nr) at fork (copy_present_ptes,
 * 6.11+): `nr` consecutive pages of one large folio from `page` get one more
 * PTE mapping each. Per page: PG_anon_exclusive cleared and, with per-page
 * mapcounts (CONFIG_PAGE_MAPCOUNT: the large scheme), atomic_inc of its
 * _mapcount; then ONE folio_add_large_mapcount(folio, nr) (MM-owner slots
 * included). Only schemes with rmap_batches_ptes() call this.
 */
export function folio_dup_anon_rmap_ptes(page: u32, nr: u32, mm: u32): void {
  const prev = cost_begin(COST_DUP);
  const head = compound_head(page);
  large_add(head, i32(nr), mm);
  if (scheme() == SCHEME_LARGE) large_add_anon_rmap_ptes(head, page, nr);
  else nopagemapcount_add_anon_rmap_ptes(head, nr);
  for (let i: u32 = 0; i < nr; i++) clear_bit(nth_page(page, i), PG_anon_exclusive);
  cost_end(prev);
}

/**
 * folio_remove_rmap_ptes(folio, page, nr) (zap_present_folio_ptes, 6.11+):
 * ONE folio_sub_large_mapcount(folio, nr), then the scheme's batch (large:
 * per-page _mapcount decrements and ONE atomic_sub_return of the pages that
 * became unmapped on _nr_pages_mapped; nopagemapcount: nothing per page),
 * and deferred split queueing decided once for the whole batch: a batch
 * that unmaps the whole folio does not queue it. Only schemes with
 * rmap_batches_ptes() call this.
 */
export function folio_remove_rmap_ptes(page: u32, nr: u32, mm: u32): void {
  const prev = cost_begin(COST_REMOVE);
  const head = compound_head(page);
  large_sub(head, i32(nr), mm);
  const queue = scheme() == SCHEME_LARGE
    ? large_remove_rmap_ptes(head, page, nr)
    : nopagemapcount_remove_rmap_ptes(head);
  cost_end(prev);
  if (queue) deferred_split_folio(head, true);
}

/** page_remove_rmap (+ deferred_split_folio(folio, true) when the scheme finds the folio partially mapped). */
export function page_remove_rmap(page: u32, compound: bool, mm: u32): void {
  const prev = cost_begin(COST_REMOVE);
  const head = compound_head(page);
  if (PageCompound(page)) large_sub(head, 1, mm);
  let queue: i32;
  switch (scheme()) {
    case SCHEME_NAIVE: queue = naive_remove_rmap(page, compound); break;
    case SCHEME_SUBPAGES: queue = subpages_remove_rmap(page, compound); break;
    case SCHEME_LARGE: queue = large_remove_rmap(page, compound); break;
    case SCHEME_NOPAGEMAPCOUNT: queue = nopagemapcount_remove_rmap(page, compound); break;
    default: queue = doublemap_remove_rmap(page, compound);
  }
  cost_end(prev);
  if (queue) deferred_split_folio(head, true);
}

/**
 * The rmap half of __split_huge_pmd_locked (non-freeze) for one PMD of `mm`:
 * the single PMD reference becomes 512 PTE references, and the scheme moves
 * the mapping from the compound count to the subpages.
 */
export function split_huge_pmd_rmap(head: u32, mm: u32): void {
  count_vm_event(VM_THP_SPLIT_PMD);
  page_ref_add(head, HPAGE_PMD_NR - 1);
  const prev = cost_begin(COST_SPLIT_PMD);
  // 6.x: folio_add_anon_rmap_ptes(512) then folio_remove_rmap_pmd(1).
  large_add(head, HPAGE_PMD_NR, mm);
  large_sub(head, 1, mm);
  switch (scheme()) {
    case SCHEME_NAIVE: naive_split_pmd(head); break;
    case SCHEME_SUBPAGES: subpages_split_pmd(head); break;
    case SCHEME_LARGE: large_split_pmd(head); break;
    case SCHEME_NOPAGEMAPCOUNT: nopagemapcount_split_pmd(head); break;
    default: doublemap_split_pmd(head);
  }
  cost_end(prev);
  if (test_bit(head, PG_anon_exclusive)) {
    for (let i: u32 = 1; i < HPAGE_PMD_NR; i++) set_bit(nth_page(head, i), PG_anon_exclusive);
  }
}

/** page_mapcount as the scheme's kernel reports it per page (/proc/kpagecount). */
export function page_mapcount(page: u32): i32 {
  const prev = cost_begin(COST_PAGE_MAPCOUNT);
  let r: i32;
  switch (scheme()) {
    case SCHEME_NAIVE: r = naive_page_mapcount(page); break;
    case SCHEME_SUBPAGES: r = subpages_page_mapcount(page); break;
    case SCHEME_LARGE: r = large_page_mapcount(page); break;
    case SCHEME_NOPAGEMAPCOUNT: r = nopagemapcount_page_mapcount(page); break;
    default: r = doublemap_page_mapcount(page);
  }
  cost_end(prev);
  return r;
}
/** total_mapcount / folio_mapcount: every PMD and PTE mapping of the folio. */
export function total_mapcount(head: u32): i32 {
  const prev = cost_begin(COST_FOLIO_MAPCOUNT);
  let r: i32;
  switch (scheme()) {
    case SCHEME_NAIVE: r = naive_total_mapcount(head); break;
    case SCHEME_SUBPAGES: r = subpages_total_mapcount(head); break;
    case SCHEME_LARGE: r = large_total_mapcount(head); break;
    case SCHEME_NOPAGEMAPCOUNT: r = nopagemapcount_total_mapcount(head); break;
    default: r = doublemap_total_mapcount(head);
  }
  cost_end(prev);
  return r;
}
/** compound_mapcount / folio_entire_mapcount: PMD maps (the same H[1] word in every scheme). */
@inline export function compound_mapcount(page: u32): i32 { return doublemap_compound_mapcount(page); }

/**
 * Before split_huge_page hands each subpage its own counts: a scheme without
 * per-page mapcounts (nopagemapcount) takes them from the rmap walk the host
 * did (freeze_page's count of PTEs per subpage, in scratch[0..nr-1], flagged
 * by G_SPLIT_COUNTS). Returns false when they are missing (split refused).
 */
export function split_prepare_subpages(head: u32): bool {
  if (scheme() != SCHEME_NOPAGEMAPCOUNT) return true;
  if (load<u32>(G_SPLIT_COUNTS) == 0) return false;
  store<u32>(G_SPLIT_COUNTS, 0);
  let mapped: i32 = 0;
  const nr = folio_nr_pages(head);
  for (let i: u32 = 0; i < nr; i++) {
    const n = load<i32>(SCRATCH_BASE + (i << 2));
    store<i32>(nth_page(head, i) + PAGE_MAPCOUNT, n - 1);
    if (n > 0) mapped++;
  }
  // NR_ANON_PAGES counted the whole folio while any part was mapped; now each small page counts
  const whole = load<i32>(head + STRUCT_PAGE_SIZE + PAGE_LARGE_MAPCOUNT) >= 0 ? i32(nr) : 0;
  count_vm_event(VM_NR_ANON_PAGES, mapped - whole);
  return true;
}


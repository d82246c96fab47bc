// The page-level halves of the fault, fork, zap and COW paths of
// mm/memory.c and mm/huge_memory.c. The host walks and writes the x86-64
// page tables; everything that touches struct pages happens here, one call
// per fault or per batch of PTEs (the host fills the scratch buffer with
// PFNs), never one call per subpage.
import {
  SCRATCH_BASE, NIL, HPAGE_PMD_NR, HPAGE_PMD_ORDER, ERR_NOMEM, ERR_FALLBACK, ERR_INVAL, PG_anon_exclusive, PAGE_REFCOUNT,
  CONFIG_MM_ID, CONFIG_ANON_EXCLUSIVE, CONFIG_COW_REUSE_REFCOUNT, VM_THP_FAULT_ALLOC, VM_THP_FAULT_FALLBACK,
  VM_THP_COLLAPSE_ALLOC, G_RESULT1, G_HUGE_ZERO_PFN,
} from "./layout";
import {
  pfn_to_page, page_to_pfn, nth_page, compound_head, PageCompound, set_error, count_vm_event, IS_ENABLED, test_bit,
  set_bit, page_ref_add, folio_nr_pages,
} from "./page";
import { alloc_pages, pte_alloc_one, pte_free, __free_pages } from "./page_alloc";
import {
  page_add_new_anon_rmap, folio_add_new_anon_rmap_ptes, page_dup_rmap, page_remove_rmap, page_mapcount, split_huge_pmd_rmap,
  rmap_batches_ptes, folio_dup_anon_rmap_ptes, folio_remove_rmap_ptes,
} from "./rmap";
import { thp_alloc, large_folio_alloc, get_page, put_page, get_huge_zero_page, put_huge_zero_page } from "./huge_memory";
import { large_mapcount_raw, folio_maybe_mapped_shared_bit } from "./mm_id";

@inline function scratch(i: u32): u32 { return load<u32>(SCRATCH_BASE + (i << 2)); }
@inline function set_scratch(i: u32, v: u32): void { store<u32>(SCRATCH_BASE + (i << 2), v); }

/**
 * do_anonymous_page (write fault): a new zeroed order-0 page mapped
 * exclusively by `mm`. Returns its PFN, or -ERR_NOMEM.
 */
export function do_anonymous_page(mm: u32, av: u32, vpn: f64): i32 {
  const pfn = alloc_pages(0);
  if (pfn == NIL) return set_error(ERR_NOMEM);
  page_add_new_anon_rmap(pfn_to_page(pfn), false, mm, av, u64(vpn));
  return i32(pfn);
}

/**
 * do_anonymous_page for `n` write faults in a row, one per page from `vpn`
 * (consecutive none PTEs of one table, faulted in ascending order): each
 * fault its own order-0 allocation and page_add_new_anon_rmap, exactly as
 * `n` calls of do_anonymous_page would do them, in the same order. The PFNs
 * go to scratch[0..n). Returns how many were mapped: fewer than `n` only
 * when memory ran out (-ERR_NOMEM set as the last error).
 */
export function do_anonymous_pages(mm: u32, av: u32, vpn: f64, n: u32): i32 {
  const index = u64(vpn);
  for (let i: u32 = 0; i < n; i++) {
    const pfn = alloc_pages(0);
    if (pfn == NIL) { set_error(ERR_NOMEM); return i32(i); }
    page_add_new_anon_rmap(pfn_to_page(pfn), false, mm, av, index + u64(i));
    set_scratch(i, pfn);
  }
  return i32(n);
}

/**
 * do_anonymous_page (write fault) with a large folio: the page half of
 * alloc_anon_folio + folio_ref_add(folio, nr - 1) +
 * folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE) for a multi-size
 * THP of `order` (2..9) that `mm` maps with nr = 1 << order PTEs from `vpn`
 * (aligned to nr pages, as the kernel aligns the fault address): each page
 * mapped once, _refcount nr. The host writes the nr PTEs. Returns the head
 * PFN, -ERR_FALLBACK when no block of that order is free (the caller tries
 * a smaller order), or -ERR_INVAL for a bad order or an unaligned vpn.
 * No vmstat event: the kernel counts mTHP faults in its per-order mthp
 * stats, not in THP_FAULT_ALLOC.
 */
export function do_anonymous_folio(mm: u32, av: u32, vpn: f64, order: u32): i32 {
  if (order < 2 || order > HPAGE_PMD_ORDER) return set_error(ERR_INVAL);
  const nr: u32 = 1 << order;
  const index = u64(vpn);
  if ((index & u64(nr - 1)) != 0) return set_error(ERR_INVAL);
  const pfn = large_folio_alloc(order);
  if (pfn == NIL) return set_error(ERR_FALLBACK);
  const head = pfn_to_page(pfn);
  page_ref_add(head, i32(nr) - 1);
  folio_add_new_anon_rmap_ptes(head, mm, av, index);
  return i32(pfn);
}

/**
 * do_anonymous_page with a large folio for `n` write faults in a row, one
 * per naturally aligned range of `order` from `vpn` (the host checked each
 * range as alloc_anon_folio would: in the VMA, every PTE none): per fault,
 * in order, what do_anonymous_folio does. The head PFNs go to
 * scratch[0..n). Returns how many faults got their folio: fewer than `n`
 * when no block of that order was free for fault i (-ERR_FALLBACK set as
 * the last error: the caller goes on down the fallback chain for it).
 */
export function do_anonymous_folios(n: u32, mm: u32, av: u32, vpn: f64, order: u32): i32 {
  for (let i: u32 = 0; i < n; i++) {
    const pfn = do_anonymous_folio(mm, av, vpn + f64(i << order), order);
    if (pfn < 0) return i32(i);
    set_scratch(i, u32(pfn));
  }
  return i32(n);
}

/**
 * do_huge_pmd_anonymous_page (write fault): a new THP mapped by one PMD,
 * plus the page table to deposit for a later split (G_RESULT1). Returns the
 * head PFN, -ERR_FALLBACK when no order-9 block is free (the caller maps an
 * order-0 page instead), or -ERR_NOMEM when the deposit table can't be had.
 */
export function do_huge_pmd_anonymous_page(mm: u32, av: u32, vpn: f64): i32 {
  const pfn = thp_alloc();
  if (pfn == NIL) {
    count_vm_event(VM_THP_FAULT_FALLBACK);
    return set_error(ERR_FALLBACK);
  }
  const table = pte_alloc_one();
  if (table == NIL) {
    put_page(pfn_to_page(pfn));
    return set_error(ERR_NOMEM);
  }
  page_add_new_anon_rmap(pfn_to_page(pfn), true, mm, av, u64(vpn));
  count_vm_event(VM_THP_FAULT_ALLOC);
  store<u32>(G_RESULT1, table);
  return i32(pfn);
}

/**
 * A new THP mapped by one PMD without a deposit table: the 4.5 whole-THP
 * COW copy and MADV_COLLAPSE (which deposits the old table). Returns the head
 * PFN or -ERR_FALLBACK.
 */
export function alloc_thp_pmd_mapped(mm: u32, av: u32, vpn: f64, collapse: bool): i32 {
  const pfn = thp_alloc();
  if (pfn == NIL) return set_error(ERR_FALLBACK);
  page_add_new_anon_rmap(pfn_to_page(pfn), true, mm, av, u64(vpn));
  if (collapse) count_vm_event(VM_THP_COLLAPSE_ALLOC);
  return i32(pfn);
}

/**
 * folio_pte_batch over scratch[i..n): how many entries from i map consecutive
 * pages of the same large folio (the host lists PFNs in PTE order, so
 * consecutive entries are consecutive PTEs of one table). 1 for a small page,
 * or when the scheme's kernel did the rmap page by page (rmap_batches_ptes).
 */
function pte_batch(i: u32, n: u32): u32 {
  const pfn = scratch(i);
  const page = pfn_to_page(pfn);
  if (!PageCompound(page) || !rmap_batches_ptes()) return 1;
  const head = compound_head(page);
  const end = page_to_pfn(head) + folio_nr_pages(head); // first PFN past the folio
  let nr: u32 = 1;
  while (i + nr < n && pfn + nr < end && scratch(i + nr) == pfn + nr) nr++;
  return nr;
}

/**
 * zap_pte_range's work for `n` PFNs in scratch: unmap, drop the reference.
 * The PFNs may be pages of large folios of any order; a run of them in one
 * folio is one zap_present_folio_ptes: folio_remove_rmap_ptes(folio, page,
 * nr) under the 6.11+ schemes, page_remove_rmap per page before.
 */
export function zap_pte_batch(n: u32, mm: u32): void {
  let i: u32 = 0;
  while (i < n) {
    const page = pfn_to_page(scratch(i));
    const nr = pte_batch(i, n);
    if (nr == 1) page_remove_rmap(page, false, mm);
    else folio_remove_rmap_ptes(page, nr, mm);
    for (let j: u32 = 0; j < nr; j++) put_page(nth_page(page, j));
    i += nr;
  }
}

/**
 * copy_pte_range's work for `n` PFNs in scratch: get_page + page_dup_rmap
 * per page; a run in one large folio is one copy_present_ptes batch under
 * the 6.11+ schemes: folio_ref_add(folio, nr) +
 * folio_try_dup_anon_rmap_ptes(folio, page, nr).
 */
export function dup_pte_batch(n: u32, mm: u32): void {
  let i: u32 = 0;
  while (i < n) {
    const page = pfn_to_page(scratch(i));
    const nr = pte_batch(i, n);
    if (nr == 1) {
      get_page(page);
      page_dup_rmap(page, false, mm);
    } else {
      page_ref_add(compound_head(page), i32(nr));
      folio_dup_anon_rmap_ptes(page, nr, mm);
    }
    i += nr;
  }
}

/** zap_huge_pmd: remove a PMD mapping of a THP and drop its reference. */
export function zap_huge_pmd(pfn: u32, mm: u32): void {
  const head = pfn_to_page(pfn);
  page_remove_rmap(head, true, mm);
  put_page(head);
}

/** copy_huge_pmd: the child's PMD maps the same THP. */
export function copy_huge_pmd(pfn: u32, mm: u32): void {
  const head = pfn_to_page(pfn);
  get_page(head);
  page_dup_rmap(head, true, mm);
}

/**
 * copy_huge_pmd for `n` huge PMDs in a row of one PMD table (scratch[i]: the
 * PFN entry i maps): per entry, in order, the page table to deposit for the
 * child's PMD (pte_alloc_one) and then the child's mapping (get_page +
 * page_dup_rmap of the THP; the huge zero page: get_huge_zero_page), as `n`
 * copy_huge_pmd calls preceded by their pgtable_alloc would do them.
 * scratch[i] becomes the table deposited for entry i. Returns how many were
 * copied: fewer than `n` only when no frame was left for a table (-ERR_NOMEM
 * set as the last error; the entries before it are copied).
 */
export function copy_huge_pmd_batch(n: u32, mm: u32): i32 {
  for (let i: u32 = 0; i < n; i++) {
    const table = pte_alloc_one();
    if (table == NIL) { set_error(ERR_NOMEM); return i32(i); }
    const pfn = scratch(i);
    if (pfn == load<u32>(G_HUGE_ZERO_PFN)) get_huge_zero_page();
    else copy_huge_pmd(pfn, mm);
    set_scratch(i, table);
  }
  return i32(n);
}

/**
 * zap_huge_pmd for `n` huge PMDs, already cleared by the host (scratch[2i]:
 * the PFN entry i mapped, scratch[2i+1]: its deposited table, or NIL): per
 * entry, in order, the deposited table is freed (pte_free) and then the
 * mapping removed (page_remove_rmap + put_page; the huge zero page:
 * put_huge_zero_page).
 */
export function zap_huge_pmd_batch(n: u32, mm: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const pfn = scratch(i << 1), table = scratch((i << 1) + 1);
    if (table != NIL) pte_free(table);
    if (pfn == load<u32>(G_HUGE_ZERO_PFN)) put_huge_zero_page();
    else zap_huge_pmd(pfn, mm);
  }
}

/** __split_huge_pmd_locked for a THP PMD of `mm` (the host rewrites the entries). */
export function split_huge_pmd(pfn: u32, mm: u32): void {
  split_huge_pmd_rmap(pfn_to_page(pfn), mm);
}

/** page_mapcount for `n` PFNs in scratch, answered in place. */
export function page_mapcount_batch(n: u32): void {
  for (let i: u32 = 0; i < n; i++) set_scratch(i, u32(page_mapcount(pfn_to_page(scratch(i)))));
}

/**
 * do_wp_page's reuse decision for an anonymous page mapped read-only by a
 * PTE (wp_can_reuse_anon_folio in 6.x, reuse_swap_page in 4.5). Returns 1
 * and marks the page exclusive when it may be written in place, 0 when the
 * caller must copy it.
 */
export function wp_page_reuse(pfn: u32): i32 {
  const page = pfn_to_page(pfn);
  if (IS_ENABLED(CONFIG_ANON_EXCLUSIVE) && test_bit(page, PG_anon_exclusive)) return 1;
  let reuse = false;
  if (!PageCompound(page)) {
    reuse = IS_ENABLED(CONFIG_COW_REUSE_REFCOUNT)
      ? load<i32>(page + PAGE_REFCOUNT) == 1 // wp_can_reuse_anon_folio: only our reference
      : page_mapcount(page) == 1; // reuse_swap_page: only our mapping
  } else if (IS_ENABLED(CONFIG_MM_ID)) {
    // __wp_can_reuse_large_anon_folio (6.15+)
    const head = compound_head(page);
    const mapcount = large_mapcount_raw(head) + 1;
    reuse = mapcount > 1 && !folio_maybe_mapped_shared_bit(head) && mapcount == load<i32>(head + PAGE_REFCOUNT);
  } // without the owner slots (reuse_swap_page) a page of a large folio is never reused
  if (reuse && IS_ENABLED(CONFIG_ANON_EXCLUSIVE)) set_bit(page, PG_anon_exclusive);
  return reuse ? 1 : 0;
}

/**
 * do_wp_page for `n` write faults in a row on read-only PTEs of one table
 * (scratch[i]: the PFN PTE i maps; consecutive PTEs from `vpn`, faulted in
 * ascending order): per fault, in order, the reuse decision
 * (wp_page_reuse) and, when the page must be copied, wp_page_copy's page
 * half: a new page (do_anonymous_page at vpn + i), then the old mapping's
 * page_remove_rmap + put_page (zap_pte_batch of that one PFN), exactly as
 * the faults one by one would. scratch[n + i] becomes the PFN PTE i maps
 * now: the old one when it was reused, else the copy. Returns how many
 * faults were handled: fewer than `n` only when memory ran out for a copy
 * (-ERR_NOMEM set as the last error).
 */
export function do_wp_page_batch(n: u32, mm: u32, av: u32, vpn: f64): i32 {
  for (let i: u32 = 0; i < n; i++) {
    const old = scratch(i);
    if (wp_page_reuse(old)) { set_scratch(n + i, old); continue; }
    const pfn = do_anonymous_page(mm, av, vpn + f64(i));
    if (pfn < 0) return i32(i);
    set_scratch(n + i, u32(pfn));
    // zap_pte_batch of one PFN: a single page is never a batch
    const page = pfn_to_page(old);
    page_remove_rmap(page, false, mm);
    put_page(page);
  }
  return i32(n);
}

/**
 * do_huge_pmd_wp_page's reuse decision for a read-only THP PMD. 6.x: the
 * page is exclusive or ours is the only reference; 4.5: page_mapcount == 1
 * and page_count == 1. Returns 1 to make the PMD writable in place.
 */
export function wp_huge_pmd_reuse(pfn: u32): i32 {
  const head = pfn_to_page(pfn);
  let reuse: bool;
  if (IS_ENABLED(CONFIG_ANON_EXCLUSIVE)) {
    reuse = test_bit(head, PG_anon_exclusive) || load<i32>(head + PAGE_REFCOUNT) == 1;
    if (reuse) set_bit(head, PG_anon_exclusive);
  } else {
    reuse = page_mapcount(head) == 1 && load<i32>(head + PAGE_REFCOUNT) == 1;
  }
  return reuse ? 1 : 0;
}

/** Allocate a page-table page for the host; returns the PFN or -ERR_NOMEM. */
export function pgtable_alloc(): i32 {
  const pfn = pte_alloc_one();
  if (pfn == NIL) return set_error(ERR_NOMEM);
  return i32(pfn);
}



/**
 * do_huge_pmd_wp_page_fallback (4.5): no THP for the COW copy, so copy the
 * 2 MiB into 512 new order-0 pages (PFNs left in scratch[0..511]), then drop
 * the old PMD mapping. Returns 0, or -ERR_NOMEM with nothing changed.
 */
export function do_huge_pmd_wp_page_fallback(oldHeadPfn: u32, mm: u32, av: u32, vpn: f64): i32 {
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = alloc_pages(0);
    if (pfn == NIL) {
      for (let j: u32 = 0; j < i; j++) {
        const p = pfn_to_page(scratch(j));
        store<i32>(p + PAGE_REFCOUNT, 0);
        __free_pages(p, 0);
      }
      return set_error(ERR_NOMEM);
    }
    set_scratch(i, pfn);
  }
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    page_add_new_anon_rmap(pfn_to_page(scratch(i)), false, mm, av, u64(vpn) + i);
  }
  const head = pfn_to_page(oldHeadPfn);
  page_remove_rmap(head, true, mm);
  put_page(head);
  return 0;
}

// Transparent huge pages (mm/huge_memory.c): THP allocation and prep, the
// THP destructor, the deferred split queue and its shrinker, split_huge_page
// ("freeze, split, unfreeze" collapsed into its net effect, see below), and
// the huge zero page with its refcount and shrinker.
import {
  STRUCT_PAGE_SIZE, HPAGE_PMD_ORDER, HPAGE_PMD_NR, PAGE_MAPCOUNT, PAGE_REFCOUNT, PAGE_FLAGS,
  PAGE_MAPPING, PAGE_INDEX, PAGE_COMPOUND_HEAD, PAGE_COMPOUND_DTOR, PAGE_COMPOUND_ORDER,
  PAGE_DEFERRED_LIST, PAGE_LARGE_MAPCOUNT, PAGE_MM_ID0, PAGE_MM_ID1, PAGE_MM_ID_MAPCOUNT0,
  PAGE_MM_ID_MAPCOUNT1, PG_head, PG_anon_exclusive, PG_nonzero, SCRATCH_BASE, SCRATCH_SLOTS, PG_swapbacked, PG_uptodate, PG_dirty,
  PG_referenced, PG_partially_mapped, PAGE_FLAGS_CHECK_AT_PREP, TRANSHUGE_PAGE_DTOR, G_SPLIT_QUEUE,
  G_SPLIT_QUEUE_LEN, G_HUGE_ZERO_PFN, G_HUGE_ZERO_REFCOUNT, NIL, VM_THP_SPLIT_PAGE,
  VM_THP_DEFERRED_SPLIT_PAGE, VM_THP_ZERO_PAGE_ALLOC, ERR_BUSY,
} from "./layout";
import {
  pfn_to_page, page_to_pfn, nth_page, compound_head, compound_mapcount_raw, PageHead,
  list_init, list_add_tail, list_del, list_next, count_vm_event, set_error, page_ref_add,
  clear_bit, set_bit, test_bit, compound_order, folio_nr_pages, folio_test_pmd_mappable,
} from "./page";
import { alloc_pages, __free_pages, clear_first_tail_words } from "./page_alloc";
import { total_mapcount, split_prepare_subpages } from "./rmap";
import { mm_id_prep } from "./mm_id";

@inline function deferred_list(head: u32): u32 {
  return nth_page(head, 2) + PAGE_DEFERRED_LIST;
}
@inline function deferred_list_to_head(node: u32): u32 {
  return node - PAGE_DEFERRED_LIST - 2 * STRUCT_PAGE_SIZE;
}
/** Whether the THP is on the deferred split queue (its node is not self-linked). */
@inline export function thp_is_queued(head: u32): bool {
  const node = deferred_list(head);
  return load<u32>(node) != node;
}

/**
 * prep_transhuge_page: empty deferred-list node in H[2], THP destructor.
 * For any large folio of order >= 2 (order 2 is the smallest with an H[2]
 * for the node: the kernel never queues order 0-1 folios either).
 */
export function prep_transhuge_page(head: u32): void {
  list_init(deferred_list(head));
  store<u32>(nth_page(head, 1) + PAGE_COMPOUND_DTOR, TRANSHUGE_PAGE_DTOR);
  mm_id_prep(head);
}

/** Allocate an anonymous THP (order 9, prepped), or NIL when no block is free. */
export function thp_alloc(): u32 {
  return large_folio_alloc(HPAGE_PMD_ORDER);
}

/**
 * vma_alloc_folio of an anonymous large folio of `order` (2..9, prepped:
 * alloc_anon_folio / vma_alloc_anon_folio_pmd), or NIL when no block of that
 * order is free.
 */
export function large_folio_alloc(order: u32): u32 {
  const pfn = alloc_pages(order);
  if (pfn == NIL) return NIL;
  prep_transhuge_page(pfn_to_page(pfn));
  return pfn;
}

/** free_transhuge_page: the THP destructor unlinks it from the split queue. */
function free_transhuge_page(head: u32): void {
  deferred_split_dequeue(head);
  const node = deferred_list(head);
  clear_bit(nth_page(head, 1), PG_partially_mapped); // folio_unqueue_deferred_split
  store<u64>(node, 0);
  store<u64>(node + 8, 0);
  __free_pages(head, compound_order(head));
}

/** get_page: references live on the head. */
@inline export function get_page(page: u32): void { page_ref_add(compound_head(page), 1); }

/** put_page: drop a reference; at zero, run the destructor / free. */
export function put_page(page: u32): void {
  const head = compound_head(page);
  const v = page_ref_add(head, -1);
  if (v != 0) return;
  if (PageHead(head)) {
    const first = nth_page(head, 1);
    if (load<u32>(first + PAGE_COMPOUND_DTOR) == TRANSHUGE_PAGE_DTOR) free_transhuge_page(head);
    else __free_pages(head, load<u32>(first + PAGE_COMPOUND_ORDER));
  } else {
    __free_pages(head, 0);
  }
}

/**
 * deferred_split_folio: queue a THP once. `partially_mapped` (the rmap
 * found a subpage unmapped) also sets PG_partially_mapped, which only a
 * split or a free clears; without it (6.12+: a new THP queued for the
 * underused shrinker) the flag is left as it is.
 */
export function deferred_split_folio(head: u32, partially_mapped: bool): void {
  const first = nth_page(head, 1);
  if (partially_mapped && !test_bit(first, PG_partially_mapped)) {
    set_bit(first, PG_partially_mapped);
    // the vmstat counts PMD-size THPs only (the mTHP stats count the rest)
    if (folio_test_pmd_mappable(head)) count_vm_event(VM_THP_DEFERRED_SPLIT_PAGE);
  }
  const node = deferred_list(head);
  if (load<u32>(node) != node) return;
  list_add_tail(node, G_SPLIT_QUEUE);
  store<u32>(G_SPLIT_QUEUE_LEN, load<u32>(G_SPLIT_QUEUE_LEN) + 1);
}

/** Take a THP off the deferred split queue (list_del_init), if it is on it. */
export function deferred_split_dequeue(head: u32): void {
  const node = deferred_list(head);
  if (load<u32>(node) == node) return;
  list_del(node);
  list_init(node);
  store<u32>(G_SPLIT_QUEUE_LEN, load<u32>(G_SPLIT_QUEUE_LEN) - 1);
}

/** folio_test_partially_mapped. */
export function folio_test_partially_mapped(head: u32): bool {
  return test_bit(nth_page(head, 1), PG_partially_mapped);
}

/**
 * thp_underused (6.12+): more than `max_ptes_none` of the THP's subpages are
 * zero-filled (the emulator knows a page's content by PG_nonzero, set by a
 * write). Counts with the kernel's two early exits. PMD-size folios only:
 * only do_huge_pmd_anonymous_page queues a folio that is not partially
 * mapped, so the shrinker never asks about a smaller one (observed on the
 * 6.18 kernel: an mTHP is never split as underused).
 */
export function thp_underused(head: u32, max_ptes_none: u32): bool {
  if (!folio_test_pmd_mappable(head)) return false;
  if (max_ptes_none >= HPAGE_PMD_NR - 1) return false;
  let zero: u32 = 0, filled: u32 = 0;
  for (let i: u32 = 0; i < HPAGE_PMD_NR; i++) {
    if (!test_bit(nth_page(head, i), PG_nonzero)) {
      if (++zero > max_ptes_none) return true;
    } else if (++filled >= HPAGE_PMD_NR - max_ptes_none) return false;
  }
  return false;
}

// Flags a tail inherits from the head at split (__split_huge_page_tail).
const SPLIT_COPY_FLAGS: u32 = (1 << PG_referenced) | (1 << PG_swapbacked) | (1 << PG_uptodate) | (1 << PG_dirty);

/**
 * split_huge_page(page) for a large folio of any order (to order 0) with no
 * PMD mapping left (the caller split
 * every PMD first, as freeze_page does with __split_huge_pmd_locked).
 * The can-split rule: total_mapcount == page_count - 1 (the caller's
 * reference), i.e. no extra pins. Freezing every PTE into a migration entry
 * and unfreezing it onto the independent page nets out to: each subpage keeps
 * its _mapcount and gets _refcount = its mappings; PG_head, compound_head,
 * the H[1]/H[2] fields go; unmapped subpages are freed by the final
 * put_page loop. Returns 0, or -ERR_BUSY.
 */
export function split_huge_page(head: u32): i32 {
  if (!PageHead(head) || compound_mapcount_raw(head) != -1) return set_error(ERR_BUSY);
  page_ref_add(head, 1); // the caller's reference (get_page)
  if (total_mapcount(head) != load<i32>(head + PAGE_REFCOUNT) - 1 || !split_prepare_subpages(head)) {
    page_ref_add(head, -1);
    return set_error(ERR_BUSY);
  }
  // Off the deferred queue (under split_queue_lock in the kernel); the
  // tails' flags, PG_partially_mapped among them, are rewritten below.
  deferred_split_dequeue(head);
  const mapping = load<u32>(head + PAGE_MAPPING);
  const index = load<u64>(head + PAGE_INDEX);
  const headFlags = load<u32>(head + PAGE_FLAGS);
  const order = compound_order(head);
  const nr = folio_nr_pages(head);
  // H[1] and H[2] carried compound state in their spare words: scrub it.
  const first = nth_page(head, 1);
  clear_first_tail_words(first);
  for (let i: u32 = nr - 1; i >= 1; i--) {
    const t = nth_page(head, i);
    const mc = load<i32>(t + PAGE_MAPCOUNT) + 1;
    store<i32>(t + PAGE_REFCOUNT, mc);
    const own = load<u32>(t + PAGE_FLAGS) & ((1 << PG_anon_exclusive) | (1 << PG_nonzero));
    store<u32>(t + PAGE_FLAGS, (load<u32>(t + PAGE_FLAGS) & ~PAGE_FLAGS_CHECK_AT_PREP) | (headFlags & SPLIT_COPY_FLAGS) | own);
    store<u32>(t + PAGE_COMPOUND_HEAD, 0);
    store<u32>(t + PAGE_MAPPING, mapping);
    store<u64>(t + PAGE_INDEX, index + i);
  }
  // The head keeps its own mappings' references plus the caller's.
  store<i32>(head + PAGE_REFCOUNT, load<i32>(head + PAGE_MAPCOUNT) + 2);
  clear_bit(head, PG_head);
  if (order == HPAGE_PMD_ORDER) count_vm_event(VM_THP_SPLIT_PAGE); // PMD-size only; mTHP: count_mthp_stat
  // The put_page loop over the tails: a subpage nobody maps is freed.
  for (let i: u32 = 1; i < nr; i++) {
    const t = nth_page(head, i);
    if (load<i32>(t + PAGE_REFCOUNT) == 0) __free_pages(t, 0);
  }
  // Finally the caller drops its reference on the (former) head.
  put_page(head);
  return 0;
}

/**
 * deferred_split_scan: split every queued large folio, any order (each has
 * lost its PMD mappings and has unmapped subpages). Returns the number split.
 */
export function deferred_split_scan(): i32 {
  let n = 0;
  let node = list_next(G_SPLIT_QUEUE);
  while (node != G_SPLIT_QUEUE) {
    const next = list_next(node);
    const head = deferred_list_to_head(node);
    if (split_huge_page(head) == 0) n++;
    node = next;
  }
  return n;
}

/** The heads of the queued THPs (PFNs into scratch, in queue order); returns how many. */
export function deferred_split_list(): u32 {
  let n: u32 = 0;
  let node = list_next(G_SPLIT_QUEUE);
  while (node != G_SPLIT_QUEUE && n < SCRATCH_SLOTS) {
    store<u32>(SCRATCH_BASE + (n << 2), page_to_pfn(deferred_list_to_head(node)));
    n++;
    node = list_next(node);
  }
  return n;
}

// ---- the huge zero page ----------------------------------------------------
/** get_huge_zero_page: the PFN, allocating on first use (refcount 2), or NIL. */
export function get_huge_zero_page(): u32 {
  const rc = load<u32>(G_HUGE_ZERO_REFCOUNT);
  if (rc != 0) {
    store<u32>(G_HUGE_ZERO_REFCOUNT, rc + 1);
    return load<u32>(G_HUGE_ZERO_PFN);
  }
  const pfn = alloc_pages(HPAGE_PMD_ORDER);
  if (pfn == NIL) return NIL;
  count_vm_event(VM_THP_ZERO_PAGE_ALLOC);
  store<u32>(G_HUGE_ZERO_PFN, pfn);
  store<u32>(G_HUGE_ZERO_REFCOUNT, 2); // the caller's and the shrinker's
  return pfn;
}
/** put_huge_zero_page: it never reaches zero here; the shrinker frees it. */
export function put_huge_zero_page(): void {
  store<u32>(G_HUGE_ZERO_REFCOUNT, load<u32>(G_HUGE_ZERO_REFCOUNT) - 1);
}
/** The huge zero page shrinker: free it when only the shrinker's ref is left. */
export function shrink_huge_zero_page(): i32 {
  if (load<u32>(G_HUGE_ZERO_REFCOUNT) != 1) return 0;
  store<u32>(G_HUGE_ZERO_REFCOUNT, 0);
  const page = pfn_to_page(load<u32>(G_HUGE_ZERO_PFN));
  store<u32>(G_HUGE_ZERO_PFN, NIL);
  put_page(page);
  return HPAGE_PMD_NR;
}

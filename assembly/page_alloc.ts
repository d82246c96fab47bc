// The buddy allocator and compound-page setup (mm/page_alloc.c, Linux 4.5):
// free_area[0..10] lists linked through page->lru, PageBuddy as the
// _mapcount sentinel -128 with the order in page_private, split on
// allocation (expand) and merge on free (__free_one_page), and the
// allocation/free-time page checks that turn corruption into bad_page().
import {
  STRUCT_PAGE_SIZE, STRUCT_PAGE_SHIFT, MAX_ORDER, G_FREE_AREA, FREE_AREA_STRIDE, G_NR_FRAMES,
  MEM_SECTION_BASE, CHUNK_SECTION_BASE, CHUNK_SHIFT, NR_CHUNKS, HEAP_BASE, SECTION_SHIFT, PAGES_PER_SECTION,
  NR_MEM_SECTIONS, G_HEAP_TOP, G_CHUNK_LIMIT, G_MEMORY_EXHAUSTED, G_PT_FREE, G_PT_CARVE, G_FIRST_DEFERRED_PFN, G_DEFERRED_END,
  PAGE_FLAGS, PAGE_LRU_NEXT, PAGE_PRIVATE, PAGE_MAPPING, PAGE_INDEX, PAGE_MAPCOUNT,
  PAGE_REFCOUNT, PAGE_COMPOUND_HEAD, PAGE_COMPOUND_DTOR, PAGE_COMPOUND_ORDER, PAGE_MEMCG,
  PAGE_BUDDY_MAPCOUNT_VALUE, PG_head, PG_reserved, PG_pgtable, TAIL_MAPPING,
  COMPOUND_PAGE_DTOR, PAGE_FLAGS_CHECK_AT_FREE, PAGE_FLAGS_CHECK_AT_PREP,
  BAD_MAPCOUNT, BAD_MAPPING, BAD_REFCOUNT, BAD_FLAGS, BAD_COMPOUND_MAPCOUNT, BAD_TAIL,
  VM_NR_FREE_PAGES, VM_PGALLOC, VM_PGFREE, VM_NR_PAGETABLE, G_ZERO_PFN, G_HUGE_ZERO_PFN,
  NIL, PAGE_SHIFT,
  G_SPLIT_QUEUE, PAGE_LARGE_MAPCOUNT, PAGE_MM_ID0, PAGE_MM_ID1, PAGE_MM_ID_MAPCOUNT0,
  PAGE_MM_ID_MAPCOUNT1, PAGE_DEFERRED_LIST, G_VMSTAT, VM_NR_COUNTERS,
} from "./layout";
import {
  pfn_to_page, page_to_pfn, nth_page, list_init, list_add, list_add_tail, list_del,
  list_empty, list_next, bad_page, count_vm_event, set_bit, clear_bit, test_bit,
  compound_mapcount_ptr, pfn_valid, section_mem_map,
} from "./page";

// ---- PageBuddy (4.5: _mapcount == PAGE_BUDDY_MAPCOUNT_VALUE) ---------------
@inline function PageBuddy(page: u32): bool {
  return load<i32>(page + PAGE_MAPCOUNT) == PAGE_BUDDY_MAPCOUNT_VALUE;
}
@inline function set_page_order(page: u32, order: u32): void {
  store<u32>(page + PAGE_PRIVATE, order);
  store<i32>(page + PAGE_MAPCOUNT, PAGE_BUDDY_MAPCOUNT_VALUE);
}
@inline function rmv_page_order(page: u32): void {
  store<i32>(page + PAGE_MAPCOUNT, -1);
  store<u32>(page + PAGE_PRIVATE, 0);
}
@inline export function page_order(page: u32): u32 { return load<u32>(page + PAGE_PRIVATE); }
@inline function free_list(order: u32): u32 { return G_FREE_AREA + order * FREE_AREA_STRIDE; }
@inline function nr_free_ptr(order: u32): u32 { return G_FREE_AREA + order * FREE_AREA_STRIDE + 16; }
@inline function lru(page: u32): u32 { return page + PAGE_LRU_NEXT; }
@inline function lru_to_page(node: u32): u32 { return node - PAGE_LRU_NEXT; }

@inline export function nr_frames(): u32 { return load<u32>(G_NR_FRAMES); }

// ---- the heap of 64 KiB chunks (memory.grow on demand) ----------------------
/**
 * The next 64 KiB chunk of linear memory (a section's mem_map, or the
 * entries of 16 page-table pages), zeroed; 0 when the WebAssembly memory
 * cannot grow (the wasm32 ceiling: 4 GiB), and G_MEMORY_EXHAUSTED is set:
 * an allocation that fails for this reason is the emulator's limit, not the
 * emulated kernel's, so the host fails the whole operation (and rolls it
 * back) instead of letting a THP fault fall back. Chunks are handed out in
 * the order the work asks for them, so the memory grows with the work done.
 */
function alloc_chunk(): u32 {
  const chunk = load<u32>(G_HEAP_TOP);
  const limit = load<u32>(G_CHUNK_LIMIT);
  if (chunk >= limit) { store<u32>(G_MEMORY_EXHAUSTED, 1); return 0; }
  const have = u32(memory.size());
  if (chunk >= have) {
    // Grow by an eighth at least: V8's memory.grow takes time in proportion
    // to the memory's size, so growing a chunk at a time would be quadratic.
    // Pages never written cost no RSS (the OS backs them on first touch).
    const need = chunk + 1 - have;
    let step = max<u32>(need, max<u32>(have >> 3, 16));
    if (have + step > limit) step = limit - have;
    if (memory.grow(i32(step)) < 0 && memory.grow(i32(need)) < 0) { store<u32>(G_MEMORY_EXHAUSTED, 1); return 0; }
  }
  store<u32>(G_HEAP_TOP, chunk + 1);
  const addr = chunk << CHUNK_SHIFT;
  memory.fill(addr, 0, 1 << CHUNK_SHIFT); // a chunk handed out again after a rollback is not zero
  return addr;
}

/** Cap the linear memory at `chunks` 64 KiB chunks (tests of running out of it); never below what is in use. */
export function set_memory_limit(chunks: u32): void {
  store<u32>(G_CHUNK_LIMIT, max<u32>(load<u32>(G_HEAP_TOP), min<u32>(chunks, NR_CHUNKS)));
}

// ---- SPARSEMEM sections and deferred struct page init ------------------------
/**
 * sparse_init_one_section + memmap_init_range/__init_single_page: give
 * section `section` its mem_map and initialise the struct pages of its
 * frames below nr_frames (_refcount 0, _mapcount -1: page_mapcount_reset).
 * Returns the mem_map, or 0 when no memory is left for it.
 */
function sparse_init_section(section: u32): u32 {
  const map = alloc_chunk();
  if (map == 0) return 0;
  store<u32>(MEM_SECTION_BASE + (section << 2), map);
  store<u32>(CHUNK_SECTION_BASE + ((map >> CHUNK_SHIFT) << 2), section + 1);
  const first = section << SECTION_SHIFT;
  const n = min<u32>(PAGES_PER_SECTION, nr_frames() - first);
  for (let i: u32 = 0; i < n; i++) store<i32>(map + (i << STRUCT_PAGE_SHIFT) + PAGE_MAPCOUNT, -1);
  return map;
}

/** Max-order blocks not initialised yet (counted free since boot, listed nowhere). */
@inline function nr_deferred_blocks(): u32 {
  return (load<u32>(G_DEFERRED_END) - load<u32>(G_FIRST_DEFERRED_PFN)) >> SECTION_SHIFT;
}

/**
 * deferred_grow_zone / deferred_init_memmap: the buddy allocator found no
 * free block of the order it needs, so initialise the struct pages of the
 * next never-initialised section (one max-order block, at first_deferred_pfn)
 * and put it on the max-order free list. false when none is left or there
 * is no memory for its mem_map.
 *
 * In the kernel, deferred init finishes before user space starts
 * (page_alloc_init_late waits for it), so every observation sees all memory
 * initialised and free. The emulator defers it until a block is needed and
 * counts the deferred blocks as free from boot (free_area[MAX_ORDER - 1]
 * and NR_FREE_PAGES): taking them lowest first, after the blocks freed back
 * to the max-order list, is exactly the order in which the eager buddy list
 * (every block listed in ascending order at boot) would hand them out.
 */
function deferred_grow_zone(): bool {
  const pfn = load<u32>(G_FIRST_DEFERRED_PFN);
  if (pfn >= load<u32>(G_DEFERRED_END)) return false;
  const page = sparse_init_section(pfn >> SECTION_SHIFT);
  if (page == 0) return false;
  store<u32>(G_FIRST_DEFERRED_PFN, pfn + PAGES_PER_SECTION);
  set_page_order(page, MAX_ORDER - 1);
  list_add_tail(lru(page), free_list(MAX_ORDER - 1));
  return true;
}

/**
 * Build the memory map: every whole section is a free max-order block from
 * boot, counted but not initialised (deferred_grow_zone initialises it when
 * the allocator first needs it); a partial last section is initialised now
 * and handed to the buddy lists in maximal aligned blocks; then the 4 KiB
 * zero page is reserved (mm/memory.c's ZERO_PAGE is a reserved frame).
 */
export function mem_init(frames: u32): i32 {
  if (frames == 0 || frames > (NR_MEM_SECTIONS << SECTION_SHIFT)) return -1;
  const base = i32(HEAP_BASE >> CHUNK_SHIFT) - memory.size();
  if (base > 0 && memory.grow(base) < 0) return -1;
  for (let o: u32 = 0; o < MAX_ORDER; o++) {
    list_init(free_list(o));
    store<u32>(nr_free_ptr(o), 0);
  }
  for (let i: u32 = 0; i < VM_NR_COUNTERS; i++) store<u32>(G_VMSTAT + (i << 2), 0);
  store<u32>(G_NR_FRAMES, frames);
  store<u32>(G_HEAP_TOP, HEAP_BASE >> CHUNK_SHIFT);
  store<u32>(G_CHUNK_LIMIT, NR_CHUNKS);
  store<u32>(G_PT_FREE, 0);
  store<u32>(G_PT_CARVE, 0);
  store<u32>(G_HUGE_ZERO_PFN, NIL);
  list_init(G_SPLIT_QUEUE);
  const end = frames & ~(PAGES_PER_SECTION - 1);
  store<u32>(G_FIRST_DEFERRED_PFN, 0);
  store<u32>(G_DEFERRED_END, end);
  store<u32>(nr_free_ptr(MAX_ORDER - 1), end >> SECTION_SHIFT);
  count_vm_event(VM_NR_FREE_PAGES, end);
  // The partial last section: maximal aligned blocks, ascending at the tail
  // of each list, so the lowest PFNs are handed out first.
  if (end < frames) {
    if (sparse_init_section(end >> SECTION_SHIFT) == 0) return -1;
    let pfn = end;
    while (pfn < frames) {
      let order: u32 = MAX_ORDER - 1;
      while (order > 0 && ((pfn & ((1 << order) - 1)) != 0 || pfn + (1 << order) > frames)) order--;
      const page = pfn_to_page(pfn);
      set_page_order(page, order);
      list_add_tail(lru(page), free_list(order));
      store<u32>(nr_free_ptr(order), load<u32>(nr_free_ptr(order)) + 1);
      count_vm_event(VM_NR_FREE_PAGES, 1 << order);
      pfn += 1 << order;
    }
  }
  // The shared zero page: a reserved frame, never counted, never freed.
  const zpage = __rmqueue(0);
  if (zpage == 0) return -1;
  prep_new_page(zpage, 0);
  set_bit(zpage, PG_reserved);
  store<u32>(G_ZERO_PFN, page_to_pfn(zpage));
  return 0;
}

/**
 * The sections against first_deferred_pfn: those below it and the partial
 * last one have a mem_map that maps back to them (chunk → section) and
 * every struct page of a frame in them is initialised (not all zero); the
 * others have none. Returns 0, or the first offending PFN + 1 negated.
 */
export function check_sections(): i32 {
  const frames = nr_frames();
  const deferred = load<u32>(G_FIRST_DEFERRED_PFN), end = load<u32>(G_DEFERRED_END);
  if ((deferred & (PAGES_PER_SECTION - 1)) != 0 || deferred > end) return -1;
  const sections = (frames + PAGES_PER_SECTION - 1) >> SECTION_SHIFT;
  for (let s: u32 = 0; s < sections; s++) {
    const first = s << SECTION_SHIFT;
    const map = section_mem_map(s);
    const present = first < deferred || first >= end;
    if (present != (map != 0)) return -i32(first + 1);
    if (map == 0) continue;
    if (load<u32>(CHUNK_SECTION_BASE + ((map >> CHUNK_SHIFT) << 2)) != s + 1) return -i32(first + 1);
    const n = min<u32>(PAGES_PER_SECTION, frames - first);
    for (let i: u32 = 0; i < n; i++) {
      const page = map + (i << STRUCT_PAGE_SHIFT);
      let w: u32 = 0;
      while (w < STRUCT_PAGE_SIZE && load<u64>(page + w) == 0) w += 8;
      if (w == STRUCT_PAGE_SIZE) return -i32(first + i + 1);
    }
  }
  return 0;
}

// ---- freeing ----------------------------------------------------------------
/** __free_one_page: merge with free buddies as far as possible, then list it. */
function __free_one_page(page: u32, pfn: u32, order: u32): void {
  const frames = nr_frames();
  count_vm_event(VM_NR_FREE_PAGES, 1 << order);
  while (order < MAX_ORDER - 1) {
    const buddy_pfn = pfn ^ (1 << order);
    if (buddy_pfn >= frames) break;
    // below the max order a block and its buddy share a section: pointer arithmetic
    const buddy = (buddy_pfn & (1 << order)) != 0 ? page + (STRUCT_PAGE_SIZE << order) : page - (STRUCT_PAGE_SIZE << order);
    if (!PageBuddy(buddy) || page_order(buddy) != order) break;
    list_del(lru(buddy));
    store<u32>(nr_free_ptr(order), load<u32>(nr_free_ptr(order)) - 1);
    rmv_page_order(buddy);
    pfn = buddy_pfn & pfn;
    if (buddy < page) page = buddy;
    order++;
  }
  set_page_order(page, order);
  list_add(lru(page), free_list(order));
  store<u32>(nr_free_ptr(order), load<u32>(nr_free_ptr(order)) + 1);
}

/** free_pages_check: the per-page checks at free time. Returns true if bad. */
function free_pages_check(page: u32): bool {
  if (load<i32>(page + PAGE_MAPCOUNT) != -1) { bad_page(page, BAD_MAPCOUNT); return true; }
  if (load<u32>(page + PAGE_MAPPING) != 0) { bad_page(page, BAD_MAPPING); return true; }
  if (load<i32>(page + PAGE_REFCOUNT) != 0) { bad_page(page, BAD_REFCOUNT); return true; }
  if ((load<u32>(page + PAGE_FLAGS) & PAGE_FLAGS_CHECK_AT_FREE) != 0) { bad_page(page, BAD_FLAGS); return true; }
  store<u32>(page + PAGE_FLAGS, load<u32>(page + PAGE_FLAGS) & ~PAGE_FLAGS_CHECK_AT_PREP);
  store<u64>(page + PAGE_INDEX, 0);
  store<u32>(page + PAGE_PRIVATE, 0);
  return false;
}

/** Scrub the compound state a first tail page keeps in its spare words (dtor, order, MM-owner slots). */
export function clear_first_tail_words(page: u32): void {
  store<u32>(page + PAGE_COMPOUND_DTOR, 0);
  store<u32>(page + PAGE_COMPOUND_ORDER, 0);
  store<u64>(page + PAGE_LARGE_MAPCOUNT, 0);
  store<u32>(page + PAGE_MM_ID0, 0);
  store<u32>(page + PAGE_MM_ID1, 0);
  store<u32>(page + PAGE_MM_ID_MAPCOUNT0, 0);
  store<u32>(page + PAGE_MM_ID_MAPCOUNT1, 0);
}

/** free_tail_pages_check (CONFIG_DEBUG_VM semantics): returns true if bad. */
function free_tail_pages_check(head: u32, i: u32): bool {
  const page = nth_page(head, i);
  let bad = false;
  if (i == 1) {
    if (load<i32>(compound_mapcount_ptr(head)) != -1) { bad_page(page, BAD_COMPOUND_MAPCOUNT); bad = true; }
    // compound_mapcount overlays mapping; clear the CONFIG_MM_ID words too.
    clear_first_tail_words(page);
  } else if (i == 2) {
    // the deferred list node: ignored here (free_transhuge_page unlinked it)
    store<u64>(page + PAGE_INDEX, 0);
  } else if (load<u32>(page + PAGE_MAPPING) != TAIL_MAPPING) {
    bad_page(page, BAD_TAIL); bad = true;
  }
  if ((load<u32>(page + PAGE_COMPOUND_HEAD)) != head + 1) { bad_page(page, BAD_TAIL); bad = true; }
  store<u32>(page + PAGE_MAPPING, 0);
  store<u32>(page + PAGE_COMPOUND_HEAD, 0);
  return bad;
}

/**
 * __free_pages_ok / free_pages_prepare: check every page of the block, then
 * give it back to the buddy allocator. A bad page is reported and the block
 * is leaked (as the kernel does), never silently reused.
 */
export function __free_pages(page: u32, order: u32): void {
  let bad = false;
  if (order > 0) {
    clear_bit(page, PG_head);
    const n: u32 = 1 << order;
    for (let i: u32 = 1; i < n; i++) {
      if (free_tail_pages_check(page, i)) bad = true;
      if (free_pages_check(nth_page(page, i))) bad = true;
    }
  }
  // An anonymous page's mapping is cleared by the free path itself.
  if ((load<u32>(page + PAGE_MAPPING) & 1) != 0) store<u32>(page + PAGE_MAPPING, 0);
  if (free_pages_check(page)) bad = true;
  if (bad) return;
  count_vm_event(VM_PGFREE, 1 << order);
  __free_one_page(page, page_to_pfn(page), order);
}

// ---- allocation -------------------------------------------------------------
/** __rmqueue_smallest + expand: take a block of at least `order`, split the rest back; its struct page, or 0. */
function __rmqueue(order: u32): u32 {
  for (let current = order; current < MAX_ORDER; current++) {
    const head = free_list(current);
    if (list_empty(head) && (current != MAX_ORDER - 1 || !deferred_grow_zone())) continue;
    const page = lru_to_page(list_next(head));
    list_del(lru(page));
    rmv_page_order(page);
    store<u32>(nr_free_ptr(current), load<u32>(nr_free_ptr(current)) - 1);
    // expand(): hand the upper halves back, keep the low part.
    let high = current;
    let size: u32 = 1 << current;
    while (high > order) {
      high--;
      size >>= 1;
      const buddy = nth_page(page, size);
      set_page_order(buddy, high);
      list_add(lru(buddy), free_list(high));
      store<u32>(nr_free_ptr(high), load<u32>(nr_free_ptr(high)) + 1);
    }
    count_vm_event(VM_NR_FREE_PAGES, -(1 << order));
    count_vm_event(VM_PGALLOC, 1 << order);
    return page;
  }
  return 0;
}

/** check_new_page: a free page must be pristine. Returns true if bad. */
function check_new_page(page: u32): bool {
  if (load<i32>(page + PAGE_MAPCOUNT) != -1) { bad_page(page, BAD_MAPCOUNT); return true; }
  if (load<u32>(page + PAGE_MAPPING) != 0) { bad_page(page, BAD_MAPPING); return true; }
  if (load<i32>(page + PAGE_REFCOUNT) != 0) { bad_page(page, BAD_REFCOUNT); return true; }
  if ((load<u32>(page + PAGE_FLAGS) & PAGE_FLAGS_CHECK_AT_PREP) != 0) { bad_page(page, BAD_FLAGS); return true; }
  return false;
}

/** prep_new_page: _refcount = 1 (set_page_refcounted). */
@inline function prep_new_page(page: u32, order: u32): void {
  store<i32>(page + PAGE_REFCOUNT, 1);
}

/** prep_compound_page (4.5): head flag, dtor/order in H[1], tails point at the head. */
export function prep_compound_page(head: u32, order: u32): void {
  const n: u32 = 1 << order;
  const first = nth_page(head, 1);
  store<u32>(first + PAGE_COMPOUND_DTOR, COMPOUND_PAGE_DTOR);
  store<u32>(first + PAGE_COMPOUND_ORDER, order);
  set_bit(head, PG_head);
  for (let i: u32 = 1; i < n; i++) {
    const p = nth_page(head, i);
    store<i32>(p + PAGE_REFCOUNT, 0);
    store<u32>(p + PAGE_MAPPING, TAIL_MAPPING);
    store<u32>(p + PAGE_COMPOUND_HEAD, head + 1);
  }
  store<i32>(compound_mapcount_ptr(head), -1); // overwrites H[1]'s poison
}

/**
 * alloc_pages(order): a block with _refcount 1 (compound if order > 0), or
 * NIL when no block of that order is free. Runs check_new_page on every page.
 */
export function alloc_pages(order: u32): u32 {
  const page = __rmqueue(order);
  if (page == 0) return NIL;
  const n: u32 = 1 << order;
  for (let i: u32 = 0; i < n; i++) {
    if (check_new_page(nth_page(page, i))) return NIL; // leaked, reported
  }
  prep_new_page(page, order);
  if (order > 0) prep_compound_page(page, order);
  return page_to_pfn(page);
}

export function nr_free_pages(): u32 {
  let total: u32 = 0;
  for (let o: u32 = 0; o < MAX_ORDER; o++) total += load<u32>(nr_free_ptr(o)) << o;
  return total;
}

/** Free blocks of exactly `order`. */
export function nr_free_order(order: u32): u32 { return load<u32>(nr_free_ptr(order)); }

/**
 * Walk every free list and check each block: PageBuddy, order recorded,
 * aligned, inside memory, and no frame listed twice. Returns 0 or the first
 * offending PFN + 1 (stored negated), the count of free frames in G_RESULT1.
 */
export function check_free_lists(): i32 {
  const frames = nr_frames();
  for (let o: u32 = 0; o < MAX_ORDER; o++) {
    const head = free_list(o);
    let node = list_next(head);
    let count: u32 = 0;
    while (node != head) {
      const page = lru_to_page(node);
      const pfn = page_to_pfn(page);
      if (pfn >= frames || !pfn_valid(pfn) || pfn_to_page(pfn) != page) return -1;
      if (!PageBuddy(page) || page_order(page) != o) return -i32(pfn + 1);
      if ((pfn & ((1 << o) - 1)) != 0 || pfn + (1 << o) > frames) return -i32(pfn + 1);
      for (let i: u32 = 1; i < (1 << o); i++) {
        const t = nth_page(page, i);
        if (PageBuddy(t) || load<i32>(t + PAGE_REFCOUNT) != 0) return -i32(pfn + i + 1);
      }
      count++;
      if (count > frames) return -1; // a loop in the list
      node = list_next(node);
    }
    // the max-order count includes the blocks deferred init has not reached
    if (count + (o == MAX_ORDER - 1 ? nr_deferred_blocks() : 0) != load<u32>(nr_free_ptr(o))) return -1;
  }
  return 0;
}

/** Whether `pfn` is inside a free buddy block (for the leak check); a never-initialised frame is free. */
export function pfn_is_free(pfn: u32): bool {
  if (pfn >= nr_frames()) return false;
  if (!pfn_valid(pfn)) return true;
  for (let o: u32 = 0; o < MAX_ORDER; o++) {
    const start = pfn & ~((1 << o) - 1);
    const page = pfn_to_page(start);
    if (PageBuddy(page) && page_order(page) == o) return true;
  }
  return false;
}

// ---- page-table pages (pte_alloc_one / pte_free, pgtable ctor/dtor) --------
// A page-table page is an ordinary order-0 frame. Its 4 KiB of entries (the
// frame's contents, which the emulator keeps for page tables only) are a
// block carved from a 64 KiB heap chunk; page_private holds the block's
// address (what page_address() gives the kernel, the role of struct ptdesc).
function pt_entries_alloc(): u32 {
  let addr = load<u32>(G_PT_FREE);
  if (addr != 0) {
    store<u32>(G_PT_FREE, load<u32>(addr));
    return addr;
  }
  addr = load<u32>(G_PT_CARVE);
  if (addr == 0) {
    addr = alloc_chunk();
    if (addr == 0) return 0;
  }
  const next = addr + (1 << PAGE_SHIFT);
  store<u32>(G_PT_CARVE, (next & ((1 << CHUNK_SHIFT) - 1)) == 0 ? 0 : next);
  return addr;
}

export function pt_table_addr(pfn: u32): u32 {
  return load<u32>(pfn_to_page(pfn) + PAGE_PRIVATE);
}

/** pte_alloc_one (+ pgtable_page_ctor): a zeroed page-table page, or NIL. */
export function pte_alloc_one(): u32 {
  const pfn = alloc_pages(0);
  if (pfn == NIL) return NIL;
  const entries = pt_entries_alloc();
  const page = pfn_to_page(pfn);
  if (entries == 0) {
    store<i32>(page + PAGE_REFCOUNT, 0);
    __free_pages(page, 0);
    return NIL;
  }
  set_bit(page, PG_pgtable);
  store<u32>(page + PAGE_PRIVATE, entries);
  memory.fill(entries, 0, 1 << PAGE_SHIFT);
  count_vm_event(VM_NR_PAGETABLE, 1);
  return pfn;
}

/** pte_free (+ pgtable_page_dtor). */
export function pte_free(pfn: u32): void {
  const page = pfn_to_page(pfn);
  const entries = load<u32>(page + PAGE_PRIVATE);
  store<u32>(entries, load<u32>(G_PT_FREE));
  store<u32>(G_PT_FREE, entries);
  clear_bit(page, PG_pgtable);
  store<u32>(page + PAGE_PRIVATE, 0);
  count_vm_event(VM_NR_PAGETABLE, -1);
  const r = load<i32>(page + PAGE_REFCOUNT) - 1;
  store<i32>(page + PAGE_REFCOUNT, r);
  if (r == 0) __free_pages(page, 0);
}

export function is_pgtable_page(pfn: u32): bool { return test_bit(pfn_to_page(pfn), PG_pgtable); }

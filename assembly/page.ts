// struct page accessors (include/linux/mm.h, page-flags.h, page_ref.h).
// A "page" here is the address of its struct page in linear memory, exactly
// what a struct page pointer is in the kernel; pfn_to_page/page_to_pfn convert.
import {
  MEM_SECTION_BASE, CHUNK_SECTION_BASE, CHUNK_SHIFT, SECTION_SHIFT, PAGES_PER_SECTION, STRUCT_PAGE_SHIFT, STRUCT_PAGE_SIZE, PAGE_FLAGS, PAGE_COMPOUND_HEAD,
  PAGE_COMPOUND_ORDER, PAGE_MAPCOUNT, PAGE_REFCOUNT, PAGE_MAPPING, PAGE_COMPOUND_MAPCOUNT,
  PG_head, PG_double_map, PAGE_MAPPING_ANON, G_VMSTAT, G_LAST_ERROR, G_BAD_PFN,
  G_BAD_REASON, G_BAD_PAGES, ERR_BAD_PAGE, G_CONFIG, HPAGE_PMD_ORDER,
} from "./layout";

/** __section_mem_map_addr(__pfn_to_section(pfn)): the section's mem_map, 0 if never initialised. */
@inline export function section_mem_map(section: u32): u32 {
  return load<u32>(MEM_SECTION_BASE + (section << 2));
}
/** pfn_valid (SPARSEMEM): the frame's section has a mem_map (deferred init reached it). */
@inline export function pfn_valid(pfn: u32): bool {
  return section_mem_map(pfn >> SECTION_SHIFT) != 0;
}
/** __pfn_to_page (SPARSEMEM): the section's mem_map plus the frame's index in it. */
@inline export function pfn_to_page(pfn: u32): u32 {
  return section_mem_map(pfn >> SECTION_SHIFT) + ((pfn & (PAGES_PER_SECTION - 1)) << STRUCT_PAGE_SHIFT);
}
/**
 * __page_to_pfn (SPARSEMEM): the section number back from the struct page
 * address. The kernel keeps it in page->flags (page_to_section); a section's
 * mem_map here is one 64 KiB chunk, and the chunk remembers its section.
 */
@inline export function page_to_pfn(page: u32): u32 {
  const section = load<u32>(CHUNK_SECTION_BASE + ((page >> CHUNK_SHIFT) << 2)) - 1;
  return (section << SECTION_SHIFT) | ((page & ((1 << CHUNK_SHIFT) - 1)) >> STRUCT_PAGE_SHIFT);
}
/** &page[i]: the i-th struct page after `page` (pointer arithmetic: a folio never spans two sections). */
@inline export function nth_page(page: u32, i: u32): u32 {
  return page + (i << STRUCT_PAGE_SHIFT);
}

// ---- raw fields -------------------------------------------------------------
@inline export function page_flags(page: u32): u32 { return load<u32>(page + PAGE_FLAGS); }
@inline export function set_page_flags(page: u32, v: u32): void { store<u32>(page + PAGE_FLAGS, v); }
@inline export function test_bit(page: u32, bit: u32): bool {
  return (load<u32>(page + PAGE_FLAGS) & (1 << bit)) != 0;
}
@inline export function set_bit(page: u32, bit: u32): void {
  store<u32>(page + PAGE_FLAGS, load<u32>(page + PAGE_FLAGS) | (1 << bit));
}
@inline export function clear_bit(page: u32, bit: u32): void {
  store<u32>(page + PAGE_FLAGS, load<u32>(page + PAGE_FLAGS) & ~(1 << bit));
}
/** test_and_set_bit (atomic, as the kernel's): returns the old value. */
@inline export function test_and_set_bit(page: u32, bit: u32): bool {
  return (atomic.or<u32>(page + PAGE_FLAGS, 1 << bit) & (1 << bit)) != 0;
}
/** test_and_clear_bit (atomic): returns the old value. */
@inline export function test_and_clear_bit(page: u32, bit: u32): bool {
  return (atomic.and<u32>(page + PAGE_FLAGS, ~(1 << bit)) & (1 << bit)) != 0;
}

@inline export function page_mapcount_raw(page: u32): i32 { return load<i32>(page + PAGE_MAPCOUNT); }
@inline export function set_page_mapcount_raw(page: u32, v: i32): void { store<i32>(page + PAGE_MAPCOUNT, v); }
/** atomic_inc_and_test-style helpers return the new value. */
@inline export function mapcount_add(page: u32, d: i32): i32 {
  const v = load<i32>(page + PAGE_MAPCOUNT) + d;
  store<i32>(page + PAGE_MAPCOUNT, v);
  return v;
}
@inline export function page_ref_count(page: u32): i32 { return load<i32>(page + PAGE_REFCOUNT); }
@inline export function set_page_count(page: u32, v: i32): void { store<i32>(page + PAGE_REFCOUNT, v); }
@inline export function page_ref_add(page: u32, d: i32): i32 {
  const v = load<i32>(page + PAGE_REFCOUNT) + d;
  store<i32>(page + PAGE_REFCOUNT, v);
  return v;
}

// ---- compound pages (page-flags.h, 4.5 encoding) ---------------------------
/** PageTail: bit 0 of the compound_head word. */
@inline export function PageTail(page: u32): bool {
  return (load<u32>(page + PAGE_COMPOUND_HEAD) & 1) != 0;
}
@inline export function PageHead(page: u32): bool { return test_bit(page, PG_head); }
@inline export function PageCompound(page: u32): bool { return PageHead(page) || PageTail(page); }
/** compound_head(): the head's address if `page` is a tail, else `page`. */
@inline export function compound_head(page: u32): u32 {
  const h = load<u32>(page + PAGE_COMPOUND_HEAD);
  return (h & 1) != 0 ? h - 1 : page;
}
/** compound_order(): 0 unless PageHead, else H[1].compound_order. */
@inline export function compound_order(page: u32): u32 {
  if (!PageHead(page)) return 0;
  return load<u32>(page + STRUCT_PAGE_SIZE + PAGE_COMPOUND_ORDER);
}
/** &H[1].compound_mapcount (must be given the head). */
@inline export function compound_mapcount_ptr(head: u32): u32 {
  return head + STRUCT_PAGE_SIZE + PAGE_COMPOUND_MAPCOUNT;
}
/** Raw C: -1 means no PMD mapping. */
@inline export function compound_mapcount_raw(head: u32): i32 { return load<i32>(compound_mapcount_ptr(head)); }
/** PageDoubleMap(): only meaningful on the head; the bit lives in H[1].flags. */
@inline export function PageDoubleMap(head: u32): bool {
  return PageHead(head) && test_bit(head + STRUCT_PAGE_SIZE, PG_double_map);
}
/** PageTransHuge for our anonymous-only world: a head of order 9. */
@inline export function PageTransHuge(page: u32): bool {
  return PageHead(page) && compound_order(page) == HPAGE_PMD_ORDER;
}
/**
 * folio_nr_pages(folio) for a head (or order-0) page: 1 << compound_order.
 * A plain read of H[1].compound_order: the cost accounting (rmap/cost.ts)
 * does not count it, as the kernel's folio_nr_pages is no mapcount access.
 */
@inline export function folio_nr_pages(head: u32): u32 {
  return u32(1) << compound_order(head);
}
/** folio_test_pmd_mappable: a large folio of PMD size (the only kind a PMD maps). */
@inline export function folio_test_pmd_mappable(head: u32): bool {
  return compound_order(head) >= HPAGE_PMD_ORDER;
}
@inline export function PageAnon(page: u32): bool {
  return (load<u32>(compound_head(page) + PAGE_MAPPING) & PAGE_MAPPING_ANON) != 0;
}
@inline export function hpage_nr_pages(page: u32): u32 {
  return folio_nr_pages(page);
}

// ---- vmstat and error reporting --------------------------------------------
@inline export function count_vm_event(item: u32, d: i32 = 1): void {
  const p = G_VMSTAT + (item << 2);
  store<i32>(p, load<i32>(p) + d);
}
/** IS_ENABLED(CONFIG_…): whether the machine runs with that mechanism (G_CONFIG, set at init). */
@inline export function IS_ENABLED(bit: u32): bool {
  return (load<u32>(G_CONFIG) & bit) != 0;
}
/** bad_page() (mm/page_alloc.c): report, remember, never silently continue. */
export function bad_page(page: u32, reason: u32): void {
  store<u32>(G_LAST_ERROR, ERR_BAD_PAGE);
  store<u32>(G_BAD_PFN, page_to_pfn(page));
  store<u32>(G_BAD_REASON, reason);
  store<u32>(G_BAD_PAGES, load<u32>(G_BAD_PAGES) + 1);
}
@inline export function set_error(code: i32): i32 {
  store<i32>(G_LAST_ERROR, code);
  return -code;
}

// ---- intrusive doubly-linked list (include/linux/list.h) -------------------
// A node is 16 bytes: next pointer at +0, prev at +8 (64-bit pointer slots,
// low 32 bits used). Empty list: head points at itself.
@inline export function list_init(node: u32): void {
  store<u32>(node, node);
  store<u32>(node + 8, node);
}
@inline export function list_next(node: u32): u32 { return load<u32>(node); }
@inline export function list_empty(head: u32): bool { return load<u32>(head) == head; }
@inline export function list_add(node: u32, head: u32): void {
  const next = load<u32>(head);
  store<u32>(node, next);
  store<u32>(node + 8, head);
  store<u32>(next + 8, node);
  store<u32>(head, node);
}
@inline export function list_add_tail(node: u32, head: u32): void {
  const prev = load<u32>(head + 8);
  store<u32>(node, head);
  store<u32>(node + 8, prev);
  store<u32>(prev, node);
  store<u32>(head + 8, node);
}
@inline export function list_del(node: u32): void {
  const next = load<u32>(node);
  const prev = load<u32>(node + 8);
  store<u32>(prev, next);
  store<u32>(next + 8, prev);
  store<u32>(node, 0);
  store<u32>(node + 8, 0);
}

// The memory map of the core, declared once. Every address the host needs is
// exported from index.ts as a constant, so TypeScript never hard-codes an
// offset (wasmboy-style chained constants).
//
//   0x00000 .. 0x0FFFF  AssemblyScript static data (asserted small at init)
//   GLOBALS_BASE        free_area[], split queue, zero pages, vmstat, results
//   SCRATCH_BASE        batch buffer: the host writes PFNs, the core answers
//   MEM_SECTION_BASE    mem_section[]: per section of PAGES_PER_SECTION frames,
//                       the address of its mem_map (0: never initialised)
//   CHUNK_SECTION_BASE  per 64 KiB chunk of linear memory, the section whose
//                       mem_map it holds + 1 (0: none): page_to_pfn's way back
//   HEAP_BASE ..        64 KiB chunks handed out in the order the work needs
//                       them (memory.grow on demand): a section's mem_map
//                       (1024 struct pages = 64 KiB) when deferred struct page
//                       init reaches it, or 16 page-table pages' entries
//
// This is SPARSEMEM (include/linux/mmzone.h): mem_map is not one array but
// one per present section, found through mem_section[]; a section is one
// max-order buddy block, so a folio or a buddy block never spans two and
// nth_page() stays pointer arithmetic inside it.

export const PAGE_SHIFT: u32 = 12;
export const HPAGE_PMD_ORDER: u32 = 9;
export const HPAGE_PMD_NR: u32 = 1 << HPAGE_PMD_ORDER; // 512
export const MAX_ORDER: u32 = 11; // orders 0..10, as mm/page_alloc.c in 4.5
export const NIL: u32 = 0xffffffff;

export const GLOBALS_BASE: u32 = 0x10000;
export const GLOBALS_SIZE: u32 = 0x1000;
export const SCRATCH_BASE: u32 = GLOBALS_BASE + GLOBALS_SIZE;
export const SCRATCH_SIZE: u32 = 0x10000; // 16384 u32 slots
export const SCRATCH_SLOTS: u32 = SCRATCH_SIZE >> 2;
// SPARSEMEM: a section is one max-order block (PAGES_PER_SECTION frames), so
// its mem_map is exactly one 64 KiB WebAssembly page.
export const SECTION_SHIFT: u32 = 10; //            PFN_SECTION_SHIFT
export const PAGES_PER_SECTION: u32 = 1 << SECTION_SHIFT;
export const NR_MEM_SECTIONS: u32 = 32768; //       128 GiB of 4 KiB frames
export const MEM_SECTION_BASE: u32 = SCRATCH_BASE + SCRATCH_SIZE; // u32 per section
export const CHUNK_SHIFT: u32 = 16; //              64 KiB: a WebAssembly page
export const NR_CHUNKS: u32 = 65536; //             4 GiB of linear memory (the wasm32 ceiling)
export const CHUNK_SECTION_BASE: u32 = MEM_SECTION_BASE + (NR_MEM_SECTIONS << 2); // u32 per chunk
export const HEAP_BASE: u32 = (CHUNK_SECTION_BASE + (NR_CHUNKS << 2) + 0xffff) & ~0xffff;
export const PT_TABLES_PER_CHUNK: u32 = 16; //      4 KiB page-table pages per 64 KiB chunk

// ---- struct page (64 bytes, the field order of the 64-bit kernel) ----------
export const STRUCT_PAGE_SIZE: u32 = 64;
export const STRUCT_PAGE_SHIFT: u32 = 6;
export const PAGE_FLAGS: u32 = 0; //          unsigned long flags (low 32 bits used)
// The upper half of flags holds the kernel's page links (section, node,
// zone: set_page_links); with one node and one zone the emulator keeps the
// rmap cost generation stamp there instead (assembly/rmap/cost.ts).
export const PAGE_COST_STAMP: u32 = 4;
export const PAGE_LRU_NEXT: u32 = 8; //       lru.next; tail pages: compound_head (= &head + 1)
export const PAGE_COMPOUND_HEAD: u32 = 8;
export const PAGE_LRU_PREV: u32 = 16; //      lru.prev
export const PAGE_COMPOUND_DTOR: u32 = 16; // first tail: compound_dtor (u32)
export const PAGE_COMPOUND_ORDER: u32 = 20; // first tail: compound_order (u32)
export const PAGE_MAPPING: u32 = 24; //       anon: anon_vma | PAGE_MAPPING_ANON
export const PAGE_COMPOUND_MAPCOUNT: u32 = 24; // first tail (4.5): compound_mapcount overlays mapping
export const PAGE_DEFERRED_LIST: u32 = 24; // second tail: list_head made of mapping + index
export const PAGE_INDEX: u32 = 32; //         u64 linear page index (vaddr >> 12 for anon)
export const PAGE_PRIVATE: u32 = 40; //       buddy: order; page-table page: pool slot
export const PAGE_MAPCOUNT: u32 = 48; //      atomic_t _mapcount, -1 based
export const PAGE_REFCOUNT: u32 = 52; //      atomic_t _refcount (_count in 4.5)
export const PAGE_MEMCG: u32 = 56; //         memcg_data (unused)
// CONFIG_MM_ID fields (6.15+), kept in the first tail's spare words:
export const PAGE_LARGE_MAPCOUNT: u32 = 32; // first tail: _large_mapcount, -1 based
export const PAGE_MM_ID0: u32 = 40; //         first tail: _mm_id[0]
export const PAGE_MM_ID1: u32 = 44; //         first tail: _mm_id[1] (bit 31 = SHARED)
export const PAGE_MM_ID_MAPCOUNT0: u32 = 56; // first tail: _mm_id_mapcount[0], -1 based
export const PAGE_MM_ID_MAPCOUNT1: u32 = 60; // first tail: _mm_id_mapcount[1], -1 based
// Fields of the later mapcount schemes (assembly/rmap/*.ts), first tail page:
export const PAGE_SUBPAGES_MAPCOUNT: u32 = 36; // 6.2: subpages_mapcount (0 based, + COMPOUND_MAPPED)
export const PAGE_ENTIRE_MAPCOUNT: u32 = 24; //   6.3+: _entire_mapcount (-1 based) = the old compound_mapcount
export const PAGE_NR_PAGES_MAPPED: u32 = 36; //   6.3+: _nr_pages_mapped (0 based, + ENTIRELY_MAPPED)

// ---- page flags (bit numbers of the Linux 4.5 enum pageflags) -------------
export const PG_locked: u32 = 0;
export const PG_referenced: u32 = 2;
export const PG_uptodate: u32 = 3;
export const PG_dirty: u32 = 4;
export const PG_lru: u32 = 5;
export const PG_active: u32 = 6;
export const PG_reserved: u32 = 10;
export const PG_private: u32 = 11;
export const PG_private_2: u32 = 12;
export const PG_double_map: u32 = PG_private_2; // 4.5: alias, stored in the first tail page
export const PG_writeback: u32 = 13;
export const PG_head: u32 = 14;
export const PG_swapcache: u32 = 15;
export const PG_anon_exclusive: u32 = 16; // 5.19+: alias of PG_mappedtodisk
export const PG_reclaim: u32 = 17;
/** 6.10+ folio flag in the first tail: the THP lost some of its mappings (deferred_split_folio(folio, true)). */
export const PG_partially_mapped: u32 = PG_reclaim;
export const PG_swapbacked: u32 = 18;
export const PG_mlocked: u32 = 20;
export const PG_pgtable: u32 = 24; // emulator marker for page-table pages (PageTable)
// Emulator marker: the page's content is not all zeros (a write stored data).
// The kernel finds out by reading the page (pages_identical with ZERO_PAGE);
// the emulator has no contents, so it remembers whether a write happened.
export const PG_nonzero: u32 = 25;
export const NR_PAGEFLAGS: u32 = 26;

// PAGE_FLAGS_CHECK_AT_FREE (4.5): flags that must be clear when a page is freed.
export const PAGE_FLAGS_CHECK_AT_FREE: u32 =
  (1 << PG_locked) | (1 << PG_reserved) | (1 << PG_private) | (1 << PG_private_2) |
  (1 << PG_writeback) | (1 << PG_swapcache) | (1 << PG_active) | (1 << PG_mlocked);
// PAGE_FLAGS_CHECK_AT_PREP: every flag (checked on allocation, scrubbed on free/split).
export const PAGE_FLAGS_CHECK_AT_PREP: u32 = (1 << NR_PAGEFLAGS) - 1;

export const PAGE_MAPPING_ANON: u32 = 1;
export const TAIL_MAPPING: u32 = 0x400; // poison in tails' mapping (include/linux/poison.h)
export const PAGE_BUDDY_MAPCOUNT_VALUE: i32 = -128; // 4.5: PageBuddy is _mapcount == -128
export const COMPOUND_DTOR_NONE: u32 = 0;
export const COMPOUND_PAGE_DTOR: u32 = 1;
export const TRANSHUGE_PAGE_DTOR: u32 = 3;
export const FOLIO_MM_IDS_SHARED_BIT: u32 = 0x80000000; // top bit of _mm_id[1]

// ---- globals ---------------------------------------------------------------
// free_area[order]: list head (next @0, prev @8) and nr_free @16; 32 bytes each.
export const G_FREE_AREA: u32 = GLOBALS_BASE;
export const FREE_AREA_STRIDE: u32 = 32;
export const G_NR_FRAMES: u32 = GLOBALS_BASE + 0x200;
export const G_HEAP_TOP: u32 = GLOBALS_BASE + 0x204; //        next free 64 KiB chunk (a chunk number)
export const G_PT_FREE: u32 = GLOBALS_BASE + 0x208; //         free page-table entry blocks: a stack linked through word 0
export const G_FIRST_DEFERRED_PFN: u32 = GLOBALS_BASE + 0x20c; // first_deferred_pfn: lowest never-initialised section
export const G_DEFERRED_END: u32 = GLOBALS_BASE + 0x210; //    end of the deferred range (frames rounded down to a section)
export const G_ZERO_PFN: u32 = GLOBALS_BASE + 0x214;
export const G_HUGE_ZERO_PFN: u32 = GLOBALS_BASE + 0x218; //    NIL when not allocated
export const G_HUGE_ZERO_REFCOUNT: u32 = GLOBALS_BASE + 0x21c; // huge_zero_refcount
export const G_SPLIT_QUEUE: u32 = GLOBALS_BASE + 0x220; //      list head (next @0, prev @8)
export const G_SPLIT_QUEUE_LEN: u32 = GLOBALS_BASE + 0x230;
export const G_LAST_ERROR: u32 = GLOBALS_BASE + 0x234; //       ERR_* of the last failure
export const G_BAD_PFN: u32 = GLOBALS_BASE + 0x238;
export const G_BAD_REASON: u32 = GLOBALS_BASE + 0x23c;
export const G_RESULT1: u32 = GLOBALS_BASE + 0x240; //          second return value
export const G_CONFIG: u32 = GLOBALS_BASE + 0x244; //           CONFIG_* bits (set once at init)
export const G_BAD_PAGES: u32 = GLOBALS_BASE + 0x248; //        count of bad_page() reports
export const G_VMSTAT: u32 = GLOBALS_BASE + 0x400; //           u32 counters, VM_* indices
export const G_SCHEME: u32 = GLOBALS_BASE + 0x24c; //           SCHEME_*: the mapcount scheme
export const G_CHUNK_LIMIT: u32 = GLOBALS_BASE + 0x258; //     chunks the linear memory may reach (NR_CHUNKS; lower in tests)
export const G_MEMORY_EXHAUSTED: u32 = GLOBALS_BASE + 0x25c; // 1: a chunk was refused (the linear memory is at its limit)
export const G_PT_CARVE: u32 = GLOBALS_BASE + 0x250; //         next unused 4 KiB entry block in the newest page-table chunk (0: none)
export const G_SPLIT_COUNTS: u32 = GLOBALS_BASE + 0x254; //     1: scratch holds per-subpage PTE counts for split
// 64 bytes that stay zero: what the host reads for a frame whose struct page
// was never initialised (its section has no mem_map yet).
export const G_ZERO_STRUCT_PAGE: u32 = GLOBALS_BASE + 0x600;
// rmap cost counters: COST_NR_OPS entries of COST_STRIDE bytes (calls, atomics, pages touched: u32 each)
export const G_COSTS: u32 = GLOBALS_BASE + 0x500;
export const COST_STRIDE: u32 = 12;
export const COST_CALLS: u32 = 0;
export const COST_ATOMICS: u32 = 4;
export const COST_PAGES: u32 = 8;
export const COST_ADD_NEW: u32 = 0; //        page_add_new_anon_rmap / folio_add_new_anon_rmap
export const COST_DUP: u32 = 1; //            page_dup_rmap (fork) / page_add_anon_rmap
export const COST_REMOVE: u32 = 2; //         page_remove_rmap
export const COST_SPLIT_PMD: u32 = 3; //      the rmap half of __split_huge_pmd_locked
export const COST_PAGE_MAPCOUNT: u32 = 4; //  page_mapcount / kpagecount's per-page value
export const COST_FOLIO_MAPCOUNT: u32 = 5; // total_mapcount / folio_mapcount
export const COST_NR_OPS: u32 = 6;

// Mapcount schemes (G_SCHEME): one module each in assembly/rmap/.
export const SCHEME_DOUBLEMAP: u32 = 0; //      Linux 4.5: compound_mapcount + PG_double_map
export const SCHEME_NAIVE: u32 = 1; //          every subpage _mapcount counts PMD maps too
export const SCHEME_SUBPAGES: u32 = 2; //       Linux 6.2: compound_mapcount + subpages_mapcount
export const SCHEME_LARGE: u32 = 3; //          Linux 6.11+: _entire/_nr_pages_mapped/_large_mapcount
export const SCHEME_NOPAGEMAPCOUNT: u32 = 4; // Linux 6.15+ CONFIG_NO_PAGE_MAPCOUNT
export const COMPOUND_MAPPED: i32 = 0x800000; // = ENTIRELY_MAPPED (6.8 name)
export const ENTIRELY_MAPPED: i32 = 0x800000;
export const FOLIO_PAGES_MAPPED: i32 = 0x7fffff; // = SUBPAGES_MAPPED

// Profile bits: which kernel's policy the core follows.
// Mechanisms the core can run with, in the kernel's CONFIG_* style: each
// says what the code does, never which kernel does it (the host maps a
// profile to these bits once, src/profiles.ts coreConfig).
export const CONFIG_MM_ID: u32 = 1; //             MM-owner slots of large folios (_mm_id, _mm_id_mapcount)
export const CONFIG_ANON_EXCLUSIVE: u32 = 2; //    PG_anon_exclusive: exclusive anon pages are reused without a count test
export const CONFIG_DEFERRED_SPLIT_UNMAPPED: u32 = 4; // a THP that becomes fully unmapped is queued for deferred split too
export const CONFIG_COW_REUSE_REFCOUNT: u32 = 8; // do_wp_page reuses a small page by its refcount (else by its mapcount, reuse_swap_page)

// vmstat counters (indices into G_VMSTAT)
export const VM_NR_FREE_PAGES: u32 = 0;
export const VM_NR_ANON_PAGES: u32 = 1;
export const VM_NR_ANON_THPS: u32 = 2;
export const VM_NR_PAGETABLE: u32 = 3;
export const VM_THP_FAULT_ALLOC: u32 = 4;
export const VM_THP_FAULT_FALLBACK: u32 = 5;
export const VM_THP_SPLIT_PMD: u32 = 6;
export const VM_THP_SPLIT_PAGE: u32 = 7;
export const VM_THP_DEFERRED_SPLIT_PAGE: u32 = 8;
export const VM_THP_ZERO_PAGE_ALLOC: u32 = 9;
export const VM_THP_COLLAPSE_ALLOC: u32 = 10;
export const VM_PGALLOC: u32 = 11;
export const VM_PGFREE: u32 = 12;
export const VM_NR_COUNTERS: u32 = 13;

// Error codes (G_LAST_ERROR); functions return -code.
export const ERR_NOMEM: i32 = 1;
export const ERR_FALLBACK: i32 = 2; // no order-9 block: the caller falls back to order 0
export const ERR_BUSY: i32 = 3; //    split refused (can-split rule)
export const ERR_BAD_PAGE: i32 = 4; // bad_page() fired: emulator state is corrupt
export const ERR_INVAL: i32 = 5;

// bad_page reasons (G_BAD_REASON)
export const BAD_MAPCOUNT: u32 = 1; //        "nonzero mapcount"
export const BAD_MAPPING: u32 = 2; //         "non-NULL mapping"
export const BAD_REFCOUNT: u32 = 3; //        "nonzero _count"
export const BAD_FLAGS: u32 = 4; //           "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
export const BAD_COMPOUND_MAPCOUNT: u32 = 5; // "nonzero compound_mapcount"
export const BAD_TAIL: u32 = 6; //            "corrupted mapping in tail page" / head
export const BAD_STATE: u32 = 7; //           operation on a page in the wrong state

// The core's exports, typed once (assembly/index.ts is the other half).
// Every function and every memory-map constant the host uses is named here;
// `bindCore` checks the instance against these lists at load, so a core and
// a host that disagree fail at start-up with a clear message, never with
// `undefined is not a function` in the middle of a fault. Functions take and
// return plain numbers (a core `bool` is 0 or 1, a `u32` may come back
// negative: the Core class converts where it matters).

/** Exported functions and their arity. */
export const CORE_FUNCTIONS = {
  // set-up, costs, errors
  init: 3, cost_reset: 0, cost_accounting: 1, last_error: 0, clear_error: 0,
  // counters (mm/rmap.c readers)
  page_mapcount: 1, total_mapcount: 1, folio_mapcount: 1, compound_mapcount: 1, page_mapcount_batch: 1,
  head_pfn: 1, compound_order: 1,
  // faults, COW, fork, zap (mm/memory.c, mm/huge_memory.c)
  do_anonymous_page: 3, do_anonymous_pages: 4, do_anonymous_folio: 4, do_anonymous_folios: 5, do_huge_pmd_anonymous_page: 3, alloc_thp_pmd_mapped: 4, do_huge_pmd_wp_page_fallback: 4,
  wp_page_reuse: 1, do_wp_page_batch: 4, wp_huge_pmd_reuse: 1, zap_pte_batch: 2, dup_pte_batch: 2, zap_huge_pmd: 2, copy_huge_pmd: 2, copy_huge_pmd_batch: 2, zap_huge_pmd_batch: 2,
  split_huge_pmd: 2,
  // THP: split, deferred split queue, huge zero page
  split_huge_page: 1, thp_is_queued: 1, deferred_split_folio: 2, deferred_split_dequeue: 1,
  folio_test_partially_mapped: 1, thp_underused: 2, deferred_split_scan: 0, deferred_split_list: 0,
  get_huge_zero_page: 0, put_huge_zero_page: 0, shrink_huge_zero_page: 0,
  // page allocator and page-table pages
  nr_free_pages: 0, nr_free_order: 1, check_free_lists: 0, check_sections: 0, set_memory_limit: 1, pfn_is_free: 1, pgtable_alloc: 0, pte_free: 1,
  pt_table_addr: 1, is_pgtable_page: 1,
} as const;
export type CoreFunctionName = keyof typeof CORE_FUNCTIONS;

type Fn<N extends number> =
  N extends 0 ? () => number :
  N extends 1 ? (a: number) => number :
  N extends 2 ? (a: number, b: number) => number :
  N extends 3 ? (a: number, b: number, c: number) => number :
  N extends 4 ? (a: number, b: number, c: number, d: number) => number :
  (a: number, b: number, c: number, d: number, e: number) => number;

/** The core's functions, typed by arity. */
export type CoreFunctions = { readonly [K in CoreFunctionName]: Fn<(typeof CORE_FUNCTIONS)[K]> };

/** struct page field offsets (bytes within the 64-byte struct page), by kernel name. */
export const PAGE_OFFSETS = [
  "PAGE_FLAGS", "PAGE_COMPOUND_HEAD", "PAGE_COMPOUND_ORDER", "PAGE_MAPPING", "PAGE_COMPOUND_MAPCOUNT",
  "PAGE_INDEX", "PAGE_PRIVATE", "PAGE_MAPCOUNT", "PAGE_REFCOUNT", "PAGE_LARGE_MAPCOUNT", "PAGE_MM_ID0",
  "PAGE_MM_ID1", "PAGE_MM_ID_MAPCOUNT0", "PAGE_MM_ID_MAPCOUNT1", "PAGE_SUBPAGES_MAPCOUNT", "PAGE_NR_PAGES_MAPPED",
  "PAGE_ENTIRE_MAPCOUNT",
] as const;
/** Page flag bits (PG_*), by kernel name without the prefix. */
export const PAGE_FLAGS = [
  "locked", "referenced", "uptodate", "dirty", "lru", "reserved", "private", "private_2", "double_map", "head",
  "anon_exclusive", "reclaim", "partially_mapped", "swapbacked", "pgtable", "nonzero",
] as const;
/** Addresses of the core's globals (G_*). */
export const GLOBALS = [
  "NR_FRAMES", "HEAP_TOP", "FIRST_DEFERRED_PFN", "DEFERRED_END", "CHUNK_LIMIT", "MEMORY_EXHAUSTED", "ZERO_STRUCT_PAGE", "ZERO_PFN", "HUGE_ZERO_PFN", "HUGE_ZERO_REFCOUNT", "SPLIT_QUEUE_LEN", "LAST_ERROR",
  "BAD_PFN", "BAD_REASON", "BAD_PAGES", "RESULT1", "CONFIG", "VMSTAT", "SCHEME", "SPLIT_COUNTS", "COSTS",
] as const;
/** vmstat counters (VM_*), indices into G_VMSTAT. */
export const VMSTAT = [
  "NR_FREE_PAGES", "NR_ANON_PAGES", "NR_ANON_THPS", "NR_PAGETABLE", "THP_FAULT_ALLOC", "THP_FAULT_FALLBACK",
  "THP_SPLIT_PMD", "THP_SPLIT_PAGE", "THP_DEFERRED_SPLIT_PAGE", "THP_ZERO_PAGE_ALLOC", "THP_COLLAPSE_ALLOC",
  "PGALLOC", "PGFREE",
] as const;
/** Plain constants. */
export const CONSTANTS = [
  "MEM_SECTION_BASE", "CHUNK_SECTION_BASE", "SECTION_SHIFT", "CHUNK_SHIFT", "NR_CHUNKS", "PT_TABLES_PER_CHUNK", "SCRATCH_BASE", "SCRATCH_SLOTS", "STRUCT_PAGE_SIZE", "NIL", "COST_STRIDE",
  "CONFIG_MM_ID", "CONFIG_ANON_EXCLUSIVE", "CONFIG_DEFERRED_SPLIT_UNMAPPED", "CONFIG_COW_REUSE_REFCOUNT",
  "SCHEME_NAIVE", "SCHEME_DOUBLEMAP", "SCHEME_SUBPAGES", "SCHEME_LARGE", "SCHEME_NOPAGEMAPCOUNT",
  "ERR_NOMEM", "ERR_FALLBACK", "ERR_BUSY", "ERR_BAD_PAGE", "ERR_INVAL",
  "FOLIO_MM_IDS_SHARED_BIT", "ENTIRELY_MAPPED",
] as const;

export type PageOffset = (typeof PAGE_OFFSETS)[number];
export type PageFlag = (typeof PAGE_FLAGS)[number];
export type GlobalName = (typeof GLOBALS)[number];
export type VmstatName = (typeof VMSTAT)[number];
export type ConstantName = (typeof CONSTANTS)[number];

/** The memory map and constants, read from the instance once. */
export interface Layout {
  off: Readonly<Record<PageOffset, number>>;
  PG: Readonly<Record<PageFlag, number>>;
  G: Readonly<Record<GlobalName, number>>;
  VM: Readonly<Record<VmstatName, number>>;
  C: Readonly<Record<ConstantName, number>>;
}

function global(exports: WebAssembly.Exports, name: string): number {
  const v = exports[name];
  if (!(v instanceof WebAssembly.Global)) throw new Error(`thpemu: the core lacks the constant ${name} (rebuild it: npm run build)`);
  return (v.value as number) >>> 0;
}

function table<K extends string>(exports: WebAssembly.Exports, names: readonly K[], prefix: string): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const n of names) out[n] = global(exports, prefix + n);
  return out;
}

/** Read the layout from an instance's exports; a missing name is a load error. */
export function readLayout(exports: WebAssembly.Exports): Layout {
  return {
    off: table(exports, PAGE_OFFSETS, ""),
    PG: table(exports, PAGE_FLAGS, "PG_"),
    G: table(exports, GLOBALS, "G_"),
    VM: table(exports, VMSTAT, "VM_"),
    C: table(exports, CONSTANTS, ""),
  };
}

/**
 * The core's functions, checked against CORE_FUNCTIONS (present, right
 * arity). They are the instance's own exports, not wrappers: the hot paths
 * call them directly; a trap is turned into an InternalError where an
 * operation ends (Core.internalError, used by Machine).
 */
export function bindFunctions(exports: WebAssembly.Exports): CoreFunctions {
  for (const [name, arity] of Object.entries(CORE_FUNCTIONS)) {
    const f = exports[name];
    if (typeof f !== "function") throw new Error(`thpemu: the core lacks the function ${name} (rebuild it: npm run build)`);
    if (f.length !== arity) throw new Error(`thpemu: the core's ${name} takes ${f.length} arguments, the host passes ${arity}`);
  }
  return exports as unknown as CoreFunctions;
}

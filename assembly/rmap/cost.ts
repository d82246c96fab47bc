// Cost accounting of the rmap entry points, for comparing mapcount schemes:
// per entry point (COST_* index) the number of calls, of atomic
// read-modify-write operations on struct page counters (atomic inc/dec/add,
// test-and-set/clear bit: what the kernel does with a LOCK prefix), and of
// distinct struct pages touched (read or written). Distinct pages are found
// with a generation stamp per struct page (PAGE_COST_STAMP, the upper half
// of flags): each call takes a new generation; a page whose stamp differs is
// counted once and stamped. Counters live in G_COSTS (exported offsets).
import {
  G_COSTS, COST_STRIDE, COST_CALLS, COST_ATOMICS, COST_PAGES, COST_NR_OPS, PAGE_COST_STAMP, STRUCT_PAGE_SHIFT,
  G_NR_FRAMES, SECTION_SHIFT, PAGES_PER_SECTION, STRUCT_PAGE_SIZE,
} from "../layout";
import { section_mem_map } from "../page";

let cur: u32 = G_COSTS; // the counters of the entry point running now
let gen: u32 = 0;
// Off, every counter below is one predictable branch: the benchmark turns
// accounting off to time the schemes' own work, not the bookkeeping.
let enabled: bool = true;

/** Turn the cost accounting on or off (on after init). */
export function cost_accounting(on: bool): void { enabled = on; }

/** Enter an rmap entry point; returns the previous counters (for cost_end). */
@inline export function cost_begin(op: u32): u32 {
  const prev = cur;
  if (!enabled) return prev;
  cur = G_COSTS + op * COST_STRIDE;
  store<u32>(cur + COST_CALLS, load<u32>(cur + COST_CALLS) + 1);
  gen++;
  if (gen == 0) { // wrapped: forget every stamp
    forget_stamps();
    gen = 1;
  }
  return prev;
}
/** Zero the stamp of every initialised struct page (the generation wrapped). */
function forget_stamps(): void {
  const sections = (load<u32>(G_NR_FRAMES) + PAGES_PER_SECTION - 1) >> SECTION_SHIFT;
  for (let s: u32 = 0; s < sections; s++) {
    const map = section_mem_map(s);
    if (map == 0) continue;
    for (let i: u32 = 0; i < PAGES_PER_SECTION; i++) store<u32>(map + i * STRUCT_PAGE_SIZE + PAGE_COST_STAMP, 0);
  }
}
@inline export function cost_end(prev: u32): void { cur = prev; }

/** `n` atomic RMW operations on struct page counters. */
@inline export function atomic_ops(n: u32): void {
  if (!enabled) return;
  store<u32>(cur + COST_ATOMICS, load<u32>(cur + COST_ATOMICS) + n);
}
/** The struct page at `page` was read or written. */
@inline export function touch(page: u32): void {
  if (!enabled) return;
  const s = page + PAGE_COST_STAMP;
  if (load<u32>(s) != gen) {
    store<u32>(s, gen);
    store<u32>(cur + COST_PAGES, load<u32>(cur + COST_PAGES) + 1);
  }
}
/** `n` consecutive struct pages from `page` were touched (a loop over subpages). */
@inline export function touch_range(page: u32, n: u32): void {
  if (!enabled) return;
  for (let i: u32 = 0; i < n; i++) touch(page + (i << STRUCT_PAGE_SHIFT));
}

export function cost_reset(): void {
  memory.fill(G_COSTS, 0, COST_NR_OPS * COST_STRIDE);
}

// The few machine reads the page needs that the public API (src/index.ts)
// does not offer yet. They reach into machine.core and Process.mm, which are
// internals being reworked; keeping each behind one function here means only
// this file changes when src/ grows a public call for it.
import type { Machine, Process } from "../src/index.js";

/** Per-frame counters the frame grid shows, read from the WebAssembly core. */
export interface CoreReads {
  /** frames on the buddy allocator's free lists (vmstat NR_FREE_PAGES) */
  freeFrames(): number;
  /** the head frame of the folio `pfn` belongs to (`pfn` itself for an order-0 page) */
  headPfn(pfn: number): number;
  /** page_mapcount() of `pfn`, as the machine's kernel computes it */
  pageMapcount(pfn: number): number;
}

/** Adapter over machine.core (internal): to be pointed at a public frame-inspection API. */
export function coreReads(m: Machine): CoreReads {
  const core = m.core;
  return {
    freeFrames: () => core.nrFreePages(),
    headPfn: (pfn) => core.headPfn(pfn),
    pageMapcount: (pfn) => core.e.page_mapcount(pfn) as number,
  };
}

/** Adapter over Process.mm.nrTables (internal): how many page-table pages the process owns. */
export function pageTablePages(p: Process): number {
  return p.mm.nrTables;
}

// The invariant checker: a full reverse walk. It recomputes, from the page
// tables of every live process, how often each page is mapped by PTEs and
// each THP by PMDs (walk.ts), then compares with the core's counters
// (folios.ts: raw fields, page_mapcount/total_mapcount, refcounts, the
// DoubleMap offsets, the deferred split queue), checks the COW rules, the
// huge zero page's refcount, and accounts for every frame (here): free in
// the buddy lists, a page table (live or deposited), the zero pages, or a
// mapped page. Anything else is a leak. A frame deferred struct page init
// has not reached is free (its max-order block counts in the buddy lists).
import type { Kernel, Process } from "../mm/types.js";
import { reverseWalk, type Mappings } from "./walk.js";
import { checkFolios, mappedHeads } from "./folios.js";
import { vmasMergeable } from "../mm/vma.js";


/** Every violation found (at most 50), or [] when the machine is consistent. */
export function checkInvariants(k: Kernel, procs: Iterable<Process>): string[] {
  const bad: string[] = [];
  const say = (s: string) => { if (bad.length < 50) bad.push(s); };
  const live = [...procs].filter((p) => p.alive);
  const w = reverseWalk(k, live, say);
  const heads = mappedHeads(k, w);
  checkFolios(k, w, heads, say);
  checkCow(k, w, say);
  checkFrames(k, w, heads, say);
  checkVmas(live, say);
  return bad;
}

/**
 * Every VMA list is sorted, disjoint and merged: no two neighbours that
 * vma_merge would join (mprotect merges only around the range it changed,
 * which relies on this).
 */
function checkVmas(live: Process[], say: (s: string) => void): void {
  for (const p of live) {
    const v = p.mm.vmas;
    for (let i = 0; i < v.length; i++) {
      if (v[i].start >= v[i].end) say(`${p.name}: empty VMA [0x${v[i].start.toString(16)}, 0x${v[i].end.toString(16)})`);
      if (i === 0) continue;
      if (v[i - 1].end > v[i].start) say(`${p.name}: VMAs out of order or overlapping at 0x${v[i].start.toString(16)}`);
      if (vmasMergeable(v[i - 1], v[i])) say(`${p.name}: unmerged mergeable VMAs at 0x${v[i].start.toString(16)}`);
    }
  }
}

/**
 * COW: a writable entry maps a page nobody else maps (else a write would
 * not fault and the sharer would see it); PG_anon_exclusive likewise.
 */
function checkCow(k: Kernel, w: Mappings, say: (s: string) => void): void {
  const core = k.core;
  const maps = (pfn: number) => (w.pteMaps.get(pfn) ?? 0) + (w.pmdMaps.get(core.headPfn(pfn)) ?? 0);
  for (const [pfn, where] of w.writable) {
    if (maps(pfn) !== 1) say(`${where}: writable PTE to pfn ${pfn} that has ${maps(pfn)} mappings`);
  }
  for (const [head, where] of w.writableHuge) {
    let ptes = 0;
    for (let i = 0; i < 512; i++) ptes += w.pteMaps.get(head + i) ?? 0;
    if ((w.pmdMaps.get(head) ?? 0) !== 1 || ptes !== 0) say(`${where}: writable PMD to THP ${head} that is also mapped elsewhere`);
  }
  if (k.profile.anonExclusive) {
    for (const pfn of new Set<number>([...w.pteMaps.keys(), ...w.pmdMaps.keys()])) {
      if (core.testFlag(pfn, "anon_exclusive") && maps(pfn) > 1) say(`pfn ${pfn}: PG_anon_exclusive but ${maps(pfn)} mappings`);
    }
  }
}

/** The huge zero page's refcount, the buddy lists, every frame accounted for, the queue length, bad pages. */
function checkFrames(k: Kernel, w: Mappings, heads: Set<number>, say: (s: string) => void): void {
  const core = k.core;
  // Huge zero page refcount: one per PMD plus the shrinker's.
  if (core.hugeZeroPfn !== core.NIL) {
    if (core.hugeZeroRefcount !== w.hzeroPmds + 1) say(`huge_zero_refcount ${core.hugeZeroRefcount}, expected ${w.hzeroPmds + 1}`);
  } else if (w.hzeroPmds) say(`huge-zero PMDs without a huge zero page`);
  const fl = core.e.check_free_lists();
  if (fl !== 0) say(`buddy free lists are corrupt (${fl})`);
  // Deferred struct page init: a section below first_deferred_pfn has a
  // mem_map whose every struct page is initialised; one above has none (a
  // zero struct page: never initialised, free).
  const sec = core.e.check_sections();
  if (sec !== 0) say(sec === -1 ? `first_deferred_pfn ${core.firstDeferredPfn} is not a section boundary` : `pfn ${-sec - 1}: struct page initialised ${core.initialised(-sec - 1) ? "but all zero" : "wrongly"} (first_deferred_pfn ${core.firstDeferredPfn})`);
  let used = 1 + w.tables.size; // the zero page and the page tables
  if (core.hugeZeroPfn !== core.NIL) used += 512;
  for (const head of heads) used += 1 << core.folioOrder(head);
  // the free frames as the buddy lists hold them (nrFreePages() reads the vmstat counter)
  const free = core.e.nr_free_pages() >>> 0;
  if (free + used !== core.frames) say(`frames: ${free} free + ${used} in use != ${core.frames} (a leak of ${core.frames - free - used})`);
  if (core.vmstat("NR_FREE_PAGES") !== free) say(`NR_FREE_PAGES ${core.vmstat("NR_FREE_PAGES")} != ${free} frames in the buddy lists`);
  // Queue length against the queued THPs we can see.
  let queued = 0;
  for (const head of heads) if (core.folioOrder(head) > 0 && core.e.thp_is_queued(head)) queued++;
  if (queued !== core.splitQueueLen) say(`split queue holds ${core.splitQueueLen} THPs, ${queued} of them mapped`);
  if (core.badPages) say(`bad_page() reported ${core.badPages} time(s)`);
}

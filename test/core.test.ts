// The WebAssembly core through its exports: the buddy allocator, the page
// checks, the 4.5 DoubleMap rmap transitions, THP split and the huge zero
// page. Values follow kernel-mapcount.md (§3-§5, §9).
import { describe, it, expect, beforeEach } from "vitest";
import { Core, type CoreConfig, type CoreScheme } from "../src/core/frames.js";
import type { PageOffset } from "../src/core/exports.js";
import { BadPageError } from "../src/errors.js";

const L45: CoreConfig = { mmId: false, anonExclusive: false, deferredSplitUnmapped: true, cowReuseRefcount: false };
const L618: CoreConfig = { mmId: true, anonExclusive: true, deferredSplitUnmapped: false, cowReuseRefcount: true };
const FRAMES = 4096; // 16 MiB: four order-10 blocks
const NR = 512;
const ERR_NOMEM = -1, ERR_FALLBACK = -2, ERR_BUSY = -3;
const MM1 = 1, MM2 = 2, MM3 = 3, AV = 1;

/** Accessors over one core instance. */
class T {
  constructor(readonly c: Core) {}
  get e() { return this.c.e; }
  M(pfn: number) { return this.c.mapcountRaw(pfn); }
  R(pfn: number) { return this.c.refcount(pfn); }
  C(head: number) { return this.c.field(head + 1, "PAGE_COMPOUND_MAPCOUNT"); }
  DM(head: number) { return this.c.testFlag(head + 1, "double_map") ? 1 : 0; }
  pm(pfn: number) { return this.e.page_mapcount(pfn); }
  tm(pfn: number) { return this.e.total_mapcount(pfn); }
  queued(head: number) { return this.e.thp_is_queued(head) !== 0; }
  /** Free frames in the buddy lists; the vmstat counter must agree. */
  free() {
    const lists = this.e.nr_free_pages() >>> 0;
    expect(this.c.nrFreePages()).toBe(lists);
    return lists;
  }
  order(o: number) { return this.e.nr_free_order(o) >>> 0; }
  orders() { return Array.from({ length: 11 }, (_, o) => this.order(o)); }
  g(name: "SPLIT_QUEUE_LEN" | "BAD_PAGES" | "BAD_PFN" | "BAD_REASON") {
    const c = this.c;
    return { SPLIT_QUEUE_LEN: c.splitQueueLen, BAD_PAGES: c.badPages, BAD_PFN: c.badPfn, BAD_REASON: c.badReason }[name];
  }
  /** Put PFNs in the scratch buffer. */
  scratch(pfns: number[]) { pfns.forEach((p, i) => { this.c.scratchSet(i, p); }); }
  anon(mm = MM1, vpn = 0x1000) {
    const pfn = this.e.do_anonymous_page(mm, AV, vpn);
    expect(pfn).toBeGreaterThan(0);
    return pfn;
  }
  zap(pfns: number[], mm = MM1) {
    const slots = this.c.scratchSlots;
    for (let i = 0; i < pfns.length; i += slots) {
      const chunk = pfns.slice(i, i + slots);
      this.scratch(chunk);
      this.e.zap_pte_batch(chunk.length, mm);
    }
  }
  dup(pfns: number[], mm = MM2) { this.scratch(pfns); this.e.dup_pte_batch(pfns.length, mm); }
  /** A new PMD-mapped THP (do_huge_pmd_anonymous_page) and its deposit table. */
  thp(mm = MM1, vpn = 0x40000): { head: number; table: number } {
    const head = this.e.do_huge_pmd_anonymous_page(mm, AV, vpn);
    expect(head).toBeGreaterThan(0);
    return { head, table: this.c.result1 };
  }
  subpages(head: number) { return Array.from({ length: NR }, (_, i) => head + i); }
  /** Every subpage satisfies fn. */
  all(head: number, fn: (pfn: number, i: number) => boolean) {
    for (let i = 0; i < NR; i++) if (!fn(head + i, i)) return false;
    return true;
  }
  /** Allocate order-0 pages until the core says out of memory. */
  allocAll(): number[] {
    const out: number[] = [];
    for (;;) {
      const pfn = this.e.do_anonymous_page(MM1, AV, 0x1000 + out.length);
      if (pfn < 0) { expect(pfn).toBe(ERR_NOMEM); return out; }
      out.push(pfn);
    }
  }
}

async function core(profile = L45, frames = FRAMES): Promise<T> {
  return new T(await Core.create(frames, profile));
}

describe("buddy allocator", () => {
  let t: T;
  let initial: number[];
  beforeEach(async () => {
    t = await core();
    initial = t.orders();
  });

  it("starts as maximal aligned blocks minus the reserved zero page", () => {
    // pfn 0 is the zero page: its order-10 block is split into one block of each lower order
    expect(t.c.zeroPfn).toBe(0);
    expect(initial).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    expect(t.free()).toBe(FRAMES - 1);
    expect(t.c.vmstat("NR_FREE_PAGES")).toBe(FRAMES - 1);
    expect(t.e.check_free_lists()).toBe(0);
    expect(t.e.pfn_is_free(0)).toBeFalsy();
    expect(t.c.testFlag(0, "reserved")).toBe(true);
  });

  it("hands out every frame once, lowest first, then reports out of memory", () => {
    const pfns = t.allocAll();
    expect(pfns.length).toBe(FRAMES - 1);
    expect(pfns).toEqual(Array.from({ length: FRAMES - 1 }, (_, i) => i + 1));
    expect(t.free()).toBe(0);
    expect(t.orders().every((n) => n === 0)).toBe(true);
    expect(t.e.last_error()).toBe(1);
    expect(t.e.check_free_lists()).toBe(0);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(FRAMES - 1);
  });

  it("merges everything back into the initial blocks when all frames are freed (any order)", () => {
    const pfns = t.allocAll();
    // free in a scrambled order so merging has to happen out of sequence
    const order = pfns.slice().sort((a, b) => ((a * 2654435761) % 4093) - ((b * 2654435761) % 4093));
    t.zap(order);
    expect(t.free()).toBe(FRAMES - 1);
    expect(t.orders()).toEqual(initial);
    expect(t.e.check_free_lists()).toBe(0);
    expect(t.c.vmstat("NR_FREE_PAGES")).toBe(FRAMES - 1);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
    for (const p of pfns) expect(t.e.pfn_is_free(p)).toBeTruthy();
  });

  it("splits a larger block on allocation and merges buddies on free", () => {
    const a = t.anon(); // pfn 1: the lone order-0 block
    expect(a).toBe(1);
    expect(t.order(0)).toBe(0);
    const b = t.anon(); // splits the order-1 block at 2: 2 handed out, 3 listed at order 0
    expect(b).toBe(2);
    expect(t.order(1)).toBe(0);
    expect(t.order(0)).toBe(1);
    t.zap([b]); // 2 merges with its buddy 3 into an order-1 block
    expect(t.order(1)).toBe(1);
    expect(t.order(0)).toBe(0);
    t.zap([a]); // 1's buddy is the reserved zero page: no merge
    expect(t.orders()).toEqual(initial);
    expect(t.e.check_free_lists()).toBe(0);
  });

  it("splits an order-10 block for a second THP and merges it back", () => {
    const x = t.e.alloc_thp_pmd_mapped(MM1, AV, 0x200, 0);
    expect(x).toBe(512); // the lone order-9 block
    const y = t.e.alloc_thp_pmd_mapped(MM1, AV, 0x400, 0);
    expect(y).toBe(1024); // from an order-10 block; its upper half goes to the order-9 list
    expect(t.order(10)).toBe(2);
    expect(t.order(9)).toBe(1);
    t.e.zap_huge_pmd(y, MM1);
    expect(t.order(10)).toBe(3);
    expect(t.order(9)).toBe(0);
    t.e.zap_huge_pmd(x, MM1);
    expect(t.orders()).toEqual(initial);
    expect(t.g("SPLIT_QUEUE_LEN")).toBe(0); // queued (4.5 quirk) and unlinked by the destructor
    expect(t.e.check_free_lists()).toBe(0);
  });

  it("refuses order-9 allocations when memory is fragmented (THP fault falls back)", () => {
    const pfns = t.allocAll();
    // free every other frame: half the memory free, no two free buddies
    const freed = pfns.filter((p) => p % 2 === 0);
    t.zap(freed);
    expect(t.free()).toBe(freed.length);
    expect(t.orders().slice(1).every((n) => n === 0)).toBe(true);
    const before = t.free();
    expect(t.e.do_huge_pmd_anonymous_page(MM1, AV, 0x200)).toBe(ERR_FALLBACK);
    expect(t.e.last_error()).toBe(2);
    expect(t.c.vmstat("THP_FAULT_FALLBACK")).toBe(1);
    expect(t.e.alloc_thp_pmd_mapped(MM1, AV, 0x200, 0)).toBe(ERR_FALLBACK);
    expect(t.e.get_huge_zero_page() >>> 0).toBe(t.c.NIL);
    expect(t.c.hugeZeroPfn).toBe(t.c.NIL);
    expect(t.free()).toBe(before);
    // order-0 allocations still succeed
    const pt = t.e.pgtable_alloc();
    expect(pt).toBeGreaterThan(0);
    expect(t.e.is_pgtable_page(pt)).toBeTruthy();
    t.e.pte_free(pt);
    expect(t.free()).toBe(before);
    expect(t.e.check_free_lists()).toBe(0);
  });

  it("gives the THP back when the deposit table can't be allocated", () => {
    const pfns = t.allocAll();
    // free exactly one aligned 512-frame run: it merges into a single order-9 block
    const run = pfns.filter((p) => p >= 2048 && p < 2560);
    t.zap(run);
    expect(t.orders()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(t.e.do_huge_pmd_anonymous_page(MM1, AV, 0x200)).toBe(ERR_NOMEM);
    expect(t.orders()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
    expect(t.e.check_free_lists()).toBe(0);
    expect(t.g("BAD_PAGES")).toBe(0);
  });

  it("detects a corrupt free list entry", () => {
    // a free block whose PageBuddy marker is lost is reported by check_free_lists
    t.c.debug.setField(1, "PAGE_MAPCOUNT", -1);
    expect(t.e.check_free_lists()).toBeLessThan(0);
  });
});

describe("order-0 anonymous pages", () => {
  it("do_anonymous_page / page_dup_rmap / zap keep _mapcount and _refcount in step", async () => {
    const t = await core();
    const free0 = t.free();
    const p = t.anon(MM1, 0x1234);
    expect(t.M(p)).toBe(0);
    expect(t.R(p)).toBe(1);
    expect(t.pm(p)).toBe(1);
    expect(t.tm(p)).toBe(1);
    expect(t.c.field(p, "PAGE_MAPPING") & 1).toBe(1); // PageAnon
    expect(t.c.testFlag(p, "swapbacked")).toBe(true);
    expect(t.e.compound_order(p)).toBe(0);
    expect(t.e.head_pfn(p)).toBe(p);
    expect(t.e.wp_page_reuse(p)).toBe(1); // 4.5: page_mapcount == 1
    t.dup([p]); // fork
    expect([t.M(p), t.R(p), t.pm(p)]).toEqual([1, 2, 2]);
    expect(t.e.wp_page_reuse(p)).toBe(0);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(1); // dup doesn't count again
    t.zap([p], MM2);
    expect([t.M(p), t.R(p), t.pm(p)]).toEqual([0, 1, 1]);
    expect(t.e.pfn_is_free(p)).toBeFalsy();
    t.zap([p]);
    expect(t.e.pfn_is_free(p)).toBeTruthy();
    expect(t.free()).toBe(free0);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
    expect(t.g("BAD_PAGES")).toBe(0);
  });

  it("6.18: an exclusive page is reused on a write fault, a shared one only at refcount 1", async () => {
    const t = await core(L618);
    const p = t.anon();
    expect(t.c.testFlag(p, "anon_exclusive")).toBe(true);
    t.dup([p]);
    expect(t.c.testFlag(p, "anon_exclusive")).toBe(false);
    expect(t.e.wp_page_reuse(p)).toBe(0);
    t.zap([p], MM2);
    expect(t.e.wp_page_reuse(p)).toBe(1);
    expect(t.c.testFlag(p, "anon_exclusive")).toBe(true);
  });
});

describe("THP: PMD fault, fork, PMD split (DoubleMap), split_huge_page", () => {
  for (const [name, profile] of [["linux-4.5", L45], ["linux-6.18", L618]] as const) {
    describe(name, () => {
      let t: T;
      beforeEach(async () => { t = await core(profile); });

      it("(a) do_huge_pmd_anonymous_page: C=0, M=-1, R=1, deposit table in result1", () => {
        const free0 = t.free();
        const { head, table } = t.thp();
        expect(head % NR).toBe(0);
        expect(t.e.compound_order(head)).toBe(9);
        expect(t.c.testFlag(head, "head")).toBe(true);
        expect(t.e.head_pfn(head + 300)).toBe(head);
        expect(t.C(head)).toBe(0);
        expect(t.e.compound_mapcount(head + 7)).toBe(1);
        expect(t.all(head, (p) => t.M(p) === -1)).toBe(true);
        expect(t.all(head, (p) => t.pm(p) === 1)).toBe(true);
        expect(t.tm(head)).toBe(1);
        expect(t.DM(head)).toBe(0);
        expect(t.R(head)).toBe(1);
        expect(t.all(head, (p, i) => i === 0 || t.R(p) === 0)).toBe(true);
        expect(t.queued(head)).toBe(false);
        // the deposit table: a separate page-table page
        expect(table).not.toBe(t.c.NIL);
        expect(table < head || table >= head + NR).toBe(true);
        expect(t.e.is_pgtable_page(table)).toBeTruthy();
        expect(t.c.vmstat("NR_PAGETABLE")).toBe(1);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(1);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(NR);
        expect(t.c.vmstat("THP_FAULT_ALLOC")).toBe(1);
        expect(t.free()).toBe(free0 - NR - 1);
        // (e') the whole-PMD zap frees it, and the table goes separately
        t.e.zap_huge_pmd(head, MM1);
        t.e.pte_free(table);
        expect(t.free()).toBe(free0);
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
        // 4.5 queues the fully unmapped THP (freed right after); 6.1+ doesn't
        expect(t.c.vmstat("THP_DEFERRED_SPLIT_PAGE")).toBe(profile.deferredSplitUnmapped ? 1 : 0);
        expect(t.g("BAD_PAGES")).toBe(0);
      });

      it("(b)-(e) copy_huge_pmd, split of one PMD sets DoubleMap, kept after the PTEs go, cleared with the last PMD", () => {
        const free0 = t.free();
        const { head, table } = t.thp(MM1);
        t.e.copy_huge_pmd(head, MM2); // (b)
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([1, 2, 0, 2]);
        expect(t.all(head, (p) => t.M(p) === -1 && t.pm(p) === 2)).toBe(true);
        t.e.split_huge_pmd(head, MM2); // (c)
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([0, 513, 1, 513]);
        expect(t.all(head, (p) => t.M(p) === 1 && t.pm(p) === 2)).toBe(true);
        expect(t.queued(head)).toBe(false);
        expect(t.c.vmstat("THP_SPLIT_PMD")).toBe(1);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(1);
        t.zap(t.subpages(head), MM2); // (d): the child exits
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([0, 1, 1, 1]);
        expect(t.all(head, (p) => t.M(p) === 0 && t.pm(p) === 1)).toBe(true);
        expect(t.queued(head)).toBe(false);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(NR);
        t.e.zap_huge_pmd(head, MM1); // (e)
        t.e.pte_free(table);
        expect(t.free()).toBe(free0);
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
        expect(t.g("BAD_PAGES")).toBe(0);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
      });

      it("(d') the PMD goes first: DoubleMap cleared, M stays 0, nothing queued until a PTE goes", () => {
        const { head } = t.thp(MM1);
        t.e.copy_huge_pmd(head, MM2);
        t.e.split_huge_pmd(head, MM2);
        t.e.zap_huge_pmd(head, MM1);
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([-1, 512, 0, 512]);
        expect(t.all(head, (p) => t.M(p) === 0 && t.pm(p) === 1)).toBe(true);
        expect(t.queued(head)).toBe(false);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(NR);
        t.zap([head + 3], MM2);
        expect(t.queued(head)).toBe(true);
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(1);
        t.zap(t.subpages(head).filter((p) => p !== head + 3), MM2);
        expect(t.e.pfn_is_free(head)).toBeTruthy();
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
        expect(t.g("BAD_PAGES")).toBe(0);
      });

      it("6.18 MM-owner slots follow (b) and (c) (kernel-mapcount §9 (j))", () => {
        if (!profile.mmId) return;
        const { head } = t.thp(MM1);
        const f = (off: string) => t.c.field(head + 1, off as PageOffset);
        expect([f("PAGE_LARGE_MAPCOUNT"), f("PAGE_MM_ID0"), f("PAGE_MM_ID_MAPCOUNT0")]).toEqual([0, MM1, 0]);
        expect(f("PAGE_MM_ID1") >>> 0).toBe(0);
        t.e.copy_huge_pmd(head, MM2);
        expect(f("PAGE_LARGE_MAPCOUNT")).toBe(1);
        expect((f("PAGE_MM_ID1") >>> 0) & 0x7fffffff).toBe(MM2);
        expect(f("PAGE_MM_ID1") >>> 31).toBe(1); // SHARED
        t.e.split_huge_pmd(head, MM2);
        expect([f("PAGE_LARGE_MAPCOUNT"), f("PAGE_MM_ID_MAPCOUNT0"), f("PAGE_MM_ID_MAPCOUNT1")]).toEqual([512, 0, 511]);
        expect(f("PAGE_MM_ID1") >>> 31).toBe(1);
        t.e.zap_huge_pmd(head, MM1); // slot 0 released; slot 1 owns every mapping: SHARED cleared
        expect([f("PAGE_LARGE_MAPCOUNT"), f("PAGE_MM_ID0"), f("PAGE_MM_ID_MAPCOUNT0"), f("PAGE_MM_ID_MAPCOUNT1")]).toEqual([511, 0, -1, 511]);
        expect(f("PAGE_MM_ID1") >>> 31).toBe(0);
        // a third mm takes the free slot 0 and makes it shared again
        t.dup([head + 1], MM3);
        expect(f("PAGE_MM_ID0")).toBe(MM3);
        expect(f("PAGE_MM_ID1") >>> 31).toBe(1);
      });

      it("(f) one PMD split, one PTE unmapped: queued; the deferred split frees that subpage only", () => {
        const { head, table } = t.thp(MM1);
        t.e.split_huge_pmd(head, MM1); // cm was 1: no DoubleMap
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([-1, 512, 0, 512]);
        expect(t.all(head, (p) => t.M(p) === 0 && t.pm(p) === 1)).toBe(true);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
        const k = 77;
        t.zap([head + k]);
        expect([t.M(head + k), t.pm(head + k), t.tm(head), t.R(head)]).toEqual([-1, 0, 511, 511]);
        expect(t.queued(head)).toBe(true);
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(1);
        expect(t.c.vmstat("NR_ANON_PAGES")).toBe(511);
        const free1 = t.free();
        expect(t.e.deferred_split_scan()).toBe(1);
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
        expect(t.free()).toBe(free1 + 1);
        expect(t.e.pfn_is_free(head + k)).toBeTruthy();
        for (let i = 0; i < NR; i++) {
          if (i === k) continue;
          const p = head + i;
          expect(t.e.compound_order(p)).toBe(0);
          expect(t.e.head_pfn(p)).toBe(p);
          expect([t.M(p), t.R(p), t.pm(p)]).toEqual([0, 1, 1]);
        }
        expect(t.c.testFlag(head, "head")).toBe(false);
        expect(t.c.vmstat("THP_SPLIT_PAGE")).toBe(1);
        // second scan: nothing left
        expect(t.e.deferred_split_scan()).toBe(0);
        // everything can be freed without a bad page
        t.zap(t.subpages(head).filter((p) => p !== head + k));
        t.e.pte_free(table);
        expect(t.free()).toBe(FRAMES - 1);
        expect(t.g("BAD_PAGES")).toBe(0);
      });

      it("(i) fork of a PTE-mapped THP with a hole: M+1 on every mapped subpage, R=1022", () => {
        const { head } = t.thp(MM1);
        t.e.split_huge_pmd(head, MM1);
        const k = 5;
        t.zap([head + k]);
        t.dup(t.subpages(head).filter((p) => p !== head + k), MM2);
        expect(t.M(head + k)).toBe(-1);
        expect(t.all(head, (p, i) => i === k || t.M(p) === 1)).toBe(true);
        expect([t.C(head), t.R(head), t.tm(head)]).toEqual([-1, 1022, 1022]);
      });

      it("(g) both PMDs split, then split_huge_page: every subpage _mapcount 1, _refcount 2", () => {
        const { head } = t.thp(MM1);
        t.e.copy_huge_pmd(head, MM2);
        t.e.split_huge_pmd(head, MM2);
        t.e.split_huge_pmd(head, MM1);
        expect([t.C(head), t.R(head), t.DM(head), t.tm(head)]).toEqual([-1, 1024, 0, 1024]);
        expect(t.all(head, (p) => t.M(p) === 1 && t.pm(p) === 2)).toBe(true);
        expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
        expect(t.e.split_huge_page(head)).toBe(0);
        expect(t.all(head, (p) => t.e.compound_order(p) === 0 && t.M(p) === 1 && t.R(p) === 2 && t.pm(p) === 2)).toBe(true);
        expect(t.all(head, (p) => t.e.head_pfn(p) === p)).toBe(true);
        // the scrubbed tails carry no compound state: both sets of PTEs can go without a bad page
        t.zap(t.subpages(head), MM1);
        t.zap(t.subpages(head), MM2);
        expect(t.all(head, (p) => !!t.e.pfn_is_free(p))).toBe(true);
        expect(t.g("BAD_PAGES")).toBe(0);
      });

      it("split_huge_page refuses a PMD-mapped THP and a pinned one, changing nothing", () => {
        const { head } = t.thp(MM1);
        expect(t.e.split_huge_page(head)).toBe(ERR_BUSY);
        expect(t.e.last_error()).toBe(3);
        expect(t.e.compound_order(head)).toBe(9);
        t.e.split_huge_pmd(head, MM1);
        // a GUP-style pin: refcount above mapcount
        t.c.debug.setField(head, "PAGE_REFCOUNT", t.R(head) + 1);
        expect(t.e.split_huge_page(head)).toBe(ERR_BUSY);
        expect([t.e.compound_order(head), t.R(head), t.tm(head)]).toEqual([9, 513, 512]);
        t.c.debug.setField(head, "PAGE_REFCOUNT", t.R(head) - 1);
        expect(t.e.split_huge_page(head)).toBe(0);
        expect(t.e.compound_order(head)).toBe(0);
      });

      it("split_huge_page frees the unmapped subpages and takes the THP off the queue", () => {
        const { head } = t.thp(MM1);
        t.e.split_huge_pmd(head, MM1);
        const gone = t.subpages(head).filter((p) => (p - head) % 3 === 0);
        t.zap(gone);
        expect(t.queued(head)).toBe(true);
        const free1 = t.free();
        expect(t.e.split_huge_page(head)).toBe(0);
        // (thp_is_queued means nothing for a page that is no longer compound)
        expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
        expect(t.e.deferred_split_scan()).toBe(0);
        expect(t.free()).toBe(free1 + gone.length);
        for (const p of gone) expect(t.e.pfn_is_free(p)).toBeTruthy();
        expect(t.e.check_free_lists()).toBe(0);
      });
    });
  }
});

describe("multi-size THP: PTE-mapped large folios of order 2..9 (do_anonymous_folio)", () => {
  const SCHEMES: CoreScheme[] = ["naive", "doublemap", "subpages", "large", "nopagemapcount"];
  const VPN = 0x40000; // aligned for every order up to 9

  /** A core with one scheme; the per-scheme expectations of kernel-mapcount.md for a folio no PMD maps. */
  async function mcore(profile: CoreConfig, scheme: CoreScheme) {
    const t = await core({ ...profile, scheme });
    const perPage = scheme !== "nopagemapcount";
    const keepsLarge = profile.mmId || scheme === "large" || scheme === "nopagemapcount";
    return {
      t, perPage, keepsLarge,
      /** raw _mapcount of a page with `e` PTE maps: e − 1, or −1 always without per-page mapcounts. */
      rawM: (e: number) => (perPage ? e - 1 : -1),
      /** page_mapcount: e, or the folio average (kpagecount) under NO_PAGE_MAPCOUNT. */
      pm: (e: number, total: number, nr: number) =>
        perPage ? e : total <= 0 ? 0 : Math.max(1, Math.floor((total + nr / 2) / nr)),
    };
  }

  for (const [pname, profile] of [["linux-4.5", L45], ["linux-6.18", L618]] as const) {
    for (const scheme of SCHEMES) {
      for (const order of [2, 4, 8]) {
        const nr = 1 << order;
        it(`${pname} ${scheme} order ${order}: new folio, fork, partial zap (queued), COW reuse, split, no leak`, async () => {
          const { t, perPage, keepsLarge, rawM, pm } = await mcore(profile, scheme);
          const initial = t.orders();
          const free0 = t.free();
          const f = (off: PageOffset) => t.c.field(head + 1, off);
          const pages = Array.from({ length: nr }, (_, i) => i);
          /** PTE maps per page, kept by the test as the page tables would. */
          const e = pages.map(() => 1);
          const total = () => e.reduce((a, b) => a + b, 0);
          const expectCounts = () => {
            const T = total();
            for (const i of pages) {
              expect(t.M(head + i), `_mapcount[${i}]`).toBe(rawM(e[i]!));
              expect(t.pm(head + i), `page_mapcount[${i}]`).toBe(pm(e[i]!, T, nr));
            }
            expect(t.tm(head)).toBe(T);
            expect(t.e.folio_mapcount(head + nr - 1)).toBe(T);
            expect(t.R(head)).toBe(T);
            expect(t.all(head, (p, i) => i === 0 || i >= nr || t.R(p) === 0)).toBe(true);
            expect(t.C(head)).toBe(-1); // compound_mapcount / _entire_mapcount: PMD maps only
            expect(t.DM(head)).toBe(0);
            if (keepsLarge) expect(f("PAGE_LARGE_MAPCOUNT")).toBe(T - 1);
            const S = f("PAGE_SUBPAGES_MAPCOUNT"); // = _nr_pages_mapped
            if (scheme === "subpages" || scheme === "large") expect(S).toBe(e.filter((x) => x > 0).length);
            if (scheme === "nopagemapcount") expect(S).toBe(0);
            expect(t.c.vmstat("NR_ANON_PAGES")).toBe(perPage ? e.filter((x) => x > 0).length : T > 0 ? nr : 0);
            expect(t.c.vmstat("NR_ANON_THPS")).toBe(0);
          };

          // (1) do_anonymous_page with an order-`order` folio
          const head = t.e.do_anonymous_folio(MM1, AV, VPN, order);
          expect(head).toBeGreaterThan(0);
          expect(head % nr).toBe(0);
          expect(t.e.compound_order(head + nr - 1)).toBe(order);
          expect(t.e.head_pfn(head + nr - 1)).toBe(head);
          expect(t.c.testFlag(head, "head")).toBe(true);
          expect(t.c.field(head, "PAGE_MAPPING") & 1).toBe(1);
          expect(t.c.field(head, "PAGE_INDEX")).toBe(VPN);
          expect(t.free()).toBe(free0 - nr);
          expectCounts();
          expect(t.queued(head)).toBe(false);
          expect(t.c.vmstat("THP_FAULT_ALLOC")).toBe(0); // mTHP faults are counted per order, not here
          if (profile.mmId) {
            const o = t.c.mmOwners(head);
            expect([o.ids, o.mapcounts, o.maybeMappedShared]).toEqual([[MM1, 0], [nr - 1, -1], false]);
          }
          // every page exclusive (6.18): written in place; 4.5 never reuses a page of a compound page
          expect(t.all(head, (p, i) => i >= nr || t.c.testFlag(p, "anon_exclusive") === profile.anonExclusive)).toBe(true);
          expect(t.e.wp_page_reuse(head + 1)).toBe(profile.anonExclusive ? 1 : 0);

          // (2) fork: the child maps the first half
          const k = nr / 2;
          t.dup(pages.slice(0, k).map((i) => head + i), MM2);
          for (let i = 0; i < k; i++) e[i]!++;
          expectCounts();
          expect(t.queued(head)).toBe(false);
          expect(t.c.testFlag(head + 1, "anon_exclusive")).toBe(false);
          expect(t.e.wp_page_reuse(head + 1)).toBe(0); // shared with the child
          expect(t.e.wp_page_reuse(head + nr - 1)).toBe(profile.anonExclusive ? 1 : 0); // never shared: still exclusive
          if (profile.mmId) {
            const o = t.c.mmOwners(head);
            expect([o.ids, o.mapcounts, o.maybeMappedShared]).toEqual([[MM1, MM2], [nr - 1, k - 1], true]);
          }

          // (3) the child unmaps page 0: the parent still maps it, nothing is partially mapped
          t.zap([head], MM2);
          e[0]!--;
          expectCounts();
          expect(t.queued(head)).toBe(false);

          // (4) the parent unmaps its last page: a page lost its last mapping
          t.zap([head + nr - 1], MM1);
          e[nr - 1]!--;
          expectCounts();
          expect(t.e.pfn_is_free(head + nr - 1)).toBeFalsy(); // still part of the folio
          // per-page schemes see the partial map; NO_PAGE_MAPCOUNT only once mapcount < nr pages
          expect(t.queued(head)).toBe(perPage);

          // (5) the child exits: now fewer mappings than pages, every scheme has queued it
          t.zap(pages.slice(1, k).map((i) => head + i), MM2);
          for (let i = 1; i < k; i++) e[i]!--;
          expectCounts();
          expect(t.queued(head)).toBe(true);
          expect(t.g("SPLIT_QUEUE_LEN")).toBe(1);
          expect(t.e.folio_test_partially_mapped(head)).toBeTruthy();
          expect(t.c.vmstat("THP_DEFERRED_SPLIT_PAGE")).toBe(0); // the vmstat counts PMD-size THPs only
          expect(t.e.thp_underused(head, 0)).toBeFalsy(); // the underused rule is PMD-only
          if (profile.mmId) {
            const o = t.c.mmOwners(head);
            expect([o.ids, o.mapcounts, o.maybeMappedShared]).toEqual([[MM1, 0], [nr - 2, -1], false]);
          }
          // 6.15+ __wp_can_reuse_large_anon_folio: one mm owns every mapping, no other reference
          expect(t.e.wp_page_reuse(head + 1)).toBe(profile.mmId ? 1 : 0);
          expect(t.c.testFlag(head + 1, "anon_exclusive")).toBe(profile.mmId);

          // (6) split_huge_page to order 0: the unmapped page is freed, the mapped ones stay
          const free1 = t.free();
          if (!perPage) { // NO_PAGE_MAPCOUNT: the host hands over freeze_page's per-page counts
            t.scratch(e);
            t.c.setSplitCounts();
          }
          expect(t.e.split_huge_page(head)).toBe(0);
          expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
          expect(t.free()).toBe(free1 + 1);
          expect(t.e.pfn_is_free(head + nr - 1)).toBeTruthy();
          expect(t.c.vmstat("THP_SPLIT_PAGE")).toBe(0); // PMD-size only
          expect(t.c.vmstat("NR_ANON_PAGES")).toBe(nr - 1);
          for (let i = 0; i < nr - 1; i++) {
            const p = head + i;
            expect([t.e.compound_order(p), t.e.head_pfn(p), t.M(p), t.R(p), t.pm(p), t.tm(p)]).toEqual([0, p, 0, 1, 1, 1]);
            expect(t.c.field(p, "PAGE_INDEX")).toBe(VPN + i);
            expect(t.c.field(p, "PAGE_MAPPING") & 1).toBe(1);
          }
          expect(t.c.testFlag(head, "head")).toBe(false);
          // (7) the parent exits: every frame back, the free lists merged as at boot
          t.zap(pages.slice(0, nr - 1).map((i) => head + i), MM1);
          expect(t.free()).toBe(free0);
          expect(t.orders()).toEqual(initial);
          expect(t.e.check_free_lists()).toBe(0);
          expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
          expect(t.g("BAD_PAGES")).toBe(0);
        });

        it(`${pname} ${scheme} order ${order}: fully unmapped folio is freed whole; deferred split scan`, async () => {
          const { t, perPage } = await mcore(profile, scheme);
          const initial = t.orders();
          const free0 = t.free();
          const a = t.e.do_anonymous_folio(MM1, AV, VPN, order);
          expect(a).toBeGreaterThan(0);
          t.zap(Array.from({ length: nr }, (_, i) => a + i), MM1);
          expect(t.free()).toBe(free0);
          expect(t.orders()).toEqual(initial);
          expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
          // the shrinker splits a queued folio (one page unmapped)
          const b = t.e.do_anonymous_folio(MM1, AV, VPN + nr, order);
          expect(b).toBeGreaterThan(0);
          t.zap([b + 1], MM1);
          expect(t.queued(b)).toBe(true);
          if (perPage) {
            expect(t.e.deferred_split_scan()).toBe(1);
            expect(t.e.pfn_is_free(b + 1)).toBeTruthy();
            expect(t.all(b, (p, i) => i >= nr || i === 1 || (t.e.compound_order(p) === 0 && t.R(p) === 1 && t.pm(p) === 1))).toBe(true);
          } else {
            expect(t.e.deferred_split_scan()).toBe(0); // needs the host's per-page counts
            expect(t.queued(b)).toBe(true);
          }
          // a pinned folio is not split
          const c = t.e.do_anonymous_folio(MM1, AV, VPN + 2 * nr, order);
          t.c.debug.setField(c, "PAGE_REFCOUNT", t.R(c) + 1);
          if (!perPage) { t.scratch(Array.from({ length: nr }, () => 1)); t.c.setSplitCounts(); }
          expect(t.e.split_huge_page(c)).toBe(ERR_BUSY);
          expect(t.e.compound_order(c)).toBe(order);
          t.c.debug.setField(c, "PAGE_REFCOUNT", t.R(c) - 1);
          t.zap(Array.from({ length: nr }, (_, i) => c + i), MM1);
          t.zap(Array.from({ length: nr }, (_, i) => b + i).filter((p) => p !== b + 1), MM1);
          expect(t.free()).toBe(free0);
          expect(t.orders()).toEqual(initial);
          expect(t.e.check_free_lists()).toBe(0);
          expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
          expect(t.g("BAD_PAGES")).toBe(0);
        });
      }
    }
  }

  it("refuses a bad order or an unaligned address, falls back when no block of the order is free", async () => {
    const t = await core(L618);
    const free0 = t.free();
    expect(t.e.do_anonymous_folio(MM1, AV, VPN, 1)).toBe(-5); // ERR_INVAL: order 1 has no deferred list
    expect(t.e.do_anonymous_folio(MM1, AV, VPN, 10)).toBe(-5);
    expect(t.e.do_anonymous_folio(MM1, AV, VPN + 2, 2)).toBe(-5);
    expect(t.free()).toBe(free0);
    const pfns = t.allocAll();
    t.zap(pfns.filter((p) => p % 2 === 0));
    expect(t.e.do_anonymous_folio(MM1, AV, VPN, 2)).toBe(ERR_FALLBACK);
    expect(t.e.last_error()).toBe(2);
    expect(t.c.vmstat("THP_FAULT_FALLBACK")).toBe(0);
    expect(t.e.check_free_lists()).toBe(0);
  });

  it("order 9 mapped by PTEs is the state a split PMD leaves", async () => {
    for (const scheme of SCHEMES) {
      const a = await core({ ...L618, scheme });
      const b = await core({ ...L618, scheme });
      const x = a.e.do_anonymous_folio(MM1, AV, VPN, 9);
      const { head: y } = b.thp(MM1, VPN);
      b.e.split_huge_pmd(y, MM1);
      expect(x).toBe(y);
      for (let i = 0; i < NR; i += 37) expect([a.M(x + i), a.pm(x + i), a.c.testFlag(x + i, "anon_exclusive")]).toEqual([b.M(y + i), b.pm(y + i), true]);
      expect([a.tm(x), a.R(x), a.c.field(x + 1, "PAGE_LARGE_MAPCOUNT"), a.c.field(x + 1, "PAGE_SUBPAGES_MAPCOUNT")])
        .toEqual([b.tm(y), b.R(y), b.c.field(y + 1, "PAGE_LARGE_MAPCOUNT"), b.c.field(y + 1, "PAGE_SUBPAGES_MAPCOUNT")]);
      expect(a.c.mmOwners(x)).toEqual(b.c.mmOwners(y));
    }
  });
});

describe("PTE batches of a large folio (folio_pte_batch): one rmap call per run under 6.11+", () => {
  // zap_pte_batch / dup_pte_batch get PFNs in PTE order; a run of consecutive
  // pages of one large folio is one zap_present_folio_ptes / copy_present_ptes
  // batch. 6.11+ (large) and 6.15+ (nopagemapcount) update the rmap once per
  // batch; 6.2 (subpages), 4.5 (doublemap) and naive did it page by page.
  const VPN = 0x40000;
  const ORDER = 4, N = 16;
  const run = (pfn: number, n: number) => Array.from({ length: n }, (_, i) => pfn + i);
  async function bcore(scheme: CoreScheme) {
    const t = await core({ ...L618, scheme });
    const a = t.e.do_anonymous_folio(MM1, AV, VPN, ORDER);
    expect(a).toBeGreaterThan(0);
    return { t, a };
  }
  const cost = (t: T, op: "add_new" | "dup" | "remove") => {
    const c = t.c.costs()[op];
    return [c.calls, c.atomics, c.pagesTouched];
  };

  it("do_anonymous_folio's folio_add_new_anon_rmap is one call of plain stores", async () => {
    // !folio_test_pmd_mappable branch: atomic_set(&page->_mapcount, 0) per page
    // (CONFIG_PAGE_MAPCOUNT), folio_set_large_mapcount, atomic_set(_nr_pages_mapped):
    // no read-modify-write at all. large writes all 16 struct pages (H[1] is page 1);
    // nopagemapcount the head and H[1] only.
    for (const [scheme, want] of [["large", [1, 0, N]], ["nopagemapcount", [1, 0, 2]]] as const) {
      const { t } = await bcore(scheme);
      expect(cost(t, "add_new"), scheme).toEqual(want);
    }
  });

  it("large: dup and zap of an order-4 folio, atomics per the kernel's batched code", async () => {
    const { t, a } = await bcore("large");
    const f = (off: PageOffset) => t.c.field(a + 1, off);
    t.c.resetCosts();
    // fork: folio_try_dup_anon_rmap_ptes(folio, page, 16): atomic_inc of each
    // page's _mapcount (16) + ONE folio_add_large_mapcount(folio, 16) = 17 atomics;
    // struct pages 0..15 (H[1] among them)
    t.dup(run(a, N), MM2);
    expect(cost(t, "dup")).toEqual([1, N + 1, N]);
    expect(t.all(a, (p, i) => i >= N || (t.M(p) === 1 && t.pm(p) === 2 && !t.c.testFlag(p, "anon_exclusive")))).toBe(true);
    expect([t.R(a), f("PAGE_LARGE_MAPCOUNT"), f("PAGE_SUBPAGES_MAPCOUNT")]).toEqual([2 * N, 2 * N - 1, N]);
    const o = t.c.mmOwners(a);
    expect([o.ids, o.mapcounts, o.maybeMappedShared]).toEqual([[MM1, MM2], [N - 1, N - 1], true]);
    // the child exits: folio_remove_rmap_ptes(16): ONE folio_sub_large_mapcount +
    // 16 atomic_add_negative(-1); no page became unmapped, so no atomic on
    // _nr_pages_mapped and nothing to queue: 17 atomics
    t.zap(run(a, N), MM2);
    expect(cost(t, "remove")).toEqual([1, N + 1, N]);
    expect(t.queued(a)).toBe(false);
    // the parent unmaps 8 pages in one batch: 1 + 8 + ONE atomic_sub_return(8,
    // _nr_pages_mapped) = 10; 8 pages unmapped, 8 still mapped: partially mapped, queued
    t.c.resetCosts();
    t.zap(run(a + 4, 8), MM1);
    expect(cost(t, "remove")).toEqual([1, 1 + 8 + 1, 8 + 1]); // pages 4..11 and H[1]
    expect(t.queued(a)).toBe(true);
    expect(t.e.folio_test_partially_mapped(a)).toBeTruthy();
    expect([f("PAGE_SUBPAGES_MAPCOUNT"), f("PAGE_LARGE_MAPCOUNT"), t.c.vmstat("NR_ANON_PAGES")]).toEqual([8, 7, 8]);
    // the rest goes in two runs (0..3 and 12..15, a hole between): two calls of
    // 1 + 4 + 1 atomics; pages touched per call: 0..3 (H[1] among them), then
    // 12..15 + H[1]; the folio is freed and off the queue
    t.c.resetCosts();
    t.zap([...run(a, 4), ...run(a + 12, 4)], MM1);
    expect(cost(t, "remove")).toEqual([2, 12, 4 + 5]);
    expect(t.e.pfn_is_free(a)).toBeTruthy();
    expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
    expect(t.g("BAD_PAGES")).toBe(0);
  });

  it("nopagemapcount: dup and zap of an order-4 folio, one atomic per batch", async () => {
    const { t, a } = await bcore("nopagemapcount");
    const f = (off: PageOffset) => t.c.field(a + 1, off);
    t.c.resetCosts();
    // no per-page _mapcount: the batch is ONE folio_add_large_mapcount(folio, 16) on H[1]
    t.dup(run(a, N), MM2);
    expect(cost(t, "dup")).toEqual([1, 1, 1]);
    expect(t.all(a, (p, i) => i >= N || (t.M(p) === -1 && t.pm(p) === 2))).toBe(true);
    expect([t.R(a), f("PAGE_LARGE_MAPCOUNT")]).toEqual([2 * N, 2 * N - 1]);
    const o = t.c.mmOwners(a);
    expect([o.ids, o.mapcounts, o.maybeMappedShared]).toEqual([[MM1, MM2], [N - 1, N - 1], true]);
    // ONE folio_sub_return_large_mapcount(16): 16 mappings left = nr pages, not partially mapped
    t.zap(run(a, N), MM2);
    expect(cost(t, "remove")).toEqual([1, 1, 1]);
    expect(t.queued(a)).toBe(false);
    expect(t.c.mmOwners(a).maybeMappedShared).toBe(false);
    // 8 pages in one batch: 8 < 16 mappings, no PMD: queued
    t.c.resetCosts();
    t.zap(run(a + 4, 8), MM1);
    expect(cost(t, "remove")).toEqual([1, 1, 1]);
    expect(t.queued(a)).toBe(true);
    expect([f("PAGE_LARGE_MAPCOUNT"), t.c.vmstat("NR_ANON_PAGES")]).toEqual([7, N]);
    t.c.resetCosts();
    t.zap([...run(a, 4), ...run(a + 12, 4)], MM1); // two runs: two calls, each on H[1]
    expect(cost(t, "remove")).toEqual([2, 2, 2]);
    expect(t.e.pfn_is_free(a)).toBeTruthy();
    expect(t.g("SPLIT_QUEUE_LEN")).toBe(0);
    expect(t.c.vmstat("NR_ANON_PAGES")).toBe(0);
    expect(t.g("BAD_PAGES")).toBe(0);
  });

  it("a whole-folio zap in one batch does not queue; a partial one does; page by page (6.2) it does", async () => {
    for (const scheme of ["large", "nopagemapcount", "subpages"] as const) {
      const { t, a } = await bcore(scheme);
      const pin = () => t.c.debug.setField(a, "PAGE_REFCOUNT", t.R(a) + 1); // keep it allocated after the zap
      pin();
      t.zap(run(a, N), MM1);
      // large: partially_mapped = nr && atomic_read(_nr_pages_mapped) = 16 && 0;
      // nopagemapcount: mapcount 0; subpages (page_remove_rmap per page) queued at the first page
      expect(t.queued(a), scheme).toBe(scheme === "subpages");
      expect(!!t.e.folio_test_partially_mapped(a), scheme).toBe(scheme === "subpages");
      expect(t.e.pfn_is_free(a), scheme).toBeFalsy();
      // a partial zap in one batch queues under every scheme
      const b = t.e.do_anonymous_folio(MM1, AV, VPN + N, ORDER);
      t.zap(run(b, N - 1), MM1);
      expect(t.queued(b), scheme).toBe(true);
      expect(t.e.folio_test_partially_mapped(b), scheme).toBeTruthy();
    }
  });

  it("two folios in one batch are two runs, an order-0 page its own call; per-page schemes stay per page", async () => {
    for (const scheme of ["large", "nopagemapcount", "subpages"] as const) {
      const { t, a } = await bcore(scheme);
      const b = t.e.do_anonymous_folio(MM1, AV, VPN + N, ORDER);
      expect(b).toBe(a + N); // adjacent PFNs: only the folio boundary ends the run
      const p = t.anon(MM1, VPN + 2 * N);
      t.c.resetCosts();
      t.dup([...run(a, N), ...run(b, N), p], MM2);
      const dup = t.c.costs().dup;
      // large: 2 × (16 + 1) + order-0 (one atomic_inc of _mapcount);
      // nopagemapcount: 2 × 1 + 1; subpages (6.2 page_dup_rmap per page, plus the
      // 6.18 profile's _large_mapcount per page): 32 × 2 + 1
      const want = { large: [3, 2 * (N + 1) + 1], nopagemapcount: [3, 3], subpages: [2 * N + 1, 2 * N * 2 + 1] }[scheme];
      expect([dup.calls, dup.atomics], scheme).toEqual(want);
      expect(t.R(a), scheme).toBe(2 * N);
      expect(t.R(b), scheme).toBe(2 * N);
      t.c.resetCosts();
      t.zap([...run(a, N), ...run(b, N), p], MM2);
      const rm = t.c.costs().remove;
      const wantRm = { large: [3, 2 * (N + 1) + 1], nopagemapcount: [3, 3], subpages: [2 * N + 1, 2 * N * 2 + 1] }[scheme];
      expect([rm.calls, rm.atomics], scheme).toEqual(wantRm);
      expect([t.queued(a), t.queued(b)], scheme).toEqual([false, false]);
      expect(t.tm(a) + t.tm(b), scheme).toBe(2 * N);
    }
  });
});

describe("the huge zero page", () => {
  it("refcount 2 on first use, +1 per user, freed by its shrinker only at 1", async () => {
    const t = await core();
    const free0 = t.free();
    const z = t.e.get_huge_zero_page() >>> 0;
    expect(z).not.toBe(t.c.NIL);
    expect(z % NR).toBe(0);
    expect(t.c.hugeZeroPfn).toBe(z);
    expect(t.c.hugeZeroRefcount).toBe(2);
    expect(t.c.vmstat("THP_ZERO_PAGE_ALLOC")).toBe(1);
    expect(t.free()).toBe(free0 - NR);
    // never rmap-tracked: no mapcount, the allocation's refcount only
    expect([t.R(z), t.C(z), t.pm(z + 9), t.tm(z)]).toEqual([1, -1, 0, 0]);
    expect(t.e.get_huge_zero_page() >>> 0).toBe(z);
    expect(t.c.hugeZeroRefcount).toBe(3);
    expect(t.c.vmstat("THP_ZERO_PAGE_ALLOC")).toBe(1);
    expect(t.e.shrink_huge_zero_page()).toBe(0);
    t.e.put_huge_zero_page();
    expect(t.e.shrink_huge_zero_page()).toBe(0);
    t.e.put_huge_zero_page();
    expect(t.c.hugeZeroRefcount).toBe(1);
    expect(t.e.shrink_huge_zero_page()).toBe(NR);
    expect(t.c.hugeZeroRefcount).toBe(0);
    expect(t.c.hugeZeroPfn).toBe(t.c.NIL);
    expect(t.free()).toBe(free0);
    expect(t.e.shrink_huge_zero_page()).toBe(0);
    // allocated afresh on the next use
    expect(t.e.get_huge_zero_page() >>> 0).not.toBe(t.c.NIL);
    expect(t.c.vmstat("THP_ZERO_PAGE_ALLOC")).toBe(2);
    expect(t.g("BAD_PAGES")).toBe(0);
  });
});

describe("bad page detection", () => {
  it("a page freed with a nonzero mapcount is reported and never reused", async () => {
    const t = await core();
    const p = t.anon();
    const free0 = t.free();
    t.c.debug.setField(p, "PAGE_MAPCOUNT", 3); // corrupt: as if mapped 4 times
    t.zap([p]); // mapcount 3 -> 2, refcount 1 -> 0: freed with a nonzero mapcount
    expect(t.g("BAD_PAGES")).toBe(1);
    expect(t.g("BAD_PFN")).toBe(p);
    expect(t.g("BAD_REASON")).toBe(1); // nonzero mapcount
    expect(t.e.last_error()).toBe(4);
    expect(t.e.pfn_is_free(p)).toBeFalsy();
    expect(t.free()).toBe(free0); // leaked, not listed
    expect(t.e.check_free_lists()).toBe(0);
    expect(() => t.c.checkBadPage()).toThrow(BadPageError);
    const rest = t.allocAll();
    expect(rest.length).toBe(free0);
    expect(rest).not.toContain(p);
  });

  it("a THP freed with a flag of PAGE_FLAGS_CHECK_AT_FREE on a tail is reported and leaked whole", async () => {
    const t = await core();
    const free0 = t.free();
    const { head, table } = t.thp();
    t.c.debug.setFlag(head + 5, "private_2", true);
    t.e.zap_huge_pmd(head, MM1);
    expect(t.g("BAD_PAGES")).toBe(1);
    expect(t.g("BAD_PFN")).toBe(head + 5);
    expect(t.g("BAD_REASON")).toBe(4);
    t.e.pte_free(table);
    expect(t.free()).toBe(free0 - NR);
    expect(t.all(head, (p) => !t.e.pfn_is_free(p))).toBe(true);
  });

  it("a dirty free page is caught by check_new_page on allocation", async () => {
    const t = await core();
    t.c.debug.setField(1, "PAGE_REFCOUNT", 1); // the free lone order-0 block at pfn 1
    expect(t.e.do_anonymous_page(MM1, AV, 0)).toBe(ERR_NOMEM);
    expect(t.g("BAD_PAGES")).toBe(1);
    expect(t.g("BAD_PFN")).toBe(1);
    expect(t.g("BAD_REASON")).toBe(3);
    // the next allocation gets a different frame
    const q = t.anon();
    expect(q).not.toBe(1);
  });
});

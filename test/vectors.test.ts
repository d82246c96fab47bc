// The test vectors (a)-(i) of kernel-mapcount.md §9 as raw struct page
// fields, under kernel "linux-4.5", each state built with Machine
// operations and read with machine.inspect(P, R, OFF). The invariant checker
// runs after every operation (runOn).
import { describe, it, expect } from "vitest";
import type { Machine } from "../src/machine.js";
import type { InspectRecord } from "../src/scenario/records.js";
import { machine, runOn, expectNoViolations, M, PAGE } from "./helpers.js";

const KERNEL = "linux-4.5";
const NR = 512;

/** The raw fields the vectors talk about, for one page. */
function raw(r: InspectRecord) {
  return {
    R: r._refcount, M: r._mapcount, C: r.compound_mapcount, DM: r.PG_double_map,
    pm: r.page_mapcount, tm: r.total_mapcount,
  };
}
/** Inspect every subpage of the THP at region offset 0 (or a sample). */
function each(m: Machine, proc: string, region: string, pages: number[] = [0, 1, 2, 255, 300, 510, 511]): InspectRecord[] {
  return pages.map((i) => m.inspect(proc, region, i * PAGE));
}
function allSubpages(): number[] { return Array.from({ length: NR }, (_, i) => i); }

async function stateA(): Promise<Machine> {
  const m = await machine(KERNEL, 64 * M);
  runOn(m, `
    spawn P
    mmap P buf 2M thp
    touch P buf 0 2M
  `);
  return m;
}
async function stateB(): Promise<Machine> {
  const m = await stateA();
  runOn(m, "fork P Q");
  return m;
}
async function stateC(): Promise<Machine> {
  const m = await stateB();
  runOn(m, "mprotect Q buf 0 4K r");
  return m;
}

describe("kernel-mapcount §9 vectors under linux-4.5", () => {
  it("(a) write fault in a THP region: C=0, M=-1, pm=1, tm=1, DM=0, R=1, not queued", async () => {
    const m = await stateA();
    for (const r of each(m, "P", "buf", allSubpages())) {
      expect(raw(r)).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
      expect(r.order).toBe(9);
    }
    const r0 = m.inspect("P", "buf", 0);
    expect(r0.pfn % NR).toBe(0);
    expect(r0.head_pfn).toBe(r0.pfn);
    expect(r0.deferred_split_queued).toBe(false);
    expect(m.inspect("P", "buf", 7 * PAGE).pfn).toBe(r0.pfn + 7);
    // one write fault is enough: a single touched page gives the whole THP
    const m2 = await machine(KERNEL, 64 * M);
    runOn(m2, "spawn P\nmmap P buf 2M thp\ntouch P buf 1M 4K");
    expect(raw(m2.inspect("P", "buf", 0))).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
  });

  it("(b) fork: C=1, M=-1, pm=2, tm=2, DM=0, R=2 in both processes", async () => {
    const m = await stateB();
    const p = m.inspect("P", "buf", 0), q = m.inspect("Q", "buf", 0);
    expect(q.pfn).toBe(p.pfn);
    for (const proc of ["P", "Q"]) {
      for (const r of each(m, proc, "buf")) expect(raw(r)).toEqual({ R: 2, M: -1, C: 1, DM: false, pm: 2, tm: 2 });
    }
  });

  it("(b') the parent writes: a new THP for P (as (a)); the old one keeps C=0, R=1 and Q reuses it in place", async () => {
    const m = await stateB();
    const old = m.inspect("Q", "buf", 0).pfn;
    runOn(m, "touch P buf 0 4K");
    const p = m.inspect("P", "buf", 0);
    expect(p.pfn).not.toBe(old);
    expect(p.order).toBe(9);
    expect(raw(p)).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
    // the 4.5 COW copies the whole 2 MiB: every page of P is on the new THP
    expect(m.inspect("P", "buf", 511 * PAGE).pfn).toBe(p.pfn + 511);
    for (const r of each(m, "Q", "buf")) expect(raw(r)).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
    runOn(m, "touch Q buf 8K 4K");
    const q = m.inspect("Q", "buf", 0);
    expect(q.pfn).toBe(old); // page_mapcount 1 && page_count 1: reused
    expect(raw(q)).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
  });

  it("(c) the child's PMD split (mprotect of 4 KiB) while the parent keeps its PMD: DoubleMap", async () => {
    const m = await stateC();
    const want = { R: 513, M: 1, C: 0, DM: true, pm: 2, tm: 513 };
    for (const r of each(m, "Q", "buf", allSubpages())) expect(raw(r)).toEqual(want);
    for (const r of each(m, "P", "buf")) expect(raw(r)).toEqual(want);
    expect(m.inspect("Q", "buf", 0).deferred_split_queued).toBe(false);
    expect(m.inspect("P", "buf", 0).pfn).toBe(m.inspect("Q", "buf", 0).pfn);
    // kpagecount (= 4.5 page_mapcount) at (c) is 2 for head and tails alike
    const dump = m.observe("c");
    expect(dump.filter((r) => r.type === "page").every((r) => (r as { mapcount: number }).mapcount === 2)).toBe(true);
  });

  it("(d) the child exits: M back to 0 but DoubleMap stays set; pm=1, tm=1, R=1", async () => {
    const m = await stateC();
    runOn(m, "exit Q");
    for (const r of each(m, "P", "buf", allSubpages())) expect(raw(r)).toEqual({ R: 1, M: 0, C: 0, DM: true, pm: 1, tm: 1 });
    expect(m.inspect("P", "buf", 0).deferred_split_queued).toBe(false);
    expect(m.core.splitQueueLen).toBe(0);
  });

  it("(d') the parent unmaps its PMD first: C=-1, DoubleMap cleared, M=0, pm=1, tm=512, R=512, not queued", async () => {
    const m = await stateC();
    runOn(m, "munmap P buf 0 2M");
    for (const r of each(m, "Q", "buf", allSubpages())) expect(raw(r)).toEqual({ R: 512, M: 0, C: -1, DM: false, pm: 1, tm: 512 });
    expect(m.inspect("Q", "buf", 0).deferred_split_queued).toBe(false);
  });

  it("(e) then the parent unmaps the whole 2 MiB: the THP is freed (queued on the way, 4.5 quirk)", async () => {
    const m = await machine(KERNEL, 64 * M);
    runOn(m, "spawn P\nmmap P buf 2M thp");
    const free0 = m.core.nrFreePages();
    runOn(m, "touch P buf 0 2M\nfork P Q\nmprotect Q buf 0 4K r\nexit Q");
    const head = m.inspect("P", "buf", 0).pfn;
    const queuedBefore = m.core.vmstat("THP_DEFERRED_SPLIT_PAGE");
    runOn(m, "munmap P buf 0 2M");
    expect(m.core.nrFreePages()).toBe(free0);
    expect(m.core.e.pfn_is_free(head)).toBeTruthy();
    expect(m.core.splitQueueLen).toBe(0);
    expect(m.core.vmstat("THP_DEFERRED_SPLIT_PAGE")).toBe(queuedBefore + 1);
    expect(m.core.vmstat("NR_ANON_THPS")).toBe(0);
    expect(m.core.vmstat("NR_ANON_PAGES")).toBe(0);
    expect(() => m.inspect("P", "buf", 0)).toThrow(/no page is mapped/);
  });

  it("(e') whole-PMD unmap of a never-split THP: freed as well", async () => {
    const m = await machine(KERNEL, 64 * M);
    runOn(m, "spawn P\nmmap P buf 2M thp");
    const free0 = m.core.nrFreePages();
    runOn(m, "touch P buf 0 2M\nmunmap P buf 0 2M");
    expect(m.core.nrFreePages()).toBe(free0);
    expect(m.core.splitQueueLen).toBe(0);
  });

  it("(f) munmap of one 4 KiB page: PMD split, C=-1, M[k]=-1, others M=0, tm=511, R=511, queued; shrink splits it", async () => {
    const m = await stateA();
    const head = m.inspect("P", "buf", 0).pfn;
    const k = 100;
    runOn(m, `munmap P buf ${k * PAGE} 4K`);
    expect(() => m.inspect("P", "buf", k * PAGE)).toThrow(/no page is mapped/);
    expect(m.core.mapcountRaw(head + k)).toBe(-1);
    expect(m.core.e.page_mapcount(head + k)).toBe(0);
    for (const i of allSubpages().filter((i) => i !== k)) {
      const r = m.inspect("P", "buf", i * PAGE);
      expect(raw(r)).toEqual({ R: 511, M: 0, C: -1, DM: false, pm: 1, tm: 511 });
      expect(r.order).toBe(9);
    }
    expect(m.inspect("P", "buf", 0).deferred_split_queued).toBe(true);
    expect(m.core.splitQueueLen).toBe(1);
    // step 3: the deferred split (the scanner's transient extra ref is not visible afterwards)
    const free1 = m.core.nrFreePages();
    runOn(m, "shrink");
    expect(m.core.nrFreePages()).toBe(free1 + 1);
    expect(m.core.e.pfn_is_free(head + k)).toBeTruthy();
    expect(m.core.splitQueueLen).toBe(0);
    for (const i of allSubpages().filter((i) => i !== k)) {
      const r = m.inspect("P", "buf", i * PAGE);
      expect(r.order).toBe(0);
      expect(r.pfn).toBe(head + i);
      expect(raw(r)).toEqual({ R: 1, M: 0, C: null, DM: null, pm: 1, tm: 1 });
    }
  });

  it("(g) both PMDs split, then split_huge_page: every subpage _mapcount 1 (pm 2), _refcount 2", async () => {
    const m = await stateC();
    runOn(m, "mprotect P buf 0 4K r");
    const want = { R: 1024, M: 1, C: -1, DM: false, pm: 2, tm: 1024 };
    for (const proc of ["P", "Q"]) for (const r of each(m, proc, "buf", allSubpages())) expect(raw(r)).toEqual(want);
    const head = m.inspect("P", "buf", 0).pfn;
    runOn(m, "split P buf 300K 4K");
    // The vector's S (the page the caller pinned) has _refcount 3 until the
    // caller puts it; after the split operation only the final state is
    // observable: every subpage, S included, has _refcount 2.
    for (const proc of ["P", "Q"]) {
      for (const i of allSubpages()) {
        const r = m.inspect(proc, "buf", i * PAGE);
        expect(r.pfn).toBe(head + i);
        expect(r.order).toBe(0);
        expect(raw(r)).toEqual({ R: 2, M: 1, C: null, DM: null, pm: 2, tm: 2 });
      }
    }
    expect(m.core.testFlag(head, "head")).toBe(false);
    expect(m.core.testFlag(head + 1, "double_map")).toBe(false);
  });

  it("(h) a read fault maps the huge zero page (no counts touched); a write gives a THP as in (a)", async () => {
    const m = await machine(KERNEL, 64 * M);
    runOn(m, "spawn P\nmmap P buf 2M thp");
    const free0 = m.core.nrFreePages();
    runOn(m, "touch P buf 0 4K read");
    const z = m.inspect("P", "buf", 0);
    expect(z.folio).toBe("hzero");
    expect(z.pfn).toBe(m.core.hugeZeroPfn);
    expect(raw(z)).toEqual({ R: 1, M: -1, C: -1, DM: false, pm: 0, tm: 0 });
    expect(m.inspect("P", "buf", 9 * PAGE).pfn).toBe(z.pfn + 9);
    expect(m.core.hugeZeroRefcount).toBe(2);
    expect(m.core.vmstat("NR_ANON_PAGES")).toBe(0);
    const recs = m.observe();
    expect(recs.filter((r) => r.type === "page").every((r) => (r as { folio: string }).folio === "hzero")).toBe(true);
    expect(recs.at(-1)).toMatchObject({ type: "region", rss: 0, pmdMapped: 0 });
    runOn(m, "touch P buf 0 4K write");
    const h = m.inspect("P", "buf", 0);
    expect(h.folio).toBeNull();
    expect(h.pfn).not.toBe(z.pfn);
    expect(raw(h)).toEqual({ R: 1, M: -1, C: 0, DM: false, pm: 1, tm: 1 });
    expect(m.core.hugeZeroRefcount).toBe(1);
    runOn(m, "shrink");
    expect(m.core.hugeZeroPfn).toBe(m.core.NIL);
    expect(m.core.hugeZeroRefcount).toBe(0);
    runOn(m, "munmap P buf 0 2M");
    expect(m.core.nrFreePages()).toBe(free0);
  });

  it("(h) with no THP to allocate: the zero PMD is split into zero PTEs and one 4 KiB page is copied", async () => {
    const m = await machine(KERNEL, 16 * M);
    runOn(m, "spawn P\nmmap P buf 2M thp\ntouch P buf 0 4K read");
    expect(m.core.hugeZeroRefcount).toBe(2);
    // use up the rest of memory in order-0 pages, then free every other one
    const free = m.core.nrFreePages();
    const pages = free - 20;
    runOn(m, `spawn X\nmmap X big ${pages * PAGE}\ntouch X big 0 ${pages * PAGE}`, false);
    const holes: string[] = [];
    for (let i = 0; i < pages; i += 2) holes.push(`madvise X big ${i * PAGE} 4K dontneed`);
    runOn(m, holes.join("\n"), false);
    expectNoViolations(m);
    expect(m.core.e.nr_free_order(9)).toBe(0);
    expect(m.core.e.nr_free_order(10)).toBe(0);
    runOn(m, "touch P buf 8K 4K write");
    const w = m.inspect("P", "buf", 8 * 1024);
    expect(w.order).toBe(0);
    expect(raw(w)).toEqual({ R: 1, M: 0, C: null, DM: null, pm: 1, tm: 1 });
    const z = m.inspect("P", "buf", 0);
    expect(z.folio).toBe("zero");
    expect(m.core.hugeZeroRefcount).toBe(1);
    const recs = m.observe().filter((r) => r.type === "page" && r.proc === "P");
    expect(recs.length).toBe(NR);
    expect(recs.filter((r) => (r as { folio: string }).folio === "zero").length).toBe(511);
  });

  describe("(i) quick checks", () => {
    it("fork of a PTE-mapped THP with one page unmapped: M[i≠k]=1, M[k]=-1, C=-1, R=1022, tm=1022", async () => {
      const m = await stateA();
      const k = 9;
      runOn(m, `munmap P buf ${k * PAGE} 4K\nfork P Q`);
      const head = m.inspect("P", "buf", 0).pfn;
      expect(m.core.mapcountRaw(head + k)).toBe(-1);
      for (const proc of ["P", "Q"]) {
        for (const r of each(m, proc, "buf", allSubpages().filter((i) => i !== k))) {
          expect(raw(r)).toEqual({ R: 1022, M: 1, C: -1, DM: false, pm: 2, tm: 1022 });
        }
      }
    });

    it("kpagecount of a tail: 1 at (a), 2 at (c), 1 at (d)", async () => {
      const m = await stateA();
      const mc = () => m.observe().filter((r) => r.type === "page" && r.proc === "P").map((r) => (r as { mapcount: number }).mapcount);
      expect(new Set(mc())).toEqual(new Set([1]));
      runOn(m, "fork P Q\nmprotect Q buf 0 4K r");
      expect(new Set(mc())).toEqual(new Set([2]));
      runOn(m, "exit Q");
      expect(new Set(mc())).toEqual(new Set([1]));
      expect(m.inspect("P", "buf", 0).PG_double_map).toBe(true);
    });

    it("page_mapped at (d) through C and after (f) through the PTE-mapped subpages", async () => {
      const m = await stateC();
      runOn(m, "exit Q");
      expect(m.inspect("P", "buf", 0).compound_mapcount).toBe(0);
      const m2 = await stateA();
      runOn(m2, "munmap P buf 4K 4K");
      const r = m2.inspect("P", "buf", 0);
      expect(r.compound_mapcount).toBe(-1);
      expect(r._mapcount).toBe(0);
      expect(r.total_mapcount).toBe(511);
    });

    it("4.5: a write to a read-only PTE-mapped THP subpage always copies it (reuse_swap_page refuses THPs)", async () => {
      const m = await stateC();
      runOn(m, "exit P");
      // Q alone maps the THP by 511 read-write PTEs + 1 read-only one... all read-only after fork
      const head = m.inspect("Q", "buf", 4 * PAGE).pfn - 4;
      runOn(m, "touch Q buf 4K 4K write");
      const r = m.inspect("Q", "buf", PAGE);
      expect(r.pfn).not.toBe(head + 1);
      expect(r.order).toBe(0);
      expect(m.core.mapcountRaw(head + 1)).toBe(-1);
    });
  });
});

// Scenario-level behaviour of the real Linux 6.18 kernel (kernel-behaviour.md),
// asserted on the observable records, with the invariant checker after every
// operation; and the cases where linux-4.5 differs.
import { describe, it, expect } from "vitest";
import type { Machine } from "../src/machine.js";
import type { KernelName } from "../src/profiles.js";
import type { ObservationRecord } from "../src/scenario/records.js";
import { machine, runOn, pagesOf, regionOf, runs, folioCount, M } from "./helpers.js";

interface Run { m: Machine; recs: ObservationRecord[]; dump(label: string): ObservationRecord[] }

/** Run a scenario (checker on after every op); dumps are looked up by label. */
async function sc(text: string, kernel: KernelName = "linux-6.18", memory = 256 * M): Promise<Run> {
  const m = await machine(kernel, memory);
  const recs = runOn(m, text);
  return {
    m, recs,
    dump(label: string) {
      const d = recs.filter((r) => "label" in r && r.label === label);
      if (!d.length) throw new Error(`no dump '${label}'`);
      return d;
    },
  };
}
/** Runs of one region in one dump ("first-last:folio/order:mapcount"). */
function R(r: Run, label: string, proc: string, region: string, names = false): string[] {
  return runs(pagesOf(r.dump(label), proc, region), names);
}
function reg(r: Run, label: string, proc: string, region: string) {
  const x = regionOf(r.dump(label), proc, region);
  return { rss: x.rss, pmd: x.pmdMapped };
}
const TWO_M = 2 * M;

describe("linux-6.18: when a THP is born", () => {
  it("only when no PTE table exists: an earlier 4 KiB fault pins that 2 MiB to order 0", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M
      touch p A 0 4K read
      madvise p A 0 4M hugepage
      touch p A 4K 4K
      touch p A 2M 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-0:zero/0:0", "1-1:F/0:1", "512-1023:F/9:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: TWO_M + 4096, pmd: TWO_M });
  });

  it("a write fault without advice maps order 0, even in an aligned 2 MiB", async () => {
    const r = await sc("spawn p\nmmap p A 2M\ntouch p A 0 2M\ndump d");
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/0:1"]);
    expect(folioCount(pagesOf(r.dump("d"), "p", "A"))).toBe(512);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: TWO_M, pmd: 0 });
  });

  it("a nothp region gets order 0 pages", async () => {
    const r = await sc("spawn p\nmmap p A 2M nothp\ntouch p A 0 8K\ntouch p A 8K 4K read\ndump d");
    expect(R(r, "d", "p", "A")).toEqual(["0-1:F/0:1", "2-2:zero/0:0"]);
  });

  it("one touched page is enough; the region tail that is not a whole 2 MiB gets order 0, so does a region below 2 MiB", async () => {
    const r = await sc(`
      spawn p
      mmap p A 3M thp
      touch p A 1M 4K
      touch p A 2M 1M
      mmap p B 1M thp
      touch p B 0 1M
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-767:F/0:1"]);
    expect(folioCount(pagesOf(r.dump("d"), "p", "A"))).toBe(1 + 256);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: 3 * M, pmd: TWO_M });
    expect(R(r, "d", "p", "B")).toEqual(["0-255:F/0:1"]);
  });

  it("MADV_NOHUGEPAGE on part of a THP region: no THP for blocks it touches", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M thp
      madvise p A 2M 2M nohugepage
      touch p A 0 6M
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-1023:F/0:1", "1024-1535:F/9:1"]);
    expect(r.m.procs.get("p")!.mm.vmas.length).toBe(3);
  });

  it("a 2 MiB block cut by a VMA boundary (mprotect before the fault) gets order 0", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      mprotect p A 2M 4K r
      touch p A 0 2M
      touch p A 0x201000 4K
      touch p A 0x201000 4K read
      touch p A 2M 4K read
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-512:zero/0:0", "513-513:F/0:1"]);
  });
});

describe("linux-6.18: the huge zero page", () => {
  it("a read maps it, a write in the child gets a new THP, the parent keeps it; later the parent writes too", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 8K read
      fork p q
      dump forked
      touch q A 4K 4K write
      dump child-wrote
      touch p A 0 4K
      dump parent-wrote
      shrink
      dump shrunk`);
    expect(R(r, "forked", "p", "A")).toEqual(["0-511:hzero/9:0"]);
    expect(R(r, "forked", "q", "A")).toEqual(["0-511:hzero/9:0"]);
    expect(reg(r, "forked", "q", "A")).toEqual({ rss: 0, pmd: 0 });
    expect(R(r, "child-wrote", "p", "A")).toEqual(["0-511:hzero/9:0"]);
    expect(R(r, "child-wrote", "q", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "child-wrote", "q", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
    expect(R(r, "parent-wrote", "p", "A", true)).toEqual(["0-511:F1/9:1"]);
    expect(R(r, "parent-wrote", "q", "A", true)).toEqual(["0-511:F2/9:1"]);
    // hzero index is the subpage index
    expect(pagesOf(r.dump("forked"), "p", "A").every((x) => x.index === x.page)).toBe(true);
  });

  it("partial munmap, mprotect or DONTNEED of a huge-zero PMD leaves zero PTEs; a write there maps one order-0 page", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M thp
      touch p A 0 6M read
      munmap p A 0 4K
      mprotect p A 2M 4K r
      madvise p A 4M 4K dontneed
      dump split
      touch p A 8K 4K
      touch p A 0x203000 4K
      dump wrote`);
    expect(R(r, "split", "p", "A")).toEqual(["1-1023:zero/0:0", "1025-1535:zero/0:0"]);
    expect(reg(r, "split", "p", "A")).toEqual({ rss: 0, pmd: 0 });
    expect(r.m.core.hugeZeroRefcount).toBe(1);
    expect(R(r, "wrote", "p", "A")).toEqual(["1-1:zero/0:0", "2-2:F/0:1", "3-514:zero/0:0", "515-515:F/0:1", "516-1023:zero/0:0", "1025-1535:zero/0:0"]);
    expect(reg(r, "wrote", "p", "A")).toEqual({ rss: 8192, pmd: 0 });
  });

  it("mprotect of the whole 2 MiB keeps the huge-zero PMD; collapse leaves it as it is", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 4K read
      mprotect p A 0 2M r
      madvise p A 0 2M collapse
      mprotect p A 0 2M rw
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:hzero/9:0"]);
  });
});

describe("linux-6.18: fork, COW and exit", () => {
  it("fork shares PMD-mapped THPs (mapcount 2), PTE-mapped THPs, PROT_NONE ones and order-0 pages", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      mmap p B 2M thp
      touch p B 0 2M
      munmap p B 0 4K
      mmap p N 2M thp
      touch p N 0 2M
      mprotect p N 0 2M none
      mmap p S 16K
      touch p S 0 16K
      fork p q
      dump d`);
    for (const proc of ["p", "q"]) {
      expect(R(r, "d", proc, "A")).toEqual(["0-511:F/9:2"]);
      expect(reg(r, "d", proc, "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
      expect(R(r, "d", proc, "B")).toEqual(["1-511:F/9:2"]);
      expect(reg(r, "d", proc, "B")).toEqual({ rss: TWO_M - 4096, pmd: 0 });
      expect(R(r, "d", proc, "N")).toEqual(["0-511:F/9:2"]);
      expect(reg(r, "d", proc, "N")).toEqual({ rss: TWO_M, pmd: TWO_M });
      expect(R(r, "d", proc, "S")).toEqual(["0-3:F/0:2"]);
    }
    // same folios in both processes
    const d = r.dump("d");
    expect(pagesOf(d, "p", "A")[0].folio).toBe(pagesOf(d, "q", "A")[0].folio);
  });

  it("COW of a shared PMD-mapped THP splits the writer's PMD and copies one 4 KiB page; the THP is not queued", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      touch q A 12K 4K
      dump d`);
    expect(R(r, "d", "q", "A", true)).toEqual(["0-2:F1/9:2", "3-3:F2/0:1", "4-511:F1/9:2"]);
    expect(reg(r, "d", "q", "A")).toEqual({ rss: TWO_M, pmd: 0 });
    expect(R(r, "d", "p", "A", true)).toEqual(["0-2:F1/9:2", "3-3:F1/9:1", "4-511:F1/9:2"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
    // queued at birth for the underused shrinker (6.12+), but never partially mapped
    expect(r.m.inspect("p", "A", 0).partially_mapped).toBe(false);
    expect(r.m.core.splitQueueLen).toBe(1);
    // the other process writing next: it still shares the THP with q's PTEs, so it splits and copies too
    runOn(r.m, "touch p A 0 4K");
    const d2 = r.m.observe("p-wrote");
    expect(runs(pagesOf(d2, "p", "A"), true)).toEqual(["0-0:F1/0:1", "1-2:F2/9:2", "3-3:F2/9:1", "4-511:F2/9:2"]);
  });

  it("the child COWs a page and exits: the parent's PMD and mapcount 1 are back, nothing queued, shrink does nothing", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      touch q A 0 4K
      exit q
      dump gone
      shrink
      dump shrunk
      touch p A 0 2M
      dump wrote`);
    expect(R(r, "gone", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "gone", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
    expect(r.m.core.splitQueueLen).toBe(0);
    expect(R(r, "shrunk", "p", "A")).toEqual(["0-511:F/9:1"]);
    // a write to the exclusive (write-protected) PMD reuses it: same THP, PMD kept
    expect(R(r, "wrote", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "wrote", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
  });

  it("a write to an exclusive PMD-mapped THP keeps the PMD and the folio", async () => {
    const m = await machine();
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nfork p q\nexit q");
    const pfn = m.inspect("p", "A", 0).pfn;
    runOn(m, "touch p A 4K 4K");
    expect(m.inspect("p", "A", 0).pfn).toBe(pfn);
    expect(m.inspect("p", "A", 4096)._entire_mapcount).toBe(0);
  });

  it("a PTE-mapped THP page is reused when only this process maps the folio, copied when another maps any page", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      munmap q A 1M 1M
      touch p A 2M-4K 4K
      dump p-wrote`.replace("2M-4K", "0x1ff000"));
    // p's PMD was shared: split + copy of the one page
    expect(R(r, "p-wrote", "p", "A", true)).toEqual(["0-255:F1/9:2", "256-510:F1/9:1", "511-511:F2/0:1"]);
    // q maps pages 0..255 by PTE; p maps the rest by PTE too: q's write copies (p maps pages of it)
    runOn(r.m, "touch q A 0 4K");
    const d = r.m.observe("q-wrote");
    // (folios are named in record order: p's THP F1 and p's copy F2 come first)
    expect(runs(pagesOf(d, "q", "A"), true)).toEqual(["0-0:F3/0:1", "1-255:F1/9:2"]);
    // once q is gone, p maps the folio alone (and more than one page): reuse in place
    runOn(r.m, "exit q");
    const before = r.m.inspect("p", "A", 5 * 4096).pfn;
    runOn(r.m, "touch p A 20K 4K");
    expect(r.m.inspect("p", "A", 5 * 4096).pfn).toBe(before);
    expect(r.m.inspect("p", "A", 5 * 4096).order).toBe(9);
  });

  it("a write to the only page still mapped of a THP copies it, and the THP is freed", async () => {
    const m = await machine();
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nfork p q\nmunmap q A 4K 0x1ff000\nexit p");
    const head = m.inspect("q", "A", 0).pfn;
    expect(m.inspect("q", "A", 0).order).toBe(9);
    const free0 = m.core.nrFreePages();
    runOn(m, "touch q A 0 4K");
    const r = m.inspect("q", "A", 0);
    expect(r.order).toBe(0);
    expect(r.pfn).not.toBe(head);
    expect(m.core.nrFreePages()).toBe(free0 + 512 - 1);
    expect(m.core.splitQueueLen).toBe(0);
  });

  it("fork does not copy a VMA that has no anon_vma (zero pages only); one that read the huge zero page has one", async () => {
    const r = await sc(`
      spawn p
      mmap p A 64K
      touch p A 0 64K read
      mmap p B 2M thp
      touch p B 0 4K read
      fork p q
      dump d
      touch q A 0 4K read
      dump d2`);
    expect(R(r, "d", "p", "A")).toEqual(["0-15:zero/0:0"]);
    expect(R(r, "d", "q", "A")).toEqual([]);
    expect(R(r, "d", "q", "B")).toEqual(["0-511:hzero/9:0"]);
    expect(R(r, "d2", "q", "A")).toEqual(["0-0:zero/0:0"]);
  });

  it("exit of the parent leaves the children's mappings; names are never reused", async () => {
    const r = await sc(`
      spawn a
      mmap a heap 64K
      touch a heap 0 64K
      fork a b
      fork b c
      exit a
      dump d`);
    expect(R(r, "d", "b", "heap")).toEqual(["0-15:F/0:2"]);
    expect(R(r, "d", "c", "heap")).toEqual(["0-15:F/0:2"]);
    expect(r.dump("d").some((x) => "proc" in x && x.proc === "a")).toBe(false);
  });
});

describe("linux-6.18: MM-owner slots decide COW reuse of a PTE-mapped THP", () => {
  const SETUP = `
    spawn p
    mmap p A 2M thp
    touch p A 0 2M
    mprotect p A 0 4K r
    mprotect p A 0 4K rw
    fork p q
    fork p r`;

  it("the two tracked processes exit: the survivor maps it alone (mapcount 1) yet its write copies", async () => {
    const r = await sc(`${SETUP}
      exit p
      exit q
      dump alone
      touch r A 8K 4K
      dump wrote`);
    expect(R(r, "alone", "r", "A")).toEqual(["0-511:F/9:1"]);
    expect(r.m.inspect("r", "A", 0).maybe_mapped_shared).toBe(true);
    expect(R(r, "wrote", "r", "A", true)).toEqual(["0-1:F1/9:1", "2-2:F2/0:1", "3-511:F1/9:1"]);
  });

  it("the untracked third exits instead: the tracked survivor reuses in place", async () => {
    const r = await sc(`${SETUP}
      exit r
      exit q
      dump alone
      touch p A 8K 4K
      dump wrote`);
    expect(R(r, "alone", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(r.m.inspect("p", "A", 0).maybe_mapped_shared).toBe(false);
    expect(R(r, "wrote", "p", "A")).toEqual(["0-511:F/9:1"]);
  });

  it("a tracked one and the untracked one exit: the other tracked survivor reuses", async () => {
    const r = await sc(`${SETUP}
      exit p
      exit r
      touch q A 8K 4K
      dump wrote`);
    expect(R(r, "wrote", "q", "A")).toEqual(["0-511:F/9:1"]);
  });
});

describe("linux-6.18: page tables and MADV_DONTNEED", () => {
  it("two DONTNEEDs of 1 MiB leave an empty table: later faults are order 0, also in a child forked afterwards", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      madvise p A 0 1M dontneed
      madvise p A 1M 1M dontneed
      dump empty
      fork p q
      touch p A 0 4K
      touch q A 1M 4K
      dump d`);
    expect(pagesOf(r.dump("empty"), "p", "A")).toEqual([]);
    expect(reg(r, "empty", "p", "A")).toEqual({ rss: 0, pmd: 0 });
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/0:1"]);
    expect(R(r, "d", "q", "A")).toEqual(["256-256:F/0:1"]);
  });

  it("a DONTNEED of the whole 2 MiB frees the table: the next fault gives a THP again (PMD or PTE table before)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      madvise p A 0 2M dontneed
      touch p A 4K 4K
      mmap p B 4M
      touch p B 0 4K
      touch p B 2M 4K read
      madvise p B 0 4M hugepage
      madvise p B 0 4M dontneed
      touch p B 8K 4K
      touch p B 2M 4K read
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(R(r, "d", "p", "B")).toEqual(["0-511:F/9:1", "512-1023:hzero/9:0"]);
  });

  it("DONTNEED of part of a THP splits the PMD; the THP stays whole until shrink", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      madvise p A 0 4K dontneed
      dump partial
      shrink
      dump shrunk`);
    expect(R(r, "partial", "p", "A")).toEqual(["1-511:F/9:1"]);
    expect(reg(r, "partial", "p", "A")).toEqual({ rss: TWO_M - 4096, pmd: 0 });
    expect(R(r, "shrunk", "p", "A")).toEqual(["1-511:F/0:1"]);
    expect(folioCount(pagesOf(r.dump("shrunk"), "p", "A"))).toBe(511);
  });

  it("munmap of the whole 2 MiB frees its table: a fault after re-advice... the region is gone, other blocks keep theirs", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 4K read
      touch p A 2M 4K read
      madvise p A 0 4M dontneed
      munmap p A 2M 2M
      touch p A 0 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1"]);
  });
});

describe("linux-6.18: mprotect and PMDs", () => {
  it("mprotect of whole aligned 2 MiB ranges (also to none) keeps the PMDs", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 4M
      mprotect p A 0 2M r
      mprotect p A 2M 2M none
      dump d
      mprotect p A 0 4M rw
      touch p A 0 4M
      dump rw`);
    expect(R(r, "d", "p", "A", true)).toEqual(["0-511:F1/9:1", "512-1023:F2/9:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: 4 * M, pmd: 4 * M });
    expect(reg(r, "rw", "p", "A")).toEqual({ rss: 4 * M, pmd: 4 * M });
    expect(folioCount(pagesOf(r.dump("rw"), "p", "A"))).toBe(2);
  });

  it("mprotect of part of the 2 MiB splits the PMD (folio stays order 9); mprotect to the same protection does not", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 4M
      mprotect p A 2M 4K rw
      mprotect p A 8K 4K r
      dump d`);
    expect(R(r, "d", "p", "A", true)).toEqual(["0-511:F1/9:1", "512-1023:F2/9:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: 4 * M, pmd: TWO_M });
    const p = r.m.procs.get("p")!;
    expect(p.mm.vmas.length).toBe(3);
  });

  it("restoring the protection merges the VMAs but does not re-create the PMD; MADV_COLLAPSE does", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      mprotect p A 4K 4K r
      mprotect p A 4K 4K rw
      dump restored
      madvise p A 0 2M collapse
      dump collapsed`);
    expect(r.m.procs.get("p")!.mm.vmas.length).toBe(1);
    expect(R(r, "restored", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "restored", "p", "A")).toEqual({ rss: TWO_M, pmd: 0 });
    expect(R(r, "collapsed", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "collapsed", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
  });

  it("munmap of one page splits the PMD, the THP stays order 9 until the deferred split runs", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      munmap p A 1M 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-255:F/9:1", "257-511:F/9:1"]);
    expect(folioCount(pagesOf(r.dump("d"), "p", "A"))).toBe(1);
    expect(r.m.inspect("p", "A", 0).deferred_split_queued).toBe(true);
  });
});

describe("linux-6.18: MADV_COLLAPSE", () => {
  it("collapses order-0 pages into one THP, filling pages never faulted and replacing zero PTEs", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M
      touch p A 0 8K
      touch p A 1M 4K read
      madvise p A 0 2M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
  });

  it("only aligned 2 MiB blocks wholly inside the range; a range holding none does nothing", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M
      touch p A 0 4K
      touch p A 2M 4K
      madvise p A 4K 0x3ff000 collapse
      madvise p A 0 1M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/0:1", "512-1023:F/9:1"]);
  });

  it("stops at the first nohugepage VMA: blocks after it stay as they are", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M
      touch p A 0 4K
      touch p A 2M 4K
      touch p A 4M 4K
      madvise p A 2M 2M nohugepage
      madvise p A 0 6M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-512:F/0:1", "1024-1024:F/0:1"]);
  });

  it("stops at a VMA with no whole aligned 2 MiB (a 4 KiB piece split off by mprotect)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M
      touch p A 0 4K
      touch p A 2M 8K
      touch p A 4M 4K
      mprotect p A 2M 4K r
      madvise p A 0 6M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-513:F/0:1", "1024-1024:F/0:1"]);
  });

  it("a block with no page table stops the walk; an empty table (two half DONTNEEDs) is filled and collapsed", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M
      touch p A 0 4K
      touch p A 4M 4K
      madvise p A 0 6M collapse
      dump stopped
      touch p A 2M 4K
      madvise p A 2M 1M dontneed
      madvise p A 3M 1M dontneed
      madvise p A 2M 4M collapse
      dump filled`);
    expect(R(r, "stopped", "p", "A")).toEqual(["0-511:F/9:1", "1024-1024:F/0:1"]);
    expect(R(r, "filled", "p", "A", true)).toEqual(["0-511:F1/9:1", "512-1023:F2/9:1", "1024-1535:F3/9:1"]);
  });

  it("a whole-2 MiB DONTNEED frees the table, so that block then stops the walk", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M
      touch p A 0 4K
      touch p A 2M 4K
      madvise p A 0 2M dontneed
      madvise p A 0 4M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["512-512:F/0:1"]);
  });

  it("holes split the range into separate walks, each from its own start", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M
      touch p A 0 4K
      touch p A 4M 4K
      munmap p A 3M 4K
      madvise p A 0 3M nohugepage
      madvise p A 0 6M collapse
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/0:1", "1024-1535:F/9:1"]);
  });

  it("a nohugepage VMA refuses and nothing changes", async () => {
    const r = await sc("spawn p\nmmap p A 2M nothp\ntouch p A 0 2M\nmadvise p A 0 2M collapse\ndump d");
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/0:1"]);
  });

  it("zero pages: refused in a VMA without an anon_vma, collapsed into a zero-filled THP in one with", async () => {
    const r = await sc(`
      spawn p
      mmap p Z 2M
      touch p Z 0 2M read
      madvise p Z 0 2M collapse
      mmap p W 2M
      touch p W 0 4K
      madvise p W 0 4K dontneed
      touch p W 0 2M read
      madvise p W 0 2M collapse
      mmap p H 2M thp
      touch p H 0 4K read
      mprotect p H 0 4K r
      mprotect p H 0 4K rw
      dump zero-ptes
      madvise p H 0 2M collapse
      dump d`);
    expect(R(r, "d", "p", "Z")).toEqual(["0-511:zero/0:0"]);
    expect(reg(r, "d", "p", "Z")).toEqual({ rss: 0, pmd: 0 });
    expect(R(r, "d", "p", "W")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "d", "p", "W")).toEqual({ rss: TWO_M, pmd: TWO_M });
    expect(R(r, "zero-ptes", "p", "H")).toEqual(["0-511:zero/0:0"]);
    expect(R(r, "d", "p", "H")).toEqual(["0-511:F/9:1"]);
  });

  it("pages shared with other processes are copied: the caller gets a new THP, the others' mapcount drops by one", async () => {
    const r = await sc(`
      spawn p
      mmap p S 2M
      touch p S 0 2M
      mmap p T 2M thp
      touch p T 0 2M
      fork p q
      mprotect q T 0 4K r
      mprotect q T 0 4K rw
      dump before
      madvise q S 0 2M collapse
      madvise q T 0 2M collapse
      dump d`);
    expect(R(r, "before", "p", "S")).toEqual(["0-511:F/0:2"]);
    expect(R(r, "before", "p", "T")).toEqual(["0-511:F/9:2"]);
    expect(R(r, "d", "q", "S")).toEqual(["0-511:F/9:1"]);
    expect(R(r, "d", "p", "S")).toEqual(["0-511:F/0:1"]);
    expect(R(r, "d", "q", "T")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "d", "q", "T")).toEqual({ rss: TWO_M, pmd: TWO_M });
    expect(R(r, "d", "p", "T")).toEqual(["0-511:F/9:1"]);
    expect(reg(r, "d", "p", "T")).toEqual({ rss: TWO_M, pmd: TWO_M });
    const d = r.dump("d");
    expect(pagesOf(d, "p", "T")[0].folio).not.toBe(pagesOf(d, "q", "T")[0].folio);
  });

  it("an already PMD-mapped block is left unchanged (same folio)", async () => {
    const m = await machine();
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nfork p q");
    const pfn = m.inspect("p", "A", 0).pfn;
    runOn(m, "madvise p A 0 2M collapse\nmadvise q A 0 2M collapse");
    expect(m.inspect("p", "A", 0).pfn).toBe(pfn);
    expect(m.inspect("q", "A", 0).pfn).toBe(pfn);
    expect(m.inspect("q", "A", 0)._entire_mapcount).toBe(1);
  });

  it("re-collapses a PTE-mapped THP with a hole: the old THP is freed", async () => {
    const m = await machine();
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nmunmap p A 8K 4K");
    const old = m.inspect("p", "A", 0).pfn;
    expect(m.inspect("p", "A", 0).deferred_split_queued).toBe(true);
    // the hole makes two VMAs: the walk finds no VMA holding the whole block, so nothing changes
    runOn(m, "madvise p A 0 2M collapse");
    expect(m.inspect("p", "A", 0).pfn).toBe(old);
    // a DONTNEED'ed page instead of a hole: collapse fills it
    const m2 = await machine();
    runOn(m2, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nmadvise p A 8K 4K dontneed");
    const old2 = m2.inspect("p", "A", 0).pfn;
    const free0 = m2.core.nrFreePages();
    runOn(m2, "madvise p A 0 2M collapse");
    expect(m2.inspect("p", "A", 0).pfn).not.toBe(old2);
    expect(m2.inspect("p", "A", 8192).order).toBe(9);
    expect(m2.core.nrFreePages()).toBe(free0); // new THP in, old THP out
    // the old THP left the queue when it was freed; collapse_huge_page queues the new one (underused shrinker)
    expect(m2.core.splitQueueLen).toBe(1);
    expect(m2.inspect("p", "A", 0).deferred_split_queued).toBe(true);
    expect(m2.inspect("p", "A", 0).partially_mapped).toBe(false);
  });
});

describe("linux-6.18: split and shrink", () => {
  it("split of a THP shared by several processes keeps every mapping (PMDs become PTEs everywhere)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      fork q s
      mprotect s A 0 4K r
      split q A 1M 4K
      dump d`);
    for (const proc of ["p", "q", "s"]) {
      expect(R(r, "d", proc, "A")).toEqual(["0-511:F/0:3"]);
      expect(reg(r, "d", proc, "A")).toEqual({ rss: TWO_M, pmd: 0 });
    }
    expect(folioCount(pagesOf(r.dump("d"), "p", "A"))).toBe(512);
  });

  it("split frees unmapped subpages; the huge zero page is never split", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      munmap p A 0 1M
      mmap p Z 2M thp
      touch p Z 0 4K read
      split p A 1M 1M
      split p Z 0 2M
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["256-511:F/0:1"]);
    expect(R(r, "d", "p", "Z")).toEqual(["0-511:hzero/9:0"]);
  });

  it("split of a range with one page of a THP splits the whole folio; other THPs are left alone", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 4M
      split p A 2M 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:1", "512-1023:F/0:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: 4 * M, pmd: TWO_M });
  });

  it("shrink splits partially mapped THPs also when several processes map them (both sharers unmapped the same page)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      munmap p A 0 4K
      munmap q A 0 4K
      dump partial
      shrink
      dump shrunk`);
    for (const proc of ["p", "q"]) {
      expect(R(r, "partial", proc, "A")).toEqual(["1-511:F/9:2"]);
      expect(R(r, "shrunk", proc, "A")).toEqual(["1-511:F/0:2"]);
    }
  });

  it("the last PMD sharer exits while another maps only some pages: partially mapped, split by shrink", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      munmap q A 1M 1M
      exit p
      dump partial
      shrink
      dump shrunk`);
    expect(R(r, "partial", "q", "A")).toEqual(["0-255:F/9:1"]);
    expect(r.m.core.splitQueueLen).toBe(0);
    expect(R(r, "shrunk", "q", "A")).toEqual(["0-255:F/0:1"]);
  });

  it("shrink leaves fully mapped THPs alone, PMD- or PTE-mapped", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 4M
      mprotect p A 0 4K r
      fork p q
      munmap q A 2M 4K
      shrink
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:F/9:2", "512-512:F/9:1", "513-1023:F/9:2"]);
    expect(R(r, "d", "q", "A")).toEqual(["0-511:F/9:2", "513-1023:F/9:2"]);
  });

  it("a THP partially mapped in one process but whole in another is not split by shrink", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      munmap q A 0 4K
      shrink
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/9:1", "1-511:F/9:2"]);
    expect(R(r, "d", "q", "A")).toEqual(["1-511:F/9:2"]);
  });
});

describe("linux-6.18: VMA merges follow anon_vma and VM_ACCOUNT (seen in THP eligibility and collapse)", () => {
  // Expectations checked against this machine's 6.18 kernel. A 2 MiB block
  // gets a THP on fault only inside one VMA, so whether two VMAs merged back
  // shows in the order of the next fault there.
  it("a forked child's VMA pieces get distinct anon_vmas: restoring the protection does not merge them", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 3M 4K
      mprotect p A 0 1M r
      fork p q
      mprotect q A 0 1M rw
      touch q A 0 4K
      mprotect p A 0 1M rw
      touch p A 1M 4K
      dump d`);
    expect(R(r, "d", "p", "A", true)).toEqual(["0-511:F1/9:1", "512-1023:F2/9:2"]);
    expect(R(r, "d", "q", "A", true)).toEqual(["0-0:F3/0:1", "512-1023:F2/9:2"]);
    expect(r.m.procs.get("q")!.mm.vmas.length).toBe(2);
    expect(r.m.procs.get("p")!.mm.vmas.length).toBe(1);
  });

  it("in a child, a VMA without an anon_vma does not merge with one whose anon_vma came from the parent", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      mprotect p A 0 1M r
      touch p A 3M 4K
      fork p q
      mprotect q A 0 1M rw
      touch q A 0 4K
      mprotect p A 0 1M rw
      touch p A 0 4K
      dump d`);
    expect(R(r, "d", "p", "A", true)).toEqual(["0-511:F1/9:1", "512-1023:F2/9:2"]);
    expect(R(r, "d", "q", "A", true)).toEqual(["0-0:F3/0:1", "512-1023:F2/9:2"]);
  });

  it("a piece made read-only before any fault loses VM_ACCOUNT and does not merge with a read-only piece that kept it", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      mprotect p A 0 1M r
      touch p A 3M 4K
      mprotect p A 1M 1M r
      touch p A 0 4K read
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-0:zero/0:0", "512-1023:F/9:1"]);
  });

  it("an anon_vma is not shared with a neighbour whose flags differ beyond the access bits (VM_ACCOUNT)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M thp
      mprotect p A 0 3M r
      touch p A 4M 4K
      touch p A 0 4K read
      mprotect p A 0 3M rw
      touch p A 2M 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-511:hzero/9:0", "512-512:F/0:1", "1024-1535:F/9:1"]);
  });

  it("an unfaulted piece with no anon_vma merges back with a faulted one (same process)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M thp
      mprotect p A 0 3M r
      touch p A 4M 4K
      mprotect p A 0 3M rw
      touch p A 2M 4K
      dump d`);
    expect(R(r, "d", "p", "A", true)).toEqual(["512-1023:F1/9:1", "1024-1535:F2/9:1"]);
  });

  it("collapse in a child stops at its first unmerged piece", async () => {
    const r = await sc(`
      spawn p0
      mmap p0 R0 6M thp
      touch p0 R0 0 0x201000 read
      mprotect p0 R0 4K 2M r
      fork p0 p1
      mprotect p1 R0 0 4M rw
      madvise p1 R0 0 4M collapse
      dump d`);
    expect(R(r, "d", "p1", "R0")).toEqual(["0-1023:zero/0:0"]);
    expect(R(r, "d", "p0", "R0")).toEqual(["0-1023:zero/0:0"]);
  });
});

describe("linux-6.18: a split maps zero-filled subpages to the shared zero page", () => {
  // remap_page(RMP_USE_SHARED_ZEROPAGE): expectations checked against this
  // machine's 6.18 kernel. A written page is never zero-filled.
  it("shrink remaps the zero-filled subpages of every partially mapped THP, not only the first", async () => {
    const r = await sc(`
      spawn p
      mmap p A 6M thp
      touch p A 0 4K
      touch p A 0x5fe000 8K
      munmap p A 1M 4M
      dump partial
      shrink
      dump shrunk`);
    expect(R(r, "partial", "p", "A", true)).toEqual(["0-255:F1/9:1", "1280-1535:F2/9:1"]);
    expect(R(r, "shrunk", "p", "A")).toEqual(["0-0:F/0:1", "1-255:zero/0:0", "1280-1533:zero/0:0", "1534-1535:F/0:1"]);
    expect(reg(r, "shrunk", "p", "A")).toEqual({ rss: 3 * 4096, pmd: 0 });
    expect(r.m.core.splitQueueLen).toBe(0);
  });

  it("in every process that maps the THP (shrink after both unmapped the same page)", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 1M
      fork p q
      munmap p A 0x1ff000 4K
      munmap q A 0x1ff000 4K
      shrink
      dump d`);
    for (const proc of ["p", "q"]) {
      expect(R(r, "d", proc, "A")).toEqual(["0-255:F/0:2", "256-510:zero/0:0"]);
      expect(reg(r, "d", proc, "A")).toEqual({ rss: M, pmd: 0 });
    }
  });

  it("split of a THP made by a write to the huge zero page keeps only the written page", async () => {
    const text = `
      spawn p
      mmap p A 2M thp
      touch p A 0 4K read
      touch p A 8K 4K write
      split p A 0 2M
      dump d`;
    const r = await sc(text);
    expect(R(r, "d", "p", "A")).toEqual(["0-1:zero/0:0", "2-2:F/0:1", "3-511:zero/0:0"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: 4096, pmd: 0 });
    // linux-4.5 keeps every subpage
    const old = await sc(text, "linux-4.5");
    expect(R(old, "d", "p", "A")).toEqual(["0-511:F/0:1"]);
  });

  it("collapse copies written pages (non-zero) and fills the rest with zeros: a split after keeps only the written ones", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M
      touch p A 0 8K
      touch p A 16K 4K read
      madvise p A 0 2M collapse
      split p A 0 4K
      dump d`);
    expect(R(r, "d", "p", "A")).toEqual(["0-1:F/0:1", "2-511:zero/0:0"]);
  });

  it("a fully zero-filled THP with no page written goes away entirely on split", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M
      touch p A 0 4K read
      touch p A 4K 4K read
      mprotect p A 0 2M rw
      mmap p B 2M
      touch p B 0 4K
      madvise p B 0 4K dontneed
      touch p B 0 2M read
      madvise p B 0 2M collapse
      dump collapsed
      split p B 0 2M
      dump d`);
    expect(R(r, "collapsed", "p", "B")).toEqual(["0-511:F/9:1"]);
    expect(R(r, "d", "p", "B")).toEqual(["0-511:zero/0:0"]);
    expect(reg(r, "d", "p", "B")).toEqual({ rss: 0, pmd: 0 });
  });
});

describe("linux-4.5 where it differs", () => {
  it("COW of a shared PMD-mapped THP copies the whole 2 MiB into a new THP", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      fork p q
      touch q A 12K 4K
      dump d`, "linux-4.5");
    expect(R(r, "d", "q", "A", true)).toEqual(["0-511:F2/9:1"]);
    expect(reg(r, "d", "q", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
    expect(R(r, "d", "p", "A", true)).toEqual(["0-511:F1/9:1"]);
    expect(reg(r, "d", "p", "A")).toEqual({ rss: TWO_M, pmd: TWO_M });
  });

  it("a write to a PTE-mapped THP subpage always copies, even when this process maps it alone", async () => {
    const text = `
      spawn p
      mmap p A 2M thp
      touch p A 0 2M
      mprotect p A 0 4K r
      mprotect p A 0 4K rw
      touch p A 0 4K
      dump d`;
    const old = await sc(text, "linux-4.5");
    expect(R(old, "d", "p", "A", true)).toEqual(["0-0:F1/0:1", "1-511:F2/9:1"]);
    // 6.18: the exclusive page is made writable by mprotect: no fault, no copy
    const now = await sc(text);
    expect(R(now, "d", "p", "A", true)).toEqual(["0-511:F1/9:1"]);
  });

  it("the DoubleMap case is observed the same in both kernels (seed-doublemap)", async () => {
    const text = `
      spawn parent
      mmap parent buf 2M thp
      touch parent buf 0 2M
      fork parent child
      mprotect child buf 0 4K r
      dump split
      exit child
      dump gone`;
    for (const k of ["linux-4.5", "linux-6.18"] as KernelName[]) {
      const r = await sc(text, k);
      expect(R(r, "split", "child", "buf")).toEqual(["0-511:F/9:2"]);
      expect(R(r, "split", "parent", "buf")).toEqual(["0-511:F/9:2"]);
      expect(R(r, "gone", "parent", "buf")).toEqual(["0-511:F/9:1"]);
    }
  });

  it("a whole-2 MiB DONTNEED keeps the (empty) table: the next fault is order 0", async () => {
    const r = await sc(`
      spawn p
      mmap p A 2M thp
      touch p A 0 4K read
      mprotect p A 0 4K r
      mprotect p A 0 4K rw
      madvise p A 0 2M dontneed
      touch p A 0 4K
      dump d`, "linux-4.5");
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/0:1"]);
  });

  it("split, shrink and the huge zero page work as in 6.18", async () => {
    const r = await sc(`
      spawn p
      mmap p A 4M thp
      touch p A 0 2M
      touch p A 2M 4K read
      fork p q
      munmap p A 4K 4K
      munmap q A 4K 4K
      shrink
      touch q A 2M 4K
      dump d`, "linux-4.5");
    expect(R(r, "d", "p", "A")).toEqual(["0-0:F/0:2", "2-511:F/0:2", "512-1023:hzero/9:0"]);
    expect(R(r, "d", "q", "A")).toEqual(["0-0:F/0:2", "2-511:F/0:2", "512-1023:F/9:1"]);
  });
});

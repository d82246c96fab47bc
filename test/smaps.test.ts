// smaps (fs/proc/task_mmu.c smaps_account, smaps_pte_entry, smaps_pmd_entry):
// Machine.smaps per VMA and the `smaps` of region records, against values
// computed by hand for each mapcount scheme (docs/schemes.md "smaps").
import { describe, it, expect } from "vitest";
import { Machine } from "../src/machine.js";
import { SCHEMES, type KernelName, type SchemeName } from "../src/profiles.js";
import { runScenario } from "../src/scenario/run.js";
import type { RegionRecord } from "../src/scenario/records.js";
import { M, PAGE } from "./helpers.js";

/** A page's Pss in fixed point (PSS_SHIFT 12) when `mapcount` processes map it: the kernel's integer division. */
const pageShare = (mapcount: number) => Math.floor((PAGE * 4096) / mapcount);
/** A fixed-point Pss as printed, in kB. */
const printed = (pss: number) => Math.floor(pss / 2 ** 22);

async function make(scheme?: SchemeName, kernel: KernelName = "linux-6.18"): Promise<Machine> {
  return Machine.create({ kernel, memory: 64 * M, scheme });
}

describe("smapsVma: one VMA, hand-computed", () => {
  for (const scheme of SCHEMES) {
    it(`${scheme}: fork of a PMD-mapped THP: Rss 2048, Pss 1024, Shared_Dirty 2048, AnonHugePages 2048 in both`, async () => {
      const m = await make(scheme);
      m.spawn("p"); m.mmap("p", "A", 2 * M, "thp"); m.touch("p", "A", 0, PAGE);
      const before = m.smaps("p")[0].fields;
      expect([before.Rss, before.Pss, before.Private_Dirty, before.Shared_Dirty, before.AnonHugePages]).toEqual([2048, 2048, 2048, 0, 2048]);
      m.fork("p", "c");
      for (const p of ["p", "c"]) {
        const f = m.smaps(p)[0].fields;
        expect(f).toMatchObject({ Size: 2048, Rss: 2048, Pss: 1024, Pss_Dirty: 1024, Shared_Clean: 0, Shared_Dirty: 2048, Private_Clean: 0, Private_Dirty: 0, Anonymous: 2048, AnonHugePages: 2048, THPeligible: 1 });
      }
      // the raw struct: Pss in bytes << PSS_SHIFT
      expect(m.smaps("p")[0].mss.pss).toBe(512 * pageShare(2));
      expect(m.check()).toEqual([]);
    });
  }

  it("three mappers, one COW copy: each page divided by its own mapcount (per-page schemes) or by the folio average (nopagemapcount)", async () => {
    for (const scheme of SCHEMES) {
      const m = await make(scheme);
      m.spawn("p"); m.mmap("p", "A", 2 * M, "thp"); m.touch("p", "A", 0, PAGE);
      m.fork("p", "c"); m.fork("p", "d");
      m.touch("c", "A", 0, PAGE); // c's PMD splits, page 0 copied: pages 1..511 mapcount 3, page 0 mapcount 2
      const p = m.smaps("p")[0], c = m.smaps("c")[0];
      if (scheme === "nopagemapcount") {
        // _large_mapcount 2 PMDs + 511 PTEs = 513: average = 2 + round(511 / 512) = 3, the same for every page
        expect(p.mss.pss).toBe(512 * pageShare(3));
        expect(p.fields.Pss).toBe(printed(512 * pageShare(3))); // 683
      } else {
        expect(p.mss.pss).toBe(511 * pageShare(3) + pageShare(2));
        expect(p.fields.Pss).toBe(printed(511 * pageShare(3) + pageShare(2))); // 684
      }
      expect(p.fields).toMatchObject({ Rss: 2048, Shared_Dirty: 2048, Private_Dirty: 0, AnonHugePages: 2048 });
      // c: 511 PTEs of the THP (shared) + its own copy of page 0 (refcount 1: private)
      expect(c.fields).toMatchObject({ Rss: 2048, Shared_Dirty: 2044, Private_Dirty: 4, AnonHugePages: 0 });
      expect(c.fields.Pss).toBe(printed(PAGE * 4096 + 511 * pageShare(3))); // the folio average is 3 too
      expect(m.check()).toEqual([]);
    }
  });

  it("nopagemapcount: a half-shared PTE-mapped THP is shared as a whole (folio_maybe_mapped_shared) at the average mapcount", async () => {
    for (const scheme of SCHEMES) {
      const m = await make(scheme);
      m.spawn("p"); m.mmap("p", "A", 2 * M, "thp"); m.touch("p", "A", 0, PAGE);
      m.mprotect("p", "A", 0, PAGE, "r"); m.mprotect("p", "A", 0, PAGE, "rw"); // split the PMD, VMAs merge back
      m.fork("p", "c");
      m.munmap("c", "A", M, M); // c keeps pages 0..255
      const f = m.smaps("p")[0].fields;
      if (scheme === "nopagemapcount") {
        // _large_mapcount 768 over 512 pages: average round(1.5) = 2; the MM-owner bit says shared
        expect(f).toMatchObject({ Rss: 2048, Pss: 1024, Shared_Dirty: 2048, Private_Dirty: 0 });
      } else {
        expect(f).toMatchObject({ Rss: 2048, Pss: 512 + 1024, Shared_Dirty: 1024, Private_Dirty: 1024 });
      }
      expect(m.check()).toEqual([]);
    }
  });

  it("the zero page and the huge zero page count nowhere; PROT_NONE pages count", async () => {
    const m = await make();
    m.spawn("p"); m.mmap("p", "Z", 2 * M, "thp"); m.mmap("p", "S", 64 * 1024, "nothp");
    m.touch("p", "Z", 0, PAGE, "read"); // huge zero PMD
    m.touch("p", "S", 0, 16 * 1024, "read"); // zero-page PTEs
    m.touch("p", "S", 16 * 1024, 8 * 1024, "write");
    m.mprotect("p", "S", 16 * 1024, PAGE, "none");
    const recs = m.observe(null, { smaps: true }).filter((r): r is RegionRecord => r.type === "region");
    const z = recs.find((r) => r.region === "Z")!, s = recs.find((r) => r.region === "S")!;
    expect(z.smaps).toEqual({ Rss: 0, Pss: 0, Pss_Dirty: 0, Shared_Clean: 0, Shared_Dirty: 0, Private_Clean: 0, Private_Dirty: 0, Anonymous: 0, AnonHugePages: 0 });
    expect(s.smaps).toMatchObject({ Rss: 8, Pss: 8, Private_Dirty: 8, Anonymous: 8, AnonHugePages: 0 });
    // address order: S below Z (top-down mmap); S cut in three by the mprotect
    expect(m.smaps("p").map((v) => [v.region, v.perms, v.fields.Rss])).toEqual([["S", "rw-p", 0], ["S", "---p", 4], ["S", "rw-p", 4], ["Z", "rw-p", 0]]);
  });

  it("a region's smaps sums each VMA's printed (truncated) values", async () => {
    const m = await make();
    m.spawn("p"); m.mmap("p", "A", 4 * M, "thp"); m.touch("p", "A", 0, PAGE); m.touch("p", "A", 2 * M, PAGE);
    m.fork("p", "c"); m.fork("p", "d");
    m.touch("c", "A", 0, PAGE);
    m.mprotect("p", "A", 2 * M + PAGE, PAGE, "r"); // three VMAs in p
    const vmas = m.smaps("p");
    expect(vmas.map((v) => v.perms)).toEqual(["rw-p", "r--p", "rw-p"]);
    const region = m.observe(null, { smaps: true }).find((r): r is RegionRecord => r.type === "region" && r.proc === "p")!;
    const sum = vmas.reduce((a, v) => a + v.fields.Pss, 0);
    expect(region.smaps!.Pss).toBe(sum);
    // 684 + 1 + 679: the whole region's fixed-point sum would print 1365
    expect(sum).toBe(1364);
    expect(printed(vmas.reduce((a, v) => a + v.mss.pss, 0))).toBe(1365);
    expect(region.smaps!.Rss * 1024).toBe(region.rss);
    expect(region.smaps!.AnonHugePages * 1024).toBe(region.pmdMapped);
  });

  it("linux-4.5 (DoubleMap): a THP PMD-mapped in one process and PTE-mapped in another is counted page by page", async () => {
    const m = await make(undefined, "linux-4.5");
    m.spawn("p"); m.mmap("p", "A", 2 * M, "thp"); m.touch("p", "A", 0, PAGE);
    m.fork("p", "c");
    m.mprotect("c", "A", 0, PAGE, "r"); // c's PMD split: PG_double_map, page_mapcount 2 on every subpage
    expect(m.smaps("p")[0].fields).toMatchObject({ Rss: 2048, Pss: 1024, Shared_Dirty: 2048, AnonHugePages: 2048 });
    expect(m.smaps("c").map((v) => v.fields.Pss)).toEqual([2, 1022]);
  });
});

describe("runScenario({ smaps: true })", () => {
  it("adds smaps to every region record, and nothing without it", async () => {
    const text = "spawn p\nmmap p A 2M thp\ntouch p A 0 4K\nfork p c\ndump\n";
    const on = (await runScenario(text, { smaps: true, check: true })).filter((r) => r.type === "region") as RegionRecord[];
    expect(on.map((r) => r.smaps)).toEqual([
      { Rss: 2048, Pss: 1024, Pss_Dirty: 1024, Shared_Clean: 0, Shared_Dirty: 2048, Private_Clean: 0, Private_Dirty: 0, Anonymous: 2048, AnonHugePages: 2048 },
      { Rss: 2048, Pss: 1024, Pss_Dirty: 1024, Shared_Clean: 0, Shared_Dirty: 2048, Private_Clean: 0, Private_Dirty: 0, Anonymous: 2048, AnonHugePages: 2048 },
    ]);
    const off = (await runScenario(text)).filter((r) => r.type === "region");
    expect(off.every((r) => !("smaps" in r))).toBe(true);
  });

  it("reading smaps is not charged to the rmap cost counters (--stats)", async () => {
    const costs = async (smaps: boolean) => {
      const m = await Machine.create({ memory: 64 * M, smaps, scheme: "nopagemapcount" });
      m.spawn("p"); m.mmap("p", "A", 2 * M, "thp"); m.touch("p", "A", 0, PAGE); m.fork("p", "c");
      m.mprotect("c", "A", 0, PAGE, "r");
      m.observe();
      if (smaps) m.smaps("p");
      return m.costs();
    };
    expect(await costs(true)).toEqual(await costs(false));
  });

  it("an unknown or exited process is a UserError", async () => {
    const m = await make();
    m.spawn("p"); m.exit("p");
    expect(() => m.smaps("p")).toThrow(/exited/);
    expect(() => m.smaps("q")).toThrow(/unknown process/);
  });
});

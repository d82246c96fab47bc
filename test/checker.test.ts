// The invariant checker itself: a consistent machine passes, and each kind
// of corruption (made through the memory view, as a bug would) is reported.
// Without this, "no violation" in the other tests would prove little.
import { describe, it, expect, beforeAll } from "vitest";
import type { Machine } from "../src/machine.js";
import { _PAGE_RW, PMD_SIZE } from "../src/pgtable/x86_64.js";
import { Machine as MachineClass } from "../src/machine.js";
import { runOn, M, PAGE } from "./helpers.js";
import type { PageOffset } from "../src/core/exports.js";

// P: a THP shared with Q by PMD (buf), a DoubleMap'ed THP (dm: Q's PMD split),
// a partially unmapped THP (part, queued), order-0 pages shared by fork
// (small), the huge zero page (hz).
const STATE = `
spawn P
mmap P buf 2M thp
touch P buf 0 2M
mmap P dm 2M thp
touch P dm 0 2M
mmap P part 2M thp
touch P part 0 2M
munmap P part 0 4K
mmap P small 64K
touch P small 0 64K
mmap P hz 2M thp
touch P hz 0 4K read
fork P Q
mprotect Q dm 0 4K r
`;

let m: Machine;
beforeAll(async () => {
  // the DoubleMap scheme (its corruptions are tested here; test/schemes.test.ts covers the others)
  m = await MachineClass.create({ kernel: "linux-6.18", memory: 64 * M, scheme: "doublemap" });
  runOn(m, STATE);
});

/** Corrupt, expect a report matching `re`, then restore and expect a clean bill. */
function expectCaught(corrupt: () => void, re: RegExp): void {
  const snap = m.snapshot();
  expect(m.check()).toEqual([]);
  corrupt();
  const v = m.check();
  m.restore(snap);
  expect(v.join("\n")).toMatch(re);
  expect(m.check()).toEqual([]);
}

function addField(pfn: number, name: PageOffset, d: number): void { m.core.debug.addField(pfn, name, d); }
function pfnOf(proc: string, region: string, off: number): number { return m.inspect(proc, region, off).pfn; }
/** The u32 index of the PTE (or huge PMD) mapping proc/region/off. */
function entrySlot(proc: string, region: string, off: number): number {
  const p = m.procs.get(proc)!;
  const addr = p.regions.get(region)!.start + off;
  const pmd = m.k.pt.pmdOffset(p.mm, Math.floor(addr / PMD_SIZE), false);
  if (m.k.pt.pmdTransHuge(pmd)) return pmd;
  return m.k.pt.pteOffset(pmd, (addr % PMD_SIZE) / PAGE);
}

describe("the invariant checker", () => {
  it("passes the consistent machine", () => {
    expect(m.check()).toEqual([]);
    expect(m.inspect("P", "dm", 0).PG_double_map).toBe(true);
    expect(m.inspect("P", "part", 4096).deferred_split_queued).toBe(true);
  });

  it("catches a wrong subpage _mapcount", () => {
    expectCaught(() => addField(pfnOf("Q", "dm", 5 * PAGE), "PAGE_MAPCOUNT", 1), /_mapcount/);
  });
  it("catches a wrong order-0 _mapcount and _refcount", () => {
    expectCaught(() => addField(pfnOf("P", "small", 0), "PAGE_MAPCOUNT", -1), /_mapcount .* but 2 PTE mappings/);
    expectCaught(() => addField(pfnOf("P", "small", 0), "PAGE_REFCOUNT", 1), /_refcount 3 but 2 mappings/);
  });
  it("catches a THP _refcount off by one (a pin the model does not have)", () => {
    expectCaught(() => addField(pfnOf("P", "buf", 0), "PAGE_REFCOUNT", 1), /_refcount 3, expected 2/);
  });
  it("catches a wrong compound_mapcount", () => {
    const head = pfnOf("P", "buf", 0);
    expectCaught(() => addField(head + 1, "PAGE_COMPOUND_MAPCOUNT", 1), /compound_mapcount 3 but 2 PMD mappings/);
  });
  it("catches PG_double_map cleared while PMD and PTEs map the THP", () => {
    const head = pfnOf("P", "dm", 0);
    expectCaught(() => { m.core.debug.setFlag(head + 1, "double_map", false); }, /without PG_double_map/);
  });
  it("catches a partially mapped THP missing from the deferred split queue, and a wrong queue length", () => {
    // every THP faulted in is queued at birth (6.12+ underused shrinker), plus the partially mapped one
    const len = m.core.splitQueueLen;
    expect(len).toBeGreaterThan(1);
    expectCaught(() => { m.core.debug.addGlobal("SPLIT_QUEUE_LEN", 1); }, new RegExp(`split queue holds ${len + 1} THPs, ${len} of them mapped`));
  });
  it("catches a leaked frame", () => {
    expectCaught(() => { expect(m.core.e.pgtable_alloc()).toBeGreaterThan(0); }, /a leak of 1/);
  });
  it("catches a writable PTE to a page shared with another process (a missed COW)", () => {
    const slot = entrySlot("P", "small", 8 * PAGE);
    expectCaught(() => { m.k.pt.setBits(slot, _PAGE_RW); }, /writable PTE to pfn \d+ that has 2 mappings/);
  });
  it("catches a writable PMD to a THP shared by fork", () => {
    const slot = entrySlot("Q", "buf", 0);
    expectCaught(() => { m.k.pt.setBits(slot, _PAGE_RW); }, /writable PMD to THP \d+ that is also mapped elsewhere/);
  });
  it("catches a writable huge-zero PMD", () => {
    const slot = entrySlot("P", "hz", 0);
    expectCaught(() => { m.k.pt.setBits(slot, _PAGE_RW); }, /writable huge-zero PMD/);
  });
  it("catches PG_anon_exclusive on a shared page", () => {
    const pfn = pfnOf("P", "small", 4 * PAGE);
    expectCaught(() => { m.core.debug.setFlag(pfn, "anon_exclusive", true); }, /PG_anon_exclusive but 2 mappings/);
  });
  it("catches a huge PMD without its deposited table, and a stray deposit", () => {
    const slot = entrySlot("P", "buf", 0);
    const table = m.k.deposits.get(slot)!;
    expect(table).toBeDefined();
    expectCaught(() => { m.k.deposits.delete(slot); }, /has no deposited table/);
    const pte = entrySlot("P", "small", 0);
    expectCaught(() => { m.k.deposits.set(pte + 4096, table); }, /stray deposit/);
  });
  it("catches a wrong huge_zero_refcount", () => {
    expectCaught(() => { m.core.debug.addGlobal("HUGE_ZERO_REFCOUNT", 1); }, /huge_zero_refcount 4, expected 3/);
  });
  it("catches a wrong page-table count of a process", () => {
    expectCaught(() => { m.procs.get("Q")!.mm.nrTables += 1; }, /Q: owns \d+ page-table pages/);
  });
  it("catches a bad_page() report and corrupt free lists", () => {
    expectCaught(() => { m.core.debug.addGlobal("BAD_PAGES", 1); }, /bad_page\(\) reported 1 time/);
    expectCaught(() => { m.core.debug.addVmstat("NR_FREE_PAGES", 5); }, /NR_FREE_PAGES/);
  });
  it("catches _large_mapcount out of step (6.18 MM-owner tracking)", () => {
    const head = pfnOf("P", "dm", 0);
    expectCaught(() => addField(head + 1, "PAGE_LARGE_MAPCOUNT", 1), /_large_mapcount/);
  });
  it("catches a VMA list left unmerged or overlapping (mprotect merges only around its range)", () => {
    const vmaOf = (proc: string, region: string) => {
      const p = m.procs.get(proc)!;
      const start = p.regions.get(region)!.start;
      return { vmas: p.mm.vmas, i: p.mm.vmas.findIndex((v) => v.start === start) };
    };
    expectCaught(() => {
      // P's small region cut in two pieces vma_merge would join again
      const { vmas, i } = vmaOf("P", "small");
      const v = vmas[i];
      vmas.splice(i + 1, 0, { ...v, start: v.start + PAGE });
      v.end = v.start + PAGE;
    }, /P: unmerged mergeable VMAs/);
    expectCaught(() => {
      // P's small region grown into the next VMA up (the one mapped before it)
      const { vmas, i } = vmaOf("P", "small");
      expect(vmas[i + 1]).toBeDefined();
      vmas[i].end = vmas[i + 1].start + PAGE;
    }, /P: VMAs out of order or overlapping/);
  });
});

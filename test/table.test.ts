// The human-readable form of the observations (`--format table`, the web
// page's text): exact byte counts, runs of pages merged only when they really
// continue each other, and inspect notes that describe the selected scheme.
import { describe, expect, it } from "vitest";
import { formatBytes, formatTable, sourceBlock } from "../src/scenario/table.js";
import { runScenario } from "../src/index.js";
import type { InspectRecord, ObservationRecord } from "../src/scenario/records.js";

describe("formatBytes", () => {
  it("is exact: a value one decimal of a larger unit cannot show falls back to a smaller unit", () => {
    expect(formatBytes(0)).toBe("0");
    expect(formatBytes(8192)).toBe("8 KiB");
    expect(formatBytes(2 << 20)).toBe("2.0 MiB");
    expect(formatBytes(1.5 * (1 << 20))).toBe("1.5 MiB");
    expect(formatBytes((2 << 20) - 4096)).toBe("2044 KiB");
    expect(formatBytes(4 * 1024 ** 3)).toBe("4.0 GiB");
    expect(formatBytes(100)).toBe("100 B");
  });
});

describe("formatTable", () => {
  it("merges a THP's pages into one run and splits it where the mapcount or folio changes", async () => {
    const recs = await runScenario(`
spawn p
mmap p A 2M thp
touch p A 0 2M
fork p c
touch c A 0 4K write
dump after-cow
`, { memory: 256 << 20 });
    const text = formatTable(recs).join("\n");
    expect(text).toContain("== dump 1: after-cow ==");
    // folios are named in order of appearance (process c first): the child's
    // COW copy of page 0 is F1; pages 1-511 stay in the THP F2, mapped twice
    expect(text).toMatch(/c\s+A\s+pages 0\s+F1\s+order 0\s+idx 0\s+mapcount 1/);
    expect(text).toMatch(/c\s+A\s+pages 1-511\s+F2\s+order 9\s+idx 1-511\s+mapcount 2/);
    expect(text).toMatch(/p\s+A\s+pages 0\s+F2\s+order 9\s+idx 0\s+mapcount 1/);
    expect(text).toMatch(/p\s+A\s+pages 1-511\s+F2\s+order 9\s+idx 1-511\s+mapcount 2/);
    // 6.18 splits only the child's PMD on COW; the parent keeps its PMD
    expect(text).toMatch(/c\s+A\s+rss 2\.0 MiB \(512 pages\), PMD-mapped 0/);
    expect(text).toMatch(/p\s+A\s+rss 2\.0 MiB \(512 pages\), PMD-mapped 2\.0 MiB/);
  });

  it("keeps order-0 folios with consecutive numbers in one run, but not a gap in pages", async () => {
    const recs = await runScenario(`
spawn p
mmap p A 64K
touch p A 0 16K write
touch p A 32K 4K write
dump
`, { memory: 256 << 20 });
    const lines = formatTable(recs);
    expect(lines[0]).toBe("== dump 1 ==");
    expect(lines.join("\n")).toMatch(/pages 0-3\s+F1-F4\s+order 0\s+idx 0\s+mapcount 1/);
    expect(lines.join("\n")).toMatch(/pages 8\s+F5\s+order 0/);
  });

  const inspectOf = async (scheme: string): Promise<string> => {
    const recs = await runScenario("spawn p\nmmap p A 2M thp\ntouch p A 0 2M\ninspect p A 0\n",
      { memory: 256 << 20, kernel: "linux-4.5", scheme: scheme as never });
    return formatTable(recs.filter((r): r is InspectRecord => r.type === "inspect")).join("\n");
  };

  it("explains _mapcount the way the selected scheme keeps it", async () => {
    expect(await inspectOf("doublemap")).toMatch(/_mapcount\s+= -1\s+\(raw: PTE maps of this page - 1, \+1 while PG_double_map\)/);
    expect(await inspectOf("naive")).toMatch(/_mapcount\s+= 0\s+\(raw: PTE maps of this page \+ PMD maps of the folio - 1\)/);
    expect(await inspectOf("large")).toMatch(/_nr_pages_mapped\s+= 8388608\s+\(pages mapped by PTEs, \+ ENTIRELY_MAPPED/);
    expect(await inspectOf("nopagemapcount")).toMatch(/page_mapcount\s+= 1\s+\(the folio average/);
  });

  it("explains the raw fields only once per call", async () => {
    const recs: ObservationRecord[] = await runScenario("spawn p\nmmap p A 2M thp\ntouch p A 0 2M\ninspect p A 0\ninspect p A 4K\n",
      { memory: 256 << 20 });
    const text = formatTable(recs).join("\n");
    expect(text.match(/\(of the head page: the folio's references\)/g)).toHaveLength(1);
    expect(formatTable(recs, { notes: false }).join("\n")).not.toContain("(of the head page");
  });
});

describe("sourceBlock", () => {
  it("gives the comments before an operation and the operation itself", () => {
    const lines = ["spawn p", "", "# why", "# more", "mmap p A 2M thp"];
    expect(sourceBlock(lines, 1, 5)).toEqual(["# why", "# more", "> mmap p A 2M thp"]);
  });
});

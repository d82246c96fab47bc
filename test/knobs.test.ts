// THP knobs (`sysfs KNOB VALUE`) and host quirks in the emulator, and the
// host probe (`thpemu probe`, `--kernel host`). The kernel-recorded side of
// the same rules is test/conformance/knob-*.scn; these tests pin each rule
// down on its own, with the invariant checker on.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Machine, UserError } from "../src/machine.js";
import { KNOB_NAMES, REFERENCE_KNOBS, parseKnob, pmdThpAllowed, mthpOrdersAllowed, type ThpKnobs } from "../src/knobs.js";
import { PROFILES } from "../src/profiles.js";
import { journalOriginals, knobFileValue, probeHost, resolveTarget } from "../src/kernel/probe.js";
import { hostCanServe, findCompiler } from "../src/kernel/runner.js";
import { pagesOf, regionOf, runOn, runs, repoRoot, M } from "./helpers.js";

async function m618(opts: Parameters<typeof Machine.create>[0] = {}): Promise<Machine> {
  return Machine.create({ kernel: "linux-6.18", memory: 256 * M, ...opts });
}

describe("which VMAs get a PMD-size THP on fault (thp_vma_allowable_order)", () => {
  const k = (enabled: ThpKnobs["enabled"], size: ThpKnobs["hugepages-2048kB/enabled"]): ThpKnobs =>
    ({ ...REFERENCE_KNOBS, enabled, "hugepages-2048kB/enabled": size });
  // [enabled, hugepages-2048kB, MADV_HUGEPAGE?, expected]
  const table: [ThpKnobs["enabled"], ThpKnobs["hugepages-2048kB/enabled"], boolean, boolean][] = [
    ["always", "inherit", false, true], ["always", "inherit", true, true],
    ["madvise", "inherit", false, false], ["madvise", "inherit", true, true],
    ["never", "inherit", false, false], ["never", "inherit", true, false],
    ["never", "always", false, true], ["never", "madvise", true, true], ["never", "madvise", false, false],
    ["always", "never", true, false], ["always", "madvise", false, false], ["madvise", "always", false, true],
  ];
  for (const [enabled, size, advised, want] of table) {
    it(`enabled ${enabled}, hugepages-2048kB ${size}, ${advised ? "MADV_HUGEPAGE" : "no advice"}: ${want ? "THP" : "no THP"}`, () => {
      expect(pmdThpAllowed(k(enabled, size), advised, false)).toBe(want);
    });
  }
  it("MADV_NOHUGEPAGE wins over every setting", () => {
    expect(pmdThpAllowed(k("always", "always"), false, true)).toBe(false);
    expect(pmdThpAllowed(k("always", "always"), true, true)).toBe(false);
  });
});

describe("sysfs lines in the emulator", () => {
  it("enabled always gives un-advised regions THPs on write and the huge zero page on read; nothp still wins", async () => {
    const m = await m618();
    const r = runOn(m, `
      spawn p
      sysfs enabled always
      mmap p A 2M
      mmap p B 2M
      mmap p N 2M nothp
      touch p A 0 4K
      touch p B 0 4K read
      touch p N 0 4K
      dump`);
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-511:F/9:1"]);
    expect(runs(pagesOf(r, "p", "B"))).toEqual(["0-511:hzero/9:0"]);
    expect(runs(pagesOf(r, "p", "N"))).toEqual(["0-0:F/0:1"]);
  });

  it("a knob acts on later faults only: what is mapped stays", async () => {
    const m = await m618();
    const r = runOn(m, `
      spawn p
      mmap p A 4M thp
      touch p A 0 4K
      sysfs enabled never
      touch p A 4K 4K
      touch p A 2M 4K
      dump`);
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-511:F/9:1", "512-512:F/0:1"]);
    expect(m.knobs.enabled).toBe("never");
  });

  it("use_zero_page 0: a read fault of an eligible block allocates a THP (counted in rss)", async () => {
    const m = await m618();
    const r = runOn(m, "spawn p\nsysfs use_zero_page 0\nmmap p A 2M thp\ntouch p A 0 4K read\ndump");
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-511:F/9:1"]);
    expect(regionOf(r, "p", "A")).toMatchObject({ rss: 2 * M, pmdMapped: 2 * M });
  });

  it("the underused shrinker splits a fully mapped THP with more than max_ptes_none zero-filled subpages", async () => {
    // 10 written subpages, 502 zero-filled: split at max_ptes_none 501, kept at 502
    const scenario = (maxNone: number) => `
      spawn p
      sysfs khugepaged/max_ptes_none ${maxNone}
      mmap p A 2M thp
      touch p A 0 40K
      shrink
      dump`;
    const split = runOn(await m618(), scenario(501));
    expect(runs(pagesOf(split, "p", "A"))).toEqual(["0-9:F/0:1", "10-511:zero/0:0"]);
    expect(regionOf(split, "p", "A")).toMatchObject({ rss: 40 * 1024, pmdMapped: 0 });
    const kept = runOn(await m618(), scenario(502));
    expect(runs(pagesOf(kept, "p", "A"))).toEqual(["0-511:F/9:1"]);
  });

  it("max_ptes_none 511 turns the rule off, and shrink_underused 0 keeps new THPs off the queue for good", async () => {
    const off = runOn(await m618(), "spawn p\nmmap p A 2M thp\ntouch p A 0 4K\nshrink\ndump");
    expect(runs(pagesOf(off, "p", "A"))).toEqual(["0-511:F/9:1"]);
    const m = await m618();
    const r = runOn(m, `
      spawn p
      sysfs shrink_underused 0
      mmap p A 2M thp
      touch p A 0 4K
      sysfs shrink_underused 1
      sysfs khugepaged/max_ptes_none 0
      shrink
      dump`);
    expect(m.inspect("p", "A", 0).deferred_split_queued).toBe(false);
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-511:F/9:1"]);
  });

  it("new THPs are queued (not partially mapped); a scan that finds one used takes it off the queue", async () => {
    const m = await m618();
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M");
    expect(m.inspect("p", "A", 0)).toMatchObject({ deferred_split_queued: true, partially_mapped: false });
    runOn(m, "shrink");
    expect(m.inspect("p", "A", 0)).toMatchObject({ deferred_split_queued: false, partially_mapped: false });
    runOn(m, "munmap p A 0 4K");
    expect(m.inspect("p", "A", 4096)).toMatchObject({ deferred_split_queued: true, partially_mapped: true });
  });

  it("a THP from a write to the huge zero page and a collapsed THP are queued too", async () => {
    const m = await m618();
    runOn(m, `
      spawn p
      sysfs khugepaged/max_ptes_none 0
      mmap p A 2M thp
      touch p A 0 4K read
      touch p A 4K 4K
      mmap p B 2M thp
      touch p B 0 8K
      madvise p B 0 4K dontneed
      madvise p B 0 2M collapse`);
    expect(m.inspect("p", "A", 0).deferred_split_queued).toBe(true);
    expect(m.inspect("p", "B", 0).deferred_split_queued).toBe(true);
    const r = runOn(m, "shrink\ndump");
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-0:zero/0:0", "1-1:F/0:1", "2-511:zero/0:0"]);
    expect(runs(pagesOf(r, "p", "B"))).toEqual(["0-0:zero/0:0", "1-1:F/0:1", "2-511:zero/0:0"]);
  });

  it("initial knobs come from the options; a bad one is a UserError", async () => {
    const m = await m618({ knobs: { enabled: "always", "khugepaged/max_ptes_none": 7 } });
    expect(m.knobs).toMatchObject({ enabled: "always", "khugepaged/max_ptes_none": 7, use_zero_page: 1 });
    await expect(m618({ knobs: { enabled: "sometimes" as never } })).rejects.toThrow(UserError);
    expect((await m618({ knobs: { "hugepages-64kB/enabled": "always" } })).knobs["hugepages-64kB/enabled"]).toBe("always");
    await expect(Machine.create({ kernel: "linux-4.5", knobs: { shrink_underused: 1 } })).rejects.toThrow(/does not exist in linux-4.5/);
    await expect(m618({ quirks: { readFaultZeroPage: "no" as never } })).rejects.toThrow(/not a boolean/);
  });

  it("a failed operation after sysfs lines restores the knobs with everything else (rollback)", async () => {
    const m = await Machine.create({ memory: 16 * M });
    runOn(m, "spawn p\nsysfs enabled always\nmmap p A 64M thp");
    const before = m.knobs;
    expect(() => m.touch("p", "A", 0, 64 * M, "write")).toThrow(/out of memory/);
    expect(m.knobs).toEqual(before);
    expect(m.check()).toEqual([]);
  });

  it("every knob of the table parses its values and nothing else", () => {
    for (const k of KNOB_NAMES) {
      const v = String(REFERENCE_KNOBS[k]);
      expect(parseKnob(k, v).knob).toBe(k);
      expect(() => parseKnob(k, "bogus")).toThrow(/bad value 'bogus'/);
    }
    expect(PROFILES["linux-4.5"].knobs).toEqual(["enabled", "use_zero_page"]);
  });
});

describe("mTHP on fault (alloc_anon_folio)", () => {
  it("orders by each size's setting: inherit follows enabled, madvise needs MADV_HUGEPAGE, nothp forbids all", () => {
    const k = { ...REFERENCE_KNOBS, "hugepages-64kB/enabled": "inherit", "hugepages-16kB/enabled": "madvise", "hugepages-1024kB/enabled": "always" } as ThpKnobs;
    expect(mthpOrdersAllowed(k, false, false)).toEqual([8]);
    expect(mthpOrdersAllowed(k, true, false)).toEqual([8, 4, 2]);
    expect(mthpOrdersAllowed({ ...k, enabled: "always" }, false, false)).toEqual([8, 4]);
    expect(mthpOrdersAllowed({ ...k, enabled: "never" }, true, false)).toEqual([8, 2]);
    expect(mthpOrdersAllowed(k, true, true)).toEqual([]);
  });
  it("the highest order whose aligned range fits in the VMA with every PTE none; a read maps the zero page", async () => {
    const m = await m618({ knobs: { "hugepages-64kB/enabled": "always", "hugepages-16kB/enabled": "always" } });
    const r = runOn(m, "spawn p\nmmap p A 96K\ntouch p A 4K 4K read\ntouch p A 0 96K\ndump");
    // the zero page at page 1 spoils both 0-15 (64K) and 0-3 (16K): pages 0-3 are order 0 (page 1 the
    // zero page's COW copy); 4-15 and 16-23 get 16K folios (64K would reach past 4-15's alignment or the VMA)
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-3:F/0:1", "4-23:F/2:1"]);
  });
  it("anon_beside_full (mthpBesideFull): an mTHP only beside a fully populated range of its size", async () => {
    const m = await m618({ knobs: { "hugepages-16kB/enabled": "always" }, quirks: { mthpBesideFull: true } });
    const r = runOn(m, "spawn p\nmmap p A 64K\ntouch p A 16K 16K\ntouch p A 0 4K\ntouch p A 48K 4K\ndump");
    // 4-7 written first: no full neighbour, order 0 x4; page 0: 4-7 above is full, order 2; page 12: 8-11 empty, 16-19 outside
    expect(runs(pagesOf(r, "p", "A"), true)).toEqual(["0-3:F1/2:1", "4-4:F2/0:1", "5-5:F3/0:1", "6-6:F4/0:1", "7-7:F5/0:1", "12-12:F6/0:1"]);
  });
});

describe("host quirks in the emulator", () => {
  it("readFaultZeroPage false: a read fault allocates a zero-filled page instead of mapping the zero page", async () => {
    const m = await m618({ quirks: { readFaultZeroPage: false } });
    const r = runOn(m, "spawn p\nmmap p A 8K nothp\ntouch p A 0 8K read\nfork p q\ndump");
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-1:F/0:2"]);
    expect(regionOf(r, "p", "A").rss).toBe(8192);
  });
  it("readFaultHugeZeroPage false: a read fault of an eligible block allocates a THP", async () => {
    const m = await m618({ quirks: { readFaultHugeZeroPage: false } });
    const r = runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 4K read\ndump");
    expect(runs(pagesOf(r, "p", "A"))).toEqual(["0-511:F/9:1"]);
  });
  it("splitRemapsZeroPages false: a split keeps zero-filled subpages as they are", async () => {
    const scn = "spawn p\nmmap p A 2M thp\ntouch p A 0 4K\nmunmap p A 4K 4K\nshrink\ndump";
    const on = runOn(await m618(), scn);
    expect(runs(pagesOf(on, "p", "A"))).toEqual(["0-0:F/0:1", "2-511:zero/0:0"]);
    const off = runOn(await m618({ quirks: { splitRemapsZeroPages: false } }), scn);
    expect(runs(pagesOf(off, "p", "A"))).toEqual(["0-0:F/0:1", "2-511:F/0:1"]);
  });
});

describe("the host probe", () => {
  it("reads a knob file's value as the kernel prints it", () => {
    expect(knobFileValue("always [madvise] never\n")).toBe("madvise");
    expect(knobFileValue("511\n")).toBe("511");
    expect(knobFileValue("[always] inherit madvise never")).toBe("always");
  });

  it("takes a killed runner's journal as the knobs' original values (and only knob lines)", () => {
    const j = "# boot_id 1234\nenabled madvise\nhugepages-64kB/enabled never\n/proc/sys/vm/min_free_kbytes 67584\nbogus 3\n";
    expect([...journalOriginals(j)]).toEqual([["enabled", "madvise"], ["hugepages-64kB/enabled", "never"]]);
    expect(journalOriginals("").size).toBe(0);
  });

  const host = hostCanServe();
  const cc = findCompiler() !== null;
  const skip = !host.ok ? `host cannot serve: ${host.reason}` : !cc ? "no C compiler (cc, gcc, clang)" : "";
  const live = (name: string) => (skip ? `${name} (skipped: ${skip})` : name);

  it.skipIf(skip !== "")(live("reports the release, every knob as sysfs shows it, and each quirk as a boolean"), async () => {
    const p = await probeHost();
    expect(p.release).toBe(fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
    for (const k of KNOB_NAMES) {
      if (p.missingKnobs.includes(k)) continue;
      // read under the runners' lock too: a kernel test in another worker may be between a sysfs line and its restore
      const text = spawnSync("flock", ["-s", "/tmp/thpemu-kernel.lock", "cat", path.join("/sys/kernel/mm/transparent_hugepage", k)], { encoding: "utf8" }).stdout;
      expect(String(p.knobs[k]), k).toBe(knobFileValue(text));
    }
    for (const q of ["readFaultZeroPage", "readFaultHugeZeroPage", "splitRemapsZeroPages"] as const) {
      expect(typeof p.quirks[q]).toBe("boolean");
    }
    // cached per build: the second probe reads the quirks from the cache
    const again = await probeHost();
    expect(again.quirksCached).toBe(true);
    expect(again.quirks).toEqual(p.quirks);
    const t = await resolveTarget("host");
    expect(t.machine).toEqual({ kernel: "linux-6.18", knobs: p.knobs, quirks: p.quirks });
  }, 60_000);

  it.skipIf(skip !== "")(live("`thpemu probe` prints one JSON object; --kernel host runs a scenario"), () => {
    const probe = spawnSync(process.execPath, [path.join(repoRoot, "bin/thpemu.js"), "probe"], { encoding: "utf8" });
    expect(probe.status, probe.stderr).toBe(0);
    const o = JSON.parse(probe.stdout) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(expect.arrayContaining(["release", "knobs", "quirks"]));
    const run = spawnSync(process.execPath, [path.join(repoRoot, "bin/thpemu.js"), "run", "-", "--kernel", "host"],
      { encoding: "utf8", input: "spawn p\nmmap p A 2M thp\ntouch p A 0 4K\ndump\n" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('"type":"region"');
  }, 60_000);

  const asNobody = process.getuid?.() === 0 && fs.existsSync("/usr/bin/setpriv");
  it.skipIf(!asNobody)(`exits 4 saying why where the host cannot be probed (not root)${asNobody ? "" : " (skipped: needs root and setpriv)"}`, () => {
    const r = spawnSync("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
      process.execPath, path.join(repoRoot, "bin/thpemu.js"), "probe"], { encoding: "utf8" });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/cannot probe this host: not running as root/);
    expect(r.stdout).toBe("");
  });
});

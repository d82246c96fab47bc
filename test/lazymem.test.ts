// Lazy memory (docs/architecture.md "Memory map"): struct pages are
// initialised a section (one max-order block) at a time when the buddy
// allocator first needs it (deferred_grow_zone), the core's linear memory
// grows with the work, and a never-initialised frame is free and reads as a
// zero struct page. Observations must not depend on how much memory was
// emulated or initialised.
import { describe, it, expect } from "vitest";
import { Writable } from "node:stream";
import fc from "fast-check";
import { main } from "../src/cli/main.js";
import { Machine, OomError } from "../src/machine.js";
import { parseScenario } from "../src/scenario/parse.js";
import { applyOp } from "../src/scenario/run.js";
import { frameKind, frameRecord, usedFrameLimit } from "../src/inspect/tables.js";
import type { KernelName } from "../src/profiles.js";
import { buildScenario, seedArb } from "./scenario-gen.js";
import { M, runOn, expectNoViolations } from "./helpers.js";

const G = 1024 ** 3;
const SECTION = 1024; // frames per section = one max-order block

/** JSONL of a scenario (an OOM becomes a line, as in property.test.ts). */
function jsonl(m: Machine, lines: string[]): string[] {
  const out: string[] = [];
  for (const op of parseScenario(lines.join("\n"), "lazy.scn")) {
    try {
      for (const r of applyOp(m, op)) out.push(JSON.stringify(r));
    } catch (err) {
      if (err instanceof OomError) { out.push(`OOM at line ${op.line}`); continue; }
      throw err;
    }
  }
  return out;
}

describe("lazy memory: a fresh machine", () => {
  it("at 128 GiB costs a few MiB of linear memory, counts every frame free, and checks clean", async () => {
    const m = await Machine.create({ memory: 128 * G });
    const frames = (128 * G) / 4096;
    expect(m.core.linearMemoryBytes).toBeLessThan(16 * M);
    expect(m.freeFrames()).toBe(frames - 1); // all but the zero page
    expect(m.neverInitialisedFrames()).toBe(frames - SECTION); // section 0 holds the zero page
    expect(m.core.vmstat("NR_FREE_PAGES")).toBe(frames - 1);
    expect(m.core.e.nr_free_order(10) >>> 0).toBe(frames / SECTION - 1); // block 0 was split for the zero page
    expectNoViolations(m);
  });

  it("256 GiB is a clear error, not a trap (Machine.create, and `thpemu run --memory 256G`: exit 2)", async () => {
    await expect(Machine.create({ memory: 256 * G })).rejects.toThrow(/above 128 GiB is not supported.*4 GiB of linear memory/);
    let err = "";
    const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
    const status = await main(["run", "x.scn", "--memory", "256G"], { stdout: sink(() => {}), stderr: sink((s) => { err += s; }) });
    expect(status).toBe(2);
    expect(err).toMatch(/argument '256G' is invalid\. At most 128G is supported/);
  });

  it("inspect, the frame grid's reads and pfn_is_free see a never-initialised frame as a free zero struct page", async () => {
    const m = await Machine.create({ memory: 64 * G });
    const far = 8 * SECTION * 1024 + 5; // in a section deferred init has not reached
    expect(m.core.initialised(far)).toBe(false);
    expect(frameKind(m, far)).toBe("uninit");
    const rec = frameRecord(m, far);
    expect(rec.kind).toBe("uninit");
    expect(rec.raw).toMatchObject({ flags: 0, compound_head: 0, mapping: 0, index: 0, private: 0, _mapcount: 0, _refcount: 0 });
    expect(rec.mappedAt).toEqual([]);
    expect(m.core.e.pfn_is_free(far)).toBeTruthy();
    expect(m.pageMapcount(far)).toBe(0);
    expect(m.headPfn(far)).toBe(far);
    expect(usedFrameLimit(m)).toBe(m.core.zeroPfn + 1);
    // an initialised free frame is "free", with _mapcount -1
    expect(frameKind(m, 1000)).toBe("free");
    expect(frameRecord(m, 1000).raw._mapcount).toBe(-1);
  });
});

describe("lazy memory: the checker", () => {
  it("flags an initialised frame whose struct page is all zeros", async () => {
    const m = await Machine.create({ memory: 256 * M });
    expectNoViolations(m);
    const pfn = 1000; // a free frame inside block 0 (initialised, _mapcount -1)
    m.core.debug.setField(pfn, "PAGE_MAPCOUNT", 0);
    expect(m.check().join("\n")).toMatch(/pfn 1000: struct page initialised but all zero/);
  });

  it("flags a first_deferred_pfn that claims an initialised section is deferred, or one that is not a section boundary", async () => {
    const m = await Machine.create({ memory: 256 * M });
    runOn(m, "spawn p\nmmap p A 8M\ntouch p A 0 8M\n"); // reaches sections 0..2
    const snap = m.snapshot();
    m.core.debug.addGlobal("FIRST_DEFERRED_PFN", -SECTION);
    expect(m.check().join("\n")).toMatch(/struct page initialised wrongly|buddy free lists are corrupt/);
    m.restore(snap);
    expectNoViolations(m);
    m.core.debug.addGlobal("FIRST_DEFERRED_PFN", 1);
    expect(m.check().join("\n")).toMatch(/not a section boundary/);
  });
});

describe("lazy memory: allocation far into a large memory", () => {
  it("THPs across 4 GiB of a 128 GiB machine: sections initialised in order, fork/munmap/exit check clean, every frame comes back", async () => {
    const m = await Machine.create({ memory: 128 * G });
    const free0 = m.freeFrames();
    runOn(m, "spawn p\nmmap p A 4G thp\ntouch p A 0 4G\nfork p c\nmunmap c A 1G 2M\ntouch c A 3G 4K\n", false);
    expectNoViolations(m);
    const used = free0 - m.freeFrames();
    expect(m.core.firstDeferredPfn).toBeGreaterThanOrEqual(used);
    expect(m.core.firstDeferredPfn % SECTION).toBe(0);
    expect(usedFrameLimit(m)).toBeGreaterThan((4 * G) / 4096 - SECTION);
    // linear memory: ~64 KiB per initialised section plus page tables, not 2 GiB of mem_map
    expect(m.core.linearMemoryBytes).toBeLessThan(160 * M);
    runOn(m, "exit c\nexit p\nshrink\n");
    expect(m.freeFrames()).toBe(free0);
    expect(m.core.e.check_free_lists()).toBe(0);
  });

  it("a memory size that is not a whole number of sections: the partial last section is initialised at boot and used", async () => {
    const m = await Machine.create({ memory: 16 * M + 12 * 1024 }); // 4099 frames: 4096 + order-1 + order-0 blocks
    expect(m.core.initialised(4098)).toBe(true);
    expect(m.core.initialised(4095)).toBe(false);
    // the order-0 tail block is the lowest free order-0 block: the zero page takes it, as with eager init
    expect(m.core.zeroPfn).toBe(4098);
    runOn(m, "spawn p\nmmap p A 15M nothp\ntouch p A 0 15M\n");
    expectNoViolations(m);
    expect(m.core.initialised(4095)).toBe(true);
  });
});

describe("lazy memory: growth", () => {
  it("linear memory grows mid-scenario; views taken before it (Core, PageTables) read the grown memory", async () => {
    const m = await Machine.create({ memory: 64 * G });
    runOn(m, "spawn p\nmmap p A 64M nothp\ntouch p A 0 1M\n");
    const before = m.core.linearMemoryBytes;
    const oldView = m.core.entries; // a view over the buffer of now
    const rec0 = m.inspect("p", "A", 0);
    runOn(m, "mmap p B 1G thp\ntouch p B 0 1G\ntouch p A 0 64M\n", false);
    expect(m.core.linearMemoryBytes).toBeGreaterThan(before);
    expect(oldView.length).toBe(0); // growth detached the old buffer
    expect(m.core.entries.length).toBe(m.core.linearMemoryBytes / 4);
    // the same page, read through the machine's long-lived objects after growth
    expect(m.inspect("p", "A", 0)).toEqual(rec0);
    expect(m.pfnAt(m.procs.get("p")!.mm, m.procs.get("p")!.regions.get("B")!.start)).toBeGreaterThan(0);
    expectNoViolations(m);
    // and identical observations to a machine that never saw the growth happen in steps
    const fresh = await Machine.create({ memory: 64 * G });
    const text = ["spawn p", "mmap p A 64M nothp", "touch p A 0 1M", "mmap p B 1G thp", "touch p B 0 1G", "touch p A 0 64M", "dump"];
    expect(jsonl(fresh, text)).toEqual(jsonl(m, ["dump"]));
  });

  it("running out of WebAssembly memory is an OomError that leaves the machine unchanged", async () => {
    const m = await Machine.create({ memory: 8 * G, wasmMemoryLimit: 12 * M });
    runOn(m, "spawn p\nmmap p A 4G nothp\ntouch p A 0 16M\n");
    const dump0 = jsonl(m, ["dump"]);
    const free0 = m.freeFrames();
    const heap0 = m.core.heapBytes;
    // 1 GiB of 4 KiB pages needs 256 sections' struct pages (16 MiB) and 512 page tables (2 MiB) more than the cap allows
    expect(() => m.touch("p", "A", 16 * M, G)).toThrow(OomError);
    expect(() => m.touch("p", "A", 16 * M, G)).toThrow(/out of memory: the emulator's WebAssembly memory \(12 MiB, holding the struct pages and page tables\) is exhausted/);
    expect(m.freeFrames()).toBe(free0);
    expect(m.core.heapBytes).toBe(heap0);
    expectNoViolations(m);
    expect(jsonl(m, ["dump"]).map((l) => l.replace(/"dump":\d+/, ""))).toEqual(dump0.map((l) => l.replace(/"dump":\d+/, "")));
    // and the machine goes on working within what is left
    runOn(m, "touch p A 16M 1M\n");
    expectNoViolations(m);
  });
});

/** Every mapped page's PFN, per live process and region: the allocation order made visible. */
function pfns(m: Machine): string[] {
  const out: string[] = [];
  for (const p of m.liveProcesses()) {
    for (const r of p.regions.values()) {
      const row: number[] = [];
      for (let off = 0; off < r.size; off += 4096) row.push(m.pfnAt(p.mm, r.start + off));
      out.push(`${p.name} ${r.name}: ${row.join(",")}`);
    }
  }
  return out;
}

// ---- property: the emulated memory size is invisible --------------------------------------
const NUM_RUNS = Number(process.env.THPEMU_PROP_RUNS ?? 150) >= 150 ? 20 : 5;

for (const kernel of ["linux-6.18", "linux-4.5"] as KernelName[]) {
  describe(`random scenarios under ${kernel}`, () => {
    it("give identical observations (and PFNs) at 256 MiB, 4 GiB and 64 GiB of lazily initialised memory", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(seedArb, { minLength: 8, maxLength: 30, size: "max" }), async (seeds) => {
          const lines = [...buildScenario(seeds, kernel), "dump"];
          const m = await Machine.create({ kernel, memory: 256 * M });
          const small = jsonl(m, lines);
          if (small.some((l) => l.startsWith("OOM"))) return; // 256 MiB ran out: the sizes may differ
          const big = await Machine.create({ kernel, memory: 64 * G });
          expect(jsonl(big, lines)).toEqual(small);
          // the same frames, too: lazy init hands blocks out in the eager allocator's order
          expect(pfns(big)).toEqual(pfns(m));
          expectNoViolations(big);
          expect(jsonl(await Machine.create({ kernel, memory: 4 * G }), lines)).toEqual(small);
        }),
        { numRuns: NUM_RUNS },
      );
    }, 120_000);
  });
}

// Differential fuzzing inside the test suite: where this host can run
// scenarios on its own kernel (root, a C compiler), random valid scenarios
// from a fixed seed (small: ≤ 12 operations, regions ≤ 8 MiB, THP knob
// changes mixed in) run on the kernel and on the emulator (`--kernel host`:
// linux-6.18 with the host's knobs and quirks, invariant checker on); every
// one must match.
// Elsewhere the live part is skipped, with the reason in its name.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { generateScenario, runSeed, buildScenario, mulberry32, randomSeeds } from "../src/scenario/generate.js";
import { checkScenario, ddmin } from "../src/kernel/fuzz.js";
import { formatDifference } from "../src/kernel/conform.js";
import { findCompiler, hostCanServe } from "../src/kernel/runner.js";
import { resolveTarget } from "../src/kernel/probe.js";
import { runScenario } from "../src/scenario/run.js";
import { main } from "../src/cli/main.js";
import { PassThrough } from "node:stream";
import os from "node:os";

const SEED = 20261125;
const RUNS = 50;
const OPS = 12;
const MAX_REGION_PAGES = 2048; // 8 MiB

describe("the seeded scenario generator", () => {
  it("is deterministic and needs no test framework", () => {
    expect(generateScenario(7, { ops: 30 })).toBe(generateScenario(7, { ops: 30 }));
    expect(generateScenario(7, { ops: 30 })).not.toBe(generateScenario(8, { ops: 30 }));
    expect(runSeed(1, 0)).toBe(runSeed(1, 0));
    expect(runSeed(1, 0)).not.toBe(runSeed(1, 1));
    const a = mulberry32(42), b = mulberry32(42);
    for (let i = 0; i < 10; i++) expect(a()).toBe(b());
  });

  it("emits valid scenarios (the emulator runs them without error) that exercise THP edge cases", async () => {
    const texts: string[] = [];
    for (let i = 0; i < 60; i++) texts.push(generateScenario(runSeed(99, i), { ops: 24 }));
    const all = texts.join("");
    for (const kw of ["fork", "exit", "munmap", "mprotect", "dontneed", "collapse", "split", "shrink", " read", " write", " thp", "nothp", " none", " r\n", " rw\n",
      "sysfs enabled ", "sysfs hugepages-2048kB/enabled ", "sysfs use_zero_page ", "sysfs shrink_underused ", "sysfs khugepaged/max_ptes_none "]) {
      expect(all).toContain(kw);
    }
    for (const t of texts.slice(0, 15)) {
      await runScenario(t, { kernel: "linux-6.18", memory: 1024 ** 3, check: true });
    }
  });

  it("emits `split` only while exactly one process is alive", () => {
    for (let i = 0; i < 200; i++) {
      const lines = generateScenario(runSeed(5, i), { ops: 30 }).trimEnd().split("\n");
      const live = new Set<string>();
      for (const l of lines) {
        const w = l.split(" ");
        if (w[0] === "spawn") live.add(w[1]);
        else if (w[0] === "fork") live.add(w[2]);
        else if (w[0] === "exit") live.delete(w[1]);
        else if (w[0] === "split") expect(live.size, l).toBe(1);
      }
    }
  });

  it("respects the region size limit", () => {
    for (let i = 0; i < 100; i++) {
      const seeds = randomSeeds(mulberry32(i), 20);
      for (const l of buildScenario(seeds, "linux-6.18", undefined, { maxRegionPages: 256 })) {
        const w = l.split(" ");
        if (w[0] === "mmap") expect(Number(w[3])).toBeLessThanOrEqual(256 * 4096);
      }
    }
  });
});

describe("delta debugging", () => {
  it("finds a minimal set of lines that still fails", async () => {
    const lines = "abcdefghijklmnop".split("");
    const out = await ddmin(lines, async (ls) => ls.includes("c") && ls.includes("k"));
    expect(out).toEqual(["c", "k"]);
  });
});

const host = hostCanServe();
const cc = findCompiler() !== null;
const skipReason = !host.ok ? `host cannot serve: ${host.reason}` : !cc ? "no C compiler (cc, gcc, clang)" : "";

describe("differential fuzzing against this machine's kernel (live)", () => {
  const name = skipReason
    ? `${RUNS} random scenarios match the kernel (skipped: ${skipReason})`
    : `${RUNS} random scenarios (seed ${SEED}, ≤ ${OPS} ops, regions ≤ 8 MiB) match the kernel`;
  it.skipIf(skipReason !== "")(name, async () => {
    const failures: string[] = [];
    let skipped = 0;
    const target = await resolveTarget("host");
    for (let i = 0; i < RUNS; i++) {
      const text = generateScenario(runSeed(SEED, i), { ops: OPS, maxRegionPages: MAX_REGION_PAGES });
      const v = await checkScenario(text, `fuzz-${SEED}-${i}.scn`, undefined, target);
      if (v.status === "skipped") { skipped++; continue; }
      if (v.status !== "match") {
        const why = v.status === "mismatch" ? (v.kind === "records" ? v.diffs.slice(0, 5).map(formatDifference).join("\n    ") : v.reason) : v.reason;
        failures.push(`run ${i} (${v.status}):\n    ${why}\n  scenario:\n${text}`);
      }
    }
    expect(failures).toEqual([]);
    // skipped = the kernel could not check it (persistent interference); must stay rare
    expect(skipped).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe("thpemu fuzz (CLI)", () => {
  const name = skipReason ? `prints the seed, progress and the summary (skipped: ${skipReason})` : "prints the seed, progress and the summary";
  it.skipIf(skipReason !== "")(name, async () => {
    const stdout = new PassThrough(), stderr = new PassThrough();
    let out = "", err = "";
    stdout.on("data", (b: Buffer) => { out += b.toString(); });
    stderr.on("data", (b: Buffer) => { err += b.toString(); });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "thpemu-fuzz-"));
    const status = await main(["fuzz", "--runs", "10", "--seed", "123", "--ops", "8", "--out", dir], { stdout, stderr });
    expect(out.split("\n")[0]).toBe("seed 123; replay with --seed 123");
    expect(out.trimEnd().split("\n").at(-1)).toMatch(/^\d+ passed, 0 failed(, \d+ skipped)?$/);
    expect(err).toContain("fuzz: 10/10 runs"); // not a TTY: one line per 10 runs
    expect(status).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("rejects a bad --runs", async () => {
    const stdout = new PassThrough(), stderr = new PassThrough();
    expect(await main(["fuzz", "--runs", "0"], { stdout, stderr })).toBe(2);
  });
});

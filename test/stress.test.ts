// `thpemu stress` and its engine (src/scenario/stress.ts): 10^5 random valid
// operations of the fuzz generator per `npm test` under the invariant
// checker and the leak check; the same seed gives the same operations
// whatever the number of workers; a deliberately broken emulator is caught,
// and the failing run is shrunk (as `thpemu fuzz` shrinks) and written out.
import { describe, it, expect, vi, afterEach } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { spawnSync } from "node:child_process";
import { main } from "../src/cli/main.js";
import { Machine, InternalError } from "../src/machine.js";
import { stressLines, stressRun, stressRunCount, stressRunLength, stress, shrinkStressFailure } from "../src/scenario/stress.js";
import { runScenario } from "../src/scenario/run.js";
import { repoRoot } from "./helpers.js";

const SEED = 20261129;

async function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  const stdout = new PassThrough(), stderr = new PassThrough();
  let out = "", err = "";
  stdout.on("data", (d) => { out += d; });
  stderr.on("data", (d) => { err += d; });
  const status = await main(args, { stdout, stderr });
  return { status, out, err };
}

describe("the stress engine", () => {
  it("cuts a campaign into runs; run r's lines depend on the seed and r only, and any prefix is valid", () => {
    expect(stressRunCount(2500, 1000)).toBe(3);
    expect([0, 1, 2, 3].map((r) => stressRunLength({ ops: 2500, runOps: 1000 }, r))).toEqual([1000, 1000, 500, 0]);
    const a = stressLines(7, 300);
    expect(a).toHaveLength(300);
    expect(stressLines(7, 300)).toEqual(a);
    expect(stressLines(7, 120)).toEqual(a.slice(0, 120));
    expect(stressLines(8, 300)).not.toEqual(a);
    // the generator's mix: knob changes (mTHP sizes among them), forks, splits of shared THPs, collapse
    const all = Array.from({ length: 10 }, (_, i) => stressLines(100 + i, 500).join("\n")).join("\n");
    for (const kw of ["sysfs hugepages-", "fork ", "exit ", "split ", "collapse", "shrink", "mprotect ", "dontneed", " read"]) expect(all).toContain(kw);
  });

  it("a run is deterministic (the same operations, checks and outcome)", async () => {
    const o = { seed: SEED, ops: 600, checkEvery: 50, runOps: 300 };
    const a = await stressRun(o, 1), b = await stressRun(o, 1);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ run: 1, ops: 300 });
    expect(a.failure).toBeUndefined();
    expect(a.checks).toBe(300 / 50 + 1); // every 50th op, and the leak check
  });

  it("linux-4.5 and other schemes run too (the checker every 10 ops)", async () => {
    for (const machine of [{ kernel: "linux-4.5" as const }, { scheme: "nopagemapcount" as const }, { scheme: "subpages" as const }]) {
      const r = await stress({ seed: SEED, ops: 3000, checkEvery: 10, runOps: 1000, machine });
      expect(r.failures.map((f) => f.failure)).toEqual([]);
      expect(r.ops).toBe(3000);
    }
  });
});

describe("thpemu stress (in-process: the runs one after another)", () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it("10^5 operations under the checker (every 100 ops) and the leak check: no violation", async () => {
    const r = await cli(["stress", "--ops", "100000", "--seed", String(SEED), "--check-every", "100"]);
    expect(r.err).toContain("stress: 100000/100000 ops, 0 violations");
    expect(r.out.split("\n")[0]).toBe(`seed ${SEED}; replay with --seed ${SEED}`);
    expect(r.out.trimEnd().split("\n").at(-1)).toBe("100000 ops, 0 violations");
    expect(r.out).toMatch(/ 1100 checks/); // 100 runs × (10 + the leak check)
    expect(r.status).toBe(0);
  }, 180_000);

  it("a broken emulator (shrink leaks a page-table frame) is caught, shrunk to the one line, written to --out, exit 3", async () => {
    const orig = Machine.prototype.shrink;
    vi.spyOn(Machine.prototype, "shrink").mockImplementation(function (this: Machine) {
      const out = orig.call(this);
      this.core.e.pgtable_alloc(); // the bug: a frame nobody owns
      return out;
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "thpemu-stress-"));
    try {
      const r = await cli(["stress", "--ops", "400", "--seed", "5", "--run-ops", "200", "--check-every", "20", "--out", dir]);
      expect(r.status).toBe(3);
      expect(r.out.trimEnd().split("\n").at(-1)).toMatch(/^\d+ ops, 2 violations \(seed 5, runs 0, 1\)$/);
      expect(r.out).toMatch(/^run 0 \(seed 5, run seed \d+\): invariant after line \d+: frames: .* \(a leak of 1\); shrunk to 1 lines: /m);
      const file = path.join(dir, "stress-5-0.scn");
      const text = fs.readFileSync(file, "utf8");
      expect(text.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(["shrink"]);
      expect(text).toMatch(/^# thpemu stress: seed 5, run 0 \(run seed \d+\); invariant after line \d+ of 200, shrunk to 1 lines/);
      expect(text).toContain("# replay: thpemu stress --seed 5 --ops 200 --run-ops 200 --check-every 20");
      // the shrunk file fails under the checker, as its header says
      await expect(runScenario(text, { check: true, memory: 1024 ** 3 })).rejects.toThrow(/a leak of 1/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("an emulator bug thrown by an operation is an internal failure, shrunk to the lines that reach it", async () => {
    const orig = Machine.prototype.split;
    vi.spyOn(Machine.prototype, "split").mockImplementation(function (this: Machine, ...a: Parameters<Machine["split"]>) {
      orig.apply(this, a);
      throw new InternalError("BUG: split");
    });
    const o = { seed: 11, ops: 300, checkEvery: 30, runOps: 300 };
    const r = await stressRun(o, 0);
    expect(r.failure).toMatchObject({ kind: "internal", message: "InternalError: BUG: split" });
    const s = await shrinkStressFailure(r.lines!, r.failure!);
    // spawn, mmap, the split: nothing else is needed to reach it
    expect(s.lines.length).toBeLessThanOrEqual(3);
    expect(s.lines.at(-1)).toMatch(/^split /);
    expect(s.failure.kind).toBe("internal");
  }, 120_000);

  it("bad options are clear errors (exit 2)", async () => {
    for (const [args, msg] of [
      [["--jobs", "0"], /--jobs wants a positive integer/], [["--jobs", "1000"], /at most 256/], [["--ops", "x"], /--ops wants a positive integer/],
      [["--check-every", "-1"], /--check-every wants an integer/], [["--scheme", "bogus"], /Allowed choices are naive/], [["--kernel", "linux-5"], /Allowed choices/],
      [["--memory", "1M"], /At least 16M/], [["--run-ops", "0"], /--run-ops wants a positive integer/], [["--run-ops", "1000000000"], /at most 1000000/], [["--seed", "4294967296"], /--seed wants an integer 0/],
    ] as [string[], RegExp][]) {
      const r = await cli(["stress", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(msg);
    }
  });

  it("the same seed gives the same operations: the summary is the same for any --run-ops split into jobs (here in-process)", async () => {
    const a = await cli(["stress", "--ops", "3000", "--seed", "3", "--run-ops", "1000", "--check-every", "0"]);
    const b = await cli(["stress", "--ops", "3000", "--seed", "3", "--run-ops", "1000", "--check-every", "0", "--jobs", "3"]);
    const timeless = (s: string) => s.replace(/^[\d.]+ s, \d+ ops\/s, /m, "");
    expect(timeless(b.out)).toBe(timeless(a.out));
    expect(a.out).toContain(" 6 checks"); // --check-every 0: each run's end and its leak check
  }, 120_000);
});

const built = fs.existsSync(path.join(repoRoot, "dist/cli/stress-worker.js"));
describe.skipIf(!built)(`thpemu stress on worker threads (the built binary)${built ? "" : " (skipped: dist/ is not built, npm run build)"}`, () => {
  it("--jobs 2 and --jobs 1 run the same operations with the same outcome", () => {
    const run = (jobs: string) => spawnSync(process.execPath, [path.join(repoRoot, "bin/thpemu.js"), "stress", "--ops", "6000", "--seed", "9", "--run-ops", "500", "--check-every", "50", "--jobs", jobs], { encoding: "utf8", timeout: 120_000 });
    const one = run("1"), two = run("2");
    expect(two.status, two.stderr).toBe(0);
    expect(one.status, one.stderr).toBe(0);
    expect(two.stdout).toContain("6000 ops in 12 runs of 500, checker every 50, 2 jobs");
    const summary = (s: string) => s.split("\n").filter((l) => !/ops\/s|jobs?$/.test(l));
    expect(summary(two.stdout)).toEqual(summary(one.stdout));
    expect(two.stdout).toMatch(/ 132 checks/);
    expect(two.stderr).toContain("stress: 6000/6000 ops, 0 violations");
  }, 240_000);
});

// The conformance corpus (test/conformance/*.scn): each scenario's
// .expected.jsonl was recorded on a real Linux 6.18 kernel with
// `thpemu record`, and starts with a `host` record naming the kernel build,
// knobs and quirks it was recorded on. On every machine the emulator
// (linux-6.18 with those knobs and quirks, invariant checker on) must print
// exactly those records, compared on the spec's fields (inspect records
// ignored). Where this host can run scenarios on its own kernel (root, a C
// compiler), a few are also checked live, against `--kernel host`.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runScenario } from "../src/scenario/run.js";
import { specRecords, parseJsonl, compareRecords, conformFile, formatDifference, recordedMachine } from "../src/kernel/conform.js";
import { findCompiler, hostCanServe } from "../src/kernel/runner.js";
import { resolveTarget } from "../src/kernel/probe.js";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "conformance");
const scenarios = fs.readdirSync(dir).filter((f) => f.endsWith(".scn")).sort();
const recorded = scenarios.filter((f) => fs.existsSync(path.join(dir, f.replace(/\.scn$/, ".expected.jsonl"))));

describe("conformance corpus: emulator vs recorded kernel output", () => {
  it("has at least 40 recorded scenarios, each with a header comment", () => {
    expect(recorded.length).toBeGreaterThanOrEqual(40);
    for (const f of scenarios) expect(fs.readFileSync(path.join(dir, f), "utf8").startsWith("#"), f).toBe(true);
  });

  it("every recording names the kernel build, knobs and quirks it was recorded on", () => {
    for (const f of recorded) {
      const first = parseJsonl(fs.readFileSync(path.join(dir, f.replace(/\.scn$/, ".expected.jsonl")), "utf8"))[0] as Record<string, unknown>;
      expect(first.type, f).toBe("host");
      expect(first.release, f).toMatch(/^6\.18\./);
      expect(Object.keys(first.knobs as object), f).toContain("enabled");
      expect(Object.keys(first.quirks as object), f).toContain("readFaultZeroPage");
    }
  });

  for (const f of recorded) {
    it(f, async () => {
      const file = path.join(dir, f);
      const text = fs.readFileSync(file, "utf8");
      const recording = parseJsonl(fs.readFileSync(file.replace(/\.scn$/, ".expected.jsonl"), "utf8"));
      const expected = specRecords(recording);
      const got = await runScenario(text, { file, ...recordedMachine(recording), check: true });
      const diffs = compareRecords(expected, got).map(formatDifference);
      expect(diffs).toEqual([]);
      expect(specRecords(got)).toEqual(expected);
    });
  }
});

// This build's anon_beside_full=1 (test/conformance-mthp/): the mthp-*.scn scenarios recorded with it
// on, replayed under the mthpBesideFull quirk their header implies.
const besideDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "conformance-mthp");
const beside = fs.readdirSync(besideDir).filter((f) => /^anon-beside-full-1-.*\.expected\.jsonl$/.test(f)).sort();

describe("mTHP under this build's anon_beside_full=1 (recorded with it set by hand)", () => {
  it("has a recording for every mthp-*.scn", () => {
    expect(beside.length).toBe(scenarios.filter((f) => f.startsWith("mthp-")).length);
  });
  for (const f of beside) {
    const scn = `mthp-${f.replace(/^anon-beside-full-1-/, "").replace(/\.expected\.jsonl$/, "")}.scn`;
    it(scn, async () => {
      const recording = parseJsonl(fs.readFileSync(path.join(besideDir, f), "utf8"));
      const machine = recordedMachine(recording);
      expect(machine.quirks?.mthpBesideFull).toBe(true);
      const got = await runScenario(fs.readFileSync(path.join(dir, scn), "utf8"), { file: scn, ...machine, check: true });
      expect(compareRecords(specRecords(recording), got).map(formatDifference)).toEqual([]);
    });
  }
});

const host = hostCanServe();
const cc = findCompiler() !== null;
const skipReason = !host.ok ? `host cannot serve: ${host.reason}` : !cc ? "no C compiler (cc, gcc, clang)" : "";
const LIVE = ["cow-pmd-basic.scn", "khugepaged-collapse-fork-compound.scn", "shrink-several-procs.scn"];

describe("conformance on this machine's kernel (live)", () => {
  for (const f of LIVE) {
    const name = skipReason ? `${f} (skipped: ${skipReason})` : f;
    it.skipIf(skipReason !== "")(name, async () => {
      const r = await conformFile(path.join(dir, f), undefined, await resolveTarget("host"));
      expect(r.reason ?? "", r.reason).toBe("");
      expect(r.diffs.map(formatDifference)).toEqual([]);
      expect(r.status).toBe("match");
    });
  }
});

// smaps on the conformance corpus and the examples: each scenario's region
// records, recorded on a real Linux 6.18 kernel with `thpemu record --smaps`
// (scripts/record-smaps.mjs keeps the host header and the region records in
// test/conformance-smaps/DIR/NAME.smaps.jsonl; the page records stay in the
// corpus' .expected.jsonl), must come out of the emulator (the recording
// host's knobs and quirks, smaps on, invariant checker on) with the same
// rss, pmdMapped and smaps. Where this host can run scenarios on its own
// kernel, a few are also checked live with smaps (conform --smaps).
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runScenario } from "../src/scenario/run.js";
import { parseJsonl, compareRecords, conformFile, formatDifference, recordedMachine } from "../src/kernel/conform.js";
import { findCompiler, hostCanServe } from "../src/kernel/runner.js";
import { resolveTarget } from "../src/kernel/probe.js";
import { SMAPS_REGION_KEYS } from "../src/machine.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const smapsDir = path.join(root, "test/conformance-smaps");
const SOURCES: Record<string, string> = { conformance: "test/conformance", examples: "examples" };
const recordings = Object.keys(SOURCES).flatMap((d) =>
  fs.existsSync(path.join(smapsDir, d))
    ? fs.readdirSync(path.join(smapsDir, d)).filter((f) => f.endsWith(".smaps.jsonl")).sort().map((f) => ({ dir: d, file: f }))
    : []);
const scenarioOf = (r: { dir: string; file: string }) => path.join(root, SOURCES[r.dir], r.file.replace(/\.smaps\.jsonl$/, ".scn"));
const regionsOnly = (recs: readonly unknown[]) => recs.filter((r) => (r as { type?: string }).type === "region");

describe("smaps of the corpus: emulator vs recorded kernel output", () => {
  it("every corpus scenario has its smaps recording (but the one the runner cannot check), each with a host header and smaps in every region record", () => {
    const corpus = fs.readdirSync(path.join(root, "test/conformance")).filter((f) => f.endsWith(".expected.jsonl")).length;
    expect(recordings.filter((r) => r.dir === "conformance").length).toBe(corpus);
    for (const r of recordings) {
      expect(fs.existsSync(scenarioOf(r)), r.file).toBe(true);
      const recs = parseJsonl(fs.readFileSync(path.join(smapsDir, r.dir, r.file), "utf8")) as Record<string, unknown>[];
      expect(recs[0].type, r.file).toBe("host");
      expect(recs.length, r.file).toBeGreaterThan(1);
      for (const rec of recs.slice(1)) {
        expect(rec.type).toBe("region");
        expect(Object.keys(rec.smaps as object), r.file).toEqual([...SMAPS_REGION_KEYS]);
      }
    }
  });

  it("the comparison sees a changed smaps value (and ignores smaps without --smaps)", () => {
    const k = { type: "region", dump: 1, label: null, proc: "p", region: "A", rss: 4096, pmdMapped: 0, smaps: { Rss: 4, Pss: 2, Pss_Dirty: 2, Shared_Clean: 0, Shared_Dirty: 4, Private_Clean: 0, Private_Dirty: 0, Anonymous: 4, AnonHugePages: 0 } };
    const e = { ...k, smaps: { ...k.smaps, Pss: 4 } };
    expect(compareRecords([k], [e], { smaps: true }).map(formatDifference)).toEqual(["dump 1 p A smaps.Pss: kernel 2, emulator 4"]);
    expect(compareRecords([k], [e])).toEqual([]);
    expect(compareRecords([k], [e], { smaps: true, smapsKeys: ["Rss"] })).toEqual([]);
    const { smaps: _, ...bare } = e;
    expect(compareRecords([k], [bare], { smaps: true }).length).toBe(SMAPS_REGION_KEYS.length);
  });

  for (const r of recordings) {
    it(`${r.dir}/${r.file}`, async () => {
      const recording = parseJsonl(fs.readFileSync(path.join(smapsDir, r.dir, r.file), "utf8"));
      const file = scenarioOf(r);
      const got = await runScenario(fs.readFileSync(file, "utf8"), { file, ...recordedMachine(recording), smaps: true, check: true });
      expect(compareRecords(regionsOnly(recording), regionsOnly(got), { smaps: true }).map(formatDifference)).toEqual([]);
    });
  }
});

const host = hostCanServe();
const cc = findCompiler() !== null;
const skipReason = !host.ok ? `host cannot serve: ${host.reason}` : !cc ? "no C compiler (cc, gcc, clang)" : "";
const LIVE = ["cow-pmd-basic.scn", "cow-pte-shared-copies.scn", "mthp-cow-mthp-write-one-page.scn", "shrink-several-procs.scn"];

describe("smaps on this machine's kernel (live, conform --smaps)", () => {
  for (const f of LIVE) {
    const name = skipReason ? `${f} (skipped: ${skipReason})` : f;
    it.skipIf(skipReason !== "")(name, async () => {
      const t = await resolveTarget("host");
      const r = await conformFile(path.join(root, "test/conformance", f), undefined, { ...t, machine: { ...t.machine, smaps: true } });
      expect(r.reason ?? "", r.reason).toBe("");
      expect(r.diffs.map(formatDifference)).toEqual([]);
      expect(r.status).toBe("match");
    });
  }
});

// The repository's examples (examples/*.scn). Those with an
// `NAME.expected.jsonl` beside them were recorded on a real Linux 6.18
// kernel: the emulator's linux-6.18 profile must print exactly their records
// (the spec's fields; `inspect` records are thpemu's own and left out), with
// the invariant checker on, and under linux-4.5 they must run cleanly. The
// other examples must at least run cleanly under both profiles (or, for an
// operation the profile's kernel lacks, stop there with that scenario error).
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { runScenario } from "../src/scenario/run.js";
import { ScenarioError } from "../src/scenario/parse.js";
import { examplesDir, specFields, M } from "./helpers.js";

const files = fs.readdirSync(examplesDir);
const scenarios = files.filter((f) => f.endsWith(".scn")).sort();
const expectedOf = (f: string) => f.replace(/\.scn$/, ".expected.jsonl");
const recorded = scenarios.filter((f) => files.includes(expectedOf(f)));
const unrecorded = scenarios.filter((f) => !files.includes(expectedOf(f)));
/** The kernel recordings the repository must keep. */
const RECORDED = ["huge-zero-read.scn", "seed-doublemap.scn", "small-pages-fork.scn", "thp-partial-unmap-shrink.scn"];

/** Examples that use what a profile's kernel does not have: the error they must stop with there. */
const LACKING: Record<string, Partial<Record<"linux-6.18" | "linux-4.5", RegExp>>> = {
  "collapse.scn": { "linux-4.5": /MADV_COLLAPSE does not exist in linux-4\.5/ },
};

const text = (f: string) => fs.readFileSync(path.join(examplesDir, f), "utf8");

describe("examples/: the kernel-recorded ones reproduce Linux 6.18, all run cleanly", () => {
  it("the kernel recordings are present, each beside its .scn", () => {
    expect(recorded).toEqual(expect.arrayContaining(RECORDED));
    const orphans = files.filter((f) => f.endsWith(".expected.jsonl") && !scenarios.includes(f.replace(/\.expected\.jsonl$/, ".scn")));
    expect(orphans).toEqual([]);
  });

  for (const f of recorded) {
    const expected = () => fs.readFileSync(path.join(examplesDir, expectedOf(f)), "utf8")
      .split("\n").filter((l) => l.trim() !== "").map((l) => specFields(JSON.parse(l)));

    it(`${f}: linux-6.18 reproduces the kernel's records exactly`, async () => {
      const recs = await runScenario(text(f), { file: f, kernel: "linux-6.18", check: true, memory: 256 * M });
      const got = recs.filter((r) => r.type !== "inspect").map(specFields);
      const want = expected();
      expect(got.length).toBe(want.length);
      // compare record by record first for a readable failure, then as a whole
      for (let i = 0; i < want.length; i++) {
        if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) expect({ record: i, ...got[i] }).toEqual({ record: i, ...want[i] });
      }
      expect(got).toEqual(want);
    });

    it(`${f}: linux-4.5 runs without invariant violations`, async () => {
      const recs = await runScenario(text(f), { file: f, kernel: "linux-4.5", check: true, memory: 256 * M });
      expect(recs.length).toBeGreaterThan(0);
    });
  }

  for (const f of unrecorded) {
    for (const kernel of ["linux-6.18", "linux-4.5"] as const) {
      const lacking = LACKING[f]?.[kernel];
      if (lacking) {
        it(`${f}: ${kernel} runs without invariant violations up to ${lacking.source.split(" ")[0]}, which it refuses (no kernel recording)`, async () => {
          const err = await runScenario(text(f), { file: f, kernel, check: true, memory: 256 * M }).then(() => undefined, (e) => e);
          expect(err).toBeInstanceOf(ScenarioError);
          expect(String(err.message)).toMatch(lacking);
        });
        continue;
      }
      it(`${f}: ${kernel} runs without invariant violations (no kernel recording)`, async () => {
        const recs = await runScenario(text(f), { file: f, kernel, check: true, memory: 256 * M });
        expect(recs.length).toBeGreaterThan(0);
      });
    }
  }
});

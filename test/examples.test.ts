// The shared examples (recorded on a real Linux 6.18 kernel): the emulator's
// linux-6.18 profile must print exactly their records (the spec's fields),
// with the invariant checker on; under linux-4.5 they must run cleanly.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { runScenario } from "../src/scenario/run.js";
import { examplesDir, specFields, M } from "./helpers.js";

const scenarios = fs.existsSync(examplesDir)
  ? fs.readdirSync(examplesDir).filter((f) => f.endsWith(".scn")).sort()
  : [];
const EXPECTED = ["huge-zero-read.scn", "seed-doublemap.scn", "small-pages-fork.scn", "thp-partial-unmap-shrink.scn"];

describe("shared examples", () => {
  it("are all present beside the repository", () => {
    expect(scenarios).toEqual(expect.arrayContaining(EXPECTED));
  });

  for (const f of scenarios) {
    const text = () => fs.readFileSync(path.join(examplesDir, f), "utf8");
    const expected = () => fs.readFileSync(path.join(examplesDir, f.replace(/\.scn$/, ".expected.jsonl")), "utf8")
      .split("\n").filter((l) => l.trim() !== "").map((l) => specFields(JSON.parse(l)));

    it(`${f}: linux-6.18 reproduces the kernel's records exactly`, async () => {
      const recs = await runScenario(text(), { file: f, kernel: "linux-6.18", check: true, memory: 256 * M });
      const got = recs.map(specFields);
      const want = expected();
      expect(got.length).toBe(want.length);
      // compare record by record first for a readable failure, then as a whole
      for (let i = 0; i < want.length; i++) {
        if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) expect({ record: i, ...got[i] }).toEqual({ record: i, ...want[i] });
      }
      expect(got).toEqual(want);
    });

    it(`${f}: linux-4.5 runs without invariant violations`, async () => {
      const recs = await runScenario(text(), { file: f, kernel: "linux-4.5", check: true, memory: 256 * M });
      expect(recs.length).toBeGreaterThan(0);
    });
  }
});

// scripts/ci-summary.mjs, the last line of .ci/run, on vitest JSON reports
// shaped as vitest 4 writes them (--reporter=json): a file that failed to
// load, a failing beforeAll, an afterAll that throws after its tests passed,
// and a file with passed, failed, skipped and todo tests.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
// @ts-expect-error: a plain .mjs script without type declarations
import { summarize, summaryLine, summarizeText } from "../scripts/ci-summary.mjs";
import { repoRoot } from "./helpers.js";

type Status = "passed" | "failed" | "skipped" | "pending" | "todo";
const test = (title: string, status: Status) => ({ ancestorTitles: ["d"], fullName: `d ${title}`, status, title, failureMessages: [] });
const file = (name: string, status: "passed" | "failed", tests: ReturnType<typeof test>[], message = "") =>
  ({ assertionResults: tests, startTime: 0, endTime: 0, status, message, name: `/repo/test/${name}` });
const report = (...testResults: ReturnType<typeof file>[]) => ({
  numTotalTestSuites: 0, numPassedTestSuites: 0, numFailedTestSuites: testResults.filter((f) => f.status === "failed").length,
  numPendingTestSuites: 0, numTotalTests: 0, numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0,
  startTime: 0, success: false, testResults,
});

const loadFailure = file("load-fail.test.ts", "failed", [], "cannot load");
const hookFailure = file("hook-fail.test.ts", "failed", [test("a", "skipped"), test("b", "skipped")]);
const afterAllFailure = file("afterall-fail.test.ts", "failed", [test("ok", "passed")]);
const mixed = file("mixed.test.ts", "failed", [
  test("p", "passed"), test("f", "failed"), test("s", "skipped"), test("t", "todo"), test("q", "pending"),
]);
const good = file("good.test.ts", "passed", [test("p1", "passed"), test("p2", "passed")]);

describe("scripts/ci-summary.mjs", () => {
  it("a test file that failed to load (no test results) counts as one failure", () => {
    expect(summarize(report(loadFailure, good))).toEqual({ passed: 2, failed: 1, skipped: 0 });
    expect(summaryLine(summarize(report(loadFailure, good)))).toBe("2 passed, 1 failed");
  });

  it("a failed test inside a failed file counts once", () => {
    const twoFailed = file("two.test.ts", "failed", [test("f1", "failed"), test("f2", "failed"), test("p", "passed")]);
    expect(summarize(report(twoFailed))).toEqual({ passed: 1, failed: 2, skipped: 0 });
    expect(summarize(report(mixed))).toEqual({ passed: 1, failed: 1, skipped: 3 });
  });

  it("a failed file whose tests were skipped or passed (a hook threw) counts as one failure", () => {
    expect(summarize(report(hookFailure))).toEqual({ passed: 0, failed: 1, skipped: 2 });
    expect(summarize(report(afterAllFailure))).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });

  it("skipped, pending and todo tests are counted as skipped", () => {
    const r = report(loadFailure, hookFailure, afterAllFailure, mixed, good);
    expect(summaryLine(summarize(r))).toBe("4 passed, 4 failed, 5 skipped");
    expect(summaryLine(summarize(report(good)))).toBe("2 passed, 0 failed");
  });

  it("a missing or unreadable report is one failure; so is a failed npm test with nothing failed in the report", () => {
    expect(summarizeText(undefined)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(summarizeText("{not json")).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(summarizeText(JSON.stringify({ numFailedTests: 0 }))).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(summarizeText(JSON.stringify(report(good)), 1)).toEqual({ passed: 2, failed: 1, skipped: 0 });
    expect(summarizeText(JSON.stringify(report(good)), 0)).toEqual({ passed: 2, failed: 0, skipped: 0 });
    expect(summarizeText(JSON.stringify(report(mixed)), 1)).toEqual({ passed: 1, failed: 1, skipped: 3 });
  });

  it("as .ci/run calls it: prints the line last and exits 1 when anything failed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ci-summary-"));
    try {
      const run = (args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, "scripts/ci-summary.mjs"), ...args], { encoding: "utf8" });
      const write = (name: string, r: unknown) => { const f = path.join(dir, name); fs.writeFileSync(f, JSON.stringify(r)); return f; };
      let out = run([write("load.json", report(loadFailure, good)), "1"]);
      expect([out.stdout, out.status]).toEqual(["2 passed, 1 failed\n", 1]);
      out = run([write("good.json", report(good)), "0"]);
      expect([out.stdout, out.status]).toEqual(["2 passed, 0 failed\n", 0]);
      out = run([path.join(dir, "missing.json"), "1"]);
      expect([out.stdout, out.status]).toEqual(["0 passed, 1 failed\n", 1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

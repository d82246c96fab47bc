#!/usr/bin/env node
// The last line of .ci/run: "N passed, M failed[, K skipped]" from vitest's
// JSON report (--reporter=json --outputFile=FILE).
//
//   node scripts/ci-summary.mjs REPORT.json [STATUS]
//
// Counted per test file (testResults[]), from its tests (assertionResults[]):
// passed = tests "passed"; skipped = tests "skipped", "pending" or "todo";
// failed = tests "failed", plus 1 for every file vitest marks "failed" that
// has no failed test in it (it did not load, or a beforeAll/afterAll hook
// threw: its tests then show as skipped or passed). A failed test inside a
// failed file is counted once. STATUS, npm test's exit status, guards the
// rest: when it is non-zero but nothing above failed (an unhandled error, no
// test files), 1 failure is counted. A missing or unreadable report counts
// as "0 passed, 1 failed". Exit status 1 when anything failed, else 0.
import fs from "node:fs";
import { pathToFileURL } from "node:url";

const SKIPPED = new Set(["skipped", "pending", "todo"]);

/** { passed, failed, skipped } of a parsed vitest JSON report; undefined when it is not one. */
export function summarize(report) {
  if (!report || typeof report !== "object" || !Array.isArray(report.testResults)) return undefined;
  let passed = 0, failed = 0, skipped = 0;
  for (const file of report.testResults) {
    const tests = Array.isArray(file?.assertionResults) ? file.assertionResults : [];
    let failedHere = 0;
    for (const t of tests) {
      if (t?.status === "passed") passed++;
      else if (t?.status === "failed") failedHere++;
      else if (SKIPPED.has(t?.status)) skipped++;
    }
    failed += failedHere || (file?.status === "failed" ? 1 : 0);
  }
  return { passed, failed, skipped };
}

/** "N passed, M failed[, K skipped]". */
export function summaryLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : "");
}

/** The counts for a report file's text (undefined: missing) and npm test's exit status. */
export function summarizeText(text, status = 0) {
  let counts;
  try { counts = text === undefined ? undefined : summarize(JSON.parse(text)); } catch { counts = undefined; }
  if (!counts) return { passed: 0, failed: 1, skipped: 0 };
  if (status !== 0 && counts.failed === 0) counts.failed = 1;
  return counts;
}

function main(argv) {
  const [file, statusArg] = argv;
  const status = Number(statusArg ?? 0) || 0;
  let text;
  try { text = fs.readFileSync(file, "utf8"); } catch { text = undefined; }
  const counts = summarizeText(text, status);
  console.log(summaryLine(counts));
  return counts.failed > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exit(main(process.argv.slice(2)));

// Before/after check of observations: the same scenarios run through this
// checkout's build and another one (e.g. a build of the commit before an
// optimisation), and the SHA-256 of each run's output (`thpemu run`'s JSONL
// with --stats, and the table format) compared. A speed-up must leave every
// hash equal.
//
//   node bench/ab-observations.mjs /path/to/other/checkout [N_SEEDS]
//
// Scenarios: N_SEEDS (default 150) `thpemu fuzz` generator scenarios
// (src/scenario/generate.ts, 40 operations each, some with 4x larger
// regions), the conformance corpus (test/conformance*/) and examples/, each
// under linux-6.18 and linux-4.5 and under every mapcount scheme. Prints the
// number of runs and of differing hashes; exit 1 when any differs.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Writable } from "node:stream";

const HERE = fileURLToPath(new URL("..", import.meta.url));

if (process.argv[2] === "--worker") {
  // worker: run the jobs (JSON on stdin) through this build, print one hash per line
  const dir = process.argv[3];
  const { runFile } = await import(pathToFileURL(join(dir, "dist", "cli", "run.js")).href);
  const jobs = JSON.parse(await new Promise((res) => { let s = ""; process.stdin.on("data", (c) => (s += c)); process.stdin.on("end", () => res(s)); }));
  for (const j of jobs) {
    const h = createHash("sha256");
    const sink = () => new Writable({ write(chunk, _e, cb) { h.update(chunk); cb(); } });
    const stdout = sink(), stderr = sink();
    const status = await runFile(j.file, { kernel: j.kernel, memory: 512 * 1024 * 1024, format: j.format, check: false, scheme: j.scheme, stats: j.format === "jsonl" }, { stdout, stderr });
    h.update(`status ${status}`);
    console.log(h.digest("hex"));
  }
  process.exit(0);
}

const other = process.argv[2];
if (!other) { console.error("usage: node bench/ab-observations.mjs OTHER_CHECKOUT [N_SEEDS]"); process.exit(2); }
const nSeeds = Number(process.argv[3] ?? 150);
const { generateScenario } = await import(pathToFileURL(join(HERE, "dist", "scenario", "generate.js")).href);
const tmp = mkdtempSync(join(tmpdir(), "thpemu-ab-"));
const files = [];
for (let s = 1; s <= nSeeds; s++) {
  const f = join(tmp, `seed${s}.scn`);
  writeFileSync(f, generateScenario(s * 7919, { ops: 40, maxRegionPages: s % 5 === 0 ? 4 * 2148 : undefined }));
  files.push(f);
}
for (const d of ["test/conformance", "test/conformance-mthp", "examples"]) {
  for (const n of readdirSync(join(HERE, d))) if (n.endsWith(".scn")) files.push(join(HERE, d, n));
}
const jobs = [];
for (const file of files) {
  jobs.push({ file, kernel: "linux-6.18", format: "jsonl" }, { file, kernel: "linux-4.5", format: "jsonl" });
  for (const scheme of ["naive", "doublemap", "subpages", "nopagemapcount"]) jobs.push({ file, kernel: "linux-6.18", format: "jsonl", scheme });
  jobs.push({ file, kernel: "linux-6.18", format: "table" });
}
const run = (dir) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--worker", resolve(dir)], { input: JSON.stringify(jobs), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`worker for ${dir} failed: ${r.stderr}`);
  return r.stdout.trim().split("\n");
};
const a = run(HERE), b = run(other);
let diff = 0;
for (let i = 0; i < jobs.length; i++) {
  if (a[i] !== b[i]) { diff++; if (diff <= 10) console.log(`differs: ${jobs[i].file} ${jobs[i].kernel} ${jobs[i].scheme ?? ""} ${jobs[i].format}`); }
}
rmSync(tmp, { recursive: true, force: true });
console.log(`${jobs.length} runs (${files.length} scenarios × 7 kernel/scheme/format variants): ${diff} differ`);
process.exit(diff ? 1 : 0);

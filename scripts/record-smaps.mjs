#!/usr/bin/env node
// Record the smaps expectations of the corpus on this machine's kernel (root):
// for each scenario given (default: test/conformance/*.scn and examples/*.scn),
// `thpemu record --smaps`, keeping the host header and the region records
// (their rss, pmdMapped and smaps), in test/conformance-smaps/DIR/NAME.smaps.jsonl.
// The page records stay in the corpus' own .expected.jsonl; npm test
// (test/smaps-corpus.test.ts) replays these on the emulator with smaps on.
//
//   sudo node scripts/record-smaps.mjs [FILE.scn ...]
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const list = (d) => fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith(".scn")).sort().map((f) => path.join(d, f));
const files = process.argv.length > 2 ? process.argv.slice(2) : [...list("test/conformance"), ...list("examples")];
let written = 0, skipped = 0;
for (const f of files) {
  const rel = path.relative(root, path.resolve(f));
  const r = spawnSync(process.execPath, [path.join(root, "bin/thpemu.js"), "record", "--smaps", rel], { cwd: root, encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) {
    skipped++;
    console.log(`${rel}: not recorded (exit ${r.status}): ${r.stderr.trim().split("\n")[0]}`);
    continue;
  }
  const keep = r.stdout.split("\n").filter((l) => l.startsWith('{"type":"host"') || l.startsWith('{"type":"region"'));
  const out = path.join(root, "test/conformance-smaps", path.basename(path.dirname(rel)), path.basename(rel).replace(/\.scn$/, ".smaps.jsonl"));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, keep.join("\n") + "\n");
  written++;
  console.log(`${rel}: ${keep.length - 1} region records`);
}
console.log(`${written} recorded, ${skipped} not recorded`);

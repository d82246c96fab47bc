// The mutation fuzzer (test/mutation.test.ts) through the real binary: a
// few hundred mutated scenario files, as bytes (invalid UTF-8, NUL), with
// 1 MB lines and a file of a million lines, each run by `thpemu run FILE
// --check` in a child process. The only outcomes allowed: exit 0 with
// nothing on stderr, or exit 2 with one `FILE:LINE: message` line on stderr;
// never a stack trace, an internal error or a hang (a child is killed after
// a minute). Needs the built package (dist/); skipped without it, saying so.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { mulberry32, mutate, hugeLine, mutateBytes, corpus, show } from "./mutate.js";
import { repoRoot } from "./helpers.js";

const SEED = Number(process.env.THPEMU_MUTATION_SEED ?? 20261129);
const CLI_MUTANTS = Number(process.env.THPEMU_CLI_MUTANTS ?? 200);

// ---- the real binary ---------------------------------------------------------------------------
const bin = path.join(repoRoot, "bin/thpemu.js");
const built = fs.existsSync(path.join(repoRoot, "dist/cli/main.js"));

function runCli(args: string[], timeoutMs = 60_000): Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "", stderr = "";
    c.stdout.on("data", (d) => { if (stdout.length < 1 << 16) stdout += d; });
    c.stderr.on("data", (d) => { if (stderr.length < 1 << 16) stderr += d; });
    c.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

describe.skipIf(!built)(`mutated files through the real \`thpemu run\` binary${built ? "" : " (skipped: dist/ is not built, npm run build)"}`, () => {
  it(`${CLI_MUTANTS} mutants (bytes: invalid UTF-8 and NUL too) and 1 MB lines: exit 0, or exit 2 with FILE:LINE: on stderr`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "thpemu-mutation-"));
    const r = mulberry32(SEED + 99);
    const bases = corpus("linux-6.18", SEED);
    const inputs: Buffer[] = [];
    for (let i = 0; i < CLI_MUTANTS; i++) {
      const base = bases[r() % bases.length];
      const text = i % 40 === 39 ? hugeLine(base, r) : mutate(base, r);
      inputs.push(i % 3 === 0 ? mutateBytes(text, r) : Buffer.from(text, "utf8"));
    }
    inputs.push(Buffer.from("dump\n".repeat(1_000_000) + "spawn p\nexit p\nexit p\n"));
    try {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < inputs.length; i = next++) {
          const file = path.join(dir, `m${i}.scn`);
          fs.writeFileSync(file, inputs[i]);
          // every third one as the table for a person (the scenario's own lines are echoed there)
          const res = await runCli(["run", file, "--memory", "32M", "--check", ...(i % 3 === 1 ? ["--format", "table"] : [])]);
          const what = `mutant ${i} (seed ${SEED}): ${show(inputs[i].toString("latin1"))}`;
          if (res.signal) throw new Error(`${what}: killed by ${res.signal} (a hang?)`);
          if (res.status === 0) { expect(res.stderr, what).toBe(""); continue; }
          expect(res.status, `${what}: ${res.stderr}`).toBe(2);
          const lines = res.stderr.trimEnd().split("\n");
          expect(lines.length, `${what}: ${res.stderr}`).toBe(1);
          expect(lines[0], what).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:[1-9][0-9]*: `));
          expect(res.stderr, what).not.toMatch(/internal error|\n\s+at |RuntimeError|TypeError/);
        }
      };
      await Promise.all(Array.from({ length: Math.max(2, Math.min(4, os.availableParallelism())) }, worker));
      expect(next).toBeGreaterThanOrEqual(inputs.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});


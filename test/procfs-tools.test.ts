// The kernel's own /proc tools, unmodified, on the emulator's /proc export
// (`thpemu run --proc DIR`) and on the real processes of the same scenario
// on this machine's kernel: page-types (-r -L -M per region), thpmaps
// (--inc-smaps; --cont 64K on the mTHP scenarios) and smem must print the
// same, once PIDs, addresses and PFNs are mapped through index.json and the
// two kpageflags bits left out are masked (test/procfs-tools/normalize.ts,
// docs/procfs.md). The kernel runner runs test/procfs-tools/run-tools.py at
// each dump (THPEMU_AT_DUMP) while the real processes are alive; on the
// emulator side the same script runs in a private mount namespace
// (`unshare -m`) with the export bind-mounted over /proc.
//
// Needs root, the live kernel, unshare, a C compiler and the tools
// (scripts/proc-tools.sh; it installs them only under CI or
// THPEMU_INSTALL_TOOLS=1); otherwise the tests skip and say why.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { runFile } from "../src/cli/run.js";
import { kernelInput } from "../src/kernel/conform.js";
import { findCompiler, hostCanServe, runOnKernel } from "../src/kernel/runner.js";
import { readIndex, normalizePageTypes, normalizeThpmaps, normalizeSmem } from "./procfs-tools/normalize.js";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const CORPUS = path.join(ROOT, "test", "conformance");
const RUN_TOOLS = path.join(ROOT, "test", "procfs-tools", "run-tools.py");

/** Scenarios compared (every dump of each); the mthp-* ones also with thpmaps --cont 64K. */
const CHOSEN = [
  "cow-pmd-basic", "cow-pte-mapped", "cow-single-pte", "cow-base-page", "cow-partially-shared",
  "cow-zero-pages-fork", "dontneed-partial-fork", "exit-parent-first", "fork-shares", "hzero-read",
  "hzero-write", "hzero-partial-unmap", "mprotect-none-fork", "mprotect-partial-restore", "split-pte-mapped",
  "split-partially-mapped", "shrink-several-procs", "collapse-holes", "khugepaged-collapse-fork", "zero-read",
  "two-half-dontneeds", "region-tail",
  "mthp-order-sizes-16k-64k", "mthp-cow-mthp-write-one-page", "mthp-fork-chain-mthp", "mthp-split-mthp",
  "mthp-mprotect-inside-mthp", "mthp-unmap-partial-shrink", "mthp-read-then-write-cow-zero", "mthp-edge-region-tail",
];
/** THPEMU_PROCTOOLS_ALL=1: every corpus scenario instead (a long run, for measuring; docs/procfs.md). */
const SCENARIOS = process.env.THPEMU_PROCTOOLS_ALL === "1"
  ? fs.readdirSync(CORPUS).filter((f) => f.endsWith(".scn")).map((f) => f.replace(/\.scn$/, "")).sort()
  : CHOSEN;

function why(): string {
  const host = hostCanServe();
  if (!host.ok) return `host cannot serve: ${host.reason}`;
  if (!findCompiler()) return "no C compiler (cc, gcc, clang)";
  const u = spawnSync("unshare", ["-m", "true"], { encoding: "utf8" });
  if (u.status !== 0) return `unshare -m does not work here (${(u.stderr || String(u.error)).trim()})`;
  return "";
}
const hostSkip = why();

/** $CI set and meaning yes: not empty, "0" or "false". */
const isCI = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
/** CI or THPEMU_INSTALL_TOOLS=1: the tools must be had (scripts/proc-tools.sh installs them); a failure fails. */
const mustRun = isCI(process.env.CI) || process.env.THPEMU_INSTALL_TOOLS === "1";

/** scripts/proc-tools.sh (fast once its cache is filled): the tools directory, or why not. */
function toolsDir(): { dir: string; skip: string } {
  if (hostSkip) return { dir: "", skip: hostSkip };
  const r = spawnSync("sh", [path.join(ROOT, "scripts", "proc-tools.sh")], { encoding: "utf8", timeout: 900_000 });
  if (r.status === 0) return { dir: r.stdout.trim(), skip: "" };
  const reason = `tools missing: ${(r.stderr || String(r.error)).trim().split("\n").pop()}`;
  if (mustRun) throw new Error(`scripts/proc-tools.sh could not provide the tools (CI or THPEMU_INSTALL_TOOLS=1): ${reason}`);
  return { dir: "", skip: reason };
}
const { dir: tools, skip: toolsSkip } = toolsDir();

async function emulatorRun(file: string, dir: string): Promise<void> {
  const stdout = new PassThrough(), stderr = new PassThrough();
  let err = "";
  stdout.resume();
  stderr.on("data", (b: Buffer) => { err += b.toString(); });
  const status = await runFile(file, { kernel: "host", memory: 4 * 1024 ** 3, format: "jsonl", check: true, proc: dir }, { stdout, stderr });
  if (status !== 0) throw new Error(`thpemu run ${file} --proc ${dir}: exit ${status}: ${err}`);
}

const FILES = ["pagetypes.txt", "thpmaps.txt", "thpmaps-cont.txt", "smem.txt"] as const;
const compared: Record<(typeof FILES)[number], Set<string>> = {
  "pagetypes.txt": new Set(), "thpmaps.txt": new Set(), "thpmaps-cont.txt": new Set(), "smem.txt": new Set(),
};

const skipNote = toolsSkip ? ` (skipped: ${toolsSkip})` : "";

describe(`the kernel's /proc tools on the export and on the real kernel${skipNote}`, () => {
  for (const name of SCENARIOS) {
    it.skipIf(toolsSkip !== "")(`${name}${skipNote}`, async (ctx) => {
      const file = path.join(CORPUS, `${name}.scn`);
      const text = fs.readFileSync(file, "utf8");
      const work = fs.mkdtempSync(path.join(os.tmpdir(), `thpemu-proctools-${name}-`));
      try {
        const env = { TOOLS: tools, CONT: name.startsWith("mthp-") ? "64K" : "" };
        // the kernel: the tools run at each dump while the real processes are alive
        const k = await runOnKernel(kernelInput(text, file), {
          env: { ...env, THPEMU_AT_DUMP: `python3 ${RUN_TOOLS} kernel ${path.join(work, "kernel")}` },
        });
        if (k.status === "unsupported") { ctx.skip(`cannot be checked on this host: ${k.reason}`); return; }
        if (k.status !== "ok") throw new Error(`kernel runner: ${k.reason}`);
        // the emulator: its export, each dump bind-mounted over /proc in a private mount namespace
        const exp = path.join(work, "export");
        await emulatorRun(file, exp);
        const dumps = fs.readdirSync(exp).sort((a, b) => Number(a) - Number(b));
        expect(dumps).toEqual(fs.readdirSync(path.join(work, "kernel")).sort((a, b) => Number(a) - Number(b)));
        for (const n of dumps) {
          const r = spawnSync("unshare", ["-m", "sh", "-c",
            `mount --bind "$1" /proc && exec python3 "$2" emulator "$3" "$4"`, "sh",
            path.join(exp, n), RUN_TOOLS, path.join(work, "emulator"), n], { encoding: "utf8", env: { ...process.env, ...env } });
          expect(r.status, r.stderr).toBe(0);
        }
        const seen = new Set<(typeof FILES)[number]>();
        for (const n of dumps) {
          const kd = path.join(work, "kernel", n), ed = path.join(work, "emulator", n);
          const ki = readIndex(kd), ei = readIndex(ed);
          expect(Object.keys(ei.pids).sort()).toEqual(Object.keys(ki.pids).sort());
          for (const f of FILES) {
            if (!fs.existsSync(path.join(kd, f))) continue;
            const norm = f === "pagetypes.txt" ? normalizePageTypes : f === "smem.txt" ? normalizeSmem : normalizeThpmaps;
            const kt = norm(fs.readFileSync(path.join(kd, f), "utf8"), ki);
            const et = norm(fs.readFileSync(path.join(ed, f), "utf8"), ei);
            expect(et, `${name} dump ${n} ${f}`).toEqual(kt);
            seen.add(f);
          }
        }
        // counted only once every dump of the scenario matched
        for (const f of seen) compared[f].add(name);
      } finally {
        if (!process.env.THPEMU_KEEP_PROCTOOLS) fs.rmSync(work, { recursive: true, force: true });
      }
    }, 300_000);
  }

  it.skipIf(toolsSkip !== "")(`page-types, thpmaps and smem agree on at least 20 scenarios each, thpmaps --cont 64K on mTHP ones${skipNote}`, () => {
    expect(compared["pagetypes.txt"].size).toBeGreaterThanOrEqual(20);
    expect(compared["thpmaps.txt"].size).toBeGreaterThanOrEqual(20);
    expect(compared["smem.txt"].size).toBeGreaterThanOrEqual(20);
    expect(compared["thpmaps-cont.txt"].size).toBeGreaterThanOrEqual(5);
  });
});

// The commands that use this machine's Linux kernel (src/kernel/): probe,
// record, conform and fuzz. main.ts loads this module only for them.
import type { KernelName, SchemeName } from "../profiles.js";
import { probeHost, recordedHeader, HostError } from "../kernel/probe.js";
import { recordScenario, RecordError, conformFile, formatDifference } from "../kernel/conform.js";
import { hostCanServe } from "../kernel/runner.js";
import { Sink, readScenario, shorten, writeLine, type CliIO } from "./io.js";
import { cannotProbe, target, type KernelChoice } from "./target.js";
import { EXIT_OK, EXIT_MISMATCH, EXIT_SCENARIO, EXIT_HOST, EXIT_UNSUPPORTED, EXIT_INTERNAL } from "./status.js";

/** `thpemu probe`: the host's release, knobs and quirks as one JSON object. */
export async function probeCommand(opts: { refresh: boolean }, io: CliIO): Promise<number> {
  try {
    const p = await probeHost({ refresh: opts.refresh });
    io.stdout.write(JSON.stringify(p, null, 2) + "\n");
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    cannotProbe(io, e.message);
    return EXIT_HOST;
  }
}

/** `thpemu record FILE [--smaps]`: the kernel's JSONL on stdout. */
export async function recordFile(file: string, io: CliIO, opts: { smaps?: boolean } = {}): Promise<number> {
  const err = (msg: string) => writeLine(io.stderr, msg);
  const input = await readScenario(file, io);
  if (!input) return EXIT_SCENARIO;
  const { name, text } = input;
  try {
    // the host's knobs and quirks before the run: what the recording was made on
    let header: string;
    try {
      header = JSON.stringify(recordedHeader(await probeHost()));
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      throw new RecordError("host", e.message, 4);
    }
    const jsonl = await recordScenario(text, name, [], { smaps: opts.smaps });
    const out = new Sink(io.stdout);
    await out.line(header);
    if (jsonl !== "") await out.line(jsonl.endsWith("\n") ? jsonl.slice(0, -1) : jsonl);
    await out.end();
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    switch (e.kind) {
      case "scenario": err(shorten(e.reason)); return EXIT_SCENARIO;
      case "host": err(`thpemu: this host cannot run scenarios on its kernel: ${e.reason}`); return EXIT_HOST;
      case "unsupported": err(`${name}: cannot be checked on this kernel (${e.reason})`); return EXIT_UNSUPPORTED;
      default: err(`thpemu: kernel runner failed: ${e.reason}`); return EXIT_INTERNAL;
    }
  }
}

/** `thpemu conform FILE...`: kernel vs emulator, one verdict per scenario. */
export async function conformFiles(files: string[], io: CliIO, scheme?: SchemeName, kernel: KernelChoice = "host", smaps = false): Promise<number> {
  const host = hostCanServe();
  if (!host.ok) {
    io.stderr.write(`thpemu: this host cannot run scenarios on its kernel: ${host.reason}\n`);
    return EXIT_HOST;
  }
  let t = await target(kernel, io);
  if (!t) return EXIT_HOST;
  // --smaps: the emulator's dumps carry smaps and the runner reads them from the kernel
  if (smaps) t = { ...t, machine: { ...t.machine, smaps: true } };
  const out = new Sink(io.stdout);
  let passed = 0, failed = 0, skipped = 0;
  for (const f of files) {
    const r = await conformFile(f, scheme, t);
    if (r.status === "match") { passed++; await out.line(`${f}: match`); }
    else if (r.status === "unsupported") { skipped++; await out.line(`${f}: cannot be checked on this host (${r.reason})`); }
    else if (r.status === "mismatch") {
      failed++;
      await out.line(`${f}: MISMATCH`);
      for (const d of r.diffs.slice(0, 10)) await out.line(`  ${formatDifference(d)}`);
      if (r.diffs.length > 10) await out.line(`  … ${r.diffs.length - 10} more differences`);
    } else {
      failed++;
      await out.line(`${f}: ERROR (${shorten(r.reason ?? "unknown")})`);
      if (r.hostCannotServe) { await out.end(); return EXIT_HOST; }
    }
  }
  await out.line(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  await out.end();
  return failed ? EXIT_MISMATCH : EXIT_OK;
}

export interface FuzzCliOptions { runs: number; seed?: number; ops: number; out: string; kernel: "host" | KernelName; smaps: boolean }

/** `thpemu fuzz`: src/kernel/fuzz.ts (and its progress bar) with a random seed unless one is given. */
export async function fuzzFromCli(o: FuzzCliOptions, io: CliIO): Promise<number> {
  const { fuzzCommand } = await import("../kernel/fuzz.js");
  const seed = o.seed ?? (Math.floor(Math.random() * 2 ** 32) >>> 0);
  return fuzzCommand({ runs: o.runs, seed, ops: o.ops, outDir: o.out, kernel: o.kernel, smaps: o.smaps }, io);
}

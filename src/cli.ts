// The thpemu command:
//
//   thpemu run FILE [--kernel linux-6.18|linux-4.5|host] [--memory SIZE] [--format jsonl|table] [--check]
//   thpemu probe [--refresh]        the host's release, THP knobs and quirks (JSON)
//   thpemu record / conform / fuzz  against this machine's kernel (src/kernel/)
//
// Exit status: 0 ok; 2 an error in the scenario (`FILE:LINE: message`), an
// unreadable file or a bad option; 3 an invariant violation; 4 the host
// cannot be probed or run scenarios (`--kernel host`, probe, record, …);
// 70 an internal error (`thpemu: internal error: …`; THPEMU_DEBUG=1 adds
// the stack).
//
// `main(argv)` resolves to the exit status and never calls process.exit:
// bin/thpemu.js sets process.exitCode, so Node exits once stdout is drained.
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { Machine, UserError, type MachineOptions } from "./machine.js";
import { KERNELS, SCHEMES, type KernelName, type SchemeName } from "./profiles.js";
import { compareSchemes, formatCompare, statsRecord } from "./scenario/compare.js";
import { parseScenario, ScenarioError, type Op } from "./scenario/parse.js";
import { runOps, InvariantError } from "./scenario/run.js";
import type { ObservationRecord } from "./scenario/records.js";
import { formatTable, formatEmptyDump, sourceBlock, trailingComments } from "./scenario/table.js";
import { recordScenario, RecordError, conformFile, formatDifference } from "./kernel/conform.js";
import { hostCanServe } from "./kernel/runner.js";
import { fuzzCommand } from "./kernel/fuzz.js";
import { probeHost, resolveTarget, recordedHeader, HostError, type KernelTarget } from "./kernel/probe.js";

export const EXIT_OK = 0;
export const EXIT_SCENARIO = 2;
export const EXIT_INVARIANT = 3;
export const EXIT_INTERNAL = 70; // EX_SOFTWARE
export const EXIT_MISMATCH = 1;
export const EXIT_HOST = 4;
export const EXIT_UNSUPPORTED = 5;

/** Where the CLI writes; process.stdout/stderr by default (tests pass their own). */
export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  /** Read standard input (for FILE `-`); process.stdin by default. */
  stdin?: NodeJS.ReadableStream;
}

/** A kernel profile, or `host`: linux-6.18 with this host's knobs and quirks (`thpemu probe`). */
export type KernelChoice = KernelName | "host";
const KERNEL_CHOICES: KernelChoice[] = [...KERNELS, "host"];

export interface RunCliOptions {
  kernel: KernelChoice;
  memory: number;
  format: "jsonl" | "table";
  check: boolean;
  /** Mapcount scheme (default: the kernel profile's). */
  scheme?: SchemeName;
  /** Append a `stats` record: rmap atomics and struct pages touched. */
  stats?: boolean;
}

const DEFAULT_MEMORY = "4G";
const SIZE_RE = /^([0-9]+)([kKmMgG]?)$/;
const SIZE_MUL: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `--memory`: `4G`, `512M`, `64G`, `1073741824` (K/M/G = powers of 1024). */
export function parseMemorySize(s: string): number {
  const m = SIZE_RE.exec(s.trim());
  if (!m) throw new InvalidArgumentError("Expected a size like 4G, 512M, 64G or 1073741824 (bytes).");
  const v = Number(m[1]) * SIZE_MUL[m[2].toLowerCase()];
  if (!Number.isSafeInteger(v)) throw new InvalidArgumentError("It is too large.");
  if (v % 4096 !== 0) throw new InvalidArgumentError("It is not a multiple of 4 KiB.");
  if (v < 16 * 1024 ** 2) throw new InvalidArgumentError("At least 16M is needed.");
  return v;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** An error message kept short: a quoted token of a huge line is cut (no regex: linear on any input). */
export function shorten(msg: string): string {
  if (msg.length <= 400) return msg;
  let out = "";
  let i = 0;
  for (;;) {
    const a = msg.indexOf("'", i);
    const b = a < 0 ? -1 : msg.indexOf("'", a + 1);
    if (b < 0) { out += msg.slice(i); break; }
    out += msg.slice(i, a + 1);
    out += b - a - 1 > 80 ? `${msg.slice(a + 1, a + 61)}…(${b - a - 1} characters)` : msg.slice(a + 1, b);
    out += "'";
    i = b + 1;
  }
  return out.length <= 2000 ? out : out.slice(0, 2000) + "…";
}

function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case "ENOENT": return "no such file or directory";
    case "EISDIR": return "is a directory";
    case "EACCES": case "EPERM": return "permission denied";
    case "ENOTDIR": return "a component of the path is not a directory";
    default: return e.message ?? String(err);
  }
}

/** Buffered writes to a stream that respect backpressure and survive a closed pipe. */
class Sink {
  private buf: string[] = [];
  private size = 0;
  /** The reader went away (EPIPE): further output is dropped. */
  closed = false;
  private readonly onError = (e: NodeJS.ErrnoException) => {
    this.closed = true;
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") this.error = e;
  };
  error: Error | undefined;

  constructor(private readonly s: Writable) {
    s.on("error", this.onError);
  }

  line(text: string): Promise<void> | void {
    this.buf.push(text, "\n");
    this.size += text.length + 1;
    if (this.size >= 1 << 20) return this.flush();
  }

  async lines(texts: Iterable<string>): Promise<void> {
    for (const t of texts) {
      const p = this.line(t);
      if (p) await p;
    }
  }

  /** Hand the buffer to the stream; wait while the stream is full. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buf.join("");
    this.buf = [];
    this.size = 0;
    if (this.closed || this.s.destroyed) { this.closed = true; return; }
    if (!this.s.write(chunk)) await this.drained();
  }

  /** Flush, then wait until everything written so far has been handed to the OS. */
  async end(): Promise<void> {
    await this.flush();
    if (!this.closed && !this.s.destroyed) {
      await new Promise<void>((resolve) => { this.s.write("", () => resolve()); });
    }
    this.s.off("error", this.onError);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.s.off("drain", done); this.s.off("close", done); this.s.off("error", done);
        resolve();
      };
      this.s.on("drain", done); this.s.on("close", done); this.s.on("error", done);
    });
  }
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/**
 * A scenario file's text ('-': standard input) and the name its errors use,
 * or null once the reason it cannot be read is on stderr. Invalid UTF-8
 * becomes U+FFFD, which the parser rejects with its line.
 */
async function readScenario(file: string, io: CliIO): Promise<{ name: string; text: string } | null> {
  const name = file === "-" ? "<stdin>" : file;
  let bytes: Buffer;
  try {
    bytes = file === "-" ? await readStdin(io.stdin ?? process.stdin) : await readFile(file);
  } catch (e) {
    io.stderr.write(`${name}: cannot read: ${fsReason(e)}\n`);
    return null;
  }
  return { name, text: new TextDecoder("utf-8", { fatal: false }).decode(bytes) };
}

/**
 * The machine options of `--kernel`: a profile as it is, or `host` (the
 * probe's knobs and quirks on linux-6.18); null once the reason the host
 * cannot be probed is on stderr.
 */
async function machineOptions(kernel: KernelChoice, io: CliIO): Promise<MachineOptions | null> {
  if (kernel !== "host") return { kernel };
  const t = await target("host", io);
  return t ? t.machine : null;
}

/** resolveTarget, or null once the reason is on stderr. */
async function target(kernel: KernelChoice, io: CliIO): Promise<KernelTarget | null> {
  try {
    return await resolveTarget(kernel);
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    io.stderr.write(`thpemu: cannot probe this host: ${e.message}\n`);
    return null;
  }
}

/** `thpemu probe`: the host's release, knobs and quirks as one JSON object. */
export async function probeCommand(opts: { refresh: boolean }, io: CliIO): Promise<number> {
  try {
    const p = await probeHost({ refresh: opts.refresh });
    io.stdout.write(JSON.stringify(p, null, 2) + "\n");
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    io.stderr.write(`thpemu: cannot probe this host: ${e.message}\n`);
    return EXIT_HOST;
  }
}

/** `thpemu run FILE`: the exit status. */
export async function runFile(file: string, opts: RunCliOptions, io: CliIO): Promise<number> {
  const err = (msg: string) => { io.stderr.write(msg.endsWith("\n") ? msg : msg + "\n"); };

  // 1. the text
  const input = await readScenario(file, io);
  if (!input) return EXIT_SCENARIO;
  const { name, text } = input;

  // 2. the syntax of every line, before anything runs
  let ops: Op[];
  try {
    ops = parseScenario(text, name);
  } catch (e) {
    if (e instanceof ScenarioError) { err(shorten(e.message)); return EXIT_SCENARIO; }
    throw e;
  }

  // 3. the machine
  const machine = await machineOptions(opts.kernel, io);
  if (!machine) return EXIT_HOST;
  let m: Machine;
  try {
    m = await Machine.create({ ...machine, memory: opts.memory, scheme: opts.scheme });
  } catch (e) {
    if (e instanceof UserError) { err(`thpemu: ${e.message}`); return EXIT_SCENARIO; }
    throw e;
  }

  // 4. each operation in turn; its output is written before the next one runs
  const out = new Sink(io.stdout);
  const table = opts.format === "table";
  const lines = table ? text.split(/\r?\n/) : [];
  let prevLine = 0;
  let dumps = 0;
  let notes = true; // explain the raw inspect fields (the first time only)
  let blank = true; // the last table line written was blank (or nothing yet)
  let status = EXIT_OK;
  try {
    for (const op of ops) {
      if (out.closed) break;
      const recs: ObservationRecord[] = [];
      let failure: unknown;
      try {
        runOps(m, [op], { file: name, check: opts.check, onRecord: (r) => { recs.push(r); } });
      } catch (e) {
        failure = e;
      }
      if (op.op === "dump" && !(failure instanceof ScenarioError)) dumps++;
      if (!table) {
        for (const r of recs) {
          const p = out.line(JSON.stringify(r));
          if (p) await p;
        }
      } else if (!(failure instanceof ScenarioError)) {
        const src = sourceBlock(lines, prevLine, op.line);
        if (src[0]?.startsWith("#") && !blank) await out.line("");
        await out.lines(src);
        let body = formatTable(recs, { notes });
        if (recs.some((r) => r.type === "inspect")) notes = false;
        if (op.op === "dump" && recs.length === 0) body = formatEmptyDump(dumps, op.label);
        if (body.length) { await out.lines(body); await out.line(""); }
        blank = body.length > 0;
      }
      prevLine = op.line;
      if (failure !== undefined) {
        await out.flush();
        if (failure instanceof ScenarioError) { err(shorten(failure.message)); status = EXIT_SCENARIO; }
        else if (failure instanceof InvariantError) { err(failure.message); status = EXIT_INVARIANT; }
        else throw failure;
        break;
      }
    }
    if (table && status === EXIT_OK && !out.closed) {
      const tail = trailingComments(lines, prevLine);
      if (tail.length && !blank) await out.line("");
      await out.lines(tail);
    }
    if (opts.stats && status === EXIT_OK && !out.closed) {
      const st = statsRecord(m);
      if (!table) await out.line(JSON.stringify(st));
      else await out.line(`stats: scheme ${st.scheme}, ${st.atomics} atomics, ${st.pagesTouched} struct pages touched (` +
        Object.entries(st.byOp).map(([op, c]) => `${op} ${c.calls}×: ${c.atomics}/${c.pagesTouched}`).join(", ") + ")");
    }
  } finally {
    await out.end();
  }
  if (out.error) {
    err(`thpemu: cannot write output: ${out.error.message}`);
    return EXIT_INTERNAL;
  }
  return status;
}

/** `thpemu record FILE`: the kernel's JSONL on stdout. */
export async function recordFile(file: string, io: CliIO): Promise<number> {
  const err = (msg: string) => { io.stderr.write(msg.endsWith("\n") ? msg : msg + "\n"); };
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
    const jsonl = await recordScenario(text, name);
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

/** `thpemu compare FILE`: the scenario under every mapcount scheme, observables and costs. */
export async function compareFile(file: string, opts: { kernel: KernelChoice; memory: number }, io: CliIO): Promise<number> {
  const input = await readScenario(file, io);
  if (!input) return EXIT_SCENARIO;
  const machine = await machineOptions(opts.kernel, io);
  if (!machine) return EXIT_HOST;
  try {
    const r = await compareSchemes(input.text, input.name, machine, opts.memory);
    const out = new Sink(io.stdout);
    await out.lines(formatCompare(r));
    await out.end();
    return r.runs.some((x) => x.observables === "error") ? EXIT_SCENARIO : EXIT_OK;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof UserError) { io.stderr.write(shorten(e.message) + "\n"); return EXIT_SCENARIO; }
    throw e;
  }
}

/** `thpemu conform FILE...`: kernel vs emulator, one verdict per scenario. */
export async function conformFiles(files: string[], io: CliIO, scheme?: SchemeName, kernel: KernelChoice = "host"): Promise<number> {
  const host = hostCanServe();
  if (!host.ok) {
    io.stderr.write(`thpemu: this host cannot run scenarios on its kernel: ${host.reason}\n`);
    return EXIT_HOST;
  }
  const t = await target(kernel, io);
  if (!t) return EXIT_HOST;
  const out = new Sink(io.stdout);
  let passed = 0, failed = 0, skipped = 0;
  let status = EXIT_OK;
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
  if (failed) status = EXIT_MISMATCH;
  return status;
}

/** `--runs`, `--ops`, `--seed`: a non-negative integer (seeds: below 2^32). */
function positiveInt(v: string, what: string, zeroOk = false): number {
  const n = /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || (!zeroOk && n < 1) || (zeroOk && n >= 2 ** 32)) {
    throw new InvalidArgumentError(zeroOk ? `${what} wants an integer 0 … 4294967295.` : `${what} wants a positive integer.`);
  }
  return n;
}

function buildProgram(io: CliIO, result: { status: number }): Command {
  const program = new Command();
  program
    .name("thpemu")
    .description("Emulate Linux THP mapcount accounting (WebAssembly): run a scenario, print what the kernel would count.")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { io.stdout.write(s); },
      writeErr: (s) => { io.stderr.write(s); },
    })
    .showHelpAfterError("(see 'thpemu run --help' for usage)")
    .addHelpText("after", `
Exit status: 0 ok, 2 scenario error or bad option, 3 invariant violation, 4 host cannot serve, 70 internal error.
Example: thpemu run examples/seed-doublemap.scn --kernel linux-4.5 --format table`);

  program
    .command("run")
    .description("run a scenario file (.scn; '-' reads standard input) and print its observations")
    .argument("<file>", "the scenario")
    .addOption(new Option("--kernel <name>", "kernel profile (host: linux-6.18 with this host's THP knobs and quirks)").choices(KERNEL_CHOICES).default("linux-6.18"))
    .addOption(new Option("--memory <size>", "emulated physical memory (K/M/G suffixes, powers of 1024)")
      .default(parseMemorySize(DEFAULT_MEMORY), DEFAULT_MEMORY).argParser(parseMemorySize))
    .addOption(new Option("--format <format>", "jsonl: one JSON record per line; table: for a person")
      .choices(["jsonl", "table"]).default("jsonl"))
    .option("--check", "run the invariant checker after every operation", false)
    .addOption(new Option("--scheme <name>", "mapcount scheme (default: the kernel's: linux-4.5 doublemap, linux-6.18 large)").choices(SCHEMES))
    .option("--stats", "append a stats record: rmap atomics and struct pages touched per entry point", false)
    .action(async (file: string, o: RunCliOptions) => {
      result.status = await runFile(file, o, io);
    });

  program
    .command("probe")
    .description("print this host's kernel release, THP knobs and quirks (measured by live experiments, cached per kernel build) as JSON")
    .option("--refresh", "measure the quirks again instead of using the cache", false)
    .action(async (o: { refresh: boolean }) => {
      result.status = await probeCommand(o, io);
    });

  program
    .command("record")
    .description("run a scenario on this machine's Linux kernel (root) and print the kernel's observations (JSONL)")
    .argument("<file>", "the scenario ('-' reads standard input)")
    .action(async (file: string) => {
      result.status = await recordFile(file, io);
    });

  program
    .command("conform")
    .description("run scenarios on the kernel and on the emulator and compare their observations")
    .argument("<files...>", "the scenarios")
    .addOption(new Option("--scheme <name>", "the emulator's mapcount scheme (nopagemapcount: the kernel's counts averaged per folio)").choices(SCHEMES))
    .addOption(new Option("--kernel <name>", "host: the emulator takes the host's knobs and quirks; linux-6.18: the runner sets the profile's knobs first")
      .choices(["host", "linux-6.18"]).default("host"))
    .action(async (files: string[], o: { scheme?: SchemeName; kernel: KernelChoice }) => {
      result.status = await conformFiles(files, io, o.scheme, o.kernel);
    });

  program
    .command("compare")
    .description("run a scenario under every mapcount scheme: observables (vs naive) and rmap costs per entry point")
    .argument("<file>", "the scenario ('-' reads standard input)")
    .addOption(new Option("--kernel <name>", "kernel profile (host: linux-6.18 with this host's THP knobs and quirks)").choices(KERNEL_CHOICES).default("linux-6.18"))
    .addOption(new Option("--memory <size>", "emulated physical memory").default(parseMemorySize(DEFAULT_MEMORY), DEFAULT_MEMORY).argParser(parseMemorySize))
    .action(async (file: string, o: { kernel: KernelChoice; memory: number }) => {
      result.status = await compareFile(file, o, io);
    });

  program
    .command("fuzz")
    .description("differential fuzzing: random scenarios on this machine's kernel and on the emulator (linux-6.18); mismatches are minimized into DIR")
    .option("--runs <n>", "number of random scenarios", (v) => positiveInt(v, "--runs"), 100)
    .option("--seed <s>", "seed (32-bit unsigned; default: random)", (v) => positiveInt(v, "--seed", true))
    .option("--ops <k>", "operations per scenario (after a 3-line prologue)", (v) => positiveInt(v, "--ops"), 20)
    .option("--out <dir>", "where minimized failing scenarios are written", "fuzz-failures")
    .addOption(new Option("--kernel <name>", "host: the emulator takes the host's knobs and quirks; linux-6.18: the runner sets the profile's knobs first")
      .choices(["host", "linux-6.18"]).default("host"))
    .action(async (o: { runs: number; seed?: number; ops: number; out: string; kernel: "host" | KernelName }) => {
      const seed = o.seed ?? (Math.floor(Math.random() * 2 ** 32) >>> 0);
      result.status = await fuzzCommand({ runs: o.runs, seed, ops: o.ops, outDir: o.out, kernel: o.kernel }, io);
    });
  return program;
}

/**
 * The command line (arguments after the program name) → exit status.
 * Never throws, never calls process.exit.
 */
export async function main(argv: string[] = process.argv.slice(2), io?: CliIO): Promise<number> {
  const sio: CliIO = io ?? { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  const result = { status: EXIT_OK };
  try {
    await buildProgram(sio, result).parseAsync(argv, { from: "user" });
    return result.status;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_SCENARIO;
    const debug = process.env.THPEMU_DEBUG === "1";
    const msg = e instanceof Error ? e.message : String(e);
    sio.stderr.write(`thpemu: internal error: ${msg}\n`);
    if (debug && e instanceof Error && e.stack) sio.stderr.write(e.stack + "\n");
    return EXIT_INTERNAL;
  }
}

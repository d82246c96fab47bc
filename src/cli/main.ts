// The thpemu command:
//
//   thpemu run FILE [--kernel linux-6.18|linux-4.5|host] [--memory SIZE] [--format jsonl|table] [--check]
//   thpemu compare FILE             the scenario under every mapcount scheme
//   thpemu probe [--refresh]        the host's release, THP knobs and quirks (JSON)
//   thpemu record / conform / fuzz  against this machine's kernel (src/kernel/)
//   thpemu stress [--ops N] …       random valid operations under the checker, on worker threads
//
// Exit status: 0 ok; 2 an error in the scenario (`FILE:LINE: message`), an
// unreadable file or a bad option; 3 an invariant violation; 4 the host
// cannot be probed or run scenarios (`--kernel host`, probe, record, …);
// 70 an internal error (`thpemu: internal error: …`; THPEMU_DEBUG=1 adds
// the stack).
//
// `main(argv)` resolves to the exit status and never calls process.exit:
// bin/thpemu.js sets process.exitCode, so Node exits once stdout is drained.
//
// This module is the commander program only, and it loads what a command
// needs and nothing more: each command's action loads its module (run.ts,
// compare.ts, kernel.ts) with import(), so `--help` and `thpemu run` do not
// load the kernel runner, the fuzzer or compare; the operation table (for
// `run --help`) and package.json (for --version) are read only when asked
// for; commander is loaded with require() (it is CommonJS: through import()
// Node would first scan its source for named exports, ~8 ms of a ~110 ms
// start-up). bench/scaling.mjs measures the start-up.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Commander from "commander";
import { SCHEMES, type SchemeName } from "../profiles.js";
import { KERNEL_CHOICES, type KernelChoice } from "./target.js";
import type { CliIO } from "./io.js";
import type { RunCliOptions } from "./run.js";
import type { FuzzCliOptions } from "./kernel.js";
import type { StressCliOptions } from "./stress.js";
import { EXIT_OK, EXIT_SCENARIO, EXIT_INTERNAL } from "./status.js";

const { Command, CommanderError, InvalidArgumentError, Option } = createRequire(import.meta.url)("commander") as typeof Commander;
type Command = Commander.Command;

export * from "./status.js";
export type { CliIO } from "./io.js";
export type { KernelChoice } from "./target.js";
export type { RunCliOptions } from "./run.js";

const DEFAULT_MEMORY = "4G";
const MAX_MEMORY = 128 * 1024 ** 3; // = Machine's MAX_MEMORY (machine.js is loaded only by the commands that run one)
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
  if (v > MAX_MEMORY) {
    throw new InvalidArgumentError("At most 128G is supported (the struct pages and page tables must fit in WebAssembly's 4 GiB of linear memory).");
  }
  return v;
}

/** `--runs`, `--ops`, `--seed`: a non-negative integer (seeds: below 2^32). */
function positiveInt(v: string, what: string, zeroOk = false): number {
  const n = /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || (!zeroOk && n < 1) || (zeroOk && n >= 2 ** 32)) {
    throw new InvalidArgumentError(zeroOk ? `${what} wants an integer 0 … 4294967295.` : `${what} wants a positive integer.`);
  }
  return n;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Whether `argv` asks for help or the version (only then are the operation table and package.json read). */
function asksFor(argv: string[], flags: string[]): boolean {
  return argv.some((a) => flags.includes(a));
}

function buildProgram(io: CliIO, result: { status: number }, argv: string[], opsHelp: string[]): Command {
  const program = new Command();
  program
    .name("thpemu")
    .description("Emulate Linux THP mapcount accounting (WebAssembly): run a scenario, print what the kernel would count.")
    .version(asksFor(argv, ["-V", "--version"]) ? packageVersion() : "", "-V, --version", "print the version")
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

  // The scenario operations in `thpemu run --help`: the operation table's usage lines.
  program
    .command("run")
    .description("run a scenario file (.scn; '-' reads standard input) and print its observations")
    .argument("<file>", "the scenario")
    .addOption(new Option("--kernel <name>", "kernel profile (host: linux-6.18 with this host's THP knobs and quirks)").choices(KERNEL_CHOICES).default("linux-6.18"))
    .addOption(new Option("--memory <size>", "emulated physical memory, at most 128G (K/M/G suffixes, powers of 1024)")
      .default(parseMemorySize(DEFAULT_MEMORY), DEFAULT_MEMORY).argParser(parseMemorySize))
    .addOption(new Option("--format <format>", "jsonl: one JSON record per line; table: for a person")
      .choices(["jsonl", "table"]).default("jsonl"))
    .option("--check", "run the invariant checker after every operation", false)
    .addOption(new Option("--scheme <name>", "mapcount scheme (default: the kernel's: linux-4.5 doublemap, linux-6.18 large)").choices(SCHEMES))
    .option("--stats", "append a stats record: rmap atomics and struct pages touched per entry point", false)
    .option("--smaps", "every region record also carries its /proc/PID/smaps fields in kB (docs/scenario-format.md)", false)
    .option("--proc <dir>", "at each dump N, write DIR/N/: the machine's /proc tree in the kernel's formats (kpageflags, kpagecount, PID/smaps, pagemap, …; docs/procfs.md)")
    .addHelpText("after", () => `\nScenario operations (docs/scenario-format.md):\n${opsHelp.join("\n")}`)
    .action(async (file: string, o: RunCliOptions) => {
      const { runFile } = await import("./run.js");
      result.status = await runFile(file, o, io);
    });

  program
    .command("probe")
    .description("print this host's kernel release, THP knobs and quirks (measured by live experiments, cached per kernel build) as JSON")
    .option("--refresh", "measure the quirks again instead of using the cache", false)
    .action(async (o: { refresh: boolean }) => {
      const { probeCommand } = await import("./kernel.js");
      result.status = await probeCommand(o, io);
    });

  program
    .command("record")
    .description("run a scenario on this machine's Linux kernel (root) and print the kernel's observations (JSONL)")
    .argument("<file>", "the scenario ('-' reads standard input)")
    .option("--smaps", "every region record also carries its /proc/PID/smaps fields in kB (docs/scenario-format.md)", false)
    .action(async (file: string, o: { smaps: boolean }) => {
      const { recordFile } = await import("./kernel.js");
      result.status = await recordFile(file, io, o);
    });

  program
    .command("conform")
    .description("run scenarios on the kernel and on the emulator and compare their observations")
    .argument("<files...>", "the scenarios")
    .addOption(new Option("--scheme <name>", "the emulator's mapcount scheme (nopagemapcount: the kernel's counts averaged per folio)").choices(SCHEMES))
    .addOption(new Option("--kernel <name>", "host: the emulator takes the host's knobs and quirks; linux-6.18: the runner sets the profile's knobs first")
      .choices(["host", "linux-6.18"]).default("host"))
    .option("--smaps", "compare the regions' smaps fields too (Rss, Pss, Shared/Private, AnonHugePages …)", false)
    .action(async (files: string[], o: { scheme?: SchemeName; kernel: KernelChoice; smaps: boolean }) => {
      const { conformFiles } = await import("./kernel.js");
      result.status = await conformFiles(files, io, o.scheme, o.kernel, o.smaps);
    });

  program
    .command("compare")
    .description("run a scenario under every mapcount scheme: observables (vs naive) and rmap costs per entry point")
    .argument("<file>", "the scenario ('-' reads standard input)")
    .addOption(new Option("--kernel <name>", "kernel profile (host: linux-6.18 with this host's THP knobs and quirks)").choices(KERNEL_CHOICES).default("linux-6.18"))
    .addOption(new Option("--memory <size>", "emulated physical memory").default(parseMemorySize(DEFAULT_MEMORY), DEFAULT_MEMORY).argParser(parseMemorySize))
    .action(async (file: string, o: { kernel: KernelChoice; memory: number }) => {
      const { compareFile } = await import("./compare.js");
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
    .option("--smaps", "compare the regions' smaps fields too", false)
    .action(async (o: FuzzCliOptions) => {
      const { fuzzFromCli } = await import("./kernel.js");
      result.status = await fuzzFromCli(o, io);
    });
  program
    .command("stress")
    .description("endurance: random valid operations on the emulator alone (the fuzz generator) on worker threads, the invariant checker every K ops, a leak check after each run; failing runs are shrunk into DIR")
    .option("--ops <n>", "operations in all", (v) => positiveInt(v, "--ops"), 100_000)
    .option("--seed <s>", "seed (32-bit unsigned; default: random); run r is generated from the seed and r", (v) => positiveInt(v, "--seed", true))
    .option("--jobs <j>", "worker threads, 1 … 256 (default: the number of cores)", (v) => {
      const j = positiveInt(v, "--jobs");
      if (j > 256) throw new InvalidArgumentError("--jobs wants at most 256 workers.");
      return j;
    })
    .option("--check-every <k>", "run the invariant checker after every K-th operation of a run (and at its end); 0: only at the end", (v) => positiveInt(v, "--check-every", true), 100)
    .option("--run-ops <r>", "operations per run, 1 … 1000000 (a fresh machine each; a run's lines are generated at once)", (v) => {
      const r = positiveInt(v, "--run-ops");
      if (r > 1_000_000) throw new InvalidArgumentError("--run-ops wants at most 1000000 operations per run.");
      return r;
    }, 1000)
    .addOption(new Option("--kernel <name>", "kernel profile (host: linux-6.18 with this host's THP knobs and quirks)").choices(KERNEL_CHOICES).default("linux-6.18"))
    .addOption(new Option("--scheme <name>", "mapcount scheme (default: the kernel's)").choices(SCHEMES))
    .addOption(new Option("--memory <size>", "emulated physical memory of each run").default(parseMemorySize("1G"), "1G").argParser(parseMemorySize))
    .option("--out <dir>", "where shrunk failing runs are written", "stress-failures")
    .addHelpText("after", `
Prints the seed first and \`N ops, M violations\` last (M: failing runs); exit 0 none, 3 any.
Example: thpemu stress --ops 1000000 --jobs 2 --check-every 100`)
    .action(async (o: StressCliOptions) => {
      const { stressCommand } = await import("./stress.js");
      result.status = await stressCommand(o, io);
    });
  return program;
}

/**
 * The command line (arguments after the program name) → exit status.
 * Never throws, never calls process.exit.
 */
export async function main(argv: string[] = process.argv.slice(2), io?: CliIO): Promise<number> {
  // process.stdin is a getter that opens the stream: only a FILE of `-` reads it
  const sio: CliIO = io ?? { stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; } };
  const result = { status: EXIT_OK };
  try {
    // the operations' usage lines, for `run --help` (and a usage error's help) only
    const opsHelp = asksFor(argv, ["-h", "--help", "help"]) ? (await import("../scenario/ops.js")).operationsHelp() : [];
    await buildProgram(sio, result, argv, opsHelp).parseAsync(argv, { from: "user" });
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

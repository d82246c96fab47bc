// `thpemu run FILE`: the whole scenario is parsed first, then the machine is
// built and the operations run one at a time, each one's records written
// before the next one runs. How the records are shown is a RunWriter's
// business: JSONL (one record a line) or the table for a person.
import { Machine, UserError } from "../machine.js";
import type { SchemeName } from "../profiles.js";
import { parseScenario, ScenarioError, type Op } from "../scenario/parse.js";
import { runOps, InvariantError } from "../scenario/run.js";
import type { ObservationRecord } from "../scenario/records.js";
import { JsonlEncoder } from "../scenario/jsonl.js";
import type * as Table from "../scenario/table.js";
import type { statsRecord } from "../scenario/compare.js";
import { Sink, readScenario, shorten, writeLine, type CliIO } from "./io.js";
import { machineOptions, type KernelChoice } from "./target.js";
import { prepareProcDir, writeProcTree } from "./proc.js";
import { EXIT_OK, EXIT_SCENARIO, EXIT_INVARIANT, EXIT_HOST, EXIT_INTERNAL } from "./status.js";

export interface RunCliOptions {
  kernel: KernelChoice;
  memory: number;
  format: "jsonl" | "table";
  check: boolean;
  /** Mapcount scheme (default: the kernel profile's). */
  scheme?: SchemeName;
  /** Append a `stats` record: rmap atomics and struct pages touched. */
  stats?: boolean;
  /** Region records also carry their smaps fields (kB). */
  smaps?: boolean;
  /** At each dump N, write DIR/N/ as a /proc tree (docs/procfs.md). */
  proc?: string;
}

type StatsRecord = ReturnType<typeof statsRecord>;

/** How `thpemu run` shows what the operations observed. */
interface RunWriter {
  /** One operation's records; `rejected`: it was a scenario error (the run stops after it). */
  op(op: Op, recs: readonly ObservationRecord[], rejected: boolean): Promise<void>;
  /** After the last operation, when every operation went through. */
  end(): Promise<void>;
  /** `--stats`: the costs of the whole run (after end()). */
  stats(st: StatsRecord): Promise<void>;
}

/**
 * `--format jsonl`: one JSON record per line (a rejected operation's too).
 * runOps wrote the operation's records into `enc` (a dump's page records
 * straight from the page-table walk, no object per page); here its byte
 * chunks go to the output.
 */
function jsonlWriter(out: Sink, enc: JsonlEncoder): RunWriter {
  return {
    async op() {
      for (const chunk of enc.take()) {
        const p = out.bytes(chunk);
        if (p) await p;
      }
    },
    end: async () => {},
    stats: async (st) => { await out.line(JSON.stringify(st)); },
  };
}

/** `--format table`: the scenario's lines, each operation followed by what it observed. */
function tableWriter(out: Sink, text: string, { formatTable, formatEmptyDump, sourceBlock, trailingComments }: typeof Table): RunWriter {
  const lines = text.split(/\r?\n/);
  let prevLine = 0;
  let dumps = 0;
  let notes = true; // explain the raw inspect fields (the first time only)
  let blank = true; // the last line written was blank (or nothing yet)
  return {
    async op(op, recs, rejected) {
      if (rejected) return;
      if (op.op === "dump") dumps++;
      const src = sourceBlock(lines, prevLine, op.line);
      if (src[0]?.startsWith("#") && !blank) await out.line("");
      await out.lines(src);
      let body = formatTable(recs, { notes });
      if (recs.some((r) => r.type === "inspect")) notes = false;
      if (op.op === "dump" && recs.length === 0) body = formatEmptyDump(dumps, op.label);
      if (body.length) { await out.lines(body); await out.line(""); }
      blank = body.length > 0;
      prevLine = op.line;
    },
    async end() {
      const tail = trailingComments(lines, prevLine);
      if (tail.length && !blank) await out.line("");
      await out.lines(tail);
    },
    async stats(st) {
      await out.line(`stats: scheme ${st.scheme}, ${st.atomics} atomics, ${st.pagesTouched} struct pages touched (` +
        Object.entries(st.byOp).map(([op, c]) => `${op} ${c.calls}×: ${c.atomics}/${c.pagesTouched}`).join(", ") + ")");
    },
  };
}

/** `thpemu run FILE`: the exit status. */
export async function runFile(file: string, opts: RunCliOptions, io: CliIO): Promise<number> {
  const err = (msg: string) => writeLine(io.stderr, msg);

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
    m = await Machine.create({ ...machine, memory: opts.memory, scheme: opts.scheme, smaps: opts.smaps });
  } catch (e) {
    if (e instanceof UserError) { err(`thpemu: ${e.message}`); return EXIT_SCENARIO; }
    throw e;
  }

  // the --proc directory must be writable before anything runs
  if (opts.proc !== undefined) {
    const why = prepareProcDir(opts.proc);
    if (why) { err(`thpemu: --proc ${opts.proc}: ${why}`); return EXIT_SCENARIO; }
  }
  let dumps = 0;

  // 4. each operation in turn; its output is written before the next one runs
  const out = new Sink(io.stdout);
  // the table formatter is loaded only for --format table
  const enc = opts.format === "table" ? undefined : new JsonlEncoder();
  const writer = enc ? jsonlWriter(out, enc) : tableWriter(out, text, await import("../scenario/table.js"));
  let status = EXIT_OK;
  try {
    for (const op of ops) {
      if (out.closed) break;
      const recs: ObservationRecord[] = [];
      let failure: unknown;
      try {
        runOps(m, [op], enc ? { file: name, check: opts.check, jsonl: enc } : { file: name, check: opts.check, onRecord: (r) => { recs.push(r); } });
      } catch (e) {
        failure = e;
      }
      if (failure === undefined && op.op === "dump" && opts.proc !== undefined) {
        dumps++;
        const why = writeProcTree(opts.proc, String(dumps), m.procfs());
        if (why) {
          await out.flush();
          err(`thpemu: --proc ${opts.proc}: ${why}`);
          status = EXIT_SCENARIO;
          break;
        }
      }
      await writer.op(op, recs, failure instanceof ScenarioError);
      if (failure !== undefined) {
        await out.flush();
        if (failure instanceof ScenarioError) { err(shorten(failure.message)); status = EXIT_SCENARIO; }
        else if (failure instanceof InvariantError) { err(failure.message); status = EXIT_INVARIANT; }
        else throw failure;
        break;
      }
    }
    if (status === EXIT_OK && !out.closed) await writer.end();
    if (opts.stats && status === EXIT_OK && !out.closed) {
      const { statsRecord } = await import("../scenario/compare.js");
      await writer.stats(statsRecord(m));
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

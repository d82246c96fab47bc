// Running a scenario on a Machine: each operation in order, errors turned
// into `FILE:LINE: message`, and (with `check`) the invariant checker after
// every operation.
import { Machine, type MachineOptions, UserError, InternalError } from "../machine.js";
import type { ObservationRecord } from "./records.js";
import { parseScenario, ScenarioError, type Op } from "./parse.js";
import { OPERATIONS, type OpSpec } from "./ops.js";
import type { JsonlEncoder } from "./jsonl.js";

export interface RunOptions extends MachineOptions {
  /** File name used in error messages. */
  file?: string;
  /** Run the invariant checker after every operation. */
  check?: boolean;
  /** Called with each record as it is produced (streaming). */
  onRecord?: (r: ObservationRecord) => void;
  /**
   * Write every record's JSONL line into this encoder instead (a dump's
   * page records without an object apiece: Machine.observeEach); nothing
   * is returned or passed to `onRecord`. An operation that fails writes
   * nothing; records of one whose invariant check fails stay written.
   */
  jsonl?: JsonlEncoder;
}

/** The invariant checker found the emulator inconsistent (CLI exit status 3). */
export class InvariantError extends Error {
  constructor(readonly file: string, readonly line: number, readonly violations: string[]) {
    super(`${file}:${line}: invariant violation after this operation:\n  ${violations.join("\n  ")}`);
  }
}

/** Apply one parsed operation to a machine (the operation table's `apply`); returns the records it produced. */
export function applyOp(m: Machine, op: Op): ObservationRecord[] {
  return (OPERATIONS[op.op] as OpSpec<Op>).apply(m, op) ?? [];
}

/** Options from JavaScript may be anything: a wrong type is a ScenarioError at line 0, before anything runs. */
function checkRunOptions(opts: RunOptions): void {
  if (opts === null || typeof opts !== "object") throw new ScenarioError("<scenario>", 0, `run options must be an object`);
  const file = opts.file ?? "<scenario>";
  if (typeof file !== "string") throw new ScenarioError("<scenario>", 0, `option 'file' must be a string`);
  if (opts.onRecord !== undefined && typeof opts.onRecord !== "function") throw new ScenarioError(file, 0, `option 'onRecord' must be a function`);
}

/** Run parsed operations on `m`, streaming records; errors carry file and line. */
export function runOps(m: Machine, ops: Op[], opts: RunOptions = {}): ObservationRecord[] {
  const file = opts.file ?? "<scenario>";
  const out: ObservationRecord[] = [];
  for (const op of ops) {
    let recs: ObservationRecord[];
    const mark = opts.jsonl?.mark();
    try {
      if (opts.jsonl && op.op === "dump") { m.observeEach(op.label, opts.jsonl); recs = []; }
      else recs = applyOp(m, op);
    } catch (err) {
      if (mark) opts.jsonl!.rollback(mark);
      if (err instanceof UserError) throw new ScenarioError(file, op.line, err.message);
      // an emulator bug (a trap in the core, a bad page, a BUG: check): an invariant violation
      if (err instanceof InternalError) throw new InvariantError(file, op.line, [err.message]);
      if (err instanceof RangeError) throw new InvariantError(file, op.line, [`internal error: ${err.message}`]);
      throw err;
    }
    if (opts.jsonl) for (const r of recs) opts.jsonl.record(r);
    else for (const r of recs) { out.push(r); opts.onRecord?.(r); }
    if (opts.check) {
      const v = m.check();
      if (v.length) throw new InvariantError(file, op.line, v);
    }
  }
  return out;
}

/**
 * Run a scenario text and resolve to its records (the objects the CLI prints
 * as JSONL). Rejects with a ScenarioError (`FILE:LINE: message`) or an
 * InvariantError.
 */
export async function runScenario(text: string, opts: RunOptions = {}): Promise<ObservationRecord[]> {
  checkRunOptions(opts);
  const ops = parseScenario(text, opts.file);
  let m: Machine;
  try {
    m = await Machine.create(opts);
  } catch (err) {
    if (err instanceof UserError) throw new ScenarioError(opts.file ?? "<scenario>", 0, err.message);
    throw err;
  }
  return runOps(m, ops, opts);
}

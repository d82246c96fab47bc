// The web page's scenario session, without the DOM: the scenario text and
// machine settings the user chose, the Machine they run on, and where the
// run stands (the next operation, the last one run, the last dump and
// inspect, the selected frame, the error). The page (web/main.ts) only
// forwards clicks to it and redraws from its state, so everything here can
// be exercised in Node (test/web-session.test.ts).
import { Machine, UserError, ScenarioError, parseScenario, applyOp } from "../src/index.js";
import type { KernelName, SchemeName, Op, ObservationRecord, InspectRecord, PageRecord, RegionRecord } from "../src/index.js";

/** What Machine.create gets: the page's Kernel, Memory and Scheme selectors. */
export interface MachineSettings {
  kernel: KernelName;
  memory: number;
  /** undefined: the kernel's own scheme */
  scheme?: SchemeName;
}

/** An error to show: `line N: message`, or the message alone when `line` is 0 (not tied to a line). */
export interface SessionError {
  line: number;
  message: string;
}

/** The last `dump`: its number in this run (1-based), its label and its records (none without a live process). */
export interface DumpShown {
  dump: number;
  label: string | null;
  records: (PageRecord | RegionRecord)[];
}

/**
 * What Step, Run or Back did: `not-started` when the scenario does not parse
 * or no machine could be built (see `error`), `nothing-to-do` when there was
 * no operation to run or undo, `ran` otherwise (`error` tells whether an
 * operation failed; `ms` is how long the operations took, setup excluded).
 */
export type Outcome = { kind: "not-started" } | { kind: "nothing-to-do" } | { kind: "ran"; ms: number };

export class Session {
  private text: string;
  private _settings: MachineSettings;
  private _machine: Machine | null = null;
  private _ops: Op[] = [];
  private _pc = 0;
  private _stale = true;
  private _lastLine = 0;
  private dumps = 0;
  private _lastDump: DumpShown | null = null;
  private _lastInspect: InspectRecord | null = null;
  private _selected: number | null = null;
  private _error: SessionError | null = null;

  constructor(settings: MachineSettings, text = "") {
    this._settings = { ...settings };
    this.text = text;
  }

  /** The machine the operations ran on (null before the first successful reset). */
  get machine(): Machine | null { return this._machine; }
  get settings(): Readonly<MachineSettings> { return this._settings; }
  /** The parsed operations of the text at the last reset. */
  get ops(): readonly Op[] { return this._ops; }
  /** Index of the next operation to run; equally, how many have run. */
  get pc(): number { return this._pc; }
  /** Every operation has run. */
  get done(): boolean { return this._pc >= this._ops.length; }
  /**
   * The text or the settings changed since the last reset: the machine no
   * longer belongs to them, so Step and Run start over and Back has nothing
   * to undo.
   */
  get stale(): boolean { return this._stale; }
  /** Line of the last operation run (or tried), 0 for none or when stale. */
  get currentLine(): number { return this._stale ? 0 : this._lastLine; }
  /** Line of the next operation, 0 when there is none or when stale. */
  get nextLine(): number { return !this._stale && !this.done ? this._ops[this._pc].line : 0; }
  get lastDump(): DumpShown | null { return this._lastDump; }
  /** The record of the last operation when it was an `inspect`, else null. */
  get lastInspect(): InspectRecord | null { return this._lastInspect; }
  /** The frame whose struct page is shown: clicked, or the one the last `inspect` looked at. */
  get selected(): number | null { return this._selected; }
  get error(): SessionError | null { return this._error; }

  /** New scenario text (typed or loaded): the next Run or Step starts over. */
  edit(text: string): void {
    this.text = text;
    this._stale = true;
    this._error = null;
  }

  /** New machine settings: the next reset builds a machine with them. */
  configure(settings: MachineSettings): void {
    this._settings = { ...settings };
    this._stale = true;
    this._error = null;
  }

  select(pfn: number | null): void { this._selected = pfn; }

  /** A fresh machine and the text parsed again, back before the first line; false (and `error` set) when that fails. */
  async reset(): Promise<boolean> {
    this._error = null;
    this._machine = null;
    this._ops = [];
    this._pc = 0;
    this._lastLine = 0;
    this.dumps = 0;
    this._lastDump = null;
    this._lastInspect = null;
    this._selected = null;
    try {
      this._ops = parseScenario(this.text, "scenario");
    } catch (err) {
      this._error = err instanceof ScenarioError ? { line: err.line, message: err.reason } : { line: 0, message: String(err) };
      this._stale = true;
      return false;
    }
    try {
      this._machine = await Machine.create({ ...this._settings });
    } catch (err) {
      this._error = { line: 0, message: (err as Error).message };
      return false;
    }
    this._stale = false;
    return true;
  }

  /** One operation. A finished, failed or stale run starts over from the first line. */
  async step(): Promise<Outcome> {
    if (!(await this.startOverIfNeeded())) return { kind: "not-started" };
    if (this.done) return { kind: "nothing-to-do" };
    const t0 = performance.now();
    this.stepOnce();
    return { kind: "ran", ms: performance.now() - t0 };
  }

  /** The rest of the scenario, up to its end or the first failing operation. A finished, failed or stale run starts over. */
  async run(): Promise<Outcome> {
    if (!(await this.startOverIfNeeded())) return { kind: "not-started" };
    const t0 = performance.now();
    while (!this.done && this.stepOnce()) { /* run on */ }
    return { kind: "ran", ms: performance.now() - t0 };
  }

  /**
   * One operation back; after a failed operation, Back only clears its
   * error. The machine has no undo, but a scenario is deterministic: a fresh
   * machine replaying the operations before the last one reaches exactly the
   * state the user saw one step earlier. The selected frame stays selected
   * unless the replay ends on an `inspect`, which selects its own.
   */
  async back(): Promise<Outcome> {
    if (this._stale || !this._machine || this._pc === 0) return { kind: "nothing-to-do" };
    const target = this._error ? this._pc : this._pc - 1;
    const keep = this._selected;
    if (!(await this.reset())) return { kind: "not-started" };
    const t0 = performance.now();
    while (this._pc < target && this.stepOnce()) { /* replay */ }
    if (keep !== null && this._lastInspect === null) this._selected = keep;
    return { kind: "ran", ms: performance.now() - t0 };
  }

  private async startOverIfNeeded(): Promise<boolean> {
    if (this._stale || !this._machine || this.done || this._error) return this.reset();
    return true;
  }

  /** Run the operation at pc; false (and `error` set, pc unchanged) when it failed: a failed operation changes nothing. */
  private stepOnce(): boolean {
    const op = this._ops[this._pc];
    let recs: ObservationRecord[];
    try {
      recs = applyOp(this._machine!, op);
    } catch (err) {
      // a UserError is the scenario's fault; anything else is the emulator's
      const message = err instanceof UserError ? err.message : `internal error: ${(err as Error).message}`;
      this._lastLine = op.line;
      this._error = { line: op.line, message };
      return false;
    }
    this._pc++;
    this._lastLine = op.line;
    if (op.op === "dump") {
      this._lastDump = { dump: ++this.dumps, label: op.label, records: recs as (PageRecord | RegionRecord)[] };
    }
    if (op.op === "inspect") {
      this._lastInspect = recs[0] as InspectRecord;
      this._selected = this._lastInspect.pfn;
    } else this._lastInspect = null;
    return true;
  }
}

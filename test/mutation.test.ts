// The mutation fuzzer: valid scenarios (the examples, a state with every kind
// of mapping, the fuzz generator's) corrupted by test/mutate.ts, and the
// public API called with values of the wrong JavaScript type, in-process
// through the parser, the runner and Machine (for volume: over 10^5 inputs
// per `npm test`); test/mutation-cli.test.ts sends a few hundred through the
// real `thpemu run` binary.
// The only outcomes allowed:
//  - success (and the invariant checker agrees with the result), or
//  - a `FILE:LINE: message` error (a ScenarioError from the parser or the
//    runner, a UserError from Machine; exit status 2 from the CLI) and the
//    state exactly as it was before the failing line or call: the core's
//    memory byte for byte, the processes, knobs and counters (a replay of
//    the lines before it on a fresh machine is compared with the machine
//    after the failure).
// Never a WebAssembly trap, a TypeError, a stack trace, an invariant
// violation or a hang (the CLI's children are killed after a timeout).
// Seeded; a failure names the seed, the mutant number and the input.
import { describe, it, expect } from "vitest";
import { Machine, UserError } from "../src/machine.js";
import { parseScenario, ScenarioError, type Op } from "../src/scenario/parse.js";
import { runOps, runScenario } from "../src/scenario/run.js";
import type { KernelName } from "../src/profiles.js";
import type { Snapshot } from "../src/snapshot.js";
import { mulberry32, mutate, hugeLine, NASTY_NAMES, RICH, corpus, show, type Rng } from "./mutate.js";
import { M } from "./helpers.js";

const SEED = Number(process.env.THPEMU_MUTATION_SEED ?? 20261129);
/** Scenario mutants through the parser alone (microseconds each: the volume). */
const PARSE_MUTANTS = Number(process.env.THPEMU_PARSE_MUTANTS ?? 90_000);
/** Scenario mutants through parser and runner per `it` (four of them; a machine each). */
const TEXT_MUTANTS = Number(process.env.THPEMU_MUTANTS ?? 2500);
const API_CALLS = Number(process.env.THPEMU_API_MUTANTS ?? 8000);
const MEMORY = 32 * M;
const FILE = "m.scn";

// ---- the oracle -------------------------------------------------------------------------
/** Two snapshots of equal state: the same host state and the same core memory (a grown memory's tail is unused). */
function sameState(a: Snapshot, b: Snapshot): string | null {
  const n = Math.min(a.memory.length, b.memory.length);
  if (Buffer.compare(Buffer.from(a.memory.buffer, a.memory.byteOffset, n), Buffer.from(b.memory.buffer, b.memory.byteOffset, n)) !== 0) {
    let i = 0;
    while (a.memory[i] === b.memory[i]) i++;
    return `core memory differs (first at byte 0x${i.toString(16)})`;
  }
  for (const k of ["procs", "deposits", "nextMmId", "nextAnonVma", "dumps", "knobs"] as const) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} differs`;
  }
  return null;
}

/**
 * What is wrong with the outcome of one scenario text (null: nothing). A
 * fresh machine each time (1 ms at 32 MiB); reusing one through snapshots
 * would carry a grown memory (page-table pool) from mutant to mutant and
 * make every later snapshot slow.
 */
async function checkText(text: string, kernel: KernelName): Promise<string | null> {
  let ops: Op[];
  try {
    ops = parseScenario(text, FILE);
  } catch (e) {
    return scenarioErrorProblem(e, text);
  }
  const m = await Machine.create({ kernel, memory: MEMORY });
  for (let i = 0; i < ops.length; i++) {
    try {
      runOps(m, [ops[i]], { file: FILE });
    } catch (e) {
      const p = scenarioErrorProblem(e, text, ops[i].line);
      if (p) return p;
      // the failing line changed nothing: the lines before it, replayed on a fresh machine, give the same state
      const fresh = await Machine.create({ kernel, memory: MEMORY });
      runOps(fresh, ops.slice(0, i), { file: FILE });
      const diff = sameState(m.snapshot(), fresh.snapshot());
      if (diff) return `line ${ops[i].line} failed (${(e as Error).message.slice(0, 200)}) but changed the state: ${diff}`;
      const v = m.check();
      return v.length ? `after the error: invariant violations: ${v.slice(0, 3).join("; ")}` : null;
    }
  }
  const v = m.check();
  return v.length ? `invariant violations: ${v.slice(0, 3).join("; ")}` : null;
}

/** A ScenarioError `m.scn:LINE: …` with LINE inside the text (at `line` when given), or what is wrong. */
function scenarioErrorProblem(e: unknown, text: string, line?: number): string | null {
  if (!(e instanceof ScenarioError)) return `not a ScenarioError: ${e instanceof Error ? e.stack : String(e)}`;
  const lines = text.split(/\r?\n/).length;
  if (e.file !== FILE || !e.message.startsWith(`${FILE}:${e.line}: `)) return `bad message: ${e.message.slice(0, 200)}`;
  if (e.line < 1 || e.line > lines) return `line ${e.line} outside 1 … ${lines}`;
  if (line !== undefined && e.line !== line) return `error at line ${e.line}, the failing operation is at ${line}`;
  if (/\n\s+at /.test(e.message)) return `a stack trace in the message`;
  return null;
}


// ---- scenario mutants, in-process ---------------------------------------------------------
describe("mutated scenarios through the parser and the runner: success, or FILE:LINE: with the state unchanged", () => {
  it(`${PARSE_MUTANTS} mutants through the parser (seed ${SEED}): the ops, or a ScenarioError naming a line of the text`, () => {
    const bases = corpus("linux-6.18", SEED);
    const r = mulberry32(SEED - 1);
    let parsed = 0;
    for (let i = 0; i < PARSE_MUTANTS; i++) {
      const text = mutate(bases[r() % bases.length], r);
      let p: string | null = null;
      try { parseScenario(text, FILE); parsed++; } catch (e) { p = scenarioErrorProblem(e, text); }
      if (p) throw new Error(`parser mutant ${i} (seed ${SEED}): ${p}\ninput: ${show(text)}`);
    }
    // both outcomes occur (a mutator that only ever breaks the syntax would not reach the runner)
    expect(parsed).toBeGreaterThan(PARSE_MUTANTS / 10);
    expect(parsed).toBeLessThan(PARSE_MUTANTS);
  }, 300_000);

  for (const [part, kernel] of [[0, "linux-6.18"], [1, "linux-6.18"], [2, "linux-4.5"], [3, "linux-6.18"]] as [number, KernelName][]) {
    it(`${TEXT_MUTANTS} mutants through the runner (seed ${SEED}, part ${part}, ${kernel})`, async () => {
      const bases = corpus(kernel, SEED);
      const r = mulberry32(SEED + part * 7919);
      for (let i = 0; i < TEXT_MUTANTS; i++) {
        const base = bases[r() % bases.length];
        const text = i % 1000 === 999 ? hugeLine(base, r) : mutate(base, r);
        const p = await checkText(text, kernel);
        if (p) throw new Error(`mutant ${i} (seed ${SEED}, part ${part}, ${kernel}): ${p}\ninput: ${show(text)}`);
      }
    }, 300_000);
  }

  it("files of 10^6 lines: blank and comment lines, a million dumps, a million spawns (out of memory at some line, rolled back)", async () => {
    const N = 1_000_000;
    const cases: [string, string][] = [
      ["blank", "\n".repeat(N)],
      ["comments and dumps", Array.from({ length: N }, (_, i) => (i % 2 ? "# c" : "dump")).join("\n")],
      ["spawns", Array.from({ length: N }, (_, i) => `spawn p${i}`).join("\n")],
      ["a bad last line", "dump\n".repeat(N - 1) + "dump two words"],
    ];
    for (const [name, text] of cases) {
      const p = await checkText(text, "linux-6.18");
      if (p) throw new Error(`${name}: ${p}`);
    }
  }, 300_000);
});

// ---- the API with the wrong JavaScript types ------------------------------------------------
const WRONG: unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -0, 0, -4096, 4096.5, 1e300, 2 ** 53, 2 ** 64, 4096, 2 * M, "4096", "2M", "", "P", "buf",
  true, false, {}, [], [4096], ["P"], Symbol("x"), 10n, () => "P", { toString: () => "P" }, { valueOf: () => 4096 },
  Object.create(null), new String("P"), new Number(4096), "thp", "write", "read", "none", "r", "rw", "dontneed", "collapse",
  "enabled", "always", "hugepages-64kB/enabled", ...NASTY_NAMES,
];
/** Machine methods and a valid argument for each position (of RICH's state). */
const METHODS: [string, unknown[]][] = [
  ["spawn", ["N"]], ["mmap", ["P", "nb", 2 * M, "thp"]], ["touch", ["P", "buf", 0, 4096, "write"]], ["fork", ["P", "C"]],
  ["exit", ["Q"]], ["munmap", ["P", "buf", 0, 4096]], ["mprotect", ["P", "buf", 0, 4096, "r"]], ["madvise", ["P", "buf", 0, 2 * M, "dontneed"]],
  ["split", ["P", "buf", 0, 4096]], ["shrink", []], ["sysfs", ["enabled", "always"]], ["observe", ["x"]], ["inspect", ["P", "buf", 0]],
  ["headPfn", [1]], ["pageMapcount", [1]], ["pageTablePages", ["P"]], ["check", []], ["costs", []], ["freeFrames", []], ["liveProcesses", []],
];

describe("the API called with values of the wrong type: success, or a UserError with the state unchanged", () => {
  it(`${API_CALLS} Machine method calls (seed ${SEED})`, async () => {
    const r: Rng = mulberry32(SEED ^ 0x5bd1e995);
    const m = await Machine.create({ memory: MEMORY });
    runOps(m, parseScenario(RICH, FILE), { file: FILE });
    const base = m.snapshot();
    let userErrors = 0;
    for (let i = 0; i < API_CALLS; i++) {
      const [name, valid] = METHODS[r() % METHODS.length];
      // each argument: the valid one, or (at least one of them) a wrong one
      const args = valid.map((v) => (r() % 3 === 0 ? WRONG[r() % WRONG.length] : v));
      if (valid.length && args.every((a, j) => a === valid[j])) args[r() % args.length] = WRONG[r() % WRONG.length];
      if (r() % 8 === 0) args.push(WRONG[r() % WRONG.length]); // one too many
      const what = () => `call ${i} (seed ${SEED}): m.${name}(${args.map((a) => (typeof a === "symbol" || typeof a === "bigint" ? String(a) : typeof a === "function" ? "fn" : JSON.stringify(a) ?? "undefined")).join(", ")})`;
      try {
        (m as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
      } catch (e) {
        if (!(e instanceof UserError)) throw new Error(`${what()}: not a UserError: ${e instanceof Error ? e.stack : String(e)}`);
        userErrors++;
        const diff = sameState(base, m.snapshot());
        if (diff) throw new Error(`${what()}: failed (${e.message}) but changed the state: ${diff}`);
        continue;
      }
      const v = m.check();
      if (v.length) throw new Error(`${what()}: invariant violations: ${v.slice(0, 3).join("; ")}`);
      m.restore(base);
    }
    expect(userErrors).toBeGreaterThan(API_CALLS / 2);
  }, 300_000);

  it("Machine.create and runScenario with wrong options or a text that is not a string: a UserError / ScenarioError", async () => {
    const r: Rng = mulberry32(SEED + 1);
    const keys = ["kernel", "memory", "scheme", "knobs", "quirks", "debugCore", "file", "check", "onRecord"];
    for (let i = 0; i < 600; i++) {
      const opts: Record<string, unknown> = {};
      for (const k of keys) if (r() % 3 === 0) opts[k] = WRONG[r() % WRONG.length];
      const asOpts = r() % 20 === 0 ? WRONG[r() % WRONG.length] : opts;
      const text = r() % 4 === 0 ? WRONG[r() % WRONG.length] : "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\ndump";
      const what = `call ${i} (seed ${SEED}): runScenario(${typeof text === "string" ? "a scenario" : typeof text}, ${typeof asOpts === "object" && asOpts ? `{${Object.keys(asOpts).join(", ")}}` : typeof asOpts})`;
      try {
        // debugCore loads the other build: fine, but slow; memory is kept small when it is valid
        await runScenario(text as string, { ...(asOpts as object), ...(typeof (asOpts as { memory?: unknown })?.memory === "number" ? { memory: MEMORY } : {}) } as never);
      } catch (e) {
        if (!(e instanceof ScenarioError)) throw new Error(`${what}: not a ScenarioError: ${e instanceof Error ? e.stack : String(e)}`);
      }
      try {
        // a machine of 32 MiB where the options leave the size open (4 GiB takes 100 ms to build)
        await Machine.create((asOpts !== null && typeof asOpts === "object" ? { memory: MEMORY, ...asOpts } : asOpts) as never);
      } catch (e) {
        if (!(e instanceof UserError)) throw new Error(`Machine.create ${what}: not a UserError: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }, 300_000);
});

// ---- what the mutation fuzzer found, one regression test each ----------------------------------
describe("regressions found by the mutation fuzzer", () => {
  const rich = async () => { const m = await Machine.create({ memory: MEMORY }); runOps(m, parseScenario(RICH, FILE), { file: FILE }); return m; };
  /** `f` throws a UserError matching `msg` and changes nothing. */
  const rejects = (m: Machine, f: () => unknown, msg: RegExp) => {
    const before = m.snapshot();
    let err: unknown;
    try { f(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(msg);
    expect(sameState(before, m.snapshot())).toBeNull();
  };

  it("runScenario / parseScenario of a text that is not a string: a ScenarioError at line 0, not a TypeError", async () => {
    for (const t of [123, null, undefined, {}, Buffer.from("spawn p")]) {
      await expect(runScenario(t as never)).rejects.toThrow(ScenarioError);
      expect(() => parseScenario(t as never, "x.scn")).toThrow(/^x\.scn:0: a scenario must be a string/);
    }
  });

  it("runScenario with an onRecord that is not a function (or a file that is not a string): refused before anything runs", async () => {
    await expect(runScenario("spawn p\ndump", { onRecord: 5 as never })).rejects.toThrow(/^<scenario>:0: option 'onRecord' must be a function/);
    await expect(runScenario("spawn p", { file: {} as never })).rejects.toThrow(/option 'file' must be a string/);
    await expect(runScenario("spawn p", null as never)).rejects.toThrow(ScenarioError);
  });

  it("Machine.create: a kernel named after an Object property (toString, constructor) is unknown; options that are not objects are UserErrors", async () => {
    for (const kernel of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      await expect(Machine.create({ kernel: kernel as never, scheme: "large" })).rejects.toThrow(/unknown kernel profile/);
    }
    for (const o of [null, "x", 5]) await expect(Machine.create(o as never)).rejects.toThrow(/machine options must be an object/);
    await expect(Machine.create({ knobs: "enabled" as never })).rejects.toThrow(/'knobs' must be an object/);
    await expect(Machine.create({ quirks: null as never })).rejects.toThrow(/'quirks' must be an object/);
    await expect(Machine.create({ scheme: Symbol("s") as never })).rejects.toThrow(/unknown mapcount scheme 'Symbol\(s\)'/);
  });

  it("touch with an unknown access mode, mmap with an unknown advice, madvise with an unknown advice over LEN 0: refused (they ran as read / no advice / a no-op)", async () => {
    const m = await rich();
    rejects(m, () => m.touch("P", "small", 0, 4096, "exec" as never), /unknown access mode 'exec'/);
    rejects(m, () => m.mmap("P", "nb", 4096, "bogus" as never), /unknown mmap advice 'bogus'/);
    rejects(m, () => m.madvise("P", "buf", 0, 0, "free" as never), /unknown madvise advice 'free'/);
  });

  it("names that are not strings are refused (spawn(undefined) made a process called 'undefined')", async () => {
    const m = await rich();
    rejects(m, () => m.spawn(undefined as never), /invalid process name 'undefined'/);
    rejects(m, () => m.fork("P", null as never), /invalid process name 'null'/);
    rejects(m, () => m.mmap("P", 7 as never, 4096), /invalid region name '7'/);
    rejects(m, () => m.touch(new String("P") as never, "buf", 0, 4096), /unknown process 'P'/);
    rejects(m, () => m.exit({ toString: () => "Q" } as never), /unknown process 'Q'/);
  });

  it("a number of the wrong type says so (a string offset '4096' was 'not a multiple of 4 KiB')", async () => {
    const m = await rich();
    rejects(m, () => m.touch("P", "buf", "4096" as never, 4096), /offset must be a number of bytes, not string/);
    rejects(m, () => m.mmap("P", "nb", 4096n as never), /size must be a number of bytes, not bigint/);
    rejects(m, () => m.munmap("P", "buf", 0, { valueOf: () => 4096 } as never), /length must be a number of bytes, not object/);
  });

  it("a dump label that is not a string or null is refused", async () => {
    const m = await rich();
    rejects(m, () => m.observe({ a: 1 } as never), /dump label must be a string or null/);
  });

  it("pageMapcount / headPfn of a frame that does not exist: a UserError, not a WebAssembly trap (or frame 0 for NaN)", async () => {
    const m = await rich();
    for (const pfn of [1e12, -1, NaN, m.core.frames, 1.5, "1"]) {
      rejects(m, () => m.pageMapcount(pfn as never), /frame .* does not exist/);
      rejects(m, () => m.headPfn(pfn as never), /frame .* does not exist/);
    }
    expect(m.headPfn(m.core.frames - 1)).toBeGreaterThanOrEqual(0);
  });

  it("values whose String() throws (Object.create(null), a throwing toString) still give a UserError", async () => {
    const m = await rich();
    const evil = { toString() { throw new Error("no"); } };
    for (const v of [Object.create(null), evil]) {
      rejects(m, () => m.munmap(v, "buf", 0, 4096), /unknown process '\[object Object\]'/);
      rejects(m, () => m.sysfs("enabled", v), /bad value '\[object Object\]'/);
      rejects(m, () => m.mprotect("P", "buf", 0, 4096, v), /unknown protection/);
      await expect(Machine.create({ kernel: v })).rejects.toThrow(UserError);
    }
  });

  it("a number token of a million digits is refused at once (BigInt of it took about a second)", () => {
    const t = "9".repeat(1_000_000);
    expect(() => parseScenario(`spawn p\nmmap p A ${t}`, "x.scn")).toThrow(/^x\.scn:2: size '9+' is too large/);
    expect(() => parseScenario(`spawn p\nmmap p A 0x${"f".repeat(70)}K`, "x.scn")).toThrow(/too large/);
    // 64 characters are still read as a number (and found too large by value)
    expect(() => parseScenario(`spawn p\nmmap p A ${"0".repeat(60)}4096`, "x.scn")).not.toThrow();
  });
});

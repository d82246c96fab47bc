// The web page's Session (web/session.ts) in Node, without a browser: Step,
// Run, Back (a replay on a fresh machine), Reset and the errors, each checked
// against a Machine that runs the same operations directly. The page draws
// everything from this state, so what holds here holds for what it shows
// (test/browser.test.ts checks the drawing itself).
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Session, type MachineSettings } from "../web/session.js";
import {
  Machine, parseScenario, applyOp, runScenario, ScenarioError, pageTableTree, frameKind, frameRecord, usedFrameLimit,
  type ObservationRecord, type Op,
} from "../src/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SEED = fs.readFileSync(path.join(ROOT, "examples/seed-doublemap.scn"), "utf8");
const SEED_OPS = parseScenario(SEED);
// 256 MiB: fast to create, ample for these scenarios
const SETTINGS: MachineSettings = { kernel: "linux-4.5", memory: 256 << 20 };

/**
 * Everything the page can show of a machine: the knobs, each live process
 * with its regions and page tables, and the struct page of every used frame.
 */
function stateOf(m: Machine): unknown {
  const trees = new Map(m.liveProcesses().map((p) => [p, pageTableTree(m, p)!] as const));
  const frames: unknown[] = [];
  for (let pfn = 0, limit = usedFrameLimit(m); pfn < limit; pfn++) {
    frames.push(frameKind(m, pfn) === "free" ? "free" : frameRecord(m, pfn, trees));
  }
  const procs = [...trees].map(([p, tree]) => ({ name: p.name, regions: [...p.regions.values()], tree }));
  return { knobs: m.knobs, procs, frames };
}

/** A fresh machine that ran the first `n` operations of `ops` directly, and what the last one returned. */
async function direct(ops: readonly Op[], n: number, settings = SETTINGS): Promise<{ m: Machine; last: ObservationRecord[] }> {
  const m = await Machine.create(settings);
  let last: ObservationRecord[] = [];
  for (const op of ops.slice(0, n)) last = applyOp(m, op);
  return { m, last };
}

/** Step `session` until `pc` is `n`. */
async function stepTo(session: Session, n: number): Promise<void> {
  while (session.pc < n) expect((await session.step()).kind).toBe("ran");
}

const indexOf = (pred: (op: Op) => boolean) => SEED_OPS.findIndex(pred);

describe("the web page's Session", () => {
  it("steps through the seed scenario exactly as a Machine run directly", async () => {
    const session = new Session(SETTINGS, SEED);
    const twin = await Machine.create(SETTINGS);
    expect(await session.reset()).toBe(true);
    expect(session.stale).toBe(false);
    expect(session.nextLine).toBe(SEED_OPS[0].line);
    expect(stateOf(session.machine!)).toEqual(stateOf(twin));
    let dumps = 0;
    for (const [i, op] of SEED_OPS.entries()) {
      expect(await session.step()).toMatchObject({ kind: "ran" });
      const recs = applyOp(twin, op);
      expect(session.error).toBeNull();
      expect(session.pc).toBe(i + 1);
      expect(session.currentLine).toBe(op.line);
      expect(session.nextLine).toBe(SEED_OPS[i + 1]?.line ?? 0);
      expect(stateOf(session.machine!), `after line ${op.line} (${op.op})`).toEqual(stateOf(twin));
      if (op.op === "dump") {
        expect(session.lastDump).toEqual({ dump: ++dumps, label: op.label, records: recs });
      }
      if (op.op === "inspect") {
        expect(session.lastInspect).toEqual(recs[0]);
        expect(session.selected).toBe(twin.inspect(op.proc, op.region, op.off).pfn);
      } else expect(session.lastInspect).toBeNull();
    }
    expect(session.done).toBe(true);
    // the same records as the CLI's run
    expect(session.lastDump!.records).toEqual((await runScenario(SEED, SETTINGS)).filter((r) => r.type !== "inspect" && r.label === "unmapped"));
    // Step on a finished run starts over: a fresh machine, the first operation run
    expect(await session.step()).toMatchObject({ kind: "ran" });
    expect(session.pc).toBe(1);
    expect(stateOf(session.machine!)).toEqual(stateOf((await direct(SEED_OPS, 1)).m));
  });

  it("Run runs the rest; Back replays up to the operation before, keeping the selected frame", async () => {
    const session = new Session(SETTINGS, SEED);
    expect(await session.back()).toEqual({ kind: "nothing-to-do" }); // no machine yet
    const dumpPte = indexOf((o) => o.op === "dump" && o.label === "child-pte-mapped") + 1;
    await stepTo(session, dumpPte);
    const thp = session.machine!.inspect("parent", "buf", 4096).pfn;
    session.select(thp);
    expect(await session.back()).toMatchObject({ kind: "ran" });
    expect(session.pc).toBe(dumpPte - 1);
    expect(session.currentLine).toBe(SEED_OPS[dumpPte - 2].line);
    expect(session.selected).toBe(thp);
    expect(session.lastDump?.label).toBe("shared-by-two-pmds");
    expect(stateOf(session.machine!)).toEqual(stateOf((await direct(SEED_OPS, dumpPte - 1)).m));

    // a replay that ends on an `inspect` selects that inspect's frame, as stepping onto it did
    const inspectAt = indexOf((o) => o.op === "inspect" && o.line > SEED_OPS[dumpPte - 1].line) + 1;
    await stepTo(session, inspectAt + 1);
    session.select(0);
    await session.back();
    expect(session.pc).toBe(inspectAt);
    const { m, last } = await direct(SEED_OPS, inspectAt);
    expect(session.lastInspect).toEqual(last[0]);
    expect(session.selected).toBe(last[0].type === "inspect" ? last[0].pfn : NaN);
    expect(stateOf(session.machine!)).toEqual(stateOf(m));

    // Run: to the end, as the CLI
    expect(await session.run()).toMatchObject({ kind: "ran" });
    expect(session.done).toBe(true);
    expect(session.error).toBeNull();
    expect(stateOf(session.machine!)).toEqual(stateOf((await direct(SEED_OPS, SEED_OPS.length)).m));
    // Back from the end, down to the first line
    for (let pc = SEED_OPS.length - 1; pc >= 0; pc--) {
      await session.back();
      expect(session.pc).toBe(pc);
    }
    expect(session.currentLine).toBe(0);
    expect(await session.back()).toEqual({ kind: "nothing-to-do" });
    expect(stateOf(session.machine!)).toEqual(stateOf(await Machine.create(SETTINGS)));
  });

  it("Reset: a fresh machine before the first line, nothing shown", async () => {
    const session = new Session({ kernel: "linux-6.18", memory: 256 << 20 }, "spawn p\nsysfs use_zero_page 0\nmmap p A 2M thp\ntouch p A 0 2M\ndump\ninspect p A 0\n");
    await session.run();
    expect(session.machine!.knobs.use_zero_page).toBe(0);
    expect(session.selected).not.toBeNull();
    expect(await session.reset()).toBe(true);
    expect([session.pc, session.currentLine, session.nextLine]).toEqual([0, 0, 1]);
    expect([session.lastDump, session.lastInspect, session.selected, session.error]).toEqual([null, null, null, null]);
    const fresh = await Machine.create({ kernel: "linux-6.18", memory: 256 << 20 });
    expect(session.machine!.knobs).toEqual(fresh.profile.initialKnobs);
    expect(stateOf(session.machine!)).toEqual(stateOf(fresh));
  });

  it("a failing operation: `line N` and the machine's message, nothing changed; Back clears it, Step starts over", async () => {
    const text = "spawn p\nmmap p A 2M thp\n# a comment\ntouch p B 0 4K\ndump\n";
    const want = await runScenario(text, SETTINGS).catch((e: unknown) => e);
    expect(want).toBeInstanceOf(ScenarioError);
    const session = new Session(SETTINGS, text);
    expect(await session.run()).toMatchObject({ kind: "ran" });
    expect(session.error).toEqual({ line: (want as ScenarioError).line, message: (want as ScenarioError).reason });
    expect(session.error!.line).toBe(4);
    expect([session.pc, session.currentLine, session.done]).toEqual([2, 4, false]);
    expect(stateOf(session.machine!)).toEqual(stateOf((await direct(parseScenario(text), 2)).m));
    // Back after a failed operation only clears its error
    expect(await session.back()).toMatchObject({ kind: "ran" });
    expect([session.pc, session.error]).toEqual([2, null]);
    // Step runs it again and fails again; the next Step starts over from the first line
    await session.step();
    expect(session.error?.line).toBe(4);
    await session.step();
    expect([session.pc, session.currentLine, session.error]).toEqual([1, 1, null]);
  });

  it("a scenario that does not parse, or a machine that cannot be built, does not start", async () => {
    const session = new Session(SETTINGS, "spawn p\nmmap p A 2Q\n");
    const want = await runScenario("spawn p\nmmap p A 2Q\n").catch((e: unknown) => e) as ScenarioError;
    expect(await session.step()).toEqual({ kind: "not-started" });
    expect(session.error).toEqual({ line: 2, message: want.reason });
    expect([session.machine, session.stale, session.nextLine]).toEqual([null, true, 0]);
    session.configure({ ...SETTINGS, memory: 1000 });
    session.edit("spawn p\n");
    expect(session.error).toBeNull();
    expect(await session.run()).toEqual({ kind: "not-started" });
    expect(session.error).toEqual({ line: 0, message: expect.stringContaining("memory size") });
    // an empty scenario starts, with nothing to run
    session.configure(SETTINGS);
    session.edit("# nothing\n");
    expect(await session.step()).toEqual({ kind: "nothing-to-do" });
    expect([session.done, session.error]).toEqual([true, null]);
  });

  it("an edit or new settings make the run stale: Back has nothing to undo, Step starts the new text over", async () => {
    const session = new Session(SETTINGS, SEED);
    await stepTo(session, 3);
    session.edit("spawn q\nmmap q B 4K\n");
    expect([session.stale, session.currentLine, session.nextLine]).toEqual([true, 0, 0]);
    expect(session.machine).not.toBeNull(); // the views keep showing the old machine until the next run
    expect(await session.back()).toEqual({ kind: "nothing-to-do" });
    await session.step();
    expect([session.pc, session.currentLine, session.nextLine]).toEqual([1, 1, 2]);
    expect(session.machine!.liveProcesses().map((p) => p.name)).toEqual(["q"]);
    session.configure({ ...SETTINGS, scheme: "large" });
    expect(session.stale).toBe(true);
    await session.run();
    expect(session.machine!.scheme).toBe("large");
    expect(session.machine!.profile.name).toBe("linux-4.5");
  });
});

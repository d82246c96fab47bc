// Every error class of the scenario format gives a ScenarioError carrying the
// right line, and a failed operation changes nothing: the observation (with
// the dump ordinal renumbered), the checker's verdict and the free frames are
// the same before and after.
import { describe, it, expect } from "vitest";
import type { Machine } from "../src/machine.js";
import { parseScenario, ScenarioError } from "../src/scenario/parse.js";
import { runOps, runScenario, InvariantError } from "../src/scenario/run.js";
import { InternalError } from "../src/errors.js";
import type { KernelName } from "../src/profiles.js";
import { machine, renumbered, runOn, EVERY_KIND, M, PAGE } from "./helpers.js";


async function baseMachine(kernel: KernelName = "linux-6.18", memory = 128 * M): Promise<Machine> {
  const m = await machine(kernel, memory);
  runOn(m, EVERY_KIND);
  return m;
}

interface State { obs: Record<string, unknown>[]; check: string[]; free: number; procs: string[]; hz: number; knobs: unknown }
function state(m: Machine): State {
  return {
    obs: renumbered(m.observe("s")),
    check: m.check(),
    free: m.core.nrFreePages(),
    procs: [...m.procs.values()].map((p) => `${p.name}:${p.alive}:${[...p.regions.keys()].join(",")}`),
    hz: m.core.hugeZeroRefcount,
    knobs: m.knobs,
  };
}

/**
 * Run `text` (the failing operation at its last non-blank line) on `m`;
 * expect a ScenarioError at `line` matching `msg`, and no change of state.
 */
function expectError(m: Machine, text: string, line: number, msg: RegExp): ScenarioError {
  const before = state(m);
  expect(before.check).toEqual([]);
  let err: unknown;
  try {
    runOps(m, parseScenario(text, "e.scn"), { file: "e.scn", check: true });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ScenarioError);
  const se = err as ScenarioError;
  expect(se.file).toBe("e.scn");
  expect(se.line).toBe(line);
  expect(se.message.startsWith(`e.scn:${line}: `)).toBe(true);
  expect(se.reason).toMatch(msg);
  const after = state(m);
  expect(after.check).toEqual([]);
  expect(after.free).toBe(before.free);
  expect(after.procs).toEqual(before.procs);
  expect(after.hz).toBe(before.hz);
  expect(after.knobs).toEqual(before.knobs);
  expect(after.obs).toEqual(before.obs);
  return se;
}

/** A syntax error is found by the parser: the whole scenario is refused with that line. */
async function expectSyntaxError(text: string, line: number, msg: RegExp): Promise<void> {
  expect(() => parseScenario(text, "s.scn")).toThrow(ScenarioError);
  try {
    parseScenario(text, "s.scn");
  } catch (e) {
    const se = e as ScenarioError;
    expect(se.line).toBe(line);
    expect(se.message).toMatch(new RegExp(`^s\\.scn:${line}: `));
    expect(se.reason).toMatch(msg);
  }
  await expect(runScenario(text, { file: "s.scn", memory: 64 * M })).rejects.toMatchObject({ line });
}

describe("syntax errors (found before anything runs)", () => {
  const cases: [string, string, number, RegExp][] = [
    ["missing argument", "spawn p\n\ntouch p A 0", 3, /number of arguments|usage/],
    ["extra argument", "spawn p q", 1, /number of arguments|usage/],
    ["bad number", "spawn p\nmmap p A 2X", 2, /invalid size/],
    ["negative number", "spawn p\nmmap p A 2M\ntouch p A -4K 4K", 3, /invalid offset/],
    ["bad process name", "spawn 1p", 1, /invalid process name/],
    ["name longer than 32", `spawn ${"a".repeat(33)}`, 1, /longer than 32/],
    ["bad region name", "spawn p\nmmap p A-B 4K", 2, /invalid region name/],
    ["upper-case keyword", "SPAWN p", 1, /unknown operation/],
    ["unknown mmap advice", "spawn p\nmmap p A 2M huge", 2, /unknown mmap advice/],
    ["unknown access mode", "spawn p\nmmap p A 2M\ntouch p A 0 4K exec", 3, /unknown access mode/],
    ["unknown protection", "spawn p\nmmap p A 2M\nmprotect p A 0 4K rwx", 3, /unknown protection/],
    ["unknown madvise advice", "spawn p\nmmap p A 2M\nmadvise p A 0 4K free", 3, /unknown madvise advice/],
    ["mmap size 0", "spawn p\n# comment\nmmap p A 0", 3, /greater than 0/],
    ["mmap size 0 in hex", "spawn p\nmmap p A 0x0K", 2, /greater than 0/],
    ["size not a multiple of 4 KiB", "spawn p\nmmap p A 5000", 2, /multiple of 4 KiB/],
    ["offset not a multiple of 4 KiB", "spawn p\nmmap p A 2M\ntouch p A 100 4K", 3, /multiple of 4 KiB/],
    ["length not a multiple of 4 KiB", "spawn p\nmmap p A 2M\nmunmap p A 0 0x1001", 3, /multiple of 4 KiB/],
    ["invalid character", "spawn p\nspawn q\u00e9", 2, /invalid character/],
    ["unknown sysfs knob", "spawn p\nsysfs defrag always", 2, /unknown sysfs knob 'defrag'/],
    ["sysfs knob path outside transparent_hugepage", "sysfs ../enabled always", 1, /unknown sysfs knob/],
    ["bad sysfs value", "spawn p\nsysfs enabled sometimes", 2, /bad value 'sometimes' for sysfs knob 'enabled' \(expected always, madvise, never\)/],
    ["inherit is not a value of the top-level enabled", "sysfs enabled inherit", 1, /bad value 'inherit'/],
    ["max_ptes_none above 511", "sysfs khugepaged/max_ptes_none 512", 1, /bad value '512'.*0 … 511/],
    ["max_ptes_none negative", "sysfs khugepaged/max_ptes_none -1", 1, /bad value '-1'/],
    ["use_zero_page 2", "sysfs use_zero_page 2", 1, /bad value '2'/],
    ["sysfs without a value", "sysfs enabled", 1, /usage: sysfs KNOB VALUE/],
    ["an mTHP size the kernel does not have", "sysfs hugepages-8kB/enabled always", 1, /unknown sysfs knob/],
  ];
  for (const [name, text, line, msg] of cases) {
    it(name, async () => { await expectSyntaxError(text, line, msg); });
  }
  it("an unknown operation is a syntax error with its line, even after valid lines", async () => {
    await expectSyntaxError("spawn p\nmmap p A 2M thp\n\n   frobnicate p\n", 4, /unknown operation 'frobnicate'/);
  });
  it("comments and blank lines are not operations; numbers take K/M/G and hex", () => {
    const ops = parseScenario("# x\n\n  spawn p # trailing\nmmap p A 0x10K\nmmap p B 1g nothp\nmmap p C 2m thp\n");
    expect(ops.map((o) => o.line)).toEqual([3, 4, 5, 6]);
    expect(ops.slice(1).map((o) => (o as { size: number }).size)).toEqual([16 * 1024, 1024 ** 3, 2 * M]);
  });
});

describe("run-time errors leave the state unchanged", () => {
  const cases: { name: string; text: string; line: number; msg: RegExp; kernel?: KernelName }[] = [
    { name: "unknown process", text: "# c\ntouch nobody buf 0 4K", line: 2, msg: /unknown process 'nobody'/ },
    { name: "exited process: touch", text: "touch Z buf 0 4K", line: 1, msg: /'Z' has exited/ },
    { name: "exited process: exit again", text: "\nexit Z", line: 2, msg: /'Z' has exited/ },
    { name: "exited process: fork from it", text: "fork Z Y", line: 1, msg: /'Z' has exited/ },
    { name: "exited process: mmap", text: "mmap Z X 2M", line: 1, msg: /'Z' has exited/ },
    { name: "unknown process: munmap", text: "munmap R buf 0 4K", line: 1, msg: /unknown process 'R'/ },
    { name: "unknown region", text: "\n\ntouch P nope 0 4K", line: 3, msg: /unknown region 'nope'/ },
    { name: "unknown region: madvise", text: "madvise Q nope 0 4K dontneed", line: 1, msg: /unknown region 'nope'/ },
    { name: "unknown region: split", text: "split Q zz 0 4K", line: 1, msg: /unknown region 'zz'/ },
    { name: "duplicate process (spawn)", text: "spawn Q", line: 1, msg: /already used/ },
    { name: "duplicate process (fork)", text: "fork P Q", line: 1, msg: /already used/ },
    { name: "process name of an exited process is never reused", text: "spawn Z", line: 1, msg: /already used/ },
    { name: "fork to the name of an exited process", text: "fork Q Z", line: 1, msg: /already used/ },
    { name: "duplicate region", text: "mmap P buf 2M", line: 1, msg: /already used/ },
    { name: "duplicate region in a forked child", text: "mmap Q small 4K", line: 1, msg: /already used/ },
    { name: "range outside the region: touch", text: "touch P small 60K 8K", line: 1, msg: /outside region 'small'/ },
    { name: "range outside the region: offset past the end", text: "touch P buf 4M 4K read", line: 1, msg: /outside region/ },
    { name: "range outside the region: munmap", text: "munmap P hz 0 4M", line: 1, msg: /outside region/ },
    { name: "range outside the region: mprotect", text: "mprotect Q buf 2M 0x201000 r", line: 1, msg: /outside region/ },
    { name: "range outside the region: madvise", text: "madvise P ro 1M 2M dontneed", line: 1, msg: /outside region/ },
    { name: "range outside the region: split", text: "split P buf 0 8M", line: 1, msg: /outside region/ },
    { name: "touch of an unmapped page", text: "touch P buf 2M 4K", line: 1, msg: /access error.*P buf offset 0x200000.*not mapped/ },
    { name: "touch of a range with an unmapped page in the middle (nothing faulted before it)", text: "madvise P buf 0 4M dontneed\ntouch P buf 0 4M", line: 2, msg: /offset 0x200000 is not mapped/ },
    { name: "read of a none page", text: "touch P nn 4K 4K read", line: 1, msg: /access error.*read of P nn offset 0x1000.*none/ },
    { name: "write of a none page", text: "touch P nn 0 4K write", line: 1, msg: /access error.*write of P nn offset 0x0.*none/ },
    { name: "none page inherited by the child", text: "touch Q nn 0 4K read", line: 1, msg: /access error.*Q nn offset 0x0/ },
    { name: "range that reaches into a none page", text: "mprotect P small 48K 4K none\ntouch P small 0 64K read", line: 2, msg: /offset 0xc000/ },
    { name: "write to an r page", text: "touch P ro 0 4K", line: 1, msg: /access error.*write of P ro offset 0x0.*\br\b/ },
    { name: "write to an r page after the PMD split", text: "touch Q buf 0 4K write", line: 1, msg: /access error.*write of Q buf offset 0x0/ },
    { name: "write into a range whose last page is r", text: "touch P ro 1M 1M\nmprotect P ro 0x1ff000 4K r\ntouch P ro 1M 1M", line: 3, msg: /offset 0x1ff000/ },
    { name: "collapse under linux-4.5", text: "madvise P buf 0 4M collapse", line: 1, msg: /MADV_COLLAPSE/, kernel: "linux-4.5" },
    { name: "a knob 4.5 did not have", text: "sysfs enabled never\nsysfs shrink_underused 0", line: 2, msg: /sysfs knob 'shrink_underused' does not exist in linux-4.5 \(it has enabled, use_zero_page\)/, kernel: "linux-4.5" },
    { name: "per-size knobs under linux-4.5", text: "sysfs hugepages-2048kB/enabled always", line: 1, msg: /does not exist in linux-4.5/, kernel: "linux-4.5" },
    { name: "max_ptes_none under linux-4.5", text: "sysfs khugepaged/max_ptes_none 0", line: 1, msg: /does not exist in linux-4.5/, kernel: "linux-4.5" },
    { name: "an mTHP size under linux-4.5", text: "sysfs hugepages-16kB/enabled never", line: 1, msg: /does not exist in linux-4.5/, kernel: "linux-4.5" },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.kernel ?? "linux-6.18"})`, async () => {
      const m = await baseMachine(c.kernel);
      // the lines before the failing one run first (their effects stay)
      const lines = c.text.split("\n");
      const failing = lines.length;
      if (lines.length > 1) runOn(m, lines.slice(0, -1).join("\n"));
      const padded = lines.map((l, i) => (i === failing - 1 ? l : "")).join("\n");
      expectError(m, padded, c.line, c.msg);
    });
  }

  it("access errors name the process, region and offset (also under linux-4.5)", async () => {
    const m = await baseMachine("linux-4.5");
    const e = expectError(m, "touch P ro 0x3000 4K", 1, /write/);
    expect(e.reason).toContain("P");
    expect(e.reason).toContain("ro");
    expect(e.reason).toContain("0x3000");
  });

  it("a failed operation in a scenario stops it: nothing after the error line runs", async () => {
    const text = "spawn p\nmmap p A 2M\ntouch p A 0 4K\ntouch p B 0 4K\ndump\n";
    await expect(runScenario(text, { file: "x.scn", memory: 64 * M })).rejects.toMatchObject({ line: 4, file: "x.scn" });
    const seen: unknown[] = [];
    const m = await machine();
    expect(() => runOps(m, parseScenario(text, "x.scn"), { file: "x.scn", onRecord: (r) => seen.push(r) })).toThrow(ScenarioError);
    expect(seen).toEqual([]);
  });

  it("LEN 0 is a no-op, not an error", async () => {
    const m = await baseMachine();
    const before = state(m);
    runOn(m, "touch P nn 0 0\nmunmap P buf 0 0\nmprotect P buf 0 0 none\nmadvise P buf 0 0 dontneed\nsplit P buf 0 0\ntouch P buf 4M 0");
    expect(state(m)).toEqual(before);
  });
});

describe("emulated out-of-memory", () => {
  for (const kernel of ["linux-6.18", "linux-4.5"] as KernelName[]) {
    it(`${kernel}: touching more than the machine has fails and rolls back to the state before the touch`, async () => {
      const m = await machine(kernel, 16 * M);
      runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 1M\nfork p c\nmmap p B 32M\ntouch p B 0 64K\nmmap p T 8M thp\ntouch p T 0 2M read");
      const free0 = m.core.nrFreePages();
      const se = expectError(m, "\n\ntouch p B 0 32M", 3, /out of memory/);
      expect(se.reason).toMatch(/out of memory/);
      expect(m.core.nrFreePages()).toBe(free0);
      // the machine is still usable: a touch that fits works
      runOn(m, "touch p B 64K 1M\ndump");
      expect(m.check()).toEqual([]);
    });

    it(`${kernel}: THP faults that run out of memory half-way roll back too`, async () => {
      const m = await machine(kernel, 16 * M);
      runOn(m, "spawn p\nmmap p A 32M thp");
      expectError(m, "touch p A 0 32M", 1, /out of memory/);
      // nothing was faulted: a later dump has no page records
      expect(m.observe().filter((r) => r.type === "page")).toEqual([]);
    });

    it(`${kernel}: fork without frames for the child's page tables fails and the child does not exist`, async () => {
      const m = await machine(kernel, 16 * M);
      runOn(m, "spawn p\nmmap p A 8M\ntouch p A 0 4K\ntouch p A 2M 4K\ntouch p A 4M 4K\ntouch p A 6M 4K");
      fill(m, 3); // the child needs a PGD, a PUD, a PMD and four PTE tables
      expect(m.core.nrFreePages()).toBeLessThanOrEqual(3);
      expectError(m, "fork p c", 1, /out of memory/);
      expect(m.procs.has("c")).toBe(false);
      // the name was not taken by the failed fork
      runOn(m, "exit filler\nfork p c");
      expect(m.procs.get("c")?.alive).toBe(true);
    });
  }

  it("linux-4.5: a COW of a shared PMD with no memory for any copy rolls back", async () => {
    const m = await machine("linux-4.5", 16 * M);
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M\nfork p c");
    fill(m, 0);
    if (m.core.nrFreePages() === 1) runOn(m, "spawn y");
    expect(m.core.nrFreePages()).toBe(0);
    expectError(m, "touch c A 0 4K", 1, /out of memory/);
    // with memory back, the same write copies the whole THP (4.5)
    runOn(m, "exit filler\ntouch c A 0 4K");
    expect(m.inspect("c", "A", 0).pfn).not.toBe(m.inspect("p", "A", 0).pfn);
    expect(m.inspect("c", "A", 0).order).toBe(9);
  });
});

/** Use up frames with order-0 pages of a process "filler" until at most `leave` are free. */
function fill(m: Machine, leave: number): void {
  runOn(m, `spawn filler\nmmap filler F ${m.core.nrFreePages() * PAGE} nothp`);
  for (let off = 0; m.core.nrFreePages() > leave; off += PAGE) {
    try { m.touch("filler", "F", off, PAGE); } catch { break; }
  }
}

describe("an emulator bug is an invariant violation, never a bare trap", () => {
  it("a WebAssembly trap in the core (here: a corrupted PMD pointing past mem_map) surfaces as InternalError, and as exit-3 InvariantError in a scenario", async () => {
    const m = await machine("linux-6.18", 64 * M);
    runOn(m, "spawn p\nmmap p A 2M thp\ntouch p A 0 2M");
    const p = m.procs.get("p")!;
    const pmd = m.k.pt.pmdOffset(p.mm, Math.floor(p.regions.get("A")!.start / (2 * M)), false);
    m.k.pt.set(pmd, m.k.pt.lo(pmd), 0xfffff); // PFN bits 32..51: far beyond the machine's memory
    expect(() => m.observe("x")).toThrow(InternalError);
    let err: unknown;
    try { runOps(m, parseScenario("dump bad", "t.scn"), { file: "t.scn" }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InvariantError);
    expect((err as InvariantError).message).toMatch(/^t\.scn:1: invariant violation after this operation:\n {2}internal error: the core trapped/);
  });
});

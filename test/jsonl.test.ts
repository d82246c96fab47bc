// The streaming JSONL path (scenario/jsonl.ts, Machine.observeEach, the
// CLI's Sink byte chunks) writes exactly the text of recordJson /
// JSON.stringify of the records Machine.observe returns.
import { describe, it, expect } from "vitest";
import { Writable } from "node:stream";
import { Machine, UserError } from "../src/machine.js";
import { parseScenario } from "../src/scenario/parse.js";
import { runOps } from "../src/scenario/run.js";
import { JsonlEncoder } from "../src/scenario/jsonl.js";
import { Sink } from "../src/cli/io.js";

const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString("utf8");
const objectsText = (recs: unknown[]) => recs.map((r) => JSON.stringify(r) + "\n").join("");

const SCENARIO = `
spawn p
mmap p A 4M thp
touch p A 0 8K read
touch p A 2M 2M write
mmap p B 1M nothp
touch p B 0 1M write
touch p B 0 64K read
fork p q
touch q A 2M 4K write
touch q B 4K 4K write
mmap p Z 64K nothp
touch p Z 0 64K read
dump after-fork
inspect q A 2M
dump two
munmap q A 2M 4K
dump
exit q
dump q"x
`;

async function both(scenario: string, opts: { smaps?: boolean } = {}): Promise<{ objects: string; streamed: string }> {
  const ops = parseScenario(scenario, "t.scn");
  const a = await Machine.create({ memory: 64 * 1024 * 1024, ...opts });
  const objects = objectsText(runOps(a, ops, { file: "t.scn", check: true }));
  const b = await Machine.create({ memory: 64 * 1024 * 1024, ...opts });
  const enc = new JsonlEncoder();
  expect(runOps(b, ops, { file: "t.scn", check: true, jsonl: enc })).toEqual([]);
  return { objects, streamed: text(enc.take()) };
}

describe("JsonlEncoder", () => {
  it("writes a dump's records byte for byte as JSON.stringify of Machine.observe's (THP, zero, hzero, labels, inspect)", async () => {
    const { objects, streamed } = await both(SCENARIO);
    expect(objects).toContain(`"folio":"hzero"`);
    expect(objects).toContain(`"folio":"zero"`);
    expect(objects).toContain(`"label":"q\\"x"`);
    expect(objects).toContain(`"type":"inspect"`);
    expect(streamed).toBe(objects);
  });

  it("writes labels and names JSON escapes (Machine.observeEach from the API)", async () => {
    const a = await Machine.create({ memory: 64 * 1024 * 1024 });
    a.spawn("p"); a.mmap("p", "r", 8192, "nothp"); a.touch("p", "r", 0, 8192, "write");
    const b = await Machine.create({ memory: 64 * 1024 * 1024 });
    b.spawn("p"); b.mmap("p", "r", 8192, "nothp"); b.touch("p", "r", 0, 8192, "write");
    for (const label of ["été-🙂", "tab\there", null]) {
      const enc = new JsonlEncoder();
      b.observeEach(label, enc);
      expect(text(enc.take())).toBe(objectsText(a.observe(label)));
    }
  });

  it("writes the region records' smaps too", async () => {
    const { objects, streamed } = await both(SCENARIO, { smaps: true });
    expect(objects).toContain(`"smaps":{`);
    expect(streamed).toBe(objects);
  });

  it("cuts chunks at record boundaries and writes integers of every size as JSON does", () => {
    const enc = new JsonlEncoder();
    const expected: string[] = [];
    const ints = [0, 1, 9, 10, 99, 100, 511, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3, -1, -10, -(2 ** 31), 123456789];
    enc.beginRegion(7, "l", "p", "r");
    for (let n = 0; n < 20000; n++) {
      const v = ints[n % ints.length], f = (n % 5) - 1;
      enc.page(v, f, n % 512, n % 10, v);
      expected.push(JSON.stringify({ type: "page", dump: 7, label: "l", proc: "p", region: "r", page: v,
        folio: f === 0 ? "zero" : f === -1 ? "hzero" : `F${f}`, index: n % 512, order: n % 10, mapcount: v }) + "\n");
    }
    const chunks = enc.take();
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c[c.length - 1]).toBe(0x0a);
    expect(text(chunks)).toBe(expected.join(""));
    expect(enc.pageRecords).toBe(20000);
    expect(enc.take()).toEqual([]);
  });

  it("rollback drops what was written since the mark, across chunks", () => {
    const enc = new JsonlEncoder();
    enc.line("first");
    const m = enc.mark();
    enc.beginRegion(1, null, "p", "r");
    for (let i = 0; i < 30000; i++) enc.page(i, 1, 0, 0, 1);
    enc.rollback(m);
    enc.line("second");
    expect(text(enc.take())).toBe("first\nsecond\n");
  });

  it("a dump that fails half-way writes nothing, earlier operations' records stay written", async () => {
    const m = await Machine.create({ memory: 64 * 1024 * 1024 });
    const enc = new JsonlEncoder();
    const ops = parseScenario("spawn p\nmmap p A 8K nothp\ntouch p A 0 8K write\ndump one\ndump two", "t.scn");
    const real = m.observeEach.bind(m);
    m.observeEach = (label, v) => {
      if (label === "two") { v.beginRegion(2, label, "p", "A"); v.page(0, 1, 0, 0, 1); throw new UserError("boom"); }
      real(label, v);
    };
    expect(() => runOps(m, ops, { file: "t.scn", jsonl: enc })).toThrow(/t\.scn:5: boom/);
    const lines = text(enc.take()).split("\n");
    expect(lines.length).toBe(4); // two page records and a region record of dump one
    expect(lines.every((l) => l === "" || l.includes(`"label":"one"`))).toBe(true);
  });
});

describe("Sink with byte chunks", () => {
  it("keeps text and bytes in order", async () => {
    let out = "";
    const s = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
    const sink = new Sink(s);
    sink.line("a");
    await sink.bytes(Buffer.from("b\n"));
    sink.line("é");
    await sink.bytes(Buffer.alloc(1 << 20, 0x78));
    sink.line("z");
    await sink.end();
    expect(out).toBe(`a\nb\né\n${"x".repeat(1 << 20)}z\n`);
  });
});

// The /proc export's formats (src/proc/, docs/procfs.md): pagemap's bit
// layout, kpageflags per kind of frame, kpagecount, the sparse files and
// their sizes, index.json, the text files, and `thpemu run --proc` (its
// files on disk, and a clear error for a directory it cannot write).
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { Machine, procFileBytes, FIRST_PID, type ProcTree } from "../src/machine.js";
import { KPF, PFN_OFFSET, kpfNames } from "../src/proc/page.js";
import { PM } from "../src/proc/task_mmu_files.js";
import { main } from "../src/cli/main.js";
import { machine, expectNoViolations, M, PAGE, PMD } from "./helpers.js";

const text = (t: ProcTree, p: string) => new TextDecoder().decode(procFileBytes(t.get(p)!));

/** The u64 at index `i` of a sparse file of u64s, as [lo, hi]. */
function u64(t: ProcTree, p: string, i: number): [number, number] {
  const f = t.get(p)!;
  for (const e of f.extents) {
    if (i * 8 >= e.offset && i * 8 < e.offset + e.bytes.length) {
      const v = new DataView(e.bytes.buffer, e.bytes.byteOffset + i * 8 - e.offset, 8);
      return [v.getUint32(0, true), v.getUint32(4, true)];
    }
  }
  if (i * 8 >= f.size) throw new RangeError(`${p}: index ${i} is past the end`);
  return [0, 0];
}
const bit = (w: [number, number], b: number) => (b < 32 ? (w[0] >>> b) & 1 : (w[1] >>> (b - 32)) & 1) === 1;
const flagsOf = (t: ProcTree, frame: number) => { const w = u64(t, "kpageflags", frame + PFN_OFFSET); return kpfNames(w[0], w[1]); };
const countOf = (t: ProcTree, frame: number) => u64(t, "kpagecount", frame + PFN_OFFSET)[0];

/** p: A (4 MiB thp: a PMD THP, then 4 KiB of order-0 pages in a PTE table), Z (read-only zero pages), H (huge zero page). */
async function scene(): Promise<Machine> {
  const m = await machine("linux-6.18", 256 * M);
  m.spawn("p");
  m.mmap("p", "A", 4 * M, "thp");
  m.touch("p", "A", 0, PMD);
  m.mmap("p", "S", PMD, "nothp");
  m.touch("p", "S", 0, 2 * PAGE);
  m.mmap("p", "Z", PMD, "nothp");
  m.touch("p", "Z", 0, PAGE, "read");
  m.mmap("p", "H", PMD, "thp");
  m.touch("p", "H", 0, PAGE, "read");
  return m;
}
const addr = (m: Machine, p: string, r: string, off = 0) => m.procs.get(p)!.regions.get(r)!.start + off;
const frame = (m: Machine, p: string, r: string, off = 0) => m.pfnAt(m.procs.get(p)!.mm, addr(m, p, r, off));

describe("pagemap", () => {
  it("PFN in bits 0-54, PM_MMAP_EXCLUSIVE (56) while mapped once, PM_PRESENT (63); holes where nothing is mapped", async () => {
    const m = await scene();
    let t = m.procfs();
    const pm = `${FIRST_PID}/pagemap`;
    const vpn = (r: string, off = 0) => addr(m, "p", r, off) / PAGE;
    const thp = frame(m, "p", "A");
    for (const i of [0, 1, 511]) {
      const e = u64(t, pm, vpn("A", i * PAGE));
      expect(e[0]).toBe(thp + i + PFN_OFFSET);
      expect(e[1] & ((1 << (PM.PFRAME_BITS - 32)) - 1)).toBe(0); // the PFN's high bits
      expect(bit(e, PM.PRESENT) && bit(e, PM.MMAP_EXCLUSIVE)).toBe(true);
      expect(bit(e, PM.FILE) || bit(e, PM.SOFT_DIRTY) || bit(e, PM.SWAP)).toBe(false);
    }
    expect(u64(t, pm, vpn("A", PMD))).toEqual([0, 0]); // the untouched second 2 MiB
    expect(u64(t, pm, vpn("S", PAGE))[0]).toBe(frame(m, "p", "S", PAGE) + PFN_OFFSET);
    // the zero page: a special PTE (no PM_FILE, never exclusive); the huge zero page: not anon, PM_FILE
    const z = u64(t, pm, vpn("Z"));
    expect([bit(z, PM.PRESENT), bit(z, PM.MMAP_EXCLUSIVE), bit(z, PM.FILE)]).toEqual([true, false, false]);
    const h = u64(t, pm, vpn("H", 5 * PAGE));
    expect(h[0]).toBe(m.core.hugeZeroPfn + 5 + PFN_OFFSET);
    expect([bit(h, PM.PRESENT), bit(h, PM.MMAP_EXCLUSIVE), bit(h, PM.FILE)]).toEqual([true, false, true]);
    // the file ends with the last VMA; nothing past it
    const vmas = m.procs.get("p")!.mm.vmas;
    expect(t.get(pm)!.size).toBe((vmas[vmas.length - 1].end / PAGE) * 8);
    expect(t.get(pm)!.extents.reduce((s, e) => s + e.bytes.length, 0)).toBe((512 + 2 + 1 + 512) * 8);

    // after fork the THP is mapped twice: no longer exclusive, in either process
    m.fork("p", "c");
    t = m.procfs();
    for (const pid of [FIRST_PID, FIRST_PID + 1]) expect(bit(u64(t, `${pid}/pagemap`, vpn("A")), PM.MMAP_EXCLUSIVE)).toBe(false);
    // the child's COW of one order-0 page makes both copies exclusive again
    m.touch("c", "S", 0, PAGE);
    t = m.procfs();
    expect(bit(u64(t, `${FIRST_PID + 1}/pagemap`, vpn("S")), PM.MMAP_EXCLUSIVE)).toBe(true);
    expect(bit(u64(t, `${FIRST_PID}/pagemap`, vpn("S")), PM.MMAP_EXCLUSIVE)).toBe(true);
    expect(bit(u64(t, `${FIRST_PID}/pagemap`, vpn("S", PAGE)), PM.MMAP_EXCLUSIVE)).toBe(false);
    expectNoViolations(m);
  });
});

describe("kpageflags and kpagecount", () => {
  it("each kind of frame: anon THP head/tail, order-0 anon, zero page, huge zero page, page table, free, the hole below PFN_OFFSET", async () => {
    const m = await scene();
    const t = m.procfs();
    const thp = frame(m, "p", "A");
    const anon = ["UPTODATE", "LRU", "MMAP", "ANON", "SWAPBACKED"];
    expect(flagsOf(t, thp)).toEqual(expect.arrayContaining([...anon, "COMPOUND_HEAD", "THP", "OWNER_2"]));
    expect(flagsOf(t, thp)).not.toContain("COMPOUND_TAIL");
    expect(flagsOf(t, thp + 7).sort()).toEqual([...anon, "COMPOUND_TAIL", "THP", "OWNER_2"].sort());
    const small = frame(m, "p", "S");
    expect(flagsOf(t, small).sort()).toEqual([...anon, "OWNER_2"].sort());
    expect(flagsOf(t, m.core.zeroPfn).sort()).toEqual(["RESERVED", "ZERO_PAGE"]);
    const hz = m.core.hugeZeroPfn;
    expect(flagsOf(t, hz).sort()).toEqual(["COMPOUND_HEAD", "THP", "ZERO_PAGE"]);
    expect(flagsOf(t, hz + 511).sort()).toEqual(["COMPOUND_TAIL", "THP", "ZERO_PAGE"]);
    // a page-table page: the PTE table under S
    const pgd = m.procs.get("p")!.mm.pgd;
    expect(flagsOf(t, pgd)).toEqual(["PGTABLE"]);
    // every frame of a free block is KPF_BUDDY; the last frame is free on a fresh 256 MiB machine
    expect(flagsOf(t, m.core.frames - 1)).toEqual(["BUDDY"]);
    for (let i = 0; i < PFN_OFFSET; i += 37) expect(kpfNames(...u64(t, "kpageflags", i))).toEqual(["NOPAGE"]);
    expect(KPF.NOPAGE).toBe(20);
    // kpagecount: the precise page mapcount; 0 for zero pages, page tables and free frames
    expect([countOf(t, thp), countOf(t, thp + 3), countOf(t, small)]).toEqual([1, 1, 1]);
    expect([countOf(t, m.core.zeroPfn), countOf(t, hz), countOf(t, pgd), countOf(t, m.core.frames - 1)]).toEqual([0, 0, 0, 0]);
    m.fork("p", "c");
    const t2 = m.procfs();
    expect([countOf(t2, thp), countOf(t2, small)]).toEqual([2, 2]);
    // shared after fork: PG_anon_exclusive is gone from the folio
    expect(flagsOf(t2, thp)).not.toContain("OWNER_2");
  });

  it("KPF_DIRTY: a dirty huge PMD split dirties the folio (folio_set_dirty), as does a folio split of dirty PTEs", async () => {
    const m = await scene();
    const thp = frame(m, "p", "A");
    expect(flagsOf(m.procfs(), thp)).not.toContain("DIRTY"); // a fresh fault: only the entries are dirty
    m.munmap("p", "A", 4 * PAGE, PAGE); // a partial munmap splits the PMD
    expect(flagsOf(m.procfs(), thp)).toContain("DIRTY");
    expect(flagsOf(m.procfs(), thp + 100)).toContain("DIRTY"); // folio->flags: every page shows the head's
    // an mTHP is never PMD-split: its folio split finds the dirty PTEs (try_to_migrate_one)
    m.sysfs("hugepages-64kB/enabled", "always");
    m.mmap("p", "T", PMD);
    m.touch("p", "T", 0, 64 * 1024);
    const mthp = frame(m, "p", "T");
    expect(m.core.folioOrder(mthp)).toBe(4);
    expect(flagsOf(m.procfs(), mthp)).not.toContain("DIRTY");
    m.split("p", "T", 0, PAGE);
    expect(flagsOf(m.procfs(), mthp + 3)).toContain("DIRTY");
    expectNoViolations(m);
  });

  it("reading the tree changes nothing: no state, no rmap cost counters", async () => {
    const m = await scene();
    m.fork("p", "c");
    const before = JSON.stringify(m.costs());
    const recs = JSON.stringify(m.observe());
    m.procfs();
    expect(JSON.stringify(m.costs())).not.toBe(before); // observe() itself is charged: the counters do move
    const after = JSON.stringify(m.costs());
    m.procfs();
    expect(JSON.stringify(m.costs())).toBe(after);
    expect(JSON.stringify(m.observe()).replace(/"dump":\d+/g, "")).toBe(recs.replace(/"dump":\d+/g, ""));
    expectNoViolations(m);
  });

  it("the files are sparse: only non-zero u64s are in extents, sizes are PFN_OFFSET + frames long", async () => {
    const m = await scene();
    const t = m.procfs();
    for (const f of ["kpageflags", "kpagecount"]) {
      expect(t.get(f)!.size).toBe((m.core.frames + PFN_OFFSET) * 8);
      for (const e of t.get(f)!.extents) {
        const v = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.length);
        for (let o = 0; o < e.bytes.length; o += 8) expect(v.getUint32(o, true) | v.getUint32(o + 4, true)).not.toBe(0);
      }
    }
    // kpagecount: the mapped pages only (512 + 2 anon pages; zero pages count 0)
    expect(t.get("kpagecount")!.extents.reduce((s, e) => s + e.bytes.length / 8, 0)).toBe(514);
  });
});

describe("the text files and index.json", () => {
  it("maps, smaps, smaps_rollup, status, stat, cmdline, meminfo in the kernel's layout", async () => {
    const m = await scene();
    const t = m.procfs();
    const a = addr(m, "p", "A");
    const dir = String(FIRST_PID);
    const maps = text(t, `${dir}/maps`).split("\n");
    expect(maps).toContain(`${a.toString(16)}-${(a + 4 * M).toString(16)} rw-p 00000000 00:00 0 `);
    const smaps = text(t, `${dir}/smaps`);
    expect(smaps).toContain(`${a.toString(16)}-${(a + 4 * M).toString(16)} rw-p 00000000 00:00 0 \nSize:               4096 kB\nKernelPageSize:        4 kB\n`);
    expect(smaps).toContain("AnonHugePages:      2048 kB\n");
    expect(smaps).toContain("THPeligible:           1\nVmFlags: rd wr mr mw me ac hg \n");
    expect(smaps).toContain("VmFlags: rd wr mr mw me ac nh \n");
    const rollup = text(t, `${dir}/smaps_rollup`);
    expect(rollup.split("\n")[0]).toMatch(/^[0-9a-f]+-[0-9a-f]+ ---p 00000000 00:00 0 {26}\[rollup\]$/);
    expect(rollup).toContain("Rss:                2056 kB\nPss:                2056 kB\nPss_Dirty:          2056 kB\nPss_Anon:           2056 kB\n");
    const status = text(t, `${dir}/status`);
    expect(status).toMatch(/^Name:\tp\n/);
    expect(status).toContain(`Pid:\t${FIRST_PID}\nPPid:\t1\n`);
    expect(status).toContain("VmRSS:\t    2056 kB\nRssAnon:\t    2056 kB\n");
    const stat = text(t, `${dir}/stat`).trimEnd().split(" ");
    expect(stat.length).toBe(52);
    expect(stat.slice(0, 4)).toEqual([dir, "(p)", "S", "1"]);
    expect(Number(stat[22])).toBe(10 * M); // vsize: A 4M + S, Z, H 2M each
    expect(Number(stat[23])).toBe(514); // rss in pages
    expect(text(t, `${dir}/cmdline`)).toBe("p\0");
    expect(text(t, "meminfo")).toMatch(/^MemTotal:         262144 kB\nMemFree: +\d+ kB\n/);
  });

  it("index.json: stable PIDs in creation order, the regions of live processes in bytes", async () => {
    const m = await scene();
    m.fork("p", "c");
    m.fork("c", "d");
    m.exit("c");
    const t = m.procfs();
    const idx = JSON.parse(text(t, "index.json")) as { pids: Record<string, number>; pfnOffset: number; regions: { proc: string; region: string; start: number; end: number }[] };
    expect(idx.pids).toEqual({ p: FIRST_PID, d: FIRST_PID + 2 });
    expect(idx.pfnOffset).toBe(PFN_OFFSET);
    expect(idx.regions.filter((r) => r.proc === "d").map((r) => r.region)).toEqual(["A", "H", "S", "Z"]);
    expect(idx.regions.find((r) => r.proc === "p" && r.region === "A")).toEqual({ proc: "p", region: "A", start: addr(m, "p", "A"), end: addr(m, "p", "A") + 4 * M });
    expect([...t.keys()].filter((k) => k.startsWith(`${FIRST_PID + 1}/`))).toEqual([]); // c exited: no directory
    expect(text(t, `${FIRST_PID + 2}/status`)).toContain("PPid:\t1\n"); // d's parent exited: reparented to init
  });
});

describe("thpemu run --proc DIR", () => {
  async function run(args: string[]): Promise<{ status: number; out: string; err: string }> {
    const stdout = new PassThrough(), stderr = new PassThrough();
    let out = "", err = "";
    stdout.on("data", (b: Buffer) => { out += b.toString(); });
    stderr.on("data", (b: Buffer) => { err += b.toString(); });
    const status = await main(args, { stdout, stderr });
    return { status, out, err };
  }
  const scn = "spawn p\nmmap p A 4M thp\ntouch p A 0 2M\ndump one\nfork p c\ndump two\n";

  it("writes DIR/N/ at each dump, sparse", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "thpemu-proc-"));
    try {
      const file = path.join(dir, "s.scn");
      fs.writeFileSync(file, scn);
      const r = await run(["run", file, "--memory", "64M", "--proc", path.join(dir, "out")]);
      expect(r.err).toBe("");
      expect(r.status).toBe(0);
      expect(fs.readdirSync(path.join(dir, "out")).sort()).toEqual(["1", "2"]);
      expect(fs.readdirSync(path.join(dir, "out", "1")).sort()).toEqual([String(FIRST_PID), "index.json", "kpagecount", "kpageflags", "meminfo"]);
      expect(fs.readdirSync(path.join(dir, "out", "2", String(FIRST_PID + 1))).sort())
        .toEqual(["cmdline", "maps", "pagemap", "smaps", "smaps_rollup", "stat", "status"]);
      const pm = fs.statSync(path.join(dir, "out", "2", String(FIRST_PID), "pagemap"));
      expect(pm.size).toBeGreaterThan(2 ** 37); // up to 0x7f0000000000 / 4096 * 8
      expect(pm.blocks * 512).toBeLessThan(1024 * 1024); // 512 entries written, the rest holes
      const kc = fs.statSync(path.join(dir, "out", "1", "kpagecount"));
      expect(kc.size).toBe((64 * M / PAGE + PFN_OFFSET) * 8);
      expect(kc.blocks * 512).toBeLessThan(kc.size);
      const idx = JSON.parse(fs.readFileSync(path.join(dir, "out", "2", "index.json"), "utf8")) as { pids: Record<string, number> };
      expect(idx.pids).toEqual({ p: FIRST_PID, c: FIRST_PID + 1 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a DIR it cannot write is a clear error before anything runs: exit 2, one line, no stack trace", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "thpemu-proc-"));
    try {
      const file = path.join(dir, "s.scn");
      fs.writeFileSync(file, scn);
      // a path below a regular file cannot be a directory, whoever runs the test (root included)
      const r = await run(["run", file, "--memory", "64M", "--proc", path.join(file, "out")]);
      expect(r.status).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toBe(`thpemu: --proc ${path.join(file, "out")}: cannot create or write the directory: ENOTDIR (${path.join(file, "out")})\n`);
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

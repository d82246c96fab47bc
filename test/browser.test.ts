// The web page in a real browser (issue 5): build web/ with Vite, serve
// dist/web on a free localhost port, drive Debian's Chromium with
// playwright-core, and check that what the page shows is what Node computes
// for the same scenario: the frames' mapcounts, PG_double_map, the struct
// page of a clicked frame, the observation table, the error display, the THP
// knobs panel (machine.knobs at every step, changed knobs highlighted); and
// that the built package (dist/index.js) runs unchanged in the browser from a
// plain <script type="module"> import.
//
// Chromium: the browser is $THPEMU_CHROMIUM, default /usr/bin/chromium
// (Debian's `chromium` package). `npm test` never installs system packages
// on its own: only in CI (CI set to anything but "", "0" or "false") or with
// THPEMU_INSTALL_CHROMIUM=1 does beforeAll run scripts/ensure-chromium.sh
// (apt-get, as root) when the browser is missing, and then a failed install
// fails the tests. Otherwise a missing browser skips them, with the reason
// in their names: they never pass silently. Decided before the tests are
// declared (chromiumPlan below).
import { describe, it, expect, beforeAll, afterAll, afterEach } from "vitest";
import { spawnSync, execFileSync } from "node:child_process";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { Machine } from "../src/machine.js";
import { parseScenario, ScenarioError, type Op } from "../src/scenario/parse.js";
import { applyOp, runScenario } from "../src/scenario/run.js";
import { formatTable, formatInspect } from "../src/scenario/table.js";
import type { ObservationRecord, PageRecord, RegionRecord, InspectRecord } from "../src/scenario/records.js";
import { frameKind, usedFrameLimit, folioCounters } from "../src/inspect/tables.js";
import type { KernelName } from "../src/profiles.js";
import type { KnobName, ThpKnobs } from "../src/knobs.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const SEED = fs.readFileSync(path.join(ROOT, "examples/seed-doublemap.scn"), "utf8");
const KERNEL = "linux-4.5" as const;

const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** $CI set and meaning yes: not empty, "0" or "false". */
function isCI(v: string | undefined): boolean {
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

function isExecutable(file: string): boolean {
  try { fs.accessSync(file, fs.constants.X_OK); return fs.statSync(file).isFile(); } catch { return false; }
}

type ChromiumPlan =
  /** Run the tests; beforeAll installs the browser first (`install`) or fails at once (`error`). */
  | { run: true; chromium: string; install: boolean; error?: string }
  /** Skip them: `why` goes into their names. */
  | { run: false; chromium: string; why: string };

/** Whether the browser tests run, with which Chromium, and how it is had. */
function chromiumPlan(env: NodeJS.ProcessEnv, executable: (file: string) => boolean = isExecutable): ChromiumPlan {
  const chromium = env.THPEMU_CHROMIUM || DEFAULT_CHROMIUM;
  const custom = chromium !== DEFAULT_CHROMIUM;
  if (executable(chromium)) return { run: true, chromium, install: false };
  const asked = isCI(env.CI) || env.THPEMU_INSTALL_CHROMIUM === "1";
  if (!asked) {
    return {
      run: false, chromium, why: custom
        ? `THPEMU_CHROMIUM=${chromium} missing; point it at a Chromium or unset it`
        : `${chromium} missing; set THPEMU_INSTALL_CHROMIUM=1 or install Debian's chromium`,
    };
  }
  // CI or THPEMU_INSTALL_CHROMIUM=1: the tests must run, so a browser that cannot be had fails them
  if (custom) return { run: true, chromium, install: false, error: `THPEMU_CHROMIUM=${chromium} missing (the installer only provides ${DEFAULT_CHROMIUM})` };
  return { run: true, chromium, install: true };
}

const plan = chromiumPlan(process.env);
const CHROMIUM = plan.chromium;
const skip = !plan.run;
const why = plan.run ? "" : ` (skipped: ${plan.why})`;

let browser: Browser | undefined;
let page: Page;
let server: http.Server | undefined;
let baseUrl = "";
/** Uncaught exceptions and unhandled rejections in the page: each test ends with none. */
const pageErrors: string[] = [];
const timing: Record<string, number> = {};

// A page that uses the package exactly as docs/browser.md shows: no bundler.
const PLAIN_PAGE = `<!doctype html><meta charset="utf-8"><pre id="out"></pre>
<script type="module">
  const out = document.getElementById("out");
  try {
    const { runScenario, Machine } = await import("/pkg/dist/index.js");
    const text = await (await fetch("/pkg/examples/seed-doublemap.scn")).text();
    const records = await runScenario(text, { kernel: "${KERNEL}" });
    const m = await Machine.create({ kernel: "${KERNEL}", memory: 1 << 30 });
    m.spawn("parent"); m.mmap("parent", "buf", 2 << 20, "thp"); m.touch("parent", "buf", 0, 2 << 20, "write");
    m.fork("parent", "child"); m.mprotect("child", "buf", 0, 4096, "r");
    out.textContent = JSON.stringify({ records, inspect: m.inspect("parent", "buf", 0), check: m.check() });
  } catch (e) {
    out.textContent = JSON.stringify({ error: String(e && e.stack || e) });
  }
  out.dataset.done = "1";
</script>`;

// ---- a tiny static server: dist/web at /, the package's dist/ and build/ under /pkg/ ----
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm", ".json": "application/json", ".map": "application/json", ".png": "image/png",
};
function serve(mounts: [string, string][]): Promise<string> {
  server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    if (pathname === "/plain.html") { res.writeHead(200, { "content-type": TYPES[".html"] }).end(PLAIN_PAGE); return; }
    const mount = mounts.find(([prefix]) => pathname.startsWith(prefix));
    if (!mount) { res.writeHead(404).end(); return; }
    const dir = path.resolve(mount[1]);
    let file = path.resolve(dir, "." + decodeURIComponent(pathname.slice(mount[0].length - 1)));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404).end(); return; }
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    });
  });
  return new Promise((resolve) => server!.listen(0, "127.0.0.1", () => {
    resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`);
  }));
}

/** The browser's hooks, for the tests that use it (the chromiumPlan tests need none). */
function browserHooks(): void {
  beforeAll(async () => {
    if (!plan.run) return;
    if (plan.error) throw new Error(plan.error);
    let t = Date.now();
    if (plan.install) {
      // CI or THPEMU_INSTALL_CHROMIUM=1 asked for it: a failed install fails the tests
      const ensure = spawnSync("sh", [path.join(ROOT, "scripts/ensure-chromium.sh")], { encoding: "utf8", timeout: 600_000 });
      timing.ensureChromium = Date.now() - t;
      if (ensure.status !== 0 || !isExecutable(CHROMIUM)) {
        throw new Error(`scripts/ensure-chromium.sh could not install ${CHROMIUM}: ${
          (ensure.stderr || ensure.stdout || String(ensure.error)).trim().split("\n").pop()}`);
      }
    }
    t = Date.now();
    execFileSync(process.execPath, [path.join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "error"], {
      cwd: ROOT, stdio: ["ignore", "pipe", "inherit"],
    });
    timing.viteBuild = Date.now() - t;
    baseUrl = await serve([["/pkg/", ROOT], ["/", path.join(ROOT, "dist/web")]]);
    t = Date.now();
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on("pageerror", (e) => { console.error("page error:", e.message); pageErrors.push(e.message); });
    timing.launch = Date.now() - t;
  }, 720_000);

  afterEach(() => {
    expect(pageErrors.splice(0), "uncaught errors in the page").toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (Object.keys(timing).length) console.log("browser test timing (ms):", JSON.stringify(timing));
  });
}

// ---- helpers -------------------------------------------------------------------------
async function idle(): Promise<void> {
  await page.waitForSelector("body[data-ready='1'][data-state='idle']", { timeout: 30_000 });
}
async function click(sel: string): Promise<void> {
  await page.click(sel);
  await idle();
}
/** The page's frame grid: pfn -> {kind, mapcount}. */
async function shownFrames(): Promise<Map<number, { kind: string; mapcount: number | null }>> {
  const cells = await page.$$eval(".cell[data-pfn]", (els) => els.map((e) => {
    const d = (e as HTMLElement).dataset;
    return [Number(d.pfn), d.kind!, d.mapcount === undefined ? null : Number(d.mapcount)] as const;
  }));
  return new Map(cells.map(([pfn, kind, mapcount]) => [pfn, { kind, mapcount }]));
}
async function shownFolios(): Promise<{ head: number; doubleMap: boolean }[]> {
  return page.$$eval(".folio[data-head]", (els) => els.map((e) => ({
    head: Number((e as HTMLElement).dataset.head), doubleMap: (e as HTMLElement).dataset.doubleMap === "true",
  })));
}
function dumpOf(records: ObservationRecord[], label: string): (PageRecord | RegionRecord)[] {
  return records.filter((r): r is PageRecord | RegionRecord => r.type !== "inspect" && r.label === label);
}

/** Node's machine, stepped alongside the page. */
class NodeTwin {
  private i = 0;
  constructor(readonly m: Machine, readonly ops: Op[]) {}
  static async create(text: string, kernel: KernelName = KERNEL): Promise<NodeTwin> {
    return new NodeTwin(await Machine.create({ kernel }), parseScenario(text));
  }
  /** Run the next operation (its error, if any, is thrown and the operation counts as run, as the page does not). */
  stepOne(): void { applyOp(this.m, this.ops[this.i++]); }
  /** Run up to and including the operation on `line`. */
  runThrough(line: number): void {
    while (this.i < this.ops.length && this.ops[this.i].line <= line) applyOp(this.m, this.ops[this.i++]);
  }
  get pc(): number { return this.i; }
  lineOf(pred: (op: Op) => boolean): number { return this.ops.find(pred)!.line; }
}

/** The THP knobs panel: one entry per knob, or per group of mTHP sizes (data-knobs lists them). */
async function shownKnobChips(): Promise<{ knobs: string[]; value: string; shownValue: string; changed: boolean; highlighted: boolean }[]> {
  return page.$$eval("#knobs .knob", (els) => els.map((e) => ({
    knobs: (e as HTMLElement).dataset.knobs!.split(" "),
    value: (e as HTMLElement).dataset.value!,
    shownValue: e.querySelector(".kval")!.textContent!,
    changed: (e as HTMLElement).dataset.changed === "true",
    highlighted: e.classList.contains("changed"),
  })));
}
/**
 * The knobs panel shows exactly the profile's knobs with `knobs`' values
 * (default: the machine's now), highlighting those that differ from the
 * profile's initial values.
 */
async function expectKnobsMatch(m: Machine, knobs: Readonly<ThpKnobs> = m.knobs, what = ""): Promise<void> {
  const chips = await shownKnobChips();
  const shown = new Map(chips.flatMap((c) => c.knobs.map((k) => [k, c] as const)));
  expect(chips.flatMap((c) => c.knobs).length, `${what}: each knob shown once`).toBe(shown.size);
  expect([...shown.keys()].sort(), `${what}: the knobs of ${m.profile.name}`).toEqual([...m.profile.knobs].sort());
  const init = m.profile.initialKnobs;
  for (const k of m.profile.knobs) {
    const c = shown.get(k)!;
    expect(c.value, `${what}: ${k}`).toBe(String(knobs[k]));
    expect(c.shownValue, `${what}: ${k} (text)`).toBe(String(knobs[k]));
    expect(c.changed, `${what}: ${k} changed`).toBe(knobs[k] !== init[k]);
    expect(c.highlighted, `${what}: ${k} highlighted`).toBe(knobs[k] !== init[k]);
  }
}

/** Every frame the page draws agrees with Node's machine; every page of the dump is drawn with its mapcount. */
async function expectFramesMatch(twin: NodeTwin, dump: (PageRecord | RegionRecord)[]): Promise<void> {
  const m = twin.m;
  const shown = await shownFrames();
  const limit = usedFrameLimit(m);
  for (let pfn = 0; pfn < limit; pfn++) {
    const kind = frameKind(m, pfn);
    const s = shown.get(pfn);
    if (kind === "free") { if (s) expect(s.kind, `frame ${pfn}`).toBe("free"); continue; }
    expect(s?.kind, `frame ${pfn}`).toBe(kind);
    if (kind === "head" || kind === "tail" || kind === "page") expect(s!.mapcount, `page_mapcount of frame ${pfn}`).toBe(m.core.e.page_mapcount(pfn));
  }
  for (const r of dump) {
    if (r.type !== "page") continue;
    const p = m.procs.get(r.proc)!;
    const pfn = m.pfnAt(p.mm, p.regions.get(r.region)!.start + r.page * 4096);
    const kind = frameKind(m, pfn);
    if (kind === "zero" || kind === "hzero") {
      // the zero pages are drawn as "0" without a count (the kernel does not count their mappings)
      expect(shown.get(pfn)?.kind, `${r.proc} ${r.region} page ${r.page} (pfn ${pfn})`).toBe(kind);
      expect(r.mapcount, `${r.proc} ${r.region} page ${r.page}: mapcount of the ${kind} page`).toBe(0);
      continue;
    }
    expect(shown.get(pfn)?.mapcount, `${r.proc} ${r.region} page ${r.page} (pfn ${pfn})`).toBe(r.mapcount);
  }
  await expectSmapsMatch(twin);
}

/**
 * The smaps table beside the frames shows, for every live process and region,
 * Node's Machine.smaps summed over the region's VMAs; a mapped frame's hover
 * text explains its Pss share from its mapcount.
 */
async function expectSmapsMatch(twin: NodeTwin): Promise<void> {
  const m = twin.m;
  const rows = await page.$$eval("#smaps tr[data-proc]", (trs) => trs.map((tr) => {
    const d = (tr as HTMLElement).dataset;
    const cells = Object.fromEntries([...tr.querySelectorAll("td[data-field]")].map((td) => [(td as HTMLElement).dataset.field!, Number(td.textContent)]));
    return { proc: d.proc!, region: d.region!, cells };
  }));
  const want: typeof rows = [];
  for (const p of m.liveProcesses().sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const vmas = m.smaps(p.name);
    for (const r of [...p.regions.keys()].sort()) {
      const cells: Record<string, number> = {};
      for (const f of ["Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "AnonHugePages"] as const) {
        cells[f] = vmas.filter((v) => v.region === r).reduce((a, v) => a + v.fields[f], 0);
      }
      want.push({ proc: p.name, region: r, cells });
    }
  }
  expect(rows).toEqual(want);
  const cell = await page.$(".cell[data-mapcount]:not(.unmapped)");
  if (cell) {
    const mc = Number(await cell.getAttribute("data-mapcount"));
    const title = (await cell.getAttribute("title"))!;
    expect(title).toContain(mc === 1 ? "mapcount 1 → private: 4096 B of Pss" : `mapcount ${mc} → 4096/${mc} = ${(4096 / mc).toFixed(1)} B of Pss`);
  }
}

/**
 * Opens web/examples/NAME.scn from the page's example list with linux-4.5
 * selected: it sets knobs only linux-6.18 has, so the page switches the kernel
 * and says so. Returns Node's records of the whole scenario and a twin at its start.
 */
async function openKnobExample(name: string): Promise<{ records: ObservationRecord[]; twin: NodeTwin }> {
  await page.goto(baseUrl + "/");
  await idle();
  await page.selectOption("#kernel", "linux-4.5");
  await idle();
  const options = await page.$$eval("#example option", (os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options).toContain(name);
  await page.selectOption("#example", name);
  await idle();
  // it sets knobs linux-4.5 lacks: the page switched the kernel
  expect(await page.inputValue("#kernel")).toBe("linux-6.18");
  expect(await page.textContent("#status")).toContain("kernel switched to linux-6.18");
  const text = fs.readFileSync(path.join(ROOT, `web/examples/${name}.scn`), "utf8");
  expect(await page.inputValue("#source")).toBe(text);
  const kernel: KernelName = "linux-6.18";
  return { records: await runScenario(text, { kernel, check: true }), twin: await NodeTwin.create(text, kernel) };
}

/** Step the page, and `twin`, through the operation on `line`. */
async function stepThrough(twin: NodeTwin, line: number): Promise<void> {
  while (Number(await page.getAttribute("body", "data-pc")) < twin.ops.findIndex((o) => o.line === line) + 1) await click("#step");
  twin.runThrough(line);
}

/** Run the rest on the page and in `twin`: the page shows the dump `label` and the last inspect block, and Node's frames. */
async function runToEnd(twin: NodeTwin, records: ObservationRecord[], label: string): Promise<void> {
  await click("#run");
  twin.runThrough(Infinity);
  const last = records.filter((r) => r.type === "inspect").pop()!;
  expect(await page.textContent("#observations")).toBe(
    [...formatTable(dumpOf(records, label)), "", ...formatInspect(last as InspectRecord)].join("\n"));
  await expectFramesMatch(twin, dumpOf(records, label));
}

describe("whether the browser tests run (chromiumPlan)", () => {
  const has = (...files: string[]) => (f: string) => files.includes(f);
  it("a present browser is used as it is, nothing installed", () => {
    expect(chromiumPlan({}, has(DEFAULT_CHROMIUM))).toEqual({ run: true, chromium: DEFAULT_CHROMIUM, install: false });
    expect(chromiumPlan({ CI: "true", THPEMU_CHROMIUM: "/opt/c" }, has("/opt/c"))).toEqual({ run: true, chromium: "/opt/c", install: false });
  });
  it("a missing browser is installed only in CI or with THPEMU_INSTALL_CHROMIUM=1", () => {
    for (const env of [{ CI: "true" }, { CI: "1" }, { THPEMU_INSTALL_CHROMIUM: "1" }, { CI: "false", THPEMU_INSTALL_CHROMIUM: "1" }]) {
      expect(chromiumPlan(env, has()), JSON.stringify(env)).toEqual({ run: true, chromium: DEFAULT_CHROMIUM, install: true });
    }
    for (const env of [{}, { CI: "" }, { CI: "0" }, { CI: "false" }, { CI: "FALSE" }, { THPEMU_INSTALL_CHROMIUM: "0" }]) {
      const p = chromiumPlan(env, has());
      expect(p.run, JSON.stringify(env)).toBe(false);
      if (!p.run) expect(p.why).toBe("/usr/bin/chromium missing; set THPEMU_INSTALL_CHROMIUM=1 or install Debian's chromium");
    }
  });
  it("a missing THPEMU_CHROMIUM skips outside CI and fails in CI (the installer cannot provide it)", () => {
    expect(chromiumPlan({ THPEMU_CHROMIUM: "/nonexistent" }, has(DEFAULT_CHROMIUM))).toEqual({
      run: false, chromium: "/nonexistent", why: "THPEMU_CHROMIUM=/nonexistent missing; point it at a Chromium or unset it",
    });
    const p = chromiumPlan({ CI: "true", THPEMU_CHROMIUM: "/nonexistent" }, has(DEFAULT_CHROMIUM));
    expect(p).toMatchObject({ run: true, install: false, error: expect.stringContaining("/nonexistent missing") });
  });
});

describe("the web page in Chromium", () => {
  browserHooks();

  it.skipIf(skip)(`runs the seed scenario under linux-4.5 and shows what Node computes${why}`, async () => {
    const t0 = Date.now();
    await page.goto(baseUrl + "/");
    await idle();
    await page.selectOption("#example", "seed-doublemap");
    await idle();
    await page.selectOption("#kernel", KERNEL);
    await idle();
    expect(await page.inputValue("#source")).toBe(SEED);

    const records = await runScenario(SEED, { kernel: KERNEL });
    const twin = await NodeTwin.create(SEED);
    const lineDumpPte = twin.lineOf((o) => o.op === "dump" && o.label === "child-pte-mapped");
    const lineInspect = twin.lineOf((o) => o.op === "inspect" && o.line > lineDumpPte);

    // Step to the dump after the child's PMD split: one THP mapped by a PMD and by PTEs.
    const steps = twin.ops.findIndex((o) => o.line === lineDumpPte) + 1;
    for (let i = 0; i < steps; i++) await click("#step");
    twin.runThrough(lineDumpPte);
    expect(await page.getAttribute("body", "data-pc")).toBe(String(twin.pc));
    expect(await page.isVisible("#hl-current")).toBe(true);
    // the highlight sits on the dump's line (4px padding, 17px lines, as the editor scrolls)
    expect(await page.$eval("#hl-current", (e) => (e as HTMLElement).offsetTop + (document.getElementById("source") as HTMLTextAreaElement).scrollTop))
      .toBe(4 + (lineDumpPte - 1) * 17);
    const dumpPte = dumpOf(records, "child-pte-mapped");
    expect(await page.textContent("#observations")).toBe(formatTable(dumpPte).join("\n"));
    await expectFramesMatch(twin, dumpPte);
    const core = twin.m.core;
    const folios = await shownFolios();
    expect(folios.length).toBe(1);
    expect(folios[0].doubleMap).toBe(folioCounters(twin.m, folios[0].head).PG_double_map);
    expect(folios[0].doubleMap).toBe(true); // the seed's story: PMD and PTE maps coexist

    // Click the frame of parent buf +4K (a tail page) and compare its struct page with Node.
    const want = twin.m.inspect("parent", "buf", 4096);
    await page.click(`.cell[data-pfn='${want.pfn}']`);
    await page.waitForSelector(`#page table[data-pfn='${want.pfn}']`);
    const fields = Object.fromEntries(await page.$$eval("#page td[data-field]", (tds) =>
      tds.map((td) => [(td as HTMLElement).dataset.field!, td.textContent!])));
    const { type: _t, proc: _p, region: _r, page: _g, ...wantFields } = want;
    expect(Object.keys(wantFields)).toEqual(expect.arrayContaining(["pfn", "_refcount", "_mapcount", "compound_mapcount",
      "PG_double_map", "page_mapcount", "total_mapcount"]));
    for (const [k, v] of Object.entries(wantFields)) {
      expect(fields[k], k).toBe(v === null ? "-" : Array.isArray(v) ? `[${v.join(", ")}]` : String(v));
    }
    expect(fields["raw._refcount"]).toBe(String(core.refcount(want.pfn)));
    expect(fields["raw._mapcount"]).toBe(String(core.mapcountRaw(want.pfn)));
    expect(fields["raw.flags"].split(" ")[0]).toBe("0x" + core.flags(want.pfn).toString(16));
    expect(Object.keys(fields).filter((k) => k.startsWith("mappedAt.")).map((k) => fields[k]).sort())
      .toEqual(["child buf +0x1000 (PTE)", "parent buf +0x1000 (PMD)"]);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "browser.png") });

    // Back twice: before the child's mprotect, the THP is PMD-mapped twice and PG_double_map is
    // clear; Step twice: the split and the dump again, the same frames as Node.
    expect(twin.ops[twin.pc - 2].op).toBe("mprotect");
    await click("#back");
    await click("#back");
    expect(await page.getAttribute("body", "data-pc")).toBe(String(twin.pc - 2));
    expect(await shownFolios()).toEqual([{ head: folios[0].head, doubleMap: false }]);
    expect(await page.getAttribute("#page table", "data-pfn")).toBe(String(want.pfn)); // still selected
    await click("#step");
    await click("#step");
    expect(await page.getAttribute("body", "data-pc")).toBe(String(twin.pc));
    expect(await shownFolios()).toEqual(folios);
    expect(await page.textContent("#observations")).toBe(formatTable(dumpPte).join("\n"));
    await expectFramesMatch(twin, dumpPte);

    // Step through `inspect parent buf 0`: the page selects that frame and prints the inspect block.
    await click("#step");
    twin.runThrough(lineInspect);
    expect(await page.textContent("#observations")).toContain("-- inspect parent buf 0x0 (page 0) --");
    expect(await page.getAttribute("#page table", "data-pfn")).toBe(String(twin.m.inspect("parent", "buf", 0).pfn));

    // On past `exit child`: PG_double_map stays while the parent's PMD is there.
    const lineGone = twin.lineOf((o) => o.op === "dump" && o.label === "child-gone");
    while (Number(await page.getAttribute("body", "data-pc")) < twin.ops.findIndex((o) => o.line === lineGone) + 1) await click("#step");
    twin.runThrough(lineGone);
    expect(await page.textContent("#observations")).toBe(formatTable(dumpOf(records, "child-gone")).join("\n"));
    await expectFramesMatch(twin, dumpOf(records, "child-gone"));
    const after = await shownFolios();
    expect(after).toEqual([{ head: folios[0].head, doubleMap: true }]);
    expect(folioCounters(twin.m, after[0].head).PG_double_map).toBe(true);

    // Run the rest: the THP is freed, no compound folio is left, the last dump matches.
    await click("#run");
    twin.runThrough(Infinity);
    expect(await page.getAttribute("body", "data-done")).toBe("true");
    expect(await shownFolios()).toEqual([]);
    expect(await page.textContent("#observations")).toBe(formatTable(dumpOf(records, "unmapped")).join("\n"));
    await expectFramesMatch(twin, []);
    // the page tables view lists the live process and no THP
    expect(await page.$$eval("#tables details[data-proc]", (ds) => ds.map((d) => (d as HTMLElement).dataset.proc))).toEqual(["parent"]);
    timing.seedScenario = Date.now() - t0;
  });

  it.skipIf(skip)(`shows a scenario error as "line N: message" and highlights the line${why}`, async () => {
    const text = "spawn p\nmmap p A 2M thp\n# a comment\ntouch p B 0 4K\ndump\n";
    const err = await runScenario(text, { kernel: KERNEL }).catch((e) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    await page.fill("#source", text);
    await click("#run");
    expect(await page.textContent("#error")).toBe(`line ${err.line}: ${err.reason}`);
    expect(await page.isVisible("#hl-error")).toBe(true);
    // a syntax error is found before anything runs
    await page.fill("#source", "spawn p\nmmap p A 2Q\n");
    await click("#step");
    const perr = await runScenario("spawn p\nmmap p A 2Q\n").catch((e) => e);
    expect(await page.textContent("#error")).toBe(`line 2: ${perr.reason}`);
  });

  it.skipIf(skip)(`shows the THP knobs as Node's machine.knobs at every step, changed ones highlighted (linux-6.18)${why}`, async () => {
    const kernel: KernelName = "linux-6.18";
    const text = [
      "spawn p",
      "sysfs enabled always",
      "mmap p A 2M",
      "touch p A 0 4K",
      "sysfs khugepaged/max_ptes_none 100",
      "sysfs use_zero_page 0",
      "sysfs shrink_underused 0",
      "sysfs hugepages-2048kB/enabled never",
      "sysfs enabled madvise", // back to the initial value: no longer highlighted
      "sysfs hugepages-2048kB/enabled inherit",
      "shrink",
      "dump end",
      "touch p NOPE 0 4K", // refused (no such region): nothing changes
    ].join("\n") + "\n";
    await page.goto(baseUrl + "/");
    await idle();
    await page.selectOption("#kernel", kernel);
    await idle();
    await page.fill("#source", text);
    await click("#reset");
    const twin = await NodeTwin.create(text, kernel);
    expect(twin.m.profile.knobs.length).toBeGreaterThan(2);
    await expectKnobsMatch(twin.m, twin.m.knobs, "at the start");
    // the mTHP sizes (all never) share one entry
    const chips0 = await shownKnobChips();
    expect(chips0.filter((c) => c.knobs.length > 1).map((c) => c.knobs.length)).toEqual([7]);
    expect(chips0.some((c) => c.highlighted)).toBe(false);

    const seen: ThpKnobs[] = [twin.m.knobs];
    let refused: Error | undefined;
    while (twin.pc < twin.ops.length) {
      const op = twin.ops[twin.pc];
      await click("#step");
      try { twin.stepOne(); } catch (e) { refused = e as Error; }
      seen.push(twin.m.knobs);
      await expectKnobsMatch(twin.m, twin.m.knobs, `after line ${op.line} (${op.op})`);
    }
    expect(refused?.message).toMatch(/unknown region 'NOPE'/);
    expect(await page.textContent("#error")).toBe(`line ${twin.ops[twin.ops.length - 1].line}: ${refused!.message}`);
    const final = seen[seen.length - 1];
    const changed = (Object.keys(final) as KnobName[]).filter((k) => final[k] !== twin.m.profile.initialKnobs[k]).sort();
    expect(changed).toEqual(["khugepaged/max_ptes_none", "shrink_underused", "use_zero_page"]);
    expect(await page.$$eval("#knobs .knob.changed", (els) => els.map((e) => (e as HTMLElement).dataset.knobs).sort())).toEqual(changed);
    // the page's own running state matches: enabled `always` gave the unadvised VMA a THP
    expect(await page.textContent("#observations")).toBe(formatTable(dumpOf(await runScenario(text.split("\ntouch p NOPE")[0], { kernel }), "end")).join("\n"));

    // Back: the knobs as they were one operation earlier (Back first clears the refused line's error)
    await click("#back");
    expect(await page.getAttribute("body", "data-pc")).toBe(String(twin.ops.length - 1));
    // back to just after `sysfs hugepages-2048kB/enabled never`, one Back at a time
    const pcNever = twin.ops.findIndex((o) => o.op === "sysfs" && o.value === "never") + 1;
    for (let pc = twin.ops.length - 2; pc >= pcNever; pc--) {
      await click("#back");
      expect(await page.getAttribute("body", "data-pc")).toBe(String(pc));
      await expectKnobsMatch(twin.m, seen[pc], `after Back to pc ${pc}`);
    }
    expect(seen[pcNever]["hugepages-2048kB/enabled"]).toBe("never");
    expect(seen[pcNever].enabled).toBe("always");
    expect(await page.getAttribute("#knobs .knob[data-knobs='hugepages-2048kB/enabled']", "data-changed")).toBe("true");
    // Reset: a fresh machine, the profile's initial values, nothing highlighted
    await click("#reset");
    expect(await page.getAttribute("body", "data-pc")).toBe("0");
    expect(await page.isVisible("#hl-current")).toBe(false);
    await expectKnobsMatch(twin.m, seen[0], "after Reset");
    expect(await page.$$eval("#knobs .knob.changed", (els) => els.length)).toBe(0);
    // Run: the end state again
    await click("#run");
    await expectKnobsMatch(twin.m, final, "after Run");
  });

  it.skipIf(skip)(`under linux-4.5 the knobs panel shows only its two knobs${why}`, async () => {
    const text = "sysfs use_zero_page 0\nspawn p\nsysfs khugepaged/max_ptes_none 100\n";
    await page.goto(baseUrl + "/");
    await idle();
    await page.selectOption("#kernel", "linux-4.5");
    await idle();
    await page.fill("#source", text);
    await click("#run");
    const twin = await NodeTwin.create(text, "linux-4.5");
    expect(twin.m.profile.knobs).toEqual(["enabled", "use_zero_page"]);
    twin.runThrough(2);
    await expectKnobsMatch(twin.m, twin.m.knobs, "linux-4.5");
    expect((await shownKnobChips()).map((c) => c.knobs.join(" "))).toEqual(["enabled", "use_zero_page"]);
    expect(await page.$$eval("#knobs .knob.changed", (els) => els.map((e) => (e as HTMLElement).dataset.knobs))).toEqual(["use_zero_page"]);
    expect(await page.textContent("#knobs-title")).toBe("(1 changed by sysfs, highlighted; the others are absent in linux-4.5)");
    // a knob linux-4.5 lacks is the scenario's error, as in Node
    const err = await runScenario(text, { kernel: "linux-4.5" }).catch((e) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    expect(await page.textContent("#error")).toBe(`line 3: ${err.reason}`);
  });

  it.skipIf(skip)(`the knob example switches to linux-6.18 and shows what Node computes, partially_mapped included${why}`, async () => {
    const { records, twin } = await openKnobExample("underused-shrink");

    // Step to the first `inspect p A 0`: the new THP is queued for the deferred split, not partially mapped
    await stepThrough(twin, twin.lineOf((o) => o.op === "inspect"));
    await expectKnobsMatch(twin.m, twin.m.knobs, "before shrink");
    expect(await page.getAttribute("#knobs .knob[data-knobs='khugepaged/max_ptes_none']", "data-changed")).toBe("true");
    const want = twin.m.inspect("p", "A", 0);
    expect(want.deferred_split_queued).toBe(true);
    expect(want.partially_mapped).toBe(false);
    expect(await page.getAttribute("#page table", "data-pfn")).toBe(String(want.pfn));
    for (const k of ["deferred_split_queued", "partially_mapped"] as const) {
      expect(await page.textContent(`#page td[data-field='${k}']`), k).toBe(String(want[k]));
    }
    expect(await page.$$eval(".folio[data-head]", (els) => els.map((e) => [(e as HTMLElement).dataset.head,
      (e as HTMLElement).dataset.deferredSplit, (e as HTMLElement).dataset.partiallyMapped])))
      .toEqual([[String(want.pfn), "true", "false"], [String(twin.m.inspect("p", "A", 2 << 20).pfn), "true", "false"]]);

    // Run: the shrinker split the underused THP; the same frames, dump and inspect blocks as Node
    await runToEnd(twin, records, "after-shrink");
    expect(await shownFolios()).toEqual([{ head: twin.m.inspect("p", "A", 2 << 20).pfn, doubleMap: false }]);
    await expectKnobsMatch(twin.m, twin.m.knobs, "at the end");
  });

  it.skipIf(skip)(`the mTHP example switches to linux-6.18 and draws its 64 KiB folios as Node computes them${why}`, async () => {
    const { records, twin } = await openKnobExample("mthp-fork-cow");
    const folioLines = () => page.$$eval(".folio[data-head]", (els) => els.map((e) => [Number((e as HTMLElement).dataset.head), e.textContent!] as const));

    // Step to the dump after fork: four order-4 folios, every page mapped twice, one folio line each
    await stepThrough(twin, twin.lineOf((o) => o.op === "dump" && o.label === "forked"));
    expect(await page.textContent("#observations")).toBe(formatTable(dumpOf(records, "forked")).join("\n"));
    await expectFramesMatch(twin, dumpOf(records, "forked"));
    const forked = await folioLines();
    expect(forked.length).toBe(4);
    for (const [head, line] of forked) {
      expect(line).toContain(`folio pfn ${head} (0x${head.toString(16)}) order 4:`);
      expect(line).toContain(`total_mapcount ${folioCounters(twin.m, head).total_mapcount}`);
      expect(folioCounters(twin.m, head).total_mapcount).toBe(32);
    }
    await expectKnobsMatch(twin.m, twin.m.knobs, "after fork");
    expect(await page.getAttribute("#knobs .knob[data-knobs~='hugepages-64kB/enabled']", "data-changed")).toBe("true");

    // Run: the partially mapped folio was split by the shrinker, three order-4 folios are left
    await runToEnd(twin, records, "after-shrink");
    const end = await folioLines();
    expect(end.length).toBe(3);
    for (const [, line] of end) expect(line).toMatch(/ order 4: /);
  });

  it.skipIf(skip)(`the built package runs unchanged from a plain <script type="module"> import${why}`, async (ctx) => {
    if (!fs.existsSync(path.join(ROOT, "dist/index.js"))) ctx.skip("dist/index.js is not built (npm run build)");
    // the documented use: a plain module script importing the package's dist/index.js; the
    // core is found at /pkg/build/thpemu.wasm through dist/core/loader.js's import.meta.url
    await page.goto(baseUrl + "/plain.html");
    await page.waitForSelector("#out[data-done]", { timeout: 30_000 });
    const out = await page.textContent("#out");
    const got = JSON.parse(out!);
    if (got.error) throw new Error(`in the browser: ${got.error}`);
    // the same build in Node (dist/ may lag behind src/ until `npm run build`)
    const dist = await import(pathToFileURL(path.join(ROOT, "dist/index.js")).href);
    expect(got.records).toEqual(JSON.parse(JSON.stringify(await dist.runScenario(SEED, { kernel: KERNEL }))));
    const m = await dist.Machine.create({ kernel: KERNEL, memory: 1 << 30 });
    m.spawn("parent"); m.mmap("parent", "buf", 2 << 20, "thp"); m.touch("parent", "buf", 0, 2 << 20, "write");
    m.fork("parent", "child"); m.mprotect("child", "buf", 0, 4096, "r");
    expect(got.inspect).toEqual(JSON.parse(JSON.stringify(m.inspect("parent", "buf", 0))));
    expect(got.inspect.PG_double_map).toBe(true);
    expect(got.check).toEqual([]);
  });
});

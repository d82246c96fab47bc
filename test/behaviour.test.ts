// Scenario-level behaviour of the real Linux 6.18 kernel (kernel-behaviour.md),
// and the cases where linux-4.5 differs: one scenario file per rule in
// test/behaviour/, run here with the invariant checker after every operation.
//
// THE DATA FORMAT (test/behaviour/README.md says the same, with examples)
//
// test/behaviour/NAME.scn is a normal scenario (docs/scenario-format.md), so
// `thpemu run` runs it too. Some of its `#` comments mean something here:
//
//   # RULE                    line 1: the rule the file checks (the test's title)
//   #kernel K1 [K2 ...]       run the file under each of these profiles (default linux-6.18)
//   #> EXPECTATION            a check, made at this point of the scenario: the
//                             operations above it have run, those below have not
//   #>[K] EXPECTATION         the same, only when running under profile K
//
// Other `#` lines are plain comments. Expectations (LABEL names a `dump LABEL`
// already run; PAGE is a page index within the region, OFF a scenario offset
// such as 20K; SIZE is a scenario number or a sum of them such as 2M+4K or
// 2M-4K; N is an integer; VALUE is true, false, null, an integer, $var, $var+N
// or $var-N):
//
//   dump LABEL P R: RUN ...|none   the region's pages as runs "first-last:folio/order:mapcount"
//                                  (helpers.runs); folio names F1, F2 … are compared when
//                                  the runs name them, else every THP/page is just F
//   region LABEL P R: rss=SIZE pmd=SIZE   the region record's rss and pmdMapped (both required)
//   folios LABEL P R: N            the number of distinct folios (F…) among its pages
//   index LABEL P R: page          every page's subpage index equals its page index
//   folio LABEL P R PAGE: = P2 R2 PAGE2    the two pages map the same folio (!= : different ones)
//   absent LABEL: P ...            the dump has no record of these processes
//   inspect P R OFF: F=VALUE ...   fields of Machine.inspect() now; F!=VALUE must differ;
//                                  F->$var remembers the value (no check) for later $var
//   queue: VALUE                   length of the deferred split queue now   } internals,
//   hzero-refcount: VALUE          the huge zero page's refcount now       } see `internals`
//   free: VALUE                    free pages now                          } below
//   vmas P: VALUE                  number of VMAs of process P now         }
//
// queue/hzero-refcount/free/vmas also accept `->$var` and `!=VALUE`. A failed
// check is reported as `[KERNEL] FILE:LINE: EXPECTATION` with what was found;
// every check of a file is made (and reported) before the test fails.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import type { Machine } from "../src/machine.js";
import { KERNELS, type KernelName } from "../src/profiles.js";
import type { ObservationRecord } from "../src/scenario/records.js";
import { parseScenario } from "../src/scenario/parse.js";
import { runOps } from "../src/scenario/run.js";
import { machine, pagesOf, regionOf, runs, folioCount, repoRoot } from "./helpers.js";

/** What the expectations read that the public Machine API does not show (yet): update here when src renames it. */
const internals = {
  queue: (m: Machine) => m.core.splitQueueLen,
  "hzero-refcount": (m: Machine) => m.core.hugeZeroRefcount,
  free: (m: Machine) => m.core.nrFreePages(),
  vmas: (m: Machine, proc: string) => {
    const p = m.procs.get(proc);
    if (!p) throw new Error(`no process '${proc}'`);
    return p.mm.vmas.length;
  },
};

type Value = number | boolean | null;
interface Expectation { line: number; text: string; kernel?: KernelName; kind: string; args: string[]; rest: string }
interface Spec { file: string; title: string; kernels: KernelName[]; expectations: Expectation[] }
interface Ctx { m: Machine; recs: ObservationRecord[]; vars: Map<string, Value> }

const DIR = path.join(repoRoot, "test", "behaviour");
const ARITY: Record<string, number> = {
  dump: 3, region: 3, folios: 3, index: 3, folio: 4, absent: 1, inspect: 3, queue: 0, "hzero-refcount": 0, free: 0, vmas: 1,
};

/** Read a behaviour file's title, profiles and expectations (errors name FILE:LINE). */
function parseSpec(text: string, file: string): Spec {
  const lines = text.split(/\r?\n/);
  const fail = (i: number, msg: string): never => { throw new Error(`${file}:${i + 1}: ${msg}`); };
  const title = /^# (\S.*)$/.exec(lines[0])?.[1] ?? fail(0, "line 1 must be '# RULE' (the rule this file checks)");
  let kernels: KernelName[] = ["linux-6.18"];
  const isKernel = (k: string): k is KernelName => (KERNELS as readonly string[]).includes(k);
  const expectations: Expectation[] = [];
  lines.forEach((raw, i) => {
    const l = raw.trim();
    const kl = /^#kernel\s+(.+)$/.exec(l);
    if (kl) {
      kernels = kl[1].trim().split(/\s+/) as KernelName[];
      for (const k of kernels) if (!isKernel(k)) fail(i, `unknown profile '${k}'`);
      return;
    }
    const e = /^#>(?:\[([^\]]*)\])?\s*(.*)$/.exec(l);
    if (!e) return;
    const [, kernel, body] = e;
    const colon = body.indexOf(":");
    if (colon < 0) fail(i, `expected 'WHAT ARGS: VALUES' after '#>'`);
    const [kind, ...args] = body.slice(0, colon).trim().split(/\s+/);
    if (!(kind in ARITY)) fail(i, `unknown expectation '${kind}' (${Object.keys(ARITY).join(", ")})`);
    if (args.length !== ARITY[kind]) fail(i, `'${kind}' takes ${ARITY[kind]} arguments before ':'`);
    if (kernel !== undefined && !isKernel(kernel)) fail(i, `unknown profile '${kernel}'`);
    expectations.push({ line: i + 1, text: body, kernel: kernel as KernelName | undefined, kind, args, rest: body.slice(colon + 1).trim() });
  });
  for (const e of expectations) {
    if (e.kernel && !kernels.includes(e.kernel)) fail(e.line - 1, `${e.kernel} is not in this file's #kernel line`);
  }
  for (const k of kernels) {
    if (!expectations.some((e) => !e.kernel || e.kernel === k)) fail(0, `no expectation applies under ${k}`);
  }
  return { file, title, kernels, expectations };
}

/** An integer (decimal or hex) or a sum of scenario sizes: 0, 511, 0x1ff000, 2M+4K, 2M-4K. */
function num(tok: string): number {
  const terms = /^[+-]?[^+-]+(?:[+-][^+-]+)*$/.test(tok) ? tok.match(/[+-]?[^+-]+/g)! : [];
  if (!terms.length) throw new Error(`bad number '${tok}'`);
  return terms.reduce((sum, t) => {
    const m = /^([+-]?)(0x[0-9a-f]+|\d+)([kmg]?)$/i.exec(t);
    if (!m) throw new Error(`bad number '${tok}'`);
    const v = Number(m[2]) * 1024 ** " kmg".indexOf(m[3].toLowerCase() || " ");
    return m[1] === "-" ? sum - v : sum + v;
  }, 0);
}

function value(tok: string, vars: Map<string, Value>): Value {
  if (tok === "true" || tok === "false") return tok === "true";
  if (tok === "null") return null;
  const v = /^\$(\w+)([+-].+)?$/.exec(tok);
  if (!v) return num(tok);
  if (!vars.has(v[1])) throw new Error(`$${v[1]} was not remembered (use ->$${v[1]} first)`);
  const x = vars.get(v[1])!;
  return v[2] ? (x as number) + num(v[2]) : x;
}

/** Compare `actual` with `OP VALUE` (OP: = (default), != or ->$var); a message when it does not hold. */
function compare(what: string, actual: unknown, op: string, tok: string, ctx: Ctx): string | null {
  if (op === "->") {
    if (!/^\$\w+$/.test(tok)) throw new Error(`'->' takes a $var, not '${tok}'`);
    ctx.vars.set(tok.slice(1), actual as Value);
    return null;
  }
  const want = value(tok, ctx.vars);
  const same = Object.is(actual, want);
  if (op === "!=") return same ? `${what} is ${actual}, expected anything else` : null;
  return same ? null : `${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(want)}`;
}
const OP = /^(!=|->|=)?\s*(\S+)$/;

function dumpOf(ctx: Ctx, label: string): ObservationRecord[] {
  const d = ctx.recs.filter((r) => "label" in r && r.label === label);
  if (!d.length) throw new Error(`no dump '${label}' has run yet`);
  return d;
}

/** Make one check against the machine and the records so far; a message when it fails. */
function check(e: Expectation, ctx: Ctx): string | null {
  const { m } = ctx;
  const [a0, a1, a2, a3] = e.args;
  switch (e.kind) {
    case "dump": {
      const want = e.rest === "none" ? [] : e.rest.split(/\s+/);
      const bad = want.find((r) => !/^\d+-\d+:(F\d*|zero|hzero)\/\d+:\d+$/.test(r));
      if (bad) throw new Error(`bad run '${bad}' (first-last:folio/order:mapcount)`);
      const names = want.some((r) => /:F\d/.test(r));
      if (names && want.some((r) => /:F\//.test(r))) throw new Error(`runs mix named (F1) and unnamed (F) folios`);
      const got = runs(pagesOf(dumpOf(ctx, a0), a1, a2), names);
      return JSON.stringify(got) === JSON.stringify(want) ? null : `found: ${got.join(" ") || "none"}`;
    }
    case "region": {
      const want = Object.fromEntries(e.rest.split(/\s+/).map((kv) => kv.split("=")));
      if (Object.keys(want).sort().join() !== "pmd,rss") throw new Error(`region takes rss=SIZE pmd=SIZE`);
      const r = regionOf(dumpOf(ctx, a0), a1, a2);
      return r.rss === num(want.rss) && r.pmdMapped === num(want.pmd) ? null : `found: rss=${r.rss} pmd=${r.pmdMapped}`;
    }
    case "folios": return compare("the number of folios", folioCount(pagesOf(dumpOf(ctx, a0), a1, a2)), "=", e.rest, ctx);
    case "index": {
      if (e.rest !== "page") throw new Error(`index takes 'page'`);
      const bad = pagesOf(dumpOf(ctx, a0), a1, a2).find((x) => x.index !== x.page);
      return bad ? `page ${bad.page} has index ${bad.index}` : null;
    }
    case "folio": {
      const t = /^(!=|=)\s*(\S+)\s+(\S+)\s+(\d+)$/.exec(e.rest);
      if (!t) throw new Error(`folio takes '= P R PAGE' or '!= P R PAGE'`);
      const d = dumpOf(ctx, a0);
      const folioAt = (p: string, r: string, page: number) => {
        const x = pagesOf(d, p, r).find((y) => y.page === page);
        if (!x) throw new Error(`${p} ${r} has no page ${page} in dump '${a0}'`);
        return x.folio;
      };
      const f1 = folioAt(a1, a2, Number(a3)), f2 = folioAt(t[2], t[3], Number(t[4]));
      return (f1 === f2) === (t[1] === "=") ? null : `found: ${f1} and ${f2}`;
    }
    case "absent": {
      const present = [...new Set(dumpOf(ctx, a0).flatMap((r) => ("proc" in r ? [r.proc] : [])))];
      const bad = e.rest.split(/\s+/).filter((p) => present.includes(p));
      return bad.length ? `found records of ${bad.join(", ")}` : null;
    }
    case "inspect": {
      const rec = m.inspect(a0, a1, num(a2)) as unknown as Record<string, unknown>;
      const out = e.rest.split(/\s+/).map((kv) => {
        const f = /^(\w+)(!=|->|=)(\S+)$/.exec(kv);
        if (!f) throw new Error(`bad field '${kv}' (FIELD=VALUE, FIELD!=VALUE or FIELD->$var)`);
        if (!(f[1] in rec)) throw new Error(`inspect has no field '${f[1]}'`);
        return compare(f[1], rec[f[1]], f[2], f[3], ctx);
      });
      return out.filter(Boolean).join("; ") || null;
    }
    default: {
      const v = OP.exec(e.rest);
      if (!v) throw new Error(`${e.kind} takes one VALUE`);
      const actual = e.kind === "vmas" ? internals.vmas(m, a0) : internals[e.kind as "queue"](m);
      return compare(e.kind, actual, v[1] ?? "=", v[2], ctx);
    }
  }
}

/** Run a file under one profile; the failed checks as `[KERNEL] FILE:LINE: …` messages. */
async function runSpec(spec: Spec, text: string, kernel: KernelName): Promise<string[]> {
  const ops = parseScenario(text, spec.file);
  const ctx: Ctx = { m: await machine(kernel), recs: [], vars: new Map() };
  let next = 0;
  const runUntil = (line: number) => {
    const start = next;
    while (next < ops.length && ops[next].line < line) next++;
    try {
      ctx.recs.push(...runOps(ctx.m, ops.slice(start, next), { file: spec.file, check: true }));
    } catch (err) {
      throw new Error(`[${kernel}] ${(err as Error).message}`);
    }
  };
  const failures: string[] = [];
  for (const e of spec.expectations.filter((x) => !x.kernel || x.kernel === kernel)) {
    runUntil(e.line);
    let msg: string | null;
    try { msg = check(e, ctx); } catch (err) { msg = (err as Error).message; }
    if (msg) failures.push(`[${kernel}] ${spec.file}:${e.line}: ${e.text}\n    ${msg}`);
  }
  runUntil(Infinity);
  return failures;
}

const files = fs.readdirSync(DIR).sort();
const scenarios = files.filter((f) => f.endsWith(".scn"));

describe("test/behaviour/*.scn: each rule of the kernel's behaviour, checked on its scenario", () => {
  it("the folder holds only scenarios and the README", () => {
    expect(files.filter((f) => !f.endsWith(".scn") && f !== "README.md")).toEqual([]);
    expect(scenarios.length).toBeGreaterThan(0);
  });

  for (const f of scenarios) {
    const rel = `test/behaviour/${f}`;
    const text = fs.readFileSync(path.join(DIR, f), "utf8");
    const title = /^# (.*)/.exec(text)?.[1] ?? "(no title line)";
    it(`${f.replace(/\.scn$/, "")}: ${title}`, async () => {
      const spec = parseSpec(text, rel);
      const failures: string[] = [];
      for (const k of spec.kernels) failures.push(...await runSpec(spec, text, k));
      if (failures.length) throw new Error(`${failures.length} failed:\n${failures.join("\n")}`);
    });
  }

  it("the README's example holds", async () => {
    const text = /```\n([\s\S]*?)```/.exec(fs.readFileSync(path.join(DIR, "README.md"), "utf8"))![1];
    const spec = parseSpec(text, "README.md");
    for (const k of spec.kernels) expect(await runSpec(spec, text, k)).toEqual([]);
  });

  it("the driver reports each wrong expectation, of every kind, with its file and line", async () => {
    const text = [
      "# self-test: every expectation is wrong except line 17, which only remembers a value",
      "spawn p", "mmap p A 4M thp", "touch p A 0 4M", "munmap p A 4K 4K", "dump d",
      "#> dump d p A: 0-511:F/9:1", "#> region d p A: rss=4M pmd=4M", "#> folios d p A: 3",
      "#> index d p A: page", "#> folio d p A 0: = p A 512", "#> absent d: p",
      "#> inspect p A 0: order=0 pfn->$x", "#> inspect p A 8K: pfn=$x", "#> queue: 0", "#> hzero-refcount: 1",
      "#> free: ->$f", "#> free: $f+1", "#> vmas p: 1", "#> dump nosuch p A: none", "#> inspect p A 4K: order=9",
    ].join("\n");
    const failures = await runSpec(parseSpec(text, "self.scn"), text, "linux-6.18");
    expect(failures.map((x) => /^\[linux-6\.18\] self\.scn:(\d+): /.exec(x)?.[1])).toEqual(
      ["7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "18", "19", "20", "21"]);
    expect(failures[0]).toContain("found: 0-0:F/9:1 2-1023:F/9:1");
    expect(() => parseSpec("# t\nspawn p\n#> bogus: 1", "x.scn")).toThrow(/^x\.scn:3: unknown expectation 'bogus'/);
  });
});

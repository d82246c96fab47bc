// The house rules of docs/architecture.md, enforced: the import arrows
// between the parts, the "never" rules (the core never imports the host,
// pgtable never imports mm, only the loader touches WebAssembly or the
// struct page layout, the core names no kernel version), and a type-check
// of src/, test/ and web/ with unused locals and parameters as errors. Each
// rule is also run once on a made-up violation, so none of them can pass by
// being unable to fail.
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { repoRoot } from "./helpers.js";

/** The parts of the house, by path (first match wins). */
const PARTS: [string, RegExp][] = [
  ["core", /^assembly\//],
  ["base", /^src\/errors\.ts$/],
  ["profiles", /^src\/(profiles|knobs)\.ts$/],
  ["loader", /^src\/core\//],
  ["pgtable", /^src\/pgtable\//],
  ["mm", /^src\/mm\//],
  ["check", /^src\/check\//],
  ["proc", /^src\/proc\//],
  ["package", /^src\/index\.ts$/],
  ["api", /^src\/(machine|snapshot)\.ts$|^src\/inspect\//],
  ["scenario", /^src\/scenario\//],
  ["kernel", /^src\/kernel\//],
  ["cli", /^src\/cli\//],
  ["web", /^web\//],
];

/** Which parts each part may import (besides itself). */
export const ALLOWED: Record<string, string[]> = {
  core: [],
  base: [],
  profiles: ["base", "loader"],
  loader: ["base"],
  pgtable: ["loader", "base"],
  mm: ["pgtable", "loader", "profiles", "base"],
  check: ["mm", "pgtable", "loader", "profiles", "base"],
  proc: ["mm", "pgtable", "loader", "profiles", "base"],
  api: ["mm", "check", "proc", "pgtable", "loader", "profiles", "base"],
  package: ["api", "scenario", "mm", "pgtable", "loader", "profiles", "base"],
  scenario: ["api", "profiles", "base"],
  kernel: ["scenario", "api", "profiles", "base"],
  cli: ["scenario", "kernel", "api", "profiles", "base"],
  web: ["package"],
};

function partOf(file: string): string | null {
  for (const [name, re] of PARTS) if (re.test(file)) return name;
  return null;
}

interface Source { file: string; text: string }

function sources(dirs: string[]): Source[] {
  const out: Source[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.ts$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push({ file: rel, text: fs.readFileSync(path.join(repoRoot, rel), "utf8") });
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

/** The text without comments (so a comment may name a kernel or a field). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Relative module specifiers a file imports (static, re-export and dynamic). */
function imports(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (let m = re.exec(code(text)); m; m = re.exec(code(text))) out.push(m[1]);
  return [...new Set(out)];
}

/** Every import arrow that breaks ALLOWED: "from -> to (file imports spec)". */
export function arrowViolations(files: Source[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = partOf(f.file);
    if (!from) continue;
    for (const spec of imports(f.text)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f.file), spec)).replace(/\.js$/, ".ts");
      const to = partOf(target);
      if (to === from) continue;
      if (to === null) {
        if (from === "core" || !target.startsWith("src/")) bad.push(`${from} -> outside (${f.file} imports ${spec})`);
        continue;
      }
      if (!ALLOWED[from].includes(to)) bad.push(`${from} -> ${to} (${f.file} imports ${spec})`);
    }
  }
  return bad;
}

/** Host files outside the loader that touch WebAssembly, the .wasm, raw offsets or the struct page stride. */
export function layoutLeaks(files: Source[]): string[] {
  const bad: string[] = [];
  const rules: [RegExp, string][] = [
    [/\bWebAssembly\s*\./, "uses the WebAssembly API"],
    [/["'`][^"'`]*\.wasm["'`]/, "names the .wasm"],
    [/\bMEM_MAP_BASE\b|\bSTRUCT_PAGE_SIZE\b|\bpageAddr\s*\(/, "uses the mem_map address"],
    [/\*\s*64\b/, "multiplies by the 64-byte stride"],
    [/\bcore\s*\.\s*(u32|i32)\b|\.off\s*\.\s*PAGE_|\bcore\s*\.\s*(G|VM|PG)\s*\./, "reads the core's memory or offsets directly"],
  ];
  for (const f of files) {
    if (partOf(f.file) === "loader" || partOf(f.file) === "core") continue;
    const c = code(f.text);
    for (const [re, what] of rules) if (re.test(c)) bad.push(`${f.file} ${what}`);
  }
  return bad;
}

/** Core files whose code (not comments) names a kernel or a kernel version. */
export function coreNamesKernels(files: Source[]): string[] {
  return files.filter((f) => partOf(f.file) === "core" && /PROFILE|linux|\bv?\d\.\d+\b|KERNEL_/i.test(code(f.text)))
    .map((f) => f.file);
}

const host = sources(["src", "web"]);
const core = sources(["assembly"]);

describe("the architecture (docs/architecture.md)", () => {
  it("every import follows an allowed arrow", () => {
    expect(arrowViolations([...host, ...core])).toEqual([]);
  });
  it("never: the core imports the host; pgtable imports mm; web imports anything but the package entry", () => {
    const v = arrowViolations([...host, ...core]);
    expect(v.filter((x) => x.startsWith("core ->"))).toEqual([]);
    expect(v.filter((x) => x.startsWith("pgtable -> mm"))).toEqual([]);
    expect(v.filter((x) => x.startsWith("web ->"))).toEqual([]);
  });
  it("never: anything but the loader touches WebAssembly, the .wasm, raw offsets or the 64-byte stride", () => {
    expect(layoutLeaks(host)).toEqual([]);
  });
  it("never: the core names a kernel version (its switches are CONFIG_* mechanisms)", () => {
    expect(coreNamesKernels(core)).toEqual([]);
  });

  it("each rule reports a made-up violation", () => {
    const f = (file: string, text: string): Source => ({ file, text });
    expect(arrowViolations([f("assembly/x.ts", `import { Machine } from "../src/machine";`)])).toEqual(["core -> outside (assembly/x.ts imports ../src/machine)"]);
    expect(arrowViolations([f("src/pgtable/x.ts", `import type { Mm } from "../mm/types.js";`)])).toEqual(["pgtable -> mm (src/pgtable/x.ts imports ../mm/types.js)"]);
    expect(arrowViolations([f("web/x.ts", `import { formatTable } from "../src/scenario/table.js";`)])).toEqual(["web -> scenario (web/x.ts imports ../src/scenario/table.js)"]);
    expect(arrowViolations([f("src/core/x.ts", `const m = await import("../profiles.js");`)])).toEqual(["loader -> profiles (src/core/x.ts imports ../profiles.js)"]);
    expect(arrowViolations([f("src/check/x.ts", `export { Machine } from "../machine.js";`)])).toEqual(["check -> api (src/check/x.ts imports ../machine.js)"]);
    expect(arrowViolations([f("src/mm/x.ts", `// a comment: import { x } from "../machine.js"`)])).toEqual([]);
    expect(layoutLeaks([f("src/mm/x.ts", "const a = core.u32[slot];")])).toEqual(["src/mm/x.ts reads the core's memory or offsets directly"]);
    expect(layoutLeaks([f("src/mm/x.ts", "const a = base + pfn * 64;")])).toEqual(["src/mm/x.ts multiplies by the 64-byte stride"]);
    expect(layoutLeaks([f("web/x.ts", "await WebAssembly.instantiate(b)")])).toEqual(["web/x.ts uses the WebAssembly API"]);
    expect(layoutLeaks([f("src/core/x.ts", "const a = core.u32[slot];")])).toEqual([]);
    expect(coreNamesKernels([f("assembly/x.ts", "if (load<u32>(G_PROFILE) == 1) return;")])).toEqual(["assembly/x.ts"]);
    expect(coreNamesKernels([f("assembly/x.ts", "// Linux 4.5 did this\nif (IS_ENABLED(CONFIG_MM_ID)) return;")])).toEqual([]);
  });

  it("src/, test/ and web/ type-check with unused locals and parameters as errors (tsconfig.check.json)", () => {
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(repoRoot, "tsconfig.check.json")], { encoding: "utf8", cwd: repoRoot });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
});

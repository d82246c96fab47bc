// A generator of random VALID scenarios, seeded and deterministic (no test
// framework, no fast-check at run time): used by the property tests and by
// `thpemu fuzz`. Random numbers ("seeds", one per operation) are interpreted
// against a model of the live processes, their regions and the protection of
// every page, so that every emitted operation is valid: names exist, ranges
// lie inside regions, every touched page is accessible with the access mode.
// Weighted towards THP edge cases: partial ranges and ranges across 2 MiB
// edges, forks, exits in every order, COW, mprotect none/r/rw, DONTNEED,
// collapse, split, shrink, zero pages (read touches), thp/nothp/no advice,
// region tails that are not a multiple of 2 MiB, and THP knob changes
// (`sysfs`) that the profile has.
import { PROFILES, type KernelName } from "../profiles.js";
import { parseKnob, type KnobName } from "../knobs.js";
import { formatOp, type Op } from "./ops.js";

/** An operation as the generator builds it (lines are numbered when parsed). */
type OpWithoutLine = Op extends infer T ? (T extends Op ? Omit<T, "line"> : never) : never;

const PAGE = 4096;
const BLOCK = 512; // pages per 2 MiB

// ---- the model: enough state to generate only valid operations ------------------
type Prot = "n" | "r" | "w" | "X"; // none, read-only, read-write, unmapped
interface RModel { pages: number; prot: Prot[] }
interface PModel { name: string; regions: Map<string, RModel> }

/** The random numbers one operation is made of (non-negative integers). */
export interface Seed { kind: number; a: number; b: number; c: number; d: number; e: number }

/** Region sizes in pages: mostly 2-8 MiB THP regions, some with a tail, some small. */
export const SIZES = [512, 768, 1024, 1024 + 3, 1536, 2048, 2048, 1024, 512 + 1, 16, 256, 1536 + 100];
export const WEIGHTS: [string, number][] = [
  ["spawn", 2], ["mmap", 6], ["write", 14], ["read", 6], ["fork", 6], ["exit", 4], ["munmap", 4],
  ["mprotect", 6], ["dontneed", 5], ["hugepage", 2], ["nohugepage", 1], ["collapse", 5], ["split", 4],
  ["shrink", 4], ["dump", 3], ["sysfs", 2],
];

/**
 * The knob changes the generator picks from: every value of the PMD-size
 * knobs, max_ptes_none values around the underused shrinker's edges, and
 * every mode of every mTHP size.
 */
const KNOB_CHOICES: [KnobName, string][] = [
  ["enabled", "always"], ["enabled", "madvise"], ["enabled", "never"],
  ["hugepages-2048kB/enabled", "always"], ["hugepages-2048kB/enabled", "inherit"],
  ["hugepages-2048kB/enabled", "madvise"], ["hugepages-2048kB/enabled", "never"],
  ["use_zero_page", "0"], ["use_zero_page", "1"],
  ["shrink_underused", "0"], ["shrink_underused", "1"],
  ["khugepaged/max_ptes_none", "0"], ["khugepaged/max_ptes_none", "1"], ["khugepaged/max_ptes_none", "64"],
  ["khugepaged/max_ptes_none", "256"], ["khugepaged/max_ptes_none", "500"], ["khugepaged/max_ptes_none", "510"],
  ["khugepaged/max_ptes_none", "511"],
  // multi-size THP: the sizes the kernel tests most, each in every mode
  ...(["16", "64", "256", "1024", "32", "128", "512"] as const).flatMap((kb) =>
    (["always", "inherit", "madvise", "never"] as const).map((v): [KnobName, string] => [`hugepages-${kb}kB/enabled` as KnobName, v])),
];

export interface BuildOptions {
  /**
   * Emit `split` only while exactly one process is alive (so no THP is mapped
   * by several processes: the real kernel can split only exclusive THPs from
   * user space). Otherwise such a `split` becomes a write. Default false.
   */
  splitOnlyAlone?: boolean;
  /** Largest region in pages (default: no limit beyond SIZES, 8 MiB + 400 KiB). */
  maxRegionPages?: number;
  /** Emit a `dump` before every `exit` (so what an exiting process mapped is observed). Default false. */
  dumpBeforeExit?: boolean;
}

function kindOf(n: number, weights: [string, number][]): string {
  const total = weights.reduce((s, [, w]) => s + w, 0);
  let x = n % total;
  for (const [k, w] of weights) { if (x < w) return k; x -= w; }
  return "dump";
}

/** A start page and a length in pages inside a region of `n` pages, biased to 2 MiB edges. */
function pickRange(n: number, a: number, b: number): [number, number] {
  let start: number;
  switch (a % 6) {
    case 0: start = 0; break;
    case 1: start = Math.floor((a >>> 3) % Math.ceil(n / BLOCK)) * BLOCK; break;
    case 2: start = (a >>> 3) % n; break;
    case 3: start = Math.floor((a >>> 3) % Math.ceil(n / BLOCK)) * BLOCK + BLOCK / 2; break;
    case 4: start = Math.max(0, n - 1 - ((a >>> 3) % 4)); break;
    default: start = Math.floor((a >>> 3) % Math.ceil(n / BLOCK)) * BLOCK + ((a >>> 12) % 3) - 1; break;
  }
  start = Math.min(Math.max(0, start), n - 1);
  let len: number;
  switch (b % 6) {
    case 0: len = 1; break;
    case 1: len = BLOCK; break;
    case 2: len = 1 + ((b >>> 3) % (n - start)); break;
    case 3: len = n - start; break;
    case 4: len = BLOCK / 2; break;
    default: len = (b >>> 3) % 3 === 0 ? 0 : BLOCK * 2; break;
  }
  return [start, Math.min(len, n - start)];
}

/**
 * Interpret seeds against the model: every emitted line is valid (names
 * exist, ranges inside regions, accesses allowed). Returns scenario lines:
 * a prologue (a THP region touched by the first process), one line or none
 * per seed, and a final `dump final`.
 */
export function buildScenario(
  seeds: Seed[],
  kernel: KernelName = "linux-6.18",
  weights: [string, number][] = WEIGHTS,
  opts: BuildOptions = {},
): string[] {
  const maxPages = opts.maxRegionPages ?? Infinity;
  const sizes = SIZES.filter((s) => s <= maxPages);
  const live: PModel[] = [];
  let nextProc = 0, nextRegion = 0;
  const lines: string[] = [];
  // every line is an Op of the operation table, written as the kernel runner reads it
  const emit = (op: OpWithoutLine) => { lines.push(formatOp({ ...op, line: 0 } as Op)); };
  const spawn = () => {
    const p: PModel = { name: `p${nextProc++}`, regions: new Map() };
    live.push(p);
    emit({ op: "spawn", proc: p.name });
    return p;
  };
  // prologue: a THP region, touched (wholly or in part) by the first process
  const p0 = spawn();
  const first = seeds[0] ?? { kind: 0, a: 0, b: 0, c: 0, d: 0, e: 0 };
  const sizes0 = [1024, 1536, 2048, 1024 + 3].filter((s) => s <= maxPages);
  const size0 = sizes0.length ? sizes0[first.e % sizes0.length] : Math.max(1, Math.min(BLOCK, maxPages));
  p0.regions.set("R0", { pages: size0, prot: new Array<Prot>(size0).fill("w") });
  nextRegion = 1;
  emit({ op: "mmap", proc: "p0", region: "R0", size: size0 * PAGE, advice: "thp" });
  const touched = Math.max(1, Math.min(size0, [size0, BLOCK, BLOCK + 1, size0 - 1][(first.e >>> 2) % 4]));
  emit({ op: "touch", proc: "p0", region: "R0", off: 0, len: touched * PAGE, mode: (first.e >>> 4) % 5 === 0 ? "read" : "write" });
  for (const s of seeds) {
    let kind = kindOf(s.kind, weights);
    if (kind === "collapse" && kernel === "linux-4.5") kind = "dontneed";
    if (kind === "split" && opts.splitOnlyAlone && live.length !== 1) kind = "write";
    if (live.length === 0 && kind !== "shrink" && kind !== "dump") kind = "spawn";
    if (kind === "spawn") { if (live.length < 5) spawn(); continue; }
    if (kind === "shrink") { emit({ op: "shrink" }); continue; }
    if (kind === "sysfs") {
      const choices = KNOB_CHOICES.filter(([k]) => PROFILES[kernel].knobs.includes(k));
      const [knob, value] = choices[s.e % choices.length];
      emit({ op: "sysfs", ...parseKnob(knob, value) });
      continue;
    }
    if (kind === "dump") { emit({ op: "dump", label: `d${lines.length}` }); continue; }
    const p = live[s.c % live.length];
    if (kind === "mmap" || p.regions.size === 0) {
      if (p.regions.size >= 4) continue;
      const pages = sizes.length ? sizes[s.a % sizes.length] : Math.max(1, Math.min(16, maxPages));
      const advice = s.b % 10 < 8 ? "thp" : s.b % 10 < 9 ? null : "nothp";
      const name = `R${nextRegion++}`;
      p.regions.set(name, { pages, prot: new Array<Prot>(pages).fill("w") });
      emit({ op: "mmap", proc: p.name, region: name, size: pages * PAGE, advice });
      if (kind === "mmap") continue;
    }
    if (kind === "fork") {
      if (live.length >= 5) continue;
      const q: PModel = { name: `p${nextProc++}`, regions: new Map() };
      for (const [n, r] of p.regions) q.regions.set(n, { pages: r.pages, prot: r.prot.slice() });
      live.push(q);
      emit({ op: "fork", proc: p.name, child: q.name });
      continue;
    }
    if (kind === "exit") {
      if (live.length === 1 && s.e % 3 !== 0) { kind = "write"; } else {
        live.splice(live.indexOf(p), 1);
        if (opts.dumpBeforeExit) emit({ op: "dump", label: `d${lines.length}` });
        emit({ op: "exit", proc: p.name });
        continue;
      }
    }
    const names = [...p.regions.keys()].sort();
    const rname = names[s.d % names.length];
    const r = p.regions.get(rname)!;
    let [start, len] = pickRange(r.pages, s.a, s.b);
    const at = (pg: number) => ({ proc: p.name, region: rname, off: pg * PAGE });
    switch (kind) {
      case "write":
      case "read": {
        const ok = (x: Prot) => (kind === "write" ? x === "w" : x === "w" || x === "r");
        // first accessible page at or after start, then the longest accessible run (≤ len)
        while (start < r.pages && !ok(r.prot[start])) start++;
        if (start >= r.pages) continue;
        let n = 0;
        while (n < Math.max(len, 1) && start + n < r.pages && ok(r.prot[start + n])) n++;
        emit({ op: "touch", ...at(start), len: n * PAGE, mode: kind });
        break;
      }
      case "munmap":
        for (let i = start; i < start + len; i++) r.prot[i] = "X";
        emit({ op: "munmap", ...at(start), len: len * PAGE });
        break;
      case "mprotect": {
        const prot = (["none", "r", "rw", "rw", "r"] as const)[s.e % 5];
        const m: Prot = prot === "none" ? "n" : prot === "r" ? "r" : "w";
        for (let i = start; i < start + len; i++) if (r.prot[i] !== "X") r.prot[i] = m;
        emit({ op: "mprotect", ...at(start), len: len * PAGE, prot });
        break;
      }
      case "collapse":
        // mostly whole aligned 2 MiB blocks (the only ones collapse acts on)
        if (s.e % 4 !== 0) {
          start = Math.floor(start / BLOCK) * BLOCK;
          len = s.e % 4 === 1 ? r.pages - start : Math.min(r.pages - start, BLOCK * (1 + ((s.e >>> 2) % 2)));
        }
        emit({ op: "madvise", ...at(start), len: len * PAGE, advice: "collapse" });
        break;
      case "dontneed": case "hugepage": case "nohugepage":
        emit({ op: "madvise", ...at(start), len: len * PAGE, advice: kind });
        break;
      case "split":
        emit({ op: "split", ...at(start), len: len * PAGE });
        break;
    }
  }
  emit({ op: "dump", label: "final" });
  return lines;
}

// ---- seeded randomness ---------------------------------------------------------------

/** mulberry32: a small, fast 32-bit PRNG; returns a function giving uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `n` operation seeds from a PRNG. */
export function randomSeeds(next: () => number, n: number): Seed[] {
  const out: Seed[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ kind: next() % 1000, a: next() >>> 1, b: next() >>> 1, c: next() >>> 1, d: next() >>> 1, e: next() >>> 1 });
  }
  return out;
}

/** The seed of run `index` of a fuzz campaign started with `seed` (deterministic, well mixed). */
export function runSeed(seed: number, index: number): number {
  let h = (seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b9);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Fuzzing weights: more exits (so single-process states and `split` come up) and more reads. */
export const FUZZ_WEIGHTS: [string, number][] = [
  ["spawn", 2], ["mmap", 5], ["write", 14], ["read", 7], ["fork", 7], ["exit", 6], ["munmap", 4],
  ["mprotect", 6], ["dontneed", 5], ["hugepage", 2], ["nohugepage", 1], ["collapse", 5], ["split", 5],
  ["shrink", 4], ["dump", 3], ["sysfs", 3],
];

export interface GenerateOptions {
  /** Operations after the prologue (default 20). */
  ops?: number;
  /** Largest region in pages (default 2048 + 100: a little over 8 MiB). */
  maxRegionPages?: number;
  kernel?: KernelName;
  weights?: [string, number][];
}

/**
 * A random valid scenario (text, one operation per line, ending in a
 * newline) from a 32-bit seed: the same seed always gives the same text.
 * For the kernel: `split` only while one process is alive.
 */
export function generateScenario(seed: number, opts: GenerateOptions = {}): string {
  const next = mulberry32(seed);
  const seeds = randomSeeds(next, Math.max(1, opts.ops ?? 20));
  const lines = buildScenario(seeds, opts.kernel ?? "linux-6.18", opts.weights ?? FUZZ_WEIGHTS, {
    splitOnlyAlone: true,
    dumpBeforeExit: true,
    maxRegionPages: opts.maxRegionPages ?? 2048 + 100,
  });
  return lines.join("\n") + "\n";
}

// A generator of random VALID scenarios (shared by the property tests):
// seeds are interpreted against a model of the live processes, their regions
// and the protection of every page, so that every emitted operation is valid
// (names exist, ranges lie inside regions, every touched page is accessible
// with the access mode). Weighted towards THP edge cases.
import fc from "fast-check";
import type { KernelName } from "../src/profiles.js";

const PAGE = 4096;
const BLOCK = 512; // pages per 2 MiB

// ---- the model: enough state to generate only valid operations ------------------
type Prot = "n" | "r" | "w" | "X"; // none, read-only, read-write, unmapped
interface RModel { pages: number; prot: Prot[] }
interface PModel { name: string; regions: Map<string, RModel> }

export interface Seed { kind: number; a: number; b: number; c: number; d: number; e: number }
export const seedArb: fc.Arbitrary<Seed> = fc.record({
  kind: fc.nat(999), a: fc.nat(), b: fc.nat(), c: fc.nat(), d: fc.nat(), e: fc.nat(),
});

// Region sizes in pages: mostly 2-8 MiB THP regions, some with a tail, some small.
const SIZES = [512, 768, 1024, 1024 + 3, 1536, 2048, 2048, 1024, 512 + 1, 16, 256, 1536 + 100];
export const WEIGHTS: [string, number][] = [
  ["spawn", 2], ["mmap", 6], ["write", 14], ["read", 6], ["fork", 6], ["exit", 4], ["munmap", 4],
  ["mprotect", 6], ["dontneed", 5], ["hugepage", 2], ["nohugepage", 1], ["collapse", 5], ["split", 4],
  ["shrink", 4], ["dump", 3],
];
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
 * exist, ranges inside regions, accesses allowed). Returns scenario lines.
 */
export function buildScenario(seeds: Seed[], kernel: KernelName, weights: [string, number][] = WEIGHTS): string[] {
  const live: PModel[] = [];
  let nextProc = 0, nextRegion = 0;
  const lines: string[] = [];
  const spawn = () => {
    const p: PModel = { name: `p${nextProc++}`, regions: new Map() };
    live.push(p);
    lines.push(`spawn ${p.name}`);
    return p;
  };
  // prologue: a THP region, touched (wholly or in part) by the first process
  const p0 = spawn();
  const first = seeds[0];
  const size0 = [1024, 1536, 2048, 1024 + 3][first.e % 4];
  p0.regions.set("R0", { pages: size0, prot: new Array<Prot>(size0).fill("w") });
  nextRegion = 1;
  lines.push(`mmap p0 R0 ${size0 * PAGE} thp`);
  const touched = [size0, BLOCK, BLOCK + 1, size0 - 1][(first.e >>> 2) % 4];
  lines.push(`touch p0 R0 0 ${touched * PAGE} ${(first.e >>> 4) % 5 === 0 ? "read" : "write"}`);
  for (const s of seeds) {
    let kind = kindOf(s.kind, weights);
    if (kind === "collapse" && kernel === "linux-4.5") kind = "dontneed";
    if (live.length === 0 && kind !== "shrink" && kind !== "dump") kind = "spawn";
    if (kind === "spawn") { if (live.length < 5) spawn(); continue; }
    if (kind === "shrink") { lines.push("shrink"); continue; }
    if (kind === "dump") { lines.push(`dump d${lines.length}`); continue; }
    const p = live[s.c % live.length];
    if (kind === "mmap" || p.regions.size === 0) {
      if (p.regions.size >= 4) continue;
      const pages = SIZES[s.a % SIZES.length];
      const adv = s.b % 10 < 8 ? " thp" : s.b % 10 < 9 ? "" : " nothp";
      const name = `R${nextRegion++}`;
      p.regions.set(name, { pages, prot: new Array<Prot>(pages).fill("w") });
      lines.push(`mmap ${p.name} ${name} ${pages * PAGE}${adv}`);
      if (kind === "mmap") continue;
    }
    if (kind === "fork") {
      if (live.length >= 5) continue;
      const q: PModel = { name: `p${nextProc++}`, regions: new Map() };
      for (const [n, r] of p.regions) q.regions.set(n, { pages: r.pages, prot: r.prot.slice() });
      live.push(q);
      lines.push(`fork ${p.name} ${q.name}`);
      continue;
    }
    if (kind === "exit") {
      if (live.length === 1 && s.e % 3 !== 0) { kind = "write"; } else {
      live.splice(live.indexOf(p), 1);
      lines.push(`exit ${p.name}`);
      continue;
      }
    }
    const names = [...p.regions.keys()].sort();
    const rname = names[s.d % names.length];
    const r = p.regions.get(rname)!;
    let [start, len] = pickRange(r.pages, s.a, s.b);
    const at = (pg: number) => `${p.name} ${rname} ${pg * PAGE}`;
    switch (kind) {
      case "write":
      case "read": {
        const ok = (x: Prot) => (kind === "write" ? x === "w" : x === "w" || x === "r");
        // first accessible page at or after start, then the longest accessible run (≤ len)
        while (start < r.pages && !ok(r.prot[start])) start++;
        if (start >= r.pages) continue;
        let n = 0;
        while (n < Math.max(len, 1) && start + n < r.pages && ok(r.prot[start + n])) n++;
        lines.push(`touch ${at(start)} ${n * PAGE} ${kind}`);
        break;
      }
      case "munmap":
        for (let i = start; i < start + len; i++) r.prot[i] = "X";
        lines.push(`munmap ${at(start)} ${len * PAGE}`);
        break;
      case "mprotect": {
        const prot = (["none", "r", "rw", "rw", "r"] as const)[s.e % 5];
        const m: Prot = prot === "none" ? "n" : prot === "r" ? "r" : "w";
        for (let i = start; i < start + len; i++) if (r.prot[i] !== "X") r.prot[i] = m;
        lines.push(`mprotect ${at(start)} ${len * PAGE} ${prot}`);
        break;
      }
      case "collapse":
        // mostly whole aligned 2 MiB blocks (the only ones collapse acts on)
        if (s.e % 4 !== 0) {
          start = Math.floor(start / BLOCK) * BLOCK;
          len = s.e % 4 === 1 ? r.pages - start : Math.min(r.pages - start, BLOCK * (1 + ((s.e >>> 2) % 2)));
        }
        lines.push(`madvise ${at(start)} ${len * PAGE} collapse`);
        break;
      case "dontneed": case "hugepage": case "nohugepage":
        lines.push(`madvise ${at(start)} ${len * PAGE} ${kind}`);
        break;
      case "split":
        lines.push(`split ${at(start)} ${len * PAGE}`);
        break;
    }
  }
  lines.push("dump final");
  return lines;
}


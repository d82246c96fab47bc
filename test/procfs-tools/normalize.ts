// What makes the kernel's tools' output on a real process and on the
// emulator's export comparable, and nothing more (docs/procfs.md, "What the
// comparison maps"):
// - PIDs become process names, addresses become REGION+OFFSET (index.json
//   on both sides);
// - PFNs become P1, P2 … in order of first appearance within the dump
//   (regions in (process, region) order, pages ascending), so sharing is
//   compared and physical placement is not;
// - thpmaps' lines of VMAs outside the scenario's regions are dropped (the
//   real process also maps its program, libc, stack …), and so is its
//   Referenced line (accessed bits: not stable from run to run on the
//   kernel; the region records leave it out for the same reason);
// - one kpageflags bit is masked: KPF_IDLE (PG_idle differs from run to run
//   of the same scenario on the kernel: docs/procfs.md); page-types' summary
//   is recomputed over the masked flags from its own rows.
import fs from "node:fs";
import path from "node:path";

export interface Index {
  pids: Record<string, number>;
  regions: { proc: string; region: string; start: number; end: number }[];
}

/** kpageflags bits left out of the comparison. */
export const MASKED_KPF = { IDLE: 25 } as const;
const MASK_LO = 1 << MASKED_KPF.IDLE;
/** Their positions in page-types' symbolic flags (one column per named bit; bits 0..26 are columns 0..26). */
const MASK_COLS = [MASKED_KPF.IDLE];

function maskSymbolic(s: string): string {
  const c = s.split("");
  for (const i of MASK_COLS) if (i < c.length) c[i] = "_";
  return c.join("");
}

export function readIndex(dir: string): Index {
  return JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8")) as Index;
}

/** page-types -r -L -M -p PID -a … per region: "## proc region" blocks. */
export function normalizePageTypes(text: string, index: Index): string[] {
  const out: string[] = [];
  const pfnName = new Map<string, string>();
  let start = 0;
  let summary = new Map<string, number>();
  let sym = new Map<string, string>();
  const flushSummary = () => {
    for (const [k, n] of [...summary].sort()) out.push(`summary ${sym.get(k)} ${n}`);
    summary = new Map();
    sym = new Map();
  };
  for (const line of text.split("\n")) {
    const hdr = /^## (\S+) (\S+)$/.exec(line);
    if (hdr) {
      flushSummary();
      const r = index.regions.find((x) => x.proc === hdr[1] && x.region === hdr[2]);
      if (!r) throw new Error(`region ${hdr[1]} ${hdr[2]} not in the index`);
      start = r.start / 4096;
      out.push(line);
      continue;
    }
    const page = /^([0-9a-f]+)\t(\d+)\t([0-9a-f]+)\t(\S+)$/.exec(line);
    if (page) {
      let p = pfnName.get(page[3]);
      if (p === undefined) pfnName.set(page[3], (p = `P${pfnName.size + 1}`));
      out.push(`+${(parseInt(page[1], 16) - start).toString(16)} mapcnt=${page[2]} ${p} ${maskSymbolic(page[4])}`);
      continue;
    }
    const row = /^0x([0-9a-f]{16})\t\s*(\d+)\s+\d+\s+(\S+)\t/.exec(line);
    if (row) {
      const lo = parseInt(row[1].slice(8), 16) & ~MASK_LO;
      const key = row[1].slice(0, 8) + (lo >>> 0).toString(16).padStart(8, "0");
      summary.set(key, (summary.get(key) ?? 0) + Number(row[2]));
      sym.set(key, maskSymbolic(row[3]));
      continue;
    }
    const total = /^\s+total\t\s*(\d+)/.exec(line);
    if (total) { flushSummary(); out.push(`total ${total[1]}`); }
  }
  flushSummary();
  return out;
}

/** thpmaps --pid PID --inc-smaps [--cont …] per process: "## proc" blocks, scenario VMAs only. */
export function normalizeThpmaps(text: string, index: Index): string[] {
  const out: string[] = [];
  let keep = false;
  let proc = "";
  for (const line of text.split("\n")) {
    const hdr = /^## (\S+)$/.exec(line);
    if (hdr) { proc = hdr[1]; out.push(line); keep = false; continue; }
    const vma = /^(\d+): ([0-9a-f]+)-([0-9a-f]+) (.*)$/.exec(line);
    if (vma) {
      const s = parseInt(vma[2], 16), e = parseInt(vma[3], 16);
      if (Number(vma[1]) !== index.pids[proc]) throw new Error(`thpmaps of ${proc}: pid ${vma[1]}`);
      const r = index.regions.find((x) => x.proc === proc && x.start <= s && e <= x.end);
      keep = r !== undefined;
      if (r) out.push(`${proc}: ${r.region}+${(s - r.start).toString(16)}-${r.region}+${(e - r.start).toString(16)} ${vma[4].trimEnd()}`);
      continue;
    }
    if (/^\s+PID\s+START/.test(line)) continue;
    // Referenced (young entries, PG_referenced) varies from run to run on the kernel
    if (keep && line.trim() !== "" && !line.startsWith("Referenced:")) out.push(line);
  }
  return out;
}

/** smem's table: the PID column becomes the process name. */
export function normalizeSmem(text: string, index: Index): string[] {
  const byPid = new Map(Object.entries(index.pids).map(([n, p]) => [String(p), n]));
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const m = /^(\s*)(\d+)( .*)$/.exec(l);
    if (!m) return l;
    const name = byPid.get(m[2]);
    if (!name) throw new Error(`smem: unknown pid ${m[2]}`);
    return `${name.padStart(m[1].length + m[2].length)}${m[3]}`;
  });
}

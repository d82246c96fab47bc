// The /proc tree of an emulated machine (fs/proc/root.c's view of it): the
// files the kernel's own tools read (page-types, thpmaps, smem), in the
// kernel's formats, as sparse byte files keyed by path:
//
//   kpageflags, kpagecount               fs/proc/page.c           (page.ts)
//   PID/maps, smaps, smaps_rollup,       fs/proc/task_mmu.c       (task_mmu_files.ts)
//   PID/pagemap
//   PID/status, stat                     fs/proc/array.c          (array.ts)
//   PID/cmdline                          the scenario's process name, NUL-terminated
//   meminfo                              fs/proc/meminfo.c        (meminfo.ts; smem needs it)
//   index.json                           thpemu's own: names -> PIDs, regions in bytes
//
// PIDs are fake and stable: FIRST_PID + the order in which the scenario
// created its processes (spawn and fork), so a process keeps its PID from
// dump to dump and PIDs grow in creation order as on a real machine.
import type { Kernel, Process } from "../mm/types.js";
import { kpageFiles, PFN_OFFSET } from "./page.js";
import { textFile, mapsText, smapsText, smapsRollupText, pagemapFile, vmaStats, rollupStats, type ProcFile } from "./task_mmu_files.js";
import { statusText, statText } from "./array.js";
import { meminfoText } from "./meminfo.js";

export type { ProcFile } from "./task_mmu_files.js";
/** The tree: path relative to the tree's root (`kpageflags`, `1000/smaps`, …) -> file. */
export type ProcTree = Map<string, ProcFile>;

/** The first fake PID (the first process the scenario created). */
export const FIRST_PID = 1000;

/** index.json: process name -> PID, and every region of every live process (addresses in bytes). */
export interface ProcIndex {
  pids: Record<string, number>;
  /** Emulated frame F is PFN F + pfnOffset in kpageflags, kpagecount and pagemap (page.ts PFN_OFFSET). */
  pfnOffset: number;
  regions: { proc: string; region: string; start: number; end: number }[];
}

/** The byte-view of a u64 array held as lo/hi 32-bit words, written sparse: runs of non-zero u64s. */
export function sparseU64(words: Uint32Array): ProcFile {
  const extents: ProcFile["extents"] = [];
  const n = words.length / 2;
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  for (let i = 0; i < n;) {
    if (words[2 * i] === 0 && words[2 * i + 1] === 0) { i++; continue; }
    let j = i;
    while (j < n && (words[2 * j] !== 0 || words[2 * j + 1] !== 0)) j++;
    extents.push({ offset: i * 8, bytes: bytes.subarray(i * 8, j * 8) });
    i = j;
  }
  return { size: n * 8, extents };
}

/**
 * The whole tree for the processes `procs` (in creation order; exited ones
 * keep their PID but get no directory).
 */
export function procfsTree(k: Kernel, procs: Iterable<Process>): ProcTree {
  const all = [...procs];
  const pidOf = new Map(all.map((p, i) => [p.name, FIRST_PID + i]));
  const tree: ProcTree = new Map();
  const kp = kpageFiles(k);
  tree.set("kpageflags", sparseU64(kp.flags));
  tree.set("kpagecount", sparseU64(kp.count));
  tree.set("meminfo", textFile(meminfoText(k, kp)));
  const index: ProcIndex = { pids: {}, pfnOffset: PFN_OFFSET, regions: [] };
  for (const p of all) {
    if (!p.alive) continue;
    const pid = pidOf.get(p.name)!;
    const parent = p.parent !== null ? all.find((q) => q.name === p.parent) : undefined;
    // an orphan is reparented to init; a spawned process is the runner's child (here: init's)
    const ppid = parent && parent.alive ? pidOf.get(parent.name)! : 1;
    index.pids[p.name] = pid;
    for (const r of [...p.regions.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      index.regions.push({ proc: p.name, region: r.name, start: r.start, end: r.start + r.size });
    }
    const stats = vmaStats(k, p);
    const rollup = rollupStats(stats);
    const dir = String(pid);
    tree.set(`${dir}/maps`, textFile(mapsText(p)));
    tree.set(`${dir}/smaps`, textFile(smapsText(stats)));
    tree.set(`${dir}/smaps_rollup`, textFile(smapsRollupText(stats)));
    tree.set(`${dir}/pagemap`, pagemapFile(k, p));
    tree.set(`${dir}/status`, textFile(statusText(p, { pid, ppid }, rollup)));
    tree.set(`${dir}/stat`, textFile(statText(p, { pid, ppid }, rollup)));
    tree.set(`${dir}/cmdline`, textFile(`${p.name}\0`));
  }
  tree.set("index.json", textFile(JSON.stringify(index) + "\n"));
  return tree;
}

/** A small file's whole contents (holes as zero bytes); refuses files above `limit` bytes. */
export function procFileBytes(f: ProcFile, limit = 64 * 1024 * 1024): Uint8Array {
  if (f.size > limit) throw new RangeError(`file of ${f.size} bytes is above the ${limit}-byte limit (it is sparse: read its extents)`);
  const out = new Uint8Array(f.size);
  for (const e of f.extents) out.set(e.bytes, e.offset);
  return out;
}

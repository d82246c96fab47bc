// The host as a profile (`thpemu probe`, `--kernel host`): the host kernel's
// release, its THP knobs as they are now, and its quirks, the behaviour no
// knob shows, measured by small live experiments run through the kernel
// runner (docs/host.md). Knobs are read fresh every time; quirks are cached
// per kernel build (release + /proc/version) in the runner's cache folder.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KNOB_NAMES, REFERENCE_KNOBS, isMthpKnob, type KnobName, type ThpKnobs } from "../knobs.js";
import { PROFILES, QUIRK_NAMES, type HostQuirks, type KernelName } from "../profiles.js";
import type { MachineOptions } from "../machine.js";
import { cacheDir, hostCanServe, runOnKernel } from "./runner.js";

const THP = "/sys/kernel/mm/transparent_hugepage";

/** What `thpemu probe` prints. */
export interface HostProbe {
  /** uname -r */
  release: string;
  /** /proc/version: the build (compiler, build number, date) */
  version: string;
  /** Every modelled knob's current host value. */
  knobs: ThpKnobs;
  /** Modelled knobs this kernel has no file for (older kernels); their value is the reference machine's. */
  missingKnobs: KnobName[];
  /** Files under transparent_hugepage/ the emulator does not model, with their values (for the record). */
  unmodelledKnobs: Record<string, string>;
  /** Measured behaviour, and this build's `anon_beside_full` setting (docs/host.md). */
  quirks: HostQuirks;
  /** Whether `quirks` came from the cache of this build (false: measured now). */
  quirksCached: boolean;
}

/** The host cannot be probed (not Linux, not root, no /proc/kpageflags, no THP): CLI exit 4. */
export class HostError extends Error {}

/** A knob file's value: the bracketed word of `always [madvise] never`, or the number. */
export function knobFileValue(text: string): string {
  const m = /\[([^\]]+)\]/.exec(text);
  return (m ? m[1] : text).trim();
}

/** The runners' machine-wide lock and a killed runner's journal of original knob values (native/kernel-runner.c). */
const RUNNER_LOCK = "/tmp/thpemu-kernel.lock";
const RUNNER_JOURNAL = "/tmp/thpemu-kernel.knobs";

/**
 * The knob files' texts as the user left them. A kernel run in another
 * process changes knobs between its `sysfs` lines and its restore, under the
 * machine-wide flock: so read them holding that lock (shared, through
 * util-linux flock(1)). A journal there means a runner was killed before its
 * restore; its lines name the original values, which win.
 */
function readKnobTexts(): Map<string, string> {
  const files = [...KNOB_NAMES.map((n) => path.join(THP, n)), RUNNER_JOURNAL];
  let o: Record<string, string>;
  try {
    // flock -s waits for a run in progress; the child prints the files, read under the lock, as JSON
    const script = `const fs=require("fs");const o={};for(const f of process.argv.slice(1)){try{o[f]=fs.readFileSync(f,"utf8")}catch{}}process.stdout.write(JSON.stringify(o))`;
    o = JSON.parse(execFileSync("flock", ["-s", "-w", "300", RUNNER_LOCK, process.execPath, "-e", script, ...files],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as Record<string, string>;
  } catch {
    o = {}; // no flock(1), or the lock cannot be taken: read unlocked
    for (const f of files) try { o[f] = fs.readFileSync(f, "utf8"); } catch { /* missing */ }
  }
  const texts = new Map<string, string>();
  for (const name of KNOB_NAMES) if (o[path.join(THP, name)] !== undefined) texts.set(name, o[path.join(THP, name)]);
  for (const [name, orig] of journalOriginals(o[RUNNER_JOURNAL] ?? "")) if (texts.has(name)) texts.set(name, orig);
  return texts;
}

/** The original knob values a killed runner's journal lists (`KNOB ORIGINAL` lines; `# boot_id` and vm.min_free_kbytes are not knobs). */
export function journalOriginals(journal: string): Map<string, string> {
  const orig = new Map<string, string>();
  for (const line of journal.split("\n")) {
    const m = /^([^#/\s]\S*) (.+)$/.exec(line);
    if (m && (KNOB_NAMES as readonly string[]).includes(m[1])) orig.set(m[1], m[2]);
  }
  return orig;
}

function readKnobs(): { knobs: ThpKnobs; missing: KnobName[] } {
  const knobs = { ...REFERENCE_KNOBS } as unknown as Record<string, string | number>;
  const missing: KnobName[] = [];
  const texts = readKnobTexts();
  for (const name of KNOB_NAMES) {
    const text = texts.get(name);
    if (text === undefined) {
      missing.push(name);
      continue;
    }
    const v = knobFileValue(text);
    knobs[name] = typeof REFERENCE_KNOBS[name] === "number" ? Number(v) : v;
  }
  return { knobs: knobs as unknown as ThpKnobs, missing };
}

/** Read-only statistics and constants, not settings; and the build-specific file modelled as a quirk. */
const BESIDE_FULL = "anon_beside_full";
const COUNTERS = ["hpage_pmd_size", "khugepaged/full_scans", "khugepaged/pages_collapsed", BESIDE_FULL];

/** A file under transparent_hugepage/, or null where the build has none. */
function readOptional(rel: string): string | null {
  try {
    return knobFileValue(fs.readFileSync(path.join(THP, rel), "utf8"));
  } catch {
    return null;
  }
}

function pick<T extends object>(o: T, keys: string[]): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]])) as Partial<T>;
}

/** Plain knob files (top level and khugepaged/) that are not modelled, e.g. defrag or a build's own. */
function readUnmodelled(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dir of ["", "khugepaged"]) {
    let names: string[];
    try { names = fs.readdirSync(path.join(THP, dir)); } catch { continue; }
    for (const n of names.sort()) {
      const rel = dir ? `${dir}/${n}` : n;
      if ((KNOB_NAMES as string[]).includes(rel) || COUNTERS.includes(rel)) continue;
      const file = path.join(THP, rel);
      try {
        if (!fs.statSync(file).isFile()) continue;
        out[rel] = knobFileValue(fs.readFileSync(file, "utf8"));
      } catch {
        // unreadable: leave it out
      }
    }
  }
  return out;
}

/**
 * The experiments, one per quirk. Each sets the knobs it depends on itself
 * (the runner restores them), so a quirk never depends on the host's knob
 * values. Each returns the quirk from the kernel's records.
 */
const PIN = [
  "sysfs enabled madvise", "sysfs hugepages-2048kB/enabled inherit", "sysfs use_zero_page 1",
  "sysfs shrink_underused 1", "sysfs khugepaged/max_ptes_none 511",
];
interface Rec { type: string; region?: string; page?: number; folio?: string; order?: number }
const EXPERIMENTS: Record<Exclude<keyof HostQuirks, "mthpBesideFull">, { lines: string[]; judge: (recs: Rec[]) => boolean }> = {
  // do_anonymous_page: a read of a never-touched page outside any THP block
  readFaultZeroPage: {
    lines: ["spawn p", "mmap p A 8192 nothp", "touch p A 0 8192 read", "dump"],
    judge: (recs) => pagesOf(recs, "A").every((r) => r.folio === "zero"),
  },
  // do_huge_pmd_anonymous_page: a read of an eligible 2 MiB block with use_zero_page 1
  readFaultHugeZeroPage: {
    lines: ["spawn p", "mmap p A 2097152 thp", "touch p A 0 4096 read", "dump"],
    judge: (recs) => pagesOf(recs, "A")[0]?.folio === "hzero",
  },
  // split_folio via the shrinker and via split: zero-filled subpages to the zero page
  splitRemapsZeroPages: {
    lines: [
      "spawn p", "mmap p A 2097152 thp", "touch p A 0 2097152 read", "touch p A 0 4096 write", // a THP either way
      "munmap p A 4096 4096", "shrink",
      "mmap p B 2097152 thp", "touch p B 0 4096 write", "split p B 0 2097152", "dump",
    ],
    judge: (recs) => ["A", "B"].every((r) => pagesOf(recs, r).some((x) => x.page === 5 && x.folio === "zero")),
  },
};

function pagesOf(recs: Rec[], region: string): Rec[] {
  return recs.filter((r) => r.type === "page" && r.region === region);
}

/** Run each experiment; `host` is the knobs the probe read (which mTHP sizes to switch off first). */
async function measureQuirks(host: { knobs: ThpKnobs; missing: KnobName[] }): Promise<Omit<HostQuirks, "mthpBesideFull">> {
  const quirks = {} as Omit<HostQuirks, "mthpBesideFull">;
  const off = mthpOff(host.knobs, host.missing);
  for (const name of Object.keys(EXPERIMENTS) as (keyof typeof EXPERIMENTS)[]) {
    const ex = EXPERIMENTS[name];
    const r = await runOnKernel([...PIN, ...off, ...ex.lines].join("\n") + "\n");
    if (r.status !== "ok") {
      throw new HostError(`probe experiment ${name} could not run on this kernel: ${r.reason}`);
    }
    const recs = r.jsonl.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Rec);
    quirks[name] = ex.judge(recs);
  }
  return quirks;
}

/** sysfs lines that switch off every mTHP size the host has on (an experiment wants PMD-size THP only). */
function mthpOff(knobs: ThpKnobs, missing: KnobName[]): string[] {
  return KNOB_NAMES.filter((k) => isMthpKnob(k) && !missing.includes(k) && knobs[k] !== "never").map((k) => `sysfs ${k} never`);
}

function buildKey(release: string, version: string): string {
  return createHash("sha256").update(`${release}\n${version}`).digest("hex").slice(0, 16);
}

/**
 * Probe this host: its knobs now, and its quirks (from the cache of this
 * kernel build, or measured now and cached; `refresh` measures again).
 * Throws a HostError where the host cannot be probed.
 */
export async function probeHost(opts: { refresh?: boolean } = {}): Promise<HostProbe> {
  const ok = hostCanServe();
  if (!ok.ok) throw new HostError(ok.reason ?? "this host cannot run scenarios on its kernel");
  const release = os.release();
  let version = "";
  try { version = fs.readFileSync("/proc/version", "utf8").trim(); } catch { /* not fatal */ }
  const { knobs, missing } = readKnobs();
  const cacheFile = path.join(cacheDir(), `host-${buildKey(release, version)}.json`);
  let quirks: Omit<HostQuirks, "mthpBesideFull"> | null = null;
  if (!opts.refresh) {
    try {
      const c = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as { quirks?: Record<string, unknown> };
      if (c.quirks && Object.keys(EXPERIMENTS).every((q) => typeof c.quirks![q] === "boolean")) {
        quirks = c.quirks as unknown as Omit<HostQuirks, "mthpBesideFull">;
      }
    } catch {
      // no cache yet
    }
  }
  const cached = quirks !== null;
  if (!quirks) {
    quirks = await measureQuirks({ knobs, missing });
    try {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify({ release, version, quirks, probedAt: new Date().toISOString() }, null, 2) + "\n");
      fs.renameSync(tmp, cacheFile);
    } catch {
      // an unwritable cache only costs a new measurement next time
    }
  }
  // a build's own setting, read now like the knobs (it can change at any time)
  const mthpBesideFull = readOptional(BESIDE_FULL) === "1";
  return {
    release, version, knobs, missingKnobs: missing, unmodelledKnobs: readUnmodelled(),
    quirks: { ...pick(quirks, Object.keys(EXPERIMENTS)), mthpBesideFull } as HostQuirks, quirksCached: cached,
  };
}

/**
 * What a comparison with the kernel runs: the emulator's machine options and
 * the `sysfs` lines the kernel runner performs first.
 * - `host`: linux-6.18 with the host's knobs as initial values and its quirks.
 * - `linux-6.18`: the profile's initial knobs, which the runner sets first;
 *   a host whose quirks differ from the profile's cannot check it (`skip`).
 */
export interface KernelTarget {
  kernel: "host" | KernelName;
  machine: MachineOptions;
  prologue: string[];
  /** Why no scenario can be checked against this host under this target. */
  skip?: string;
  probe: HostProbe;
}

export async function resolveTarget(kernel: "host" | KernelName): Promise<KernelTarget> {
  const probe = await probeHost();
  if (kernel === "host") {
    return { kernel, machine: { kernel: "linux-6.18", knobs: probe.knobs, quirks: probe.quirks }, prologue: [], probe };
  }
  const profile = PROFILES[kernel];
  if (!profile || kernel !== "linux-6.18") {
    return { kernel, machine: { kernel }, prologue: [], probe, skip: `the host runs Linux ${probe.release}, not ${kernel}` };
  }
  const prologue = KNOB_NAMES
    .filter((k) => !probe.missingKnobs.includes(k) && String(probe.knobs[k]) !== String(profile.initialKnobs[k]))
    .map((k) => `sysfs ${k} ${profile.initialKnobs[k]}`);
  const differ = QUIRK_NAMES.filter((q) => probe.quirks[q] !== profile[q]);
  const skip = differ.length
    ? `this host's kernel differs from ${kernel} in ${differ.map((q) => `${q} (${probe.quirks[q]})`).join(", ")}: compare with --kernel host`
    : undefined;
  return { kernel, machine: { kernel }, prologue, probe, skip };
}

/** The host's knobs and quirks as a header record of a kernel recording (`thpemu record`). */
export function recordedHeader(probe: HostProbe): { type: "host"; release: string; version: string; knobs: ThpKnobs; quirks: HostQuirks } {
  return { type: "host", release: probe.release, version: probe.version, knobs: probe.knobs, quirks: probe.quirks };
}

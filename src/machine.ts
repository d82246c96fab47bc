// Machine: the public facade. One emulated machine (physical memory in the
// WebAssembly core, processes with x86-64 page tables in the host) that runs
// the scenario operations. Every method validates its arguments first and
// throws a UserError without changing anything; an operation that runs out of
// emulated memory half-way is rolled back from a snapshot.
import { Core, coreTrap } from "./core/frames.js";
import { PROFILES, SCHEMES, QUIRK_NAMES, coreConfig, type KernelName, type Profile, type SchemeName, type HostQuirks } from "./profiles.js";
import { KNOB_NAMES, parseKnob, type KnobName, type ThpKnobs } from "./knobs.js";
import { PageTables } from "./pgtable/pagetable.js";
import { Deposits } from "./pgtable/deposit.js";
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE } from "./pgtable/x86_64.js";
import type { Kernel, Mm, Process, Region, Vma } from "./mm/types.js";
import { VM_READ, VM_WRITE, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_ACCOUNT } from "./mm/types.js";
import { UserError, OomError, InternalError, BadPageError } from "./errors.js";
import { findVma } from "./mm/vma.js";
import { accessRange } from "./mm/fault.js";
import { dupMm } from "./mm/fork.js";
import { munmap as doMunmap, exitMmap } from "./mm/unmap.js";
import { mprotect as doMprotect, type Prot } from "./mm/mprotect.js";
import { madviseDontneed, madviseHugepage, madviseCollapse } from "./mm/madvise.js";
import { splitFolio, thpsMappedIn, shrinkAll } from "./mm/huge_memory.js";
import { observe, observeEach, smaps as procSmaps, type PageRecord, type RegionRecord, type ObserveOptions, type ObserveVisitor, type SmapsVma } from "./mm/task_mmu.js";
export { folioName, FOLIO_ZERO, FOLIO_HZERO } from "./mm/task_mmu.js";
export type { ObserveVisitor } from "./mm/task_mmu.js";
export { PSS_SHIFT, SMAPS_REGION_KEYS } from "./mm/task_mmu.js";
export type { MemSizeStats, SmapsFields, SmapsVma, SmapsRegion, SmapsRegionKey, ObserveOptions } from "./mm/task_mmu.js";
import { inspectPage, type InspectRecord } from "./mm/folio.js";
export { averageMapcount } from "./mm/folio.js";
import { checkInvariants } from "./check/invariants.js";
import { procfsTree, type ProcTree, type ProcFile, type ProcIndex } from "./proc/procfs.js";
export { procFileBytes, FIRST_PID } from "./proc/procfs.js";
import { takeSnapshot, restoreSnapshot, type Snapshot } from "./snapshot.js";

export { UserError, OomError, InternalError, BadPageError };
/** The rmap entry points the cost counters count (Machine.costs()). */
export { COST_OPS, type CostOp, type OpCost } from "./core/frames.js";
export type { PageRecord, RegionRecord, InspectRecord, Snapshot, ProcTree, ProcFile, ProcIndex };
/** Every record an operation can produce. */
export type ObservationRecord = PageRecord | RegionRecord | InspectRecord;
export type Advice = "thp" | "nothp" | null;
export type MadviseAdvice = "dontneed" | "hugepage" | "nohugepage" | "collapse";

export interface MachineOptions {
  /** Kernel profile: "linux-6.18" (default) or "linux-4.5". */
  kernel?: KernelName;
  /**
   * Emulated physical memory in bytes (default 4 GiB, at most 128 GiB: its
   * mem_map of 64-byte struct pages, 2 GiB at 128 GiB, and the page tables'
   * entries share WebAssembly's 4 GiB of linear memory). Only what the
   * scenario touches costs memory and time (lazy struct page init).
   */
  memory?: number;
  /** @internal Cap on the core's WebAssembly memory in bytes (default: the wasm32 ceiling, 4 GiB): tests of running out of it. */
  wasmMemoryLimit?: number;
  /** Use the debug build of the core (assertions on). */
  debugCore?: boolean;
  /**
   * Mapcount scheme (docs/schemes.md): naive, doublemap (Linux 4.5), subpages
   * (6.2), large (6.11+), nopagemapcount (6.15+ CONFIG_NO_PAGE_MAPCOUNT).
   * Default: the profile's (linux-4.5: doublemap, linux-6.18: large).
   */
  scheme?: SchemeName;
  /**
   * Initial THP knob values (default: the profile's; `thpemu probe`'s
   * `knobs` for the host). Each is checked as a `sysfs` line would be.
   */
  knobs?: Partial<ThpKnobs>;
  /** Host kernel quirks that override the profile's (`thpemu probe`'s `quirks`; docs/host.md). */
  quirks?: Partial<HostQuirks>;
  /**
   * Every `dump` also reports each region's smaps fields (`"smaps": {…}` in
   * the region records, in kB; the CLI's `--smaps`; docs/scenario-format.md).
   */
  smaps?: boolean;
}

export const DEFAULT_MEMORY = 4 * 1024 ** 3;
/** The largest emulated memory: 128 GiB (see MachineOptions.memory). */
export const MAX_MEMORY = 128 * 1024 ** 3;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
const MMAP_TOP = 0x7f0000000000; // where top-down mmap starts (below the stack)

export class Machine {
  readonly profile: Profile;
  readonly memoryBytes: number;
  /** @internal */ readonly k: Kernel;
  /** Processes by name, including exited ones (names are never reused). */
  readonly procs = new Map<string, Process>();
  private dumps = 0;
  /** What `observe` (a `dump`) reports by default: `{ smaps: true }` adds each region's smaps fields. */
  observeOptions: ObserveOptions = {};

  private constructor(core: Core, profile: Profile, memoryBytes: number, knobs: ThpKnobs) {
    this.profile = profile;
    this.memoryBytes = memoryBytes;
    this.k = { core, pt: new PageTables(core), profile, knobs, deposits: new Deposits(), nextMmId: 1, nextAnonVma: 1 };
  }

  /** Build a machine. */
  static async create(opts: MachineOptions = {}): Promise<Machine> {
    // options from JavaScript may be anything: only own properties of plain objects count
    // (`kernel: "toString"` is not a profile)
    if (opts === null || typeof opts !== "object") throw new UserError(`machine options must be an object`);
    const kernel = opts.kernel ?? "linux-6.18";
    if (typeof kernel !== "string" || !Object.prototype.hasOwnProperty.call(PROFILES, kernel)) {
      throw new UserError(`unknown kernel profile '${shown(kernel)}' (linux-6.18 or linux-4.5)`);
    }
    const base = PROFILES[kernel];
    const profile: Profile = { ...base };
    for (const [what, o] of [["quirks", opts.quirks], ["knobs", opts.knobs]] as const) {
      if (o !== undefined && (o === null || typeof o !== "object")) throw new UserError(`machine option '${what}' must be an object`);
    }
    for (const [q, v] of Object.entries(opts.quirks ?? {})) {
      if (!(QUIRK_NAMES as string[]).includes(q) || typeof v !== "boolean") {
        throw new UserError(`unknown host quirk '${q}' or not a boolean (${QUIRK_NAMES.join(", ")})`);
      }
      profile[q as keyof HostQuirks] = v;
    }
    const knobs: ThpKnobs = { ...profile.initialKnobs };
    for (const [name, v] of Object.entries(opts.knobs ?? {})) {
      setKnob(profile, knobs, name, shown(v), "initial value of ");
    }
    const bytes = opts.memory ?? DEFAULT_MEMORY;
    if (!Number.isInteger(bytes) || bytes < 16 * 1024 * 1024 || bytes % PAGE_SIZE !== 0) {
      throw new UserError(`memory size must be a multiple of 4 KiB and at least 16 MiB`);
    }
    if (bytes > MAX_MEMORY) {
      throw new UserError(`memory size above 128 GiB is not supported (its 64-byte struct pages and the page tables must fit in WebAssembly's 4 GiB of linear memory)`);
    }
    const scheme = opts.scheme ?? profile.scheme;
    if (typeof scheme !== "string" || !SCHEMES.includes(scheme)) throw new UserError(`unknown mapcount scheme '${shown(scheme)}' (${SCHEMES.join(", ")})`);
    const core = await Core.create(bytes / PAGE_SIZE, coreConfig(profile, scheme), opts.debugCore);
    if (opts.wasmMemoryLimit !== undefined) core.limitMemory(opts.wasmMemoryLimit);
    const m = new Machine(core, profile, bytes, knobs);
    if (opts.smaps) m.observeOptions = { smaps: true };
    return m;
  }

  /** The WebAssembly core (raw fields, vmstat, free pages). */
  get core(): Core { return this.k.core; }
  /** The mapcount scheme this machine counts with. */
  get scheme(): SchemeName { return this.k.core.scheme; }

  // ---- lookups ----------------------------------------------------------------
  private live(name: string): Process {
    const p = typeof name === "string" ? this.procs.get(name) : undefined;
    if (!p) throw new UserError(`unknown process '${shown(name)}'`);
    if (!p.alive) throw new UserError(`process '${name}' has exited`);
    return p;
  }
  private region(p: Process, name: string): Region {
    const r = typeof name === "string" ? p.regions.get(name) : undefined;
    if (!r) throw new UserError(`unknown region '${shown(name)}' in process '${p.name}'`);
    return r;
  }
  private range(p: Process, rname: string, off: number, len: number): { r: Region; start: number; end: number } {
    const r = this.region(p, rname);
    checkPageMultiple(off, "offset");
    checkPageMultiple(len, "length");
    if (off < 0 || len < 0 || off + len > r.size) {
      throw new UserError(`range [${hex(off)}, ${hex(off + len)}) is outside region '${rname}' of ${hex(r.size)} bytes`);
    }
    return { r, start: r.start + off, end: r.start + off + len };
  }
  private newName(name: string, what: string): void {
    if (typeof name !== "string" || !NAME_RE.test(name)) throw new UserError(`invalid ${what} name '${shown(name)}'`);
  }

  // ---- transactions -------------------------------------------------------------
  /**
   * Run `fn`; if it might need more frames than are free (`bound`, of them
   * at most `tables` page tables), or more WebAssembly memory than the 4 GiB
   * ceiling leaves (struct pages for that many frames, entries for that many
   * tables), take a snapshot first and restore it when the operation fails,
   * so a failed operation changes nothing.
   */
  private transact<T>(bound: number, fn: () => T, tables = bound): T {
    const snap = this.begin(bound, tables);
    try {
      const out = fn();
      this.commit(snap);
      return out;
    } catch (err) {
      this.abort(snap, err);
    }
  }

  /** An operation starts: a snapshot to roll back to when it may run out of frames (`bound`) or WebAssembly memory (`tables`). */
  private begin(bound: number, tables: number): Snapshot | undefined {
    return this.k.core.mayRunOut(bound, tables) ? this.snapshot() : undefined;
  }

  /** The operation ended: fail it if the emulator's memory ran out on the way, or the core reported a bad page. */
  private commit(snap: Snapshot | undefined): void {
    if (this.k.core.memoryExhausted) {
      if (!snap) throw new InternalError(`internal error: ${this.wasmOom().message}, and no snapshot was taken to roll back`);
      throw this.wasmOom();
    }
    this.k.core.checkBadPage();
  }

  /** The operation failed: roll back, and say which memory ran out or turn a core trap into an InternalError. */
  private abort(snap: Snapshot | undefined, err: unknown): never {
    const core = this.k.core;
    const exhausted = core.memoryExhausted; // (set only when this operation fails)
    core.clearMemoryExhausted();
    if (snap) this.restore(snap);
    if (exhausted && err instanceof OomError) throw this.wasmOom(); // say which memory ran out
    throw coreTrap(err) ?? err; // a trap in the core is an emulator bug: InternalError
  }

  /** The emulator's own limit, not the emulated kernel's: the whole operation fails (no fault falls back because of it). */
  private wasmOom(): OomError {
    return new OomError(`out of memory: the emulator's WebAssembly memory (${this.k.core.memoryLimitBytes / 1024 ** 2} MiB, ` +
      `holding the struct pages and page tables) is exhausted`);
  }

  /** Run a read-only `fn`; a trap in the core becomes an InternalError. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw coreTrap(err) ?? err;
    }
  }

  /** @internal Copy the whole state (used for rollback and by tests that corrupt it on purpose). */
  snapshot(): Snapshot { return takeSnapshot(this.k, this.procs, this.dumps); }
  /** @internal */
  restore(s: Snapshot): void { this.dumps = restoreSnapshot(this.k, this.procs, s); }

  // ---- operations -----------------------------------------------------------------
  /** `spawn P`: a new process with an empty address space. */
  spawn(name: string): void {
    this.newName(name, "process");
    if (this.procs.has(name)) throw new UserError(`process name '${name}' is already used`);
    this.transact(4, () => {
      const mm: Mm = { id: this.k.nextMmId++, pgd: 0, vmas: [], mmapBase: MMAP_TOP, nrTables: 0 };
      mm.pgd = this.k.pt.alloc(mm, "PGD");
      this.procs.set(name, { name, mm, regions: new Map(), parent: null, alive: true });
    });
  }

  /** `mmap P R SIZE [thp|nothp]`: anonymous private read-write, 2 MiB aligned. */
  mmap(proc: string, region: string, size: number, advice: Advice = null): void {
    const p = this.live(proc);
    this.newName(region, "region");
    if (p.regions.has(region)) throw new UserError(`region name '${region}' is already used in process '${proc}'`);
    checkPageMultiple(size, "size");
    if (size <= 0) throw new UserError(`mmap size must be greater than 0`);
    if (advice !== null && advice !== "thp" && advice !== "nothp") throw new UserError(`unknown mmap advice '${shown(advice)}' (thp, nothp or null)`);
    const mm = p.mm;
    // top-down, 2 MiB aligned, a guard gap below the previous mapping
    const end = Math.floor(mm.mmapBase / PMD_SIZE) * PMD_SIZE;
    const start = Math.floor((end - size) / PMD_SIZE) * PMD_SIZE;
    if (size > TASK_SIZE || start < PMD_SIZE) {
      throw new UserError(`mmap of ${hex(size)} bytes does not fit in the 47-bit user address space`);
    }
    // a private writable mapping is accounted (accountable_mapping): VM_ACCOUNT
    const flags = VM_READ | VM_WRITE | VM_ACCOUNT | (advice === "thp" ? VM_HUGEPAGE : advice === "nothp" ? VM_NOHUGEPAGE : 0);
    const vma: Vma = { start, end: start + size, flags, anonVma: 0 };
    const at = mm.vmas.findIndex((v) => v.start > start);
    mm.vmas.splice(at < 0 ? mm.vmas.length : at, 0, vma);
    mm.mmapBase = start - PMD_SIZE;
    p.regions.set(region, { name: region, start, size });
  }

  /** `touch P R OFF LEN [write|read]`: access every page of the range, ascending. */
  touch(proc: string, region: string, off: number, len: number, mode: "read" | "write" = "write"): void {
    const p = this.live(proc);
    const r = this.region(p, region);
    // the checks of range(), without its result object (touch is the per-page API: one call per access)
    if (!Number.isSafeInteger(off) || off % PAGE_SIZE !== 0 || !Number.isSafeInteger(len) || len % PAGE_SIZE !== 0 ||
      off < 0 || len < 0 || off + len > r.size) {
      this.range(p, region, off, len); // throws the UserError that says which
    }
    if (mode !== "write" && mode !== "read") throw new UserError(`unknown access mode '${shown(mode)}' (write or read)`);
    const start = r.start + off, end = start + len;
    const write = mode === "write";
    // Every page must be accessible before anything happens (the kernel would SIGSEGV).
    const mm = p.mm;
    const need = write ? VM_WRITE : VM_READ;
    for (let a = start; a < end;) {
      const v = findVma(mm, a);
      if (!v) throw new UserError(`access error: ${proc} ${region} offset ${hex(a - start + off)} is not mapped`);
      if ((v.flags & need) === 0) {
        throw new UserError(`access error: ${mode} of ${proc} ${region} offset ${hex(a - start + off)} (protection ${protName(v.flags)})`);
      }
      a = Math.min(end, v.end);
    }
    const pages = len / PAGE_SIZE;
    const tables = 4 * Math.ceil(pages / 512) + 4; // PTE tables and their deposits, PMD/PUD tables on the way
    // transact() without its closure (touch is the per-page API): the same rollback rule
    const snap = this.begin(pages + tables + 1100, tables);
    try {
      accessRange(this.k, mm, start, end, write);
      this.commit(snap);
    } catch (err) {
      this.abort(snap, err);
    }
  }

  /** `fork P Q`: Q becomes P's child with a copy of its address space. */
  fork(parent: string, child: string): void {
    const p = this.live(parent);
    this.newName(child, "process");
    if (this.procs.has(child)) throw new UserError(`process name '${child}' is already used`);
    this.transact(p.mm.nrTables + 8, () => {
      const mm = dupMm(this.k, p.mm);
      this.procs.set(child, {
        name: child, mm, parent,
        regions: new Map([...p.regions].map(([n, r]) => [n, { ...r }])),
        alive: true,
      });
    });
  }

  /** `exit P`: tear down P's address space. */
  exit(proc: string): void {
    const p = this.live(proc);
    this.transact(0, () => exitMmap(this.k, p));
  }

  /** `munmap P R OFF LEN`. */
  munmap(proc: string, region: string, off: number, len: number): void {
    const p = this.live(proc);
    const { start, end } = this.range(p, region, off, len);
    if (start === end) return;
    this.transact(0, () => doMunmap(this.k, p.mm, start, end));
  }

  /** `mprotect P R OFF LEN none|r|rw`. */
  mprotect(proc: string, region: string, off: number, len: number, prot: Prot): void {
    const p = this.live(proc);
    const { start, end } = this.range(p, region, off, len);
    if (!["none", "r", "rw"].includes(prot)) throw new UserError(`unknown protection '${shown(prot)}' (none, r or rw)`);
    if (start === end) return;
    this.transact(0, () => doMprotect(this.k, p.mm, start, end, prot));
  }

  /** `madvise P R OFF LEN dontneed|hugepage|nohugepage|collapse`. */
  madvise(proc: string, region: string, off: number, len: number, advice: MadviseAdvice): void {
    const p = this.live(proc);
    const { start, end } = this.range(p, region, off, len);
    if (!["dontneed", "hugepage", "nohugepage", "collapse"].includes(advice)) throw new UserError(`unknown madvise advice '${shown(advice)}'`);
    if (advice === "collapse" && !this.profile.madvCollapse) {
      throw new UserError(`MADV_COLLAPSE does not exist in ${this.profile.name} (added in Linux 6.1)`);
    }
    if (start === end) return;
    switch (advice) {
      case "dontneed": return this.transact(0, () => madviseDontneed(this.k, p.mm, start, end));
      case "hugepage": return this.transact(0, () => madviseHugepage(this.k, p.mm, start, end, true));
      case "nohugepage": return this.transact(0, () => madviseHugepage(this.k, p.mm, start, end, false));
      case "collapse": {
        const blocks = Math.ceil((end - start) / PMD_SIZE) + 1;
        return this.transact(blocks * 512 + 16, () => madviseCollapse(this.k, p.mm, start, end), blocks + 16);
      }
      default: throw new UserError(`unknown madvise advice '${shown(advice)}'`);
    }
  }

  /** `split P R OFF LEN`: split_folio every THP P maps in the range, in every process. */
  split(proc: string, region: string, off: number, len: number): void {
    const p = this.live(proc);
    const { start, end } = this.range(p, region, off, len);
    if (start === end) return;
    this.transact(0, () => {
      for (const head of thpsMappedIn(this.k, p.mm, start, end)) splitFolio(this.k, this.procs.values(), head);
    });
  }

  /**
   * `sysfs KNOB VALUE`: set a THP knob (machine-wide, from now on), as
   * `echo VALUE > /sys/kernel/mm/transparent_hugepage/KNOB` would. What is
   * mapped already stays as it is.
   */
  sysfs(knob: string, value: string | number): void {
    // a new object per change: what is derived from the knobs (fault orders) is cached by it
    if (typeof knob !== "string") throw new UserError(`a sysfs knob name must be a string`);
    const next = { ...this.k.knobs };
    setKnob(this.profile, next, knob, shown(value), "");
    this.k.knobs = next;
  }

  /** The THP knobs' current values. */
  get knobs(): Readonly<ThpKnobs> { return { ...this.k.knobs }; }

  /** `shrink`: run the deferred-split shrinker (and the huge zero page's). */
  shrink(): { split: number; hugeZeroFreed: boolean } {
    return this.transact(0, () => shrinkAll(this.k, this.procs.values()));
  }

  // ---- observation ------------------------------------------------------------------
  /**
   * `dump [LABEL]`: the page and region records of every live process
   * (mm/task_mmu.ts); with `{ smaps: true }` every region record also
   * carries its smaps fields in kB (docs/scenario-format.md).
   */
  observe(label: string | null = null, opts: ObserveOptions = this.observeOptions): (PageRecord | RegionRecord)[] {
    if (label !== null && typeof label !== "string") throw new UserError(`a dump label must be a string or null`);
    const dump = ++this.dumps;
    return this.guard(() => observe(this.k, this.procs.values(), dump, label, opts));
  }

  /**
   * `observe`, without the page record objects: each record is handed to
   * `v` as the walk finds it, in the same order (a writer of a big dump's
   * text needs no object per page; the CLI's JSONL output uses it). The
   * dump number advances as with `observe`.
   *
   *   let pages = 0;
   *   m.observeEach("after", { beginRegion() {}, page() { pages++; }, region(r) { console.log(r.rss); } });
   */
  observeEach(label: string | null, v: ObserveVisitor, opts: ObserveOptions = this.observeOptions): void {
    if (label !== null && typeof label !== "string") throw new UserError(`a dump label must be a string or null`);
    const dump = ++this.dumps;
    this.guard(() => observeEach(this.k, this.procs.values(), dump, label, opts, v));
  }

  /**
   * `/proc/PID/smaps` of a live process: per VMA, in address order, its
   * range, permissions, the region it lies in, every line in kB as the
   * machine's kernel prints it (fs/proc/task_mmu.c show_smap) and the raw
   * struct mem_size_stats. Pss divides each page by its mapcount as the
   * machine's scheme reads it (docs/schemes.md).
   *
   * ```ts
   * const m = await Machine.create();
   * m.spawn("p"); m.mmap("p", "A", 2 << 20, "thp"); m.touch("p", "A", 0, 4096); m.fork("p", "c");
   * m.smaps("p")[0].fields; // { Size: 2048, Rss: 2048, Pss: 1024, Shared_Dirty: 2048, AnonHugePages: 2048, … }
   * ```
   */
  smaps(proc: string): SmapsVma[] {
    const p = this.live(proc);
    return this.guard(() => procSmaps(this.k, p));
  }

  /**
   * The machine's /proc tree in the kernel's formats (docs/procfs.md): a Map
   * from path to a sparse file (`{ size, extents }`: bytes outside the
   * extents are zero). `kpageflags`, `kpagecount` (u64 per PFN), and per
   * live process `PID/maps`, `smaps`, `smaps_rollup`, `pagemap` (u64 per
   * virtual page), `status`, `stat`, `cmdline`, plus `index.json` (names ->
   * PIDs, regions in bytes). PIDs are 1000 + creation order.
   *
   *   const tree = m.procfs();
   *   const { pids } = JSON.parse(new TextDecoder().decode(procFileBytes(tree.get("index.json")!)));
   *   new TextDecoder().decode(procFileBytes(tree.get(`${pids.p}/smaps`)!)); // "7fffffa00000-7fffffc00000 rw-p …"
   */
  procfs(): ProcTree {
    // reading /proc is not the scenario's work: its page_mapcount calls are not charged to costs()
    const saved = this.k.core.saveCosts();
    try { return this.guard(() => procfsTree(this.k, this.procs.values())); } finally { this.k.core.restoreCosts(saved); }
  }

  /**
   * `inspect P R OFF`: the raw struct page fields of the page mapped there,
   * under the kernel names of the machine's mapcount scheme (doublemap:
   * compound_mapcount, PG_double_map; naive: compound_mapcount; subpages:
   * compound_mapcount, subpages_mapcount; large: _entire_mapcount,
   * _nr_pages_mapped, _large_mapcount; nopagemapcount: _entire_mapcount,
   * _large_mapcount, MM-owner slots), plus page_mapcount and
   * total_mapcount/folio_mapcount as that kernel computes them.
   */
  inspect(proc: string, region: string, off: number): InspectRecord {
    const p = this.live(proc);
    const { start } = this.range(p, region, off, PAGE_SIZE);
    const pfn = this.k.pt.pfnAt(p.mm, start);
    if (pfn < 0) throw new UserError(`no page is mapped at ${proc} ${region} offset ${hex(off)}`);
    return this.guard(() => inspectPage(this.k, { proc, region, page: off / PAGE_SIZE }, pfn));
  }

  /** The PFN mapped at `addr` (PTE or PMD, PROT_NONE included), or -1. */
  pfnAt(mm: Mm, addr: number): number { return this.k.pt.pfnAt(mm, addr); }

  /** Run the invariant checker: a list of violations (empty when consistent). */
  check(): string[] {
    // the checker's own page_mapcount/total_mapcount calls are not the scenario's costs
    const saved = this.k.core.saveCosts();
    try { return this.guard(() => checkInvariants(this.k, this.procs.values())); } finally { this.k.core.restoreCosts(saved); }
  }

  /** The rmap cost counters (calls, atomics, struct pages touched) per entry point since creation or resetCosts(). */
  costs() { return this.k.core.costs(); }

  // ---- reads for viewers (the web page's frame grid and page-table view) -------------
  /** Frames on the buddy allocator's free lists (vmstat NR_FREE_PAGES). */
  freeFrames(): number { return this.k.core.nrFreePages(); }
  /**
   * Free frames whose struct pages were never initialised: the emulator sets
   * a max-order block's struct pages up when the buddy allocator first needs
   * it (deferred struct page init), so memory nobody used costs nothing.
   */
  neverInitialisedFrames(): number { return this.k.core.deferredFrames; }
  /** The head frame of the folio `pfn` belongs to (`pfn` itself for an order-0 page). */
  headPfn(pfn: number): number { return this.k.core.headPfn(this.pfn(pfn)); }
  /** page_mapcount() of frame `pfn`, as the machine's kernel computes it. */
  pageMapcount(pfn: number): number { return this.k.core.e.page_mapcount(this.pfn(pfn)); }
  /** A frame number of this machine (0 … frames-1), or a UserError (the core would read outside mem_map). */
  private pfn(pfn: number): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.k.core.frames) {
      throw new UserError(`frame ${shown(pfn)} does not exist (this machine has frames 0 … ${this.k.core.frames - 1})`);
    }
    return pfn;
  }
  /** The page-table pages a process owns (its mm's nr_ptes and friends, deposited tables included). */
  pageTablePages(proc: string): number { return this.live(proc).mm.nrTables; }

  /** The live processes (for viewers). */
  liveProcesses(): Process[] { return [...this.procs.values()].filter((p) => p.alive); }
}

/** Validate `sysfs KNOB VALUE` against the profile and set it in `knobs`; a UserError changes nothing. */
function setKnob(profile: Profile, knobs: ThpKnobs, knob: string, value: string, what: string): void {
  let parsed: { knob: KnobName; value: string | number };
  try {
    parsed = parseKnob(knob, value);
  } catch (err) {
    throw new UserError(`${what}${(err as Error).message}`);
  }
  if (!profile.knobs.includes(parsed.knob)) {
    const has = KNOB_NAMES.filter((n) => profile.knobs.includes(n)).join(", ");
    throw new UserError(`${what}sysfs knob '${parsed.knob}' does not exist in ${profile.name} (it has ${has})`);
  }
  (knobs as unknown as Record<string, string | number>)[parsed.knob] = parsed.value;
}

/**
 * A value from JavaScript as text for an error message: String() throws on a
 * Symbol-less object without toString (Object.create(null)) or a toString
 * that throws, which must not turn a UserError into a TypeError.
 */
function shown(v: unknown): string {
  try { return String(v); } catch { return Object.prototype.toString.call(v); }
}

export function hex(n: number): string { return "0x" + n.toString(16); }
function checkPageMultiple(n: number, what: string): void {
  if (typeof n !== "number") throw new UserError(`${what} must be a number of bytes, not ${typeof n}`);
  if (!Number.isSafeInteger(n) || n % PAGE_SIZE !== 0) throw new UserError(`${what} ${n} is not a multiple of 4 KiB`);
}
function protName(flags: number): string {
  return (flags & VM_WRITE) ? "rw" : (flags & VM_READ) ? "r" : "none";
}

// A typed wrapper over the core's exports: the memory-map constants read once
// at start-up, the entry points, and typed-array views over linear memory
// that are revalidated whenever memory.grow has replaced the buffer.
import { instantiateCore } from "./loader.js";
import type { SchemeName } from "../profiles.js";

/** The raw exports of the AssemblyScript core (see assembly/index.ts). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  [name: string]: any;
}

export const enum Err {
  NOMEM = 1,
  FALLBACK = 2,
  BUSY = 3,
  BAD_PAGE = 4,
}

export const BAD_REASONS: Record<number, string> = {
  1: "nonzero mapcount",
  2: "non-NULL mapping",
  3: "nonzero _refcount",
  4: "PAGE_FLAGS_CHECK_AT_FREE flag(s) set",
  5: "nonzero compound_mapcount",
  6: "corrupted tail page",
  7: "page in the wrong state",
};

export interface CoreProfile {
  mmId: boolean;
  anonExclusive: boolean;
  queueFullyUnmapped: boolean;
  /** The mapcount scheme (default doublemap). */
  scheme?: SchemeName;
}

/** SCHEME_* export names of the core, by scheme. */
const SCHEME_EXPORT: Record<SchemeName, string> = {
  naive: "SCHEME_NAIVE", doublemap: "SCHEME_DOUBLEMAP", subpages: "SCHEME_SUBPAGES",
  large: "SCHEME_LARGE", nopagemapcount: "SCHEME_NOPAGEMAPCOUNT",
};
/** The rmap entry points with cost counters (COST_* indices). */
export const COST_OPS = ["add_new", "dup", "remove", "split_pmd", "page_mapcount", "folio_mapcount"] as const;
export type CostOp = (typeof COST_OPS)[number];
export interface OpCost { calls: number; atomics: number; pagesTouched: number }

function g(e: CoreExports, name: string): number {
  const v = e[name];
  if (!(v instanceof WebAssembly.Global)) throw new Error(`core export ${name} missing`);
  return (v.value as number) >>> 0;
}

export class Core {
  readonly e: CoreExports;
  readonly frames: number;
  /** The mapcount scheme the core runs. */
  readonly scheme: SchemeName;
  /** u32 words per entry point in the cost counters (the core's COST_STRIDE). */
  private readonly costStride: number;
  // memory map
  readonly MEM_MAP_BASE: number;
  readonly SCRATCH_BASE: number;
  readonly SCRATCH_SLOTS: number;
  readonly STRUCT_PAGE_SIZE: number;
  readonly NIL: number;
  /** struct page field offsets, by kernel name */
  readonly off: Record<string, number>;
  /** page flag bit numbers, by kernel name */
  readonly PG: Record<string, number>;
  readonly G: Record<string, number>;
  readonly VM: Record<string, number>;
  readonly zeroPfn: number;
  private buf: ArrayBuffer | undefined;
  private _u32: Uint32Array | undefined;
  private _i32: Int32Array | undefined;

  private constructor(e: CoreExports, frames: number, scheme: SchemeName) {
    this.e = e;
    this.frames = frames;
    this.scheme = scheme;
    this.costStride = g(e, "COST_STRIDE") >>> 2;
    this.MEM_MAP_BASE = g(e, "MEM_MAP_BASE");
    this.SCRATCH_BASE = g(e, "SCRATCH_BASE");
    this.SCRATCH_SLOTS = g(e, "SCRATCH_SLOTS");
    this.STRUCT_PAGE_SIZE = g(e, "STRUCT_PAGE_SIZE");
    this.NIL = g(e, "NIL");
    const pick = (prefix: string, strip: boolean) => {
      const out: Record<string, number> = {};
      for (const k of Object.keys(e)) if (k.startsWith(prefix)) out[strip ? k.slice(prefix.length) : k] = g(e, k);
      return out;
    };
    this.off = pick("PAGE_", false);
    this.PG = pick("PG_", true);
    this.G = pick("G_", true);
    this.VM = pick("VM_", true);
    this.zeroPfn = this.u32[this.G.ZERO_PFN >>> 2];
  }

  /** Instantiate the core and build the memory map. */
  static async create(frames: number, profile: CoreProfile, debug = false): Promise<Core> {
    const instance = await instantiateCore(debug);
    const e = instance.exports as unknown as CoreExports;
    const bits = (profile.mmId ? g(e, "PROFILE_MM_ID") : 0)
      | (profile.anonExclusive ? g(e, "PROFILE_ANON_EXCLUSIVE") : 0)
      | (profile.queueFullyUnmapped ? g(e, "PROFILE_QUEUE_FULLY_UNMAPPED") : 0);
    const scheme = profile.scheme ?? "doublemap";
    if (!(scheme in SCHEME_EXPORT)) throw new Error(`thpemu: unknown mapcount scheme '${scheme}'`);
    const rc = e.init(frames, bits, g(e, SCHEME_EXPORT[scheme]));
    if (rc !== 0) throw new Error(`thpemu: cannot build a memory map of ${frames} frames (WebAssembly memory limit)`);
    return new Core(e, frames, scheme);
  }

  private refresh(): void {
    this.buf = this.e.memory.buffer;
    this._u32 = new Uint32Array(this.buf!);
    this._i32 = new Int32Array(this.buf!);
  }
  /**
   * Uint32 view over all of linear memory, revalidated after growth: growing
   * a (non-shared) WebAssembly memory detaches the old buffer, and views over
   * a detached buffer have length 0. Checking the length is far cheaper than
   * reading memory.buffer on every access (a native getter).
   */
  get u32(): Uint32Array {
    const a = this._u32;
    if (a === undefined || a.length === 0) { this.refresh(); return this._u32!; }
    return a;
  }
  get i32(): Int32Array {
    const a = this._i32;
    if (a === undefined || a.length === 0) { this.refresh(); return this._i32!; }
    return a;
  }

  // ---- struct page reads (for the host's walkers, the checker, inspect) ----
  pageAddr(pfn: number): number { return this.MEM_MAP_BASE + pfn * this.STRUCT_PAGE_SIZE; }
  field(pfn: number, offset: number): number { return this.i32[(this.pageAddr(pfn) + offset) >>> 2]; }
  flags(pfn: number): number { return this.u32[(this.pageAddr(pfn) + this.off.PAGE_FLAGS) >>> 2]; }
  testFlag(pfn: number, bit: number): boolean { return (this.flags(pfn) & (1 << bit)) !== 0; }
  mapcountRaw(pfn: number): number { return this.field(pfn, this.off.PAGE_MAPCOUNT); }
  refcount(pfn: number): number { return this.field(pfn, this.off.PAGE_REFCOUNT); }
  /** compound_head(): head PFN of the folio `pfn` belongs to. */
  headPfn(pfn: number): number {
    const w = this.u32[(this.pageAddr(pfn) + this.off.PAGE_COMPOUND_HEAD) >>> 2];
    return (w & 1) !== 0 ? (w - 1 - this.MEM_MAP_BASE) / this.STRUCT_PAGE_SIZE : pfn;
  }
  /** The folio order of the folio `pfn` belongs to. */
  folioOrder(pfn: number): number {
    const head = this.headPfn(pfn);
    if (!this.testFlag(head, this.PG.head)) return 0;
    return this.field(head + 1, this.off.PAGE_COMPOUND_ORDER);
  }
  get hugeZeroPfn(): number { return this.u32[this.G.HUGE_ZERO_PFN >>> 2]; }
  get hugeZeroRefcount(): number { return this.u32[this.G.HUGE_ZERO_REFCOUNT >>> 2]; }
  get splitQueueLen(): number { return this.u32[this.G.SPLIT_QUEUE_LEN >>> 2]; }
  get result1(): number { return this.u32[this.G.RESULT1 >>> 2]; }
  vmstat(name: string): number { return this.i32[(this.G.VMSTAT >>> 2) + this.VM[name]]; }
  /** Free frames (vmstat NR_FREE_PAGES, kept by the buddy allocator; no call into WASM). */
  nrFreePages(): number { return this.i32[(this.G.VMSTAT >>> 2) + this.VM.NR_FREE_PAGES]; }

  /** Address (byte offset) of the 4 KiB entry array of a page-table page. */
  tableAddr(pfn: number): number { return this.e.pt_table_addr(pfn) >>> 0; }

  /** The scratch batch buffer as a u32 index into `u32`. */
  get scratchIndex(): number { return this.SCRATCH_BASE >>> 2; }

  /** The scheme keeps no per-page mapcount for large folios: a split needs the host's per-subpage PTE counts. */
  get needsSplitCounts(): boolean { return this.scheme === "nopagemapcount"; }
  /** Tell the next split_huge_page that scratch[0..511] holds each subpage's PTE mappings. */
  setSplitCounts(): void { this.u32[this.G.SPLIT_COUNTS >>> 2] = 1; }

  /** The rmap cost counters, per entry point (calls, atomics, pages touched: COST_STRIDE bytes each). */
  costs(): Record<CostOp, OpCost> {
    const base = this.G.COSTS >>> 2;
    const stride = this.costStride;
    const u32 = this.u32;
    const out = {} as Record<CostOp, OpCost>;
    COST_OPS.forEach((op, i) => {
      out[op] = { calls: u32[base + i * stride], atomics: u32[base + i * stride + 1], pagesTouched: u32[base + i * stride + 2] };
    });
    return out;
  }
  /** Copy of the raw cost counters (to undo the checker's own calls). */
  saveCosts(): Uint32Array {
    const base = this.G.COSTS >>> 2;
    return this.u32.slice(base, base + COST_OPS.length * this.costStride);
  }
  restoreCosts(saved: Uint32Array): void { this.u32.set(saved, this.G.COSTS >>> 2); }
  resetCosts(): void { this.e.cost_reset(); }

  /** Throw if the core reported a bad page (the emulator's state is corrupt). */
  checkBadPage(): void {
    const bad = this.u32[this.G.BAD_PAGES >>> 2];
    if (bad !== 0) {
      const pfn = this.u32[this.G.BAD_PFN >>> 2];
      const reason = BAD_REASONS[this.u32[this.G.BAD_REASON >>> 2]] ?? "unknown";
      throw new BadPageError(`BUG: Bad page state: pfn ${pfn}: ${reason}`);
    }
  }
}

/** The core's bad_page() fired: an emulator bug, reported as an invariant violation. */
export class BadPageError extends Error {}

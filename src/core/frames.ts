// The core as the host sees it: the physical page-frame array behind named
// accessors. This is the one module that knows the struct page layout (the
// 64-byte stride, field offsets, flag bits, where globals live); everything
// above asks by kernel name: core.field(pfn, "PAGE_REFCOUNT"),
// core.testFlag(pfn, "head"), core.vmstat("NR_FREE_PAGES"). Typed-array
// views over linear memory are revalidated whenever memory.grow has
// replaced the buffer. Page-table entries live in the same memory: the
// pgtable layer reads them through `entries` and `tableBase`, and batch
// calls pass PFNs through the scratch buffer (`scratchSet`, `scratchGet`).
import { instantiateCore } from "./loader.js";
import { bindFunctions, readLayout, type CoreFunctions, type Layout, type PageFlag, type PageOffset, type VmstatName } from "./exports.js";
import { BadPageError, InternalError } from "../errors.js";

/** The mapcount schemes the core implements (assembly/rmap/*.ts). */
export type CoreScheme = "naive" | "doublemap" | "subpages" | "large" | "nopagemapcount";

/**
 * The mechanisms a machine runs with (the core's CONFIG_* bits): what the
 * code does, never which kernel. src/profiles.ts maps a profile to these.
 */
export interface CoreConfig {
  /** MM-owner slots of large folios (_mm_id, _mm_id_mapcount; CONFIG_MM_ID). */
  mmId: boolean;
  /** PG_anon_exclusive: exclusive anon pages are reused without a count test. */
  anonExclusive: boolean;
  /** A THP that becomes fully unmapped is queued for deferred split too. */
  deferredSplitUnmapped: boolean;
  /** do_wp_page reuses a small page when its refcount is 1 (else: when its mapcount is 1). */
  cowReuseRefcount: boolean;
  /** The mapcount scheme (default doublemap). */
  scheme?: CoreScheme;
}

/** The core's error codes (negative return values), one declaration. */
export type CoreErrorCode = "NOMEM" | "FALLBACK" | "BUSY" | "BAD_PAGE" | "INVAL";

const BAD_REASONS: Record<number, string> = {
  1: "nonzero mapcount",
  2: "non-NULL mapping",
  3: "nonzero _refcount",
  4: "PAGE_FLAGS_CHECK_AT_FREE flag(s) set",
  5: "nonzero compound_mapcount",
  6: "corrupted tail page",
  7: "page in the wrong state",
};

const SCHEME_CONSTANT: Record<CoreScheme, "SCHEME_NAIVE" | "SCHEME_DOUBLEMAP" | "SCHEME_SUBPAGES" | "SCHEME_LARGE" | "SCHEME_NOPAGEMAPCOUNT"> = {
  naive: "SCHEME_NAIVE", doublemap: "SCHEME_DOUBLEMAP", subpages: "SCHEME_SUBPAGES",
  large: "SCHEME_LARGE", nopagemapcount: "SCHEME_NOPAGEMAPCOUNT",
};
/** The rmap entry points with cost counters (COST_* indices). */
export const COST_OPS = ["add_new", "dup", "remove", "split_pmd", "page_mapcount", "folio_mapcount"] as const;
export type CostOp = (typeof COST_OPS)[number];
export interface OpCost { calls: number; atomics: number; pagesTouched: number }

/** The raw words of one struct page (for inspection). */
export interface RawPage {
  flags: number;
  compound_head: number;
  mapping: number;
  index: number;
  private: number;
  _mapcount: number;
  _refcount: number;
}

/**
 * A trap in the core (an out-of-bounds access, unreachable, the debug
 * build's assertion) as an InternalError, or null when `err` is not one.
 * Machine converts at the end of every operation, so no per-call wrapper
 * sits on the hot paths.
 */
export function coreTrap(err: unknown): InternalError | null {
  if (err instanceof InternalError) return err;
  if (err instanceof WebAssembly.RuntimeError || (err instanceof Error && err.message.startsWith("thpemu core: assertion failed"))) {
    return new InternalError(`internal error: the core trapped (${err.message})`);
  }
  return null;
}

export class Core {
  /** The core's functions (typed, trap-checked). */
  readonly e: CoreFunctions;
  readonly frames: number;
  /** The mapcount scheme the core runs. */
  readonly scheme: CoreScheme;
  /** The not-a-PFN value. */
  readonly NIL: number;
  readonly zeroPfn: number;
  private readonly memory: WebAssembly.Memory;
  private readonly L: Layout;
  private readonly stride: number;
  private readonly memMap: number;
  private readonly scratchBase: number; // u32 index
  private readonly costStride: number; // u32 words per cost entry
  private readonly poolBase: number;
  // offsets and bits of the hot accessors, read once (no keyed lookups on the fault path)
  private readonly offPrivate: number;
  private readonly offCompoundHead: number;
  private readonly offCompoundOrder: number;
  private readonly bitHead: number;
  private readonly bitNonzero: number;
  private readonly errors: Readonly<Record<CoreErrorCode, number>>;
  private buf: ArrayBuffer | undefined;
  private _u32: Uint32Array | undefined;
  private _i32: Int32Array | undefined;

  private constructor(instance: WebAssembly.Instance, frames: number, scheme: CoreScheme, e: CoreFunctions, L: Layout) {
    this.e = e;
    this.frames = frames;
    this.scheme = scheme;
    this.L = L;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.NIL = L.C.NIL;
    this.stride = L.C.STRUCT_PAGE_SIZE;
    this.memMap = L.C.MEM_MAP_BASE;
    this.scratchBase = L.C.SCRATCH_BASE >>> 2;
    this.costStride = L.C.COST_STRIDE >>> 2;
    this.zeroPfn = this.u32[L.G.ZERO_PFN >>> 2];
    this.poolBase = this.u32[L.G.PT_POOL_BASE >>> 2];
    this.offPrivate = L.off.PAGE_PRIVATE;
    this.offCompoundHead = L.off.PAGE_COMPOUND_HEAD;
    this.offCompoundOrder = L.off.PAGE_COMPOUND_ORDER;
    this.bitHead = 1 << L.PG.head;
    this.bitNonzero = 1 << L.PG.nonzero;
    this.errors = { NOMEM: L.C.ERR_NOMEM, FALLBACK: L.C.ERR_FALLBACK, BUSY: L.C.ERR_BUSY, BAD_PAGE: L.C.ERR_BAD_PAGE, INVAL: L.C.ERR_INVAL };
  }

  /** Instantiate the core, check its exports against the host's, and build the memory map. */
  static async create(frames: number, config: CoreConfig, debug = false): Promise<Core> {
    const instance = await instantiateCore(debug);
    const L = readLayout(instance.exports);
    const e = bindFunctions(instance.exports);
    const bits = (config.mmId ? L.C.CONFIG_MM_ID : 0)
      | (config.anonExclusive ? L.C.CONFIG_ANON_EXCLUSIVE : 0)
      | (config.deferredSplitUnmapped ? L.C.CONFIG_DEFERRED_SPLIT_UNMAPPED : 0)
      | (config.cowReuseRefcount ? L.C.CONFIG_COW_REUSE_REFCOUNT : 0);
    const scheme = config.scheme ?? "doublemap";
    if (!(scheme in SCHEME_CONSTANT)) throw new InternalError(`thpemu: unknown mapcount scheme '${scheme}'`);
    const rc = e.init(frames, bits, L.C[SCHEME_CONSTANT[scheme]]);
    if (rc !== 0) throw new InternalError(`thpemu: cannot build a memory map of ${frames} frames (WebAssembly memory limit)`);
    return new Core(instance, frames, scheme, e, L);
  }

  // ---- views over linear memory ------------------------------------------------
  private refresh(): void {
    this.buf = this.memory.buffer;
    this._u32 = new Uint32Array(this.buf);
    this._i32 = new Int32Array(this.buf);
  }
  /*
   * Growing a (non-shared) WebAssembly memory detaches the old buffer, and
   * views over a detached buffer have length 0. Checking the length is far
   * cheaper than reading memory.buffer on every access (a native getter).
   */
  private get u32(): Uint32Array {
    const a = this._u32;
    if (a === undefined || a.length === 0) { this.refresh(); return this._u32!; }
    return a;
  }
  private get i32(): Int32Array {
    const a = this._i32;
    if (a === undefined || a.length === 0) { this.refresh(); return this._i32!; }
    return a;
  }

  /**
   * The page-table entries: a u32 view in which an entry at `slot` is
   * [slot] (bits 0..31) and [slot + 1] (bits 32..63). Only the pgtable layer
   * reads it; re-read it after anything that may allocate.
   */
  get entries(): Uint32Array {
    const a = this._u32;
    if (a !== undefined && a.length !== 0) return a;
    this.refresh();
    return this._u32!;
  }
  /** The slot of entry 0 of the page-table page held in frame `pfn` (its pool slot is page->private). */
  tableBase(pfn: number): number {
    const slot = this.u32[(this.memMap + pfn * this.stride + this.offPrivate) >>> 2];
    return (this.poolBase + slot * 4096) >>> 2;
  }

  // ---- the scratch batch buffer --------------------------------------------------
  /** Put `v` at position `i` of the scratch buffer (PFNs in, for one batch call). */
  scratchSet(i: number, v: number): void { this.u32[this.scratchBase + i] = v; }
  /** Position `i` of the scratch buffer, unsigned. */
  scratchGet(i: number): number { return this.u32[this.scratchBase + i]; }
  /** Position `i` of the scratch buffer as a signed value (results such as mapcounts). */
  scratchGetSigned(i: number): number { return this.i32[this.scratchBase + i]; }
  /** Zero positions [0, n). */
  scratchClear(n: number): void { this.u32.fill(0, this.scratchBase, this.scratchBase + n); }
  /** Positions [0, n) as an array. */
  scratchList(n: number): number[] { return Array.from(this.u32.subarray(this.scratchBase, this.scratchBase + n)); }
  /** Scratch positions a batch may use. */
  get scratchSlots(): number { return this.L.C.SCRATCH_SLOTS; }

  // ---- struct page ---------------------------------------------------------------
  private word(pfn: number, offset: number): number { return (this.memMap + pfn * this.stride + offset) >>> 2; }
  /** A struct page field (signed 32-bit), by its layout name. */
  field(pfn: number, name: PageOffset): number { return this.i32[this.word(pfn, this.L.off[name])]; }
  flags(pfn: number): number { return this.u32[this.word(pfn, 0)]; }
  /** The bit number of a page flag (PG_*). */
  flagBit(flag: PageFlag): number { return this.L.PG[flag]; }
  testFlag(pfn: number, flag: PageFlag): boolean { return (this.flags(pfn) & (1 << this.L.PG[flag])) !== 0; }
  /** Set a page flag the host owns: PG_nonzero (a write stored data in the page). */
  setNonzero(pfn: number): void { this.u32[this.word(pfn, 0)] |= this.bitNonzero; }
  /**
   * folio_set_dirty / folio_mark_dirty on an anonymous folio (its head's
   * PG_dirty): the host knows when the kernel would set it (a dirty huge PMD
   * split, a dirty PTE unmapped for a folio split).
   */
  folioSetDirty(head: number): void { this.u32[this.word(head, 0)] |= 1 << this.L.PG.dirty; }
  /** setNonzero for the `n` frames from `pfn` (a write touched each of them). */
  setNonzeroRun(pfn: number, n: number): void {
    const u32 = this.u32;
    const stride = this.stride >>> 2, bit = this.bitNonzero;
    for (let w = this.word(pfn, 0), end = w + n * stride; w < end; w += stride) u32[w] |= bit;
  }
  /** The page flags by name, lowest bit first; an alias shows under the name that applies to the page. */
  flagNames(flags: number): string[] {
    const out: string[] = [];
    const seen = new Set<number>();
    for (const [name, bit] of Object.entries(this.L.PG).sort((a, b) => a[1] - b[1])) {
      // PG_double_map aliases PG_private_2, PG_partially_mapped PG_reclaim
      if (seen.has(bit) || (flags & (1 << bit)) === 0 || name === "private_2" || name === "reclaim") continue;
      seen.add(bit);
      out.push(`PG_${name}`);
    }
    return out;
  }
  mapcountRaw(pfn: number): number { return this.field(pfn, "PAGE_MAPCOUNT"); }
  refcount(pfn: number): number { return this.field(pfn, "PAGE_REFCOUNT"); }
  /** page->index (64-bit): vaddr >> 12 for an anonymous page. */
  pageIndex(pfn: number): number {
    const a = this.word(pfn, this.L.off.PAGE_INDEX);
    return this.u32[a] + this.u32[a + 1] * 2 ** 32;
  }
  /** compound_head(): head PFN of the folio `pfn` belongs to. */
  headPfn(pfn: number): number {
    const w = this.u32[this.word(pfn, this.offCompoundHead)];
    return (w & 1) !== 0 ? (w - 1 - this.memMap) / this.stride : pfn;
  }
  /** The folio order of the folio `pfn` belongs to. */
  folioOrder(pfn: number): number {
    const head = this.headPfn(pfn);
    if ((this.flags(head) & this.bitHead) === 0) return 0;
    return this.i32[this.word(head + 1, this.offCompoundOrder)];
  }
  /**
   * The MM-owner slots of a large folio (CONFIG_MM_ID, in its first tail):
   * the two mm ids, their mapcounts, and the "maybe mapped shared" bit.
   */
  mmOwners(head: number): { ids: [number, number]; mapcounts: [number, number]; maybeMappedShared: boolean } {
    const t = head + 1;
    const shared = this.L.C.FOLIO_MM_IDS_SHARED_BIT; // a mask: the top bit of _mm_id[1]
    const id0 = this.field(t, "PAGE_MM_ID0") >>> 0, id1 = this.field(t, "PAGE_MM_ID1") >>> 0;
    return {
      ids: [(id0 & ~shared) >>> 0, (id1 & ~shared) >>> 0],
      mapcounts: [this.field(t, "PAGE_MM_ID_MAPCOUNT0"), this.field(t, "PAGE_MM_ID_MAPCOUNT1")],
      maybeMappedShared: (id1 & shared) !== 0,
    };
  }
  /** ENTIRELY_MAPPED (6.8+; COMPOUND_MAPPED in 6.2): the flag bit in _nr_pages_mapped / subpages_mapcount. */
  get entirelyMapped(): number { return this.L.C.ENTIRELY_MAPPED; }

  /** The raw words of a struct page. */
  rawPage(pfn: number): RawPage {
    return {
      flags: this.flags(pfn),
      compound_head: this.field(pfn, "PAGE_COMPOUND_HEAD") >>> 0,
      mapping: this.field(pfn, "PAGE_MAPPING") >>> 0,
      index: this.field(pfn, "PAGE_INDEX") >>> 0,
      private: this.field(pfn, "PAGE_PRIVATE") >>> 0,
      _mapcount: this.mapcountRaw(pfn),
      _refcount: this.refcount(pfn),
    };
  }
  /** One past the highest frame that is not free (0 when all are free): a scan of mem_map. */
  usedFrameLimit(): number {
    const u32 = this.u32;
    const stride = this.stride >>> 2;
    const base = this.memMap >>> 2;
    const ref = this.L.off.PAGE_REFCOUNT >>> 2, ch = this.L.off.PAGE_COMPOUND_HEAD >>> 2;
    for (let pfn = this.frames - 1; pfn >= 0; pfn--) {
      const w = base + pfn * stride;
      if (u32[w + ref] !== 0 || (u32[w + ch] & 1) !== 0 || u32[w] !== 0) return pfn + 1;
    }
    return 0;
  }

  // ---- globals -------------------------------------------------------------------
  get hugeZeroPfn(): number { return this.u32[this.L.G.HUGE_ZERO_PFN >>> 2]; }
  get hugeZeroRefcount(): number { return this.u32[this.L.G.HUGE_ZERO_REFCOUNT >>> 2]; }
  get splitQueueLen(): number { return this.u32[this.L.G.SPLIT_QUEUE_LEN >>> 2]; }
  /** The second result of the last call that has one (the deposit table of a THP fault). */
  get result1(): number { return this.u32[this.L.G.RESULT1 >>> 2]; }
  /** How many times bad_page() fired. */
  get badPages(): number { return this.u32[this.L.G.BAD_PAGES >>> 2]; }
  /** The PFN of the last bad page and the core's reason code for it (BAD_*). */
  get badPfn(): number { return this.u32[this.L.G.BAD_PFN >>> 2]; }
  get badReason(): number { return this.u32[this.L.G.BAD_REASON >>> 2]; }
  vmstat(name: VmstatName): number { return this.i32[(this.L.G.VMSTAT >>> 2) + this.L.VM[name]]; }
  /** Free frames (vmstat NR_FREE_PAGES, kept by the buddy allocator; no call into WASM). */
  nrFreePages(): number { return this.vmstat("NR_FREE_PAGES"); }
  /** A core error code's value (the core returns it negated). */
  errorCode(name: CoreErrorCode): number { return this.errors[name]; }

  /** The scheme keeps no per-page mapcount for large folios: a split needs the host's per-subpage PTE counts. */
  get needsSplitCounts(): boolean { return this.scheme === "nopagemapcount"; }
  /** Tell the next split_huge_page that scratch[0..511] holds each subpage's PTE mappings. */
  setSplitCounts(): void { this.u32[this.L.G.SPLIT_COUNTS >>> 2] = 1; }

  // ---- rmap cost counters ----------------------------------------------------------
  /** The rmap cost counters, per entry point (calls, atomics, pages touched: COST_STRIDE bytes each). */
  costs(): Record<CostOp, OpCost> {
    const base = this.L.G.COSTS >>> 2;
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
    const base = this.L.G.COSTS >>> 2;
    return this.u32.slice(base, base + COST_OPS.length * this.costStride);
  }
  restoreCosts(saved: Uint32Array): void { this.u32.set(saved, this.L.G.COSTS >>> 2); }
  resetCosts(): void { this.e.cost_reset(); }
  /** Count atomics and pages touched (on by default; benchmarks switch it off). */
  setCostAccounting(on: boolean): void { this.e.cost_accounting(on ? 1 : 0); }

  // ---- the whole memory: rollback snapshots -------------------------------------------
  /** A copy of the core's linear memory. */
  snapshotMemory(): Uint8Array { return new Uint8Array(this.memory.buffer).slice(); }
  /** Put back a copy taken by snapshotMemory (memory never shrinks, so it fits). */
  restoreMemory(bytes: Uint8Array): void { new Uint8Array(this.memory.buffer).set(bytes); }

  /** Throw if the core reported a bad page (the emulator's state is corrupt). */
  checkBadPage(): void {
    if (this.badPages !== 0) {
      const reason = BAD_REASONS[this.badReason] ?? "unknown";
      throw new BadPageError(`BUG: Bad page state: pfn ${this.badPfn}: ${reason}`);
    }
  }

  /**
   * Corrupt the machine on purpose (tests of the invariant checker): add
   * `delta` to a struct page field, flip a page flag, or add to a global.
   */
  readonly debug = {
    addField: (pfn: number, name: PageOffset, delta: number): void => { this.i32[this.word(pfn, this.L.off[name])] += delta; },
    setField: (pfn: number, name: PageOffset, value: number): void => { this.i32[this.word(pfn, this.L.off[name])] = value; },
    setFlag: (pfn: number, flag: PageFlag, on: boolean): void => {
      const w = this.word(pfn, 0);
      this.u32[w] = on ? this.u32[w] | (1 << this.L.PG[flag]) : this.u32[w] & ~(1 << this.L.PG[flag]);
    },
    addGlobal: (name: "SPLIT_QUEUE_LEN" | "HUGE_ZERO_REFCOUNT" | "BAD_PAGES", delta: number): void => { this.u32[this.L.G[name] >>> 2] += delta; },
    addVmstat: (name: VmstatName, delta: number): void => { this.i32[(this.L.G.VMSTAT >>> 2) + this.L.VM[name]] += delta; },
  };
}

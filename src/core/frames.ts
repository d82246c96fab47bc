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

/*
 * The section size and the struct page stride as literals on the hottest
 * reads (every level of every page walk): the JIT folds them. The
 * constructor checks the core agrees.
 */
const SECTION_SHIFT = 10; // PAGES_PER_SECTION = 1024 frames
const SECTION_MASK = (1 << SECTION_SHIFT) - 1;
const STRUCT_PAGE_WORDS = 16; // 64 bytes

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
  private readonly sectionShift: number;
  private readonly sectionMask: number;
  private readonly memSection: number; // u32 index of mem_section[]
  private readonly chunkSection: number; // u32 index of the chunk → section table
  private readonly chunkShift: number;
  private readonly zeroStructPage: number; // byte address of 64 zero bytes (a never-initialised struct page)
  // u32 indices of the globals every operation reads (Machine.transact), read once
  private readonly iHeapTop: number;
  private readonly iChunkLimit: number;
  private readonly iExhausted: number;
  private readonly iNrFree: number;
  private readonly tablesPerChunk: number;
  private readonly scratchBase: number; // u32 index
  private readonly costStride: number; // u32 words per cost entry
  // offsets and bits of the hot accessors, read once (no keyed lookups on the fault path)
  private readonly privateWord: number;
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
    if (L.C.SECTION_SHIFT !== SECTION_SHIFT || L.C.STRUCT_PAGE_SIZE !== STRUCT_PAGE_WORDS * 4) {
      throw new InternalError(`thpemu: the core's sections (${L.C.SECTION_SHIFT}) or struct page size (${L.C.STRUCT_PAGE_SIZE}) are not the host's; rebuild it`);
    }
    this.sectionShift = L.C.SECTION_SHIFT;
    this.sectionMask = (1 << L.C.SECTION_SHIFT) - 1;
    this.memSection = L.C.MEM_SECTION_BASE >>> 2;
    this.chunkSection = L.C.CHUNK_SECTION_BASE >>> 2;
    this.chunkShift = L.C.CHUNK_SHIFT;
    this.zeroStructPage = L.G.ZERO_STRUCT_PAGE;
    this.iHeapTop = L.G.HEAP_TOP >>> 2;
    this.iChunkLimit = L.G.CHUNK_LIMIT >>> 2;
    this.iExhausted = L.G.MEMORY_EXHAUSTED >>> 2;
    this.iNrFree = (L.G.VMSTAT >>> 2) + L.VM.NR_FREE_PAGES;
    this.tablesPerChunk = L.C.PT_TABLES_PER_CHUNK;
    this.scratchBase = L.C.SCRATCH_BASE >>> 2;
    this.costStride = L.C.COST_STRIDE >>> 2;
    this.zeroPfn = this.u32[L.G.ZERO_PFN >>> 2];
    this.privateWord = L.off.PAGE_PRIVATE >>> 2;
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
  /** The slot of entry 0 of the page-table page held in frame `pfn` (page->private holds its entries' address). */
  tableBase(pfn: number): number {
    // the hottest read (every level of every page walk): one view, no branch (a page table's section is present)
    const u32 = this.u32;
    const map = u32[this.memSection + (pfn >>> SECTION_SHIFT)];
    return u32[(map >>> 2) + (pfn & SECTION_MASK) * STRUCT_PAGE_WORDS + this.privateWord] >>> 2;
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
  /**
   * The struct page of `pfn` (SPARSEMEM __pfn_to_page: its section's mem_map
   * plus its index there); a frame whose section was never initialised reads
   * as 64 zero bytes.
   */
  private page(pfn: number): number {
    const map = this.u32[this.memSection + (pfn >>> this.sectionShift)];
    return map === 0 ? this.zeroStructPage : map + (pfn & this.sectionMask) * this.stride;
  }
  private word(pfn: number, offset: number): number { return (this.page(pfn) + offset) >>> 2; }
  /** __page_to_pfn: the PFN of the struct page at byte address `page` (the chunk remembers its section). */
  private pageToPfn(page: number): number {
    const section = this.u32[this.chunkSection + (page >>> this.chunkShift)] - 1;
    return section * (this.sectionMask + 1) + ((page & ((1 << this.chunkShift) - 1)) / this.stride);
  }
  /**
   * Whether frame `pfn`'s struct page was ever initialised: deferred struct
   * page init reaches a section when the buddy allocator first needs one
   * of its blocks. A never-initialised frame is free and reads as a zero
   * struct page.
   */
  initialised(pfn: number): boolean {
    return pfn >= 0 && pfn < this.frames && this.u32[this.memSection + (pfn >>> this.sectionShift)] !== 0;
  }
  /** first_deferred_pfn: frames from here (up to the last whole section) were never initialised. */
  get firstDeferredPfn(): number { return this.u32[this.L.G.FIRST_DEFERRED_PFN >>> 2]; }
  /** Frames deferred struct page init has not reached (free, never initialised). */
  get deferredFrames(): number { return this.u32[this.L.G.DEFERRED_END >>> 2] - this.firstDeferredPfn; }
  /** Bytes of WebAssembly linear memory the core has now (it grows with the work, never shrinks). */
  get linearMemoryBytes(): number { return this.memory.buffer.byteLength; }
  /** Bytes of linear memory handed out so far (the heap top; what a snapshot copies). */
  get heapBytes(): number { return this.u32[this.iHeapTop] * 2 ** this.chunkShift; }
  /**
   * Whether the linear memory has room for `frames` more frames of work, of
   * them `tables` page tables: a section's mem_map for each max-order block
   * they may reach and 4 KiB of entries for each table, in the worst case
   * (wasm32: 4 GiB in all).
   */
  /**
   * Whether an operation that may take `frames` frames (at most `tables`
   * page tables) must snapshot first to be able to roll back: fewer frames
   * are free, or the linear memory may not have room (hasRoomFor).
   */
  mayRunOut(frames: number, tables: number): boolean {
    const u32 = this.u32;
    if (u32[this.iNrFree] < frames) return true;
    // the common case: thousands of chunks to spare
    if ((u32[this.iChunkLimit] - u32[this.iHeapTop]) * 1024 > frames + tables * 64 + 4096) return false;
    return !this.hasRoomFor(frames, tables);
  }
  hasRoomFor(frames: number, tables = frames): boolean {
    const u32 = this.u32;
    const chunks = u32[this.iChunkLimit] - u32[this.iHeapTop];
    const need = Math.ceil(frames / (this.sectionMask + 1)) + Math.ceil(tables / this.tablesPerChunk) + 2;
    return chunks >= need;
  }
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
    const shift = this.sectionShift, mask = this.sectionMask, memSection = this.memSection;
    while (n > 0) {
      // consecutive struct pages within one section's mem_map (mapped frames: their sections are present)
      const k = Math.min(n, mask + 1 - (pfn & mask));
      let w = (u32[memSection + (pfn >>> shift)] + (pfn & mask) * this.stride) >>> 2;
      for (const end = w + k * stride; w < end; w += stride) u32[w] |= bit;
      pfn += k;
      n -= k;
    }
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
    return (w & 1) !== 0 ? this.pageToPfn(w - 1) : pfn;
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
    const ref = this.L.off.PAGE_REFCOUNT >>> 2, ch = this.L.off.PAGE_COMPOUND_HEAD >>> 2;
    const per = this.sectionMask + 1;
    // only initialised sections can hold a used frame: a never-initialised one is free
    for (let s = Math.ceil(this.frames / per) - 1; s >= 0; s--) {
      const map = u32[this.memSection + s];
      if (map === 0) continue;
      const base = map >>> 2;
      for (let i = Math.min(per, this.frames - s * per) - 1; i >= 0; i--) {
        const w = base + i * stride;
        if (u32[w + ref] !== 0 || (u32[w + ch] & 1) !== 0 || u32[w] !== 0) return s * per + i + 1;
      }
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
  nrFreePages(): number { return this.i32[this.iNrFree]; }
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
  /**
   * Cap the linear memory at `bytes` (rounded down to 64 KiB; never below
   * what is in use): tests of running out of WebAssembly memory without
   * reaching the 4 GiB ceiling.
   */
  limitMemory(bytes: number): void { this.e.set_memory_limit(Math.floor(bytes / 2 ** this.chunkShift)); }
  /** The linear memory refused to grow since the last clearMemoryExhausted() (the emulator's limit, not the kernel's). */
  get memoryExhausted(): boolean { return this.u32[this.iExhausted] !== 0; }
  clearMemoryExhausted(): void { this.u32[this.iExhausted] = 0; }
  /** The cap on the linear memory in bytes (4 GiB unless limitMemory lowered it). */
  get memoryLimitBytes(): number { return this.u32[this.iChunkLimit] * 2 ** this.chunkShift; }

  /** A copy of the core's linear memory up to the heap top (what the work has used). */
  snapshotMemory(): Uint8Array { return new Uint8Array(this.memory.buffer, 0, this.heapBytes).slice(); }
  /**
   * Put back a copy taken by snapshotMemory (memory never shrinks, so it
   * fits). What was handed out since is zeroed: the restored heap top hands
   * those chunks out again, and a section without a mem_map is all zeros.
   */
  restoreMemory(bytes: Uint8Array): void {
    const top = this.heapBytes;
    const all = new Uint8Array(this.memory.buffer);
    all.set(bytes);
    if (top > bytes.length) all.fill(0, bytes.length, top);
  }

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
    addGlobal: (name: "SPLIT_QUEUE_LEN" | "HUGE_ZERO_REFCOUNT" | "BAD_PAGES" | "FIRST_DEFERRED_PFN", delta: number): void => { this.u32[this.L.G[name] >>> 2] += delta; },
    addVmstat: (name: VmstatName, delta: number): void => { this.i32[(this.L.G.VMSTAT >>> 2) + this.L.VM[name]] += delta; },
  };
}
